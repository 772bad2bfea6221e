//! `create_note`: a note on a contact's timeline (`POST /crm/v3/objects/notes`), associated to
//! the contact (type 202) and optionally to a ticket (type 228).

use std::time::{SystemTime, UNIX_EPOCH};

use bacon_plugin_sdk::schemars::{self, JsonSchema};
use bacon_plugin_sdk::{ActionContext, ActionError};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::association::{self, NOTE_TO_CONTACT, NOTE_TO_TICKET};
use crate::client::HubSpotApi;
use crate::contact::{CrmObject, id_input};
use crate::settings::HubSpotSettings;

/// HubSpot's limit on `hs_note_body`.
pub const MAX_NOTE_CHARS: usize = 65_536;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateNoteInput {
    /// The id of the contact the note belongs to (`find_contact` and `upsert_contact` return it).
    #[schemars(length(min = 1))]
    pub contact_id: String,
    /// The note's text (HubSpot renders basic HTML), at most 65,536 characters.
    #[schemars(length(min = 1, max = 65536))]
    pub body: String,
    /// When the note is dated on the timeline: ISO 8601 (`2025-01-11T09:00:00Z`) or epoch
    /// milliseconds. Default: now.
    pub timestamp: Option<String>,
    /// The HubSpot owner (user) the note is assigned to.
    pub owner_id: Option<String>,
    /// A ticket to attach the note to as well.
    pub ticket_id: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateNoteOutput {
    /// The note's id.
    pub id: String,
    /// `hs_timestamp` as HubSpot stored it.
    pub timestamp: Option<String>,
    pub created_at: Option<String>,
}

pub(crate) async fn run(
    ctx: ActionContext,
    settings: HubSpotSettings,
    input: CreateNoteInput,
) -> Result<CreateNoteOutput, ActionError> {
    let contact_id = id_input(&input.contact_id, "/contactId")?;
    let ticket_id = input.ticket_id.as_deref().map(|id| id_input(id, "/ticketId")).transpose()?;
    let owner_id = input.owner_id.as_deref().map(|id| id_input(id, "/ownerId")).transpose()?;
    if input.body.trim().is_empty() || input.body.chars().count() > MAX_NOTE_CHARS {
        return Err(ActionError::InvalidInput {
            message: format!("the note body must have 1 to {MAX_NOTE_CHARS} characters"),
            pointer: Some("/body".into()),
        });
    }
    let timestamp = match input.timestamp.as_deref().map(str::trim) {
        Some("") => {
            return Err(ActionError::InvalidInput {
                message: "`timestamp` is empty".into(),
                pointer: Some("/timestamp".into()),
            });
        }
        Some(t) => t.to_string(),
        None => now_millis().to_string(),
    };
    let mut properties = Map::new();
    properties.insert("hs_timestamp".into(), Value::String(timestamp));
    properties.insert("hs_note_body".into(), Value::String(input.body));
    if let Some(owner) = owner_id {
        properties.insert("hubspot_owner_id".into(), Value::String(owner));
    }
    let mut associations = vec![association::to(&contact_id, NOTE_TO_CONTACT)];
    if let Some(ticket) = &ticket_id {
        associations.push(association::to(ticket, NOTE_TO_TICKET));
    }
    let body = json!({"properties": properties, "associations": associations});
    let api = HubSpotApi::new(&ctx, &settings)?;
    let note: CrmObject = api.call(Method::POST, "/crm/v3/objects/notes", &[], Some(&body)).await?.parse()?;
    Ok(CreateNoteOutput { timestamp: note.text("hs_timestamp"), id: note.id, created_at: note.created_at })
}

fn now_millis() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default()
}
