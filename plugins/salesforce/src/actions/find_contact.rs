//! `find_contact`: the most recently changed Contact with an email address, by SOQL.

use bacon_plugin_sdk::schemars::{self, JsonSchema};
use bacon_plugin_sdk::{ActionContext, ActionError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::SalesforceClient;
use crate::settings::SalesforceSettings;
use crate::soql::soql_quote;

/// Which contact to look for.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FindContactInput {
    /// The email address, matched exactly (Salesforce compares it case-insensitively).
    #[schemars(length(min = 1, max = 320))]
    pub email: String,
}

/// A Salesforce Contact.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    /// The record id (`003…`).
    pub id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    /// The contact's account id (`001…`), if any.
    pub account_id: Option<String>,
    /// The contact's account name, if any.
    pub account_name: Option<String>,
}

impl Contact {
    /// "First Last", or whichever part is set.
    pub fn full_name(&self) -> String {
        [self.first_name.as_deref(), self.last_name.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(" ")
    }

    fn from_record(record: &Value) -> Option<Self> {
        let text = |key: &str| record.get(key).and_then(Value::as_str).map(str::to_string);
        Some(Self {
            id: text("Id")?,
            first_name: text("FirstName"),
            last_name: text("LastName"),
            email: text("Email"),
            phone: text("Phone"),
            account_id: text("AccountId"),
            account_name: record.pointer("/Account/Name").and_then(Value::as_str).map(str::to_string),
        })
    }
}

/// The contact, when one has this email.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FindContactOutput {
    pub found: bool,
    pub contact: Option<Contact>,
}

/// The SOQL that finds the contact with `email`; the address is a quoted literal.
pub fn contact_by_email_soql(email: &str) -> String {
    format!(
        "SELECT Id, FirstName, LastName, Email, Phone, AccountId, Account.Name FROM Contact \
         WHERE Email = {} ORDER BY LastModifiedDate DESC LIMIT 1",
        soql_quote(email)
    )
}

/// Looks the contact up.
///
/// # Errors
/// Salesforce's refusal (see `crate::errors`).
pub(crate) async fn contact_by_email(client: &SalesforceClient, email: &str) -> Result<Option<Contact>, ActionError> {
    let page = client.query(&contact_by_email_soql(email)).await?;
    Ok(page.records.first().and_then(Contact::from_record))
}

pub(crate) async fn run(
    ctx: ActionContext,
    settings: SalesforceSettings,
    input: FindContactInput,
) -> Result<FindContactOutput, ActionError> {
    if input.email.trim().is_empty() {
        return Err(ActionError::InvalidInput { message: "`email` is empty".into(), pointer: Some("/email".into()) });
    }
    let client = SalesforceClient::new(&ctx, &settings)?;
    let contact = contact_by_email(&client, &input.email).await?;
    Ok(FindContactOutput { found: contact.is_some(), contact })
}
