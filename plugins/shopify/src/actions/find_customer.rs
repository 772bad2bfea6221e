//! `find_customer`: the shop's customer with an email address (REST customer search, exact
//! match only).

use bacon_plugin_sdk::schemars::{self, JsonSchema};
use bacon_plugin_sdk::{ActionContext, ActionError};
use serde::{Deserialize, Serialize};

use crate::client::AdminApi;
use crate::customer::{Customer, find_by_email};
use crate::settings::ShopifySettings;

/// Whom to look for.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FindCustomerInput {
    /// The customer's email address.
    #[schemars(email)]
    pub email: String,
}

/// The customer, when one has exactly this email.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FindCustomerOutput {
    pub found: bool,
    pub customer: Option<Customer>,
}

/// Searches the shop's customers.
///
/// # Errors
/// `InvalidInput` for an email that cannot be searched; vendor errors.
pub async fn run(
    ctx: ActionContext,
    settings: ShopifySettings,
    input: FindCustomerInput,
) -> Result<FindCustomerOutput, ActionError> {
    let api = AdminApi::new(&ctx, &settings)?;
    let customer = find_by_email(&api, &input.email).await?;
    Ok(FindCustomerOutput { found: customer.is_some(), customer })
}
