//! `create_case`: a new Case record (`POST /sobjects/Case/`).

use bacon_plugin_sdk::schemars::{self, JsonSchema};
use bacon_plugin_sdk::{ActionContext, ActionError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::client::SalesforceClient;
use crate::settings::SalesforceSettings;

/// The case to create. Unset fields take the org's defaults.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateCaseInput {
    /// The case subject.
    #[schemars(length(min = 1, max = 255))]
    pub subject: String,
    /// The long description.
    pub description: Option<String>,
    /// The contact the case is about (`003…`).
    pub contact_id: Option<String>,
    /// The account the case is about (`001…`).
    pub account_id: Option<String>,
    /// A value of the org's Case Origin picklist, e.g. `Web`, `Email`, `Phone`.
    pub origin: Option<String>,
    /// A value of the org's Case Status picklist, e.g. `New`.
    pub status: Option<String>,
    /// A value of the org's Case Priority picklist, e.g. `High`.
    pub priority: Option<String>,
    /// Any other Case fields by API name (`Product__c`), sent as given.
    #[serde(default)]
    pub fields: Map<String, Value>,
}

impl CreateCaseInput {
    /// The record as Salesforce expects it: API field names, unset fields left out.
    fn record(&self) -> Value {
        let mut record = self.fields.clone();
        let named = [
            ("Subject", Some(&self.subject)),
            ("Description", self.description.as_ref()),
            ("ContactId", self.contact_id.as_ref()),
            ("AccountId", self.account_id.as_ref()),
            ("Origin", self.origin.as_ref()),
            ("Status", self.status.as_ref()),
            ("Priority", self.priority.as_ref()),
        ];
        for (field, value) in named {
            if let Some(value) = value {
                record.insert(field.to_string(), Value::String(value.clone()));
            }
        }
        Value::Object(record)
    }
}

/// The created case.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateCaseOutput {
    /// The new record's id (`500…`).
    pub id: String,
    pub success: bool,
}

pub(crate) async fn run(
    ctx: ActionContext,
    settings: SalesforceSettings,
    input: CreateCaseInput,
) -> Result<CreateCaseOutput, ActionError> {
    if input.subject.trim().is_empty() {
        return Err(ActionError::InvalidInput {
            message: "`subject` is empty".into(),
            pointer: Some("/subject".into()),
        });
    }
    let client = SalesforceClient::new(&ctx, &settings)?;
    client.post(&client.api_path("sobjects/Case/"), &input.record()).await
}
