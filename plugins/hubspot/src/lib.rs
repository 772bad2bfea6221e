//! `bacon-plugin-hubspot`: a HubSpot account's contacts, notes and tickets for flows and the AI.
//!
//! - Actions: `find_contact` (by email), `upsert_contact` (create or update by email),
//!   `create_note` (on a contact), `create_ticket`, `test_connection`.
//! - Trigger `contact_created`: HubSpot's `contact.creation` webhook events, verified with
//!   signature v3 (five-minute window, two active client secrets), de-duplicated on `eventId`.
//! - Context enricher: a summary of the conversation customer's contact.
//!
//! Every call goes to `https://api.hubapi.com/crm/v3/…` (or the operator's base URL) through
//! the host's allow-listed client with `Authorization: Bearer <private app token>`.
//! See `docs/plugins/hubspot.md`.

pub mod actions;
mod association;
mod client;
pub mod contact;
pub mod enrich;
pub mod settings;
pub mod signature;
mod vendor_error;
pub mod webhook;

use std::sync::Arc;

use bacon_plugin_sdk::schema::schema_of;
use bacon_plugin_sdk::trigger::{TriggerDefinition, TriggerKind};
use bacon_plugin_sdk::{PluginDefinition, RetryPolicy, action};
use serde_json::json;

pub use contact::Contact;
pub use settings::HubSpotSettings;
pub use webhook::ContactCreatedEvent;

pub const PLUGIN_ID: &str = "bacon-plugin-hubspot";

/// The plugin's declaration.
pub fn definition() -> PluginDefinition {
    PluginDefinition::new::<HubSpotSettings>(
        PLUGIN_ID,
        "HubSpot",
        env!("CARGO_PKG_VERSION"),
        "Find and upsert HubSpot contacts, log notes, open tickets, start flows when a contact is created, and give \
         the AI a contact summary.",
    )
    .settings_default(json!({
        "baseUrl": settings::DEFAULT_BASE_URL,
        "defaultTicketPipeline": settings::DEFAULT_TICKET_PIPELINE,
        "defaultTicketStage": settings::DEFAULT_TICKET_STAGE,
    }))
    .allowed_hosts(&["api.hubapi.com"])
    .action(action(
        "find_contact",
        "Find the contact with an email address; `found: false` when there is none.",
        actions::find_contact::run,
    ))
    .action(action(
        "upsert_contact",
        "Create the contact with an email address, or update its properties when it exists.",
        actions::upsert_contact::run,
    ))
    .action(action(
        "create_note",
        "Log a note on a contact's timeline (optionally on a ticket too).",
        actions::create_note::run,
    ))
    .action(action(
        "create_ticket",
        "Open a ticket in a pipeline stage, optionally associated with a contact.",
        actions::create_ticket::run,
    ))
    .action(
        action(
            "test_connection",
            "Read one contact with the configured token (GET /crm/v3/objects/contacts?limit=1) and report whether it \
             worked.",
            actions::test_connection::run,
        )
        .with_retry(RetryPolicy::None),
    )
    .trigger(TriggerDefinition {
        key: "contact_created".into(),
        description: "A contact was created in HubSpot (webhook subscription `contact.creation`).".into(),
        event_schema: schema_of::<ContactCreatedEvent>(),
        kind: TriggerKind::Webhook(Arc::new(webhook::ContactCreated)),
    })
    .enricher(Arc::new(enrich::ContactSummary))
}
