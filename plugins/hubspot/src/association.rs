//! Associations HubSpot creates together with an object: `{"to": {"id"}, "types": [...]}` with
//! the HubSpot-defined type ids of the CRM v4 association API.

use serde_json::{Value, json};

/// Note -> contact.
pub const NOTE_TO_CONTACT: u32 = 202;
/// Note -> ticket.
pub const NOTE_TO_TICKET: u32 = 228;
/// Ticket -> contact.
pub const TICKET_TO_CONTACT: u32 = 16;

/// One entry of a create request's `associations`.
pub fn to(id: &str, type_id: u32) -> Value {
    json!({"to": {"id": id}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}]})
}
