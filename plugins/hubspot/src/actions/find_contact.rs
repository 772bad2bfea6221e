//! `find_contact`: the contact with an email address, or `found: false`.

use bacon_plugin_sdk::schemars::{self, JsonSchema};
use bacon_plugin_sdk::{ActionContext, ActionError};
use serde::{Deserialize, Serialize};

use crate::client::HubSpotApi;
use crate::contact::{Contact, email_input, find_by_email};
use crate::settings::HubSpotSettings;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FindContactInput {
    /// The contact's email address (HubSpot compares it case-insensitively).
    #[schemars(email)]
    pub email: String,
    /// More properties to return in `contact.properties`, by internal name (`city`, `jobtitle`).
    #[serde(default)]
    pub properties: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FindContactOutput {
    /// Whether HubSpot has a contact with this email.
    pub found: bool,
    pub contact: Option<Contact>,
}

pub(crate) async fn run(
    ctx: ActionContext,
    settings: HubSpotSettings,
    input: FindContactInput,
) -> Result<FindContactOutput, ActionError> {
    let email = email_input(&input.email, "/email")?;
    let api = HubSpotApi::new(&ctx, &settings)?;
    let contact = find_by_email(&api, &email, &input.properties).await?;
    Ok(FindContactOutput { found: contact.is_some(), contact })
}
