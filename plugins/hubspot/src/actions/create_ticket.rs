//! `create_ticket`: a support ticket (`POST /crm/v3/objects/tickets`) in a pipeline stage,
//! optionally associated to a contact (type 16).

use std::collections::BTreeMap;

use bacon_plugin_sdk::schemars::{self, JsonSchema};
use bacon_plugin_sdk::{ActionContext, ActionError};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::association::{self, TICKET_TO_CONTACT};
use crate::client::HubSpotApi;
use crate::contact::{CrmObject, id_input};
use crate::settings::HubSpotSettings;

/// `hs_ticket_priority`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum TicketPriority {
    Low,
    Medium,
    High,
    Urgent,
}

impl TicketPriority {
    fn as_str(self) -> &'static str {
        match self {
            Self::Low => "LOW",
            Self::Medium => "MEDIUM",
            Self::High => "HIGH",
            Self::Urgent => "URGENT",
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTicketInput {
    /// The ticket's name (`subject`).
    #[schemars(length(min = 1))]
    pub subject: String,
    /// The ticket's description (`content`).
    pub content: Option<String>,
    /// The pipeline id (`hs_pipeline`); default: the settings' `defaultTicketPipeline`.
    pub pipeline: Option<String>,
    /// The stage id (`hs_pipeline_stage`); default: the settings' `defaultTicketStage`.
    pub stage: Option<String>,
    pub priority: Option<TicketPriority>,
    /// A contact to associate the ticket with.
    pub contact_id: Option<String>,
    /// The HubSpot owner (user) the ticket is assigned to (`hubspot_owner_id`).
    pub owner_id: Option<String>,
    /// Any other ticket properties by internal name; the fields above win over the same names here.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateTicketOutput {
    /// The ticket's id.
    pub id: String,
    pub pipeline: Option<String>,
    pub stage: Option<String>,
    /// Every property HubSpot returned.
    pub properties: Map<String, Value>,
    pub created_at: Option<String>,
}

pub(crate) async fn run(
    ctx: ActionContext,
    settings: HubSpotSettings,
    input: CreateTicketInput,
) -> Result<CreateTicketOutput, ActionError> {
    let subject = input.subject.trim();
    if subject.is_empty() {
        return Err(ActionError::InvalidInput {
            message: "`subject` is empty".into(),
            pointer: Some("/subject".into()),
        });
    }
    let contact_id = input.contact_id.as_deref().map(|id| id_input(id, "/contactId")).transpose()?;
    let owner_id = input.owner_id.as_deref().map(|id| id_input(id, "/ownerId")).transpose()?;
    let chosen = |given: &Option<String>, default: &str| {
        given.as_deref().map(str::trim).filter(|v| !v.is_empty()).unwrap_or(default).to_string()
    };
    let mut properties: Map<String, Value> =
        input.properties.iter().map(|(k, v)| (k.trim().to_string(), Value::String(v.clone()))).collect();
    properties.insert("subject".into(), Value::String(subject.to_string()));
    properties.insert("hs_pipeline".into(), Value::String(chosen(&input.pipeline, &settings.default_ticket_pipeline)));
    properties.insert("hs_pipeline_stage".into(), Value::String(chosen(&input.stage, &settings.default_ticket_stage)));
    if let Some(content) = &input.content {
        properties.insert("content".into(), Value::String(content.clone()));
    }
    if let Some(priority) = input.priority {
        properties.insert("hs_ticket_priority".into(), Value::String(priority.as_str().into()));
    }
    if let Some(owner) = owner_id {
        properties.insert("hubspot_owner_id".into(), Value::String(owner));
    }
    let mut body = json!({"properties": properties});
    if let Some(contact) = &contact_id {
        body["associations"] = json!([association::to(contact, TICKET_TO_CONTACT)]);
    }
    let api = HubSpotApi::new(&ctx, &settings)?;
    let ticket: CrmObject = api.call(Method::POST, "/crm/v3/objects/tickets", &[], Some(&body)).await?.parse()?;
    Ok(CreateTicketOutput {
        pipeline: ticket.text("hs_pipeline"),
        stage: ticket.text("hs_pipeline_stage"),
        id: ticket.id,
        properties: ticket.properties,
        created_at: ticket.created_at,
    })
}
