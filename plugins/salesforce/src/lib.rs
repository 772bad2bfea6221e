//! `bacon-plugin-salesforce`: Salesforce's REST API for flows, its outbound messages as a
//! trigger, and a contact's open cases as AI context.
//!
//! - [`settings`]: login URL, connected-app credentials, API version, org id.
//! - `auth` + `client`: the OAuth client-credentials token (cached per credentials until a 401,
//!   then fetched once more) and authorised REST calls; `errors` maps Salesforce's error bodies.
//! - [`soql`]: [`soql_quote`] and `:name` binding, so no input can change a query.
//! - `actions/`: `find_contact`, `create_case`, `query`, `test_connection`.
//! - [`outbound`]: the `outbound_message` trigger (SOAP, org check, SOAP ack).
//! - [`enrich`]: contact + open cases snippets.
//!
//! See `docs/plugins/salesforce.md`.

mod actions;
mod auth;
mod client;
pub mod enrich;
mod errors;
pub mod outbound;
pub mod settings;
pub mod soql;

use std::sync::Arc;
use std::time::Duration;

use bacon_plugin_sdk::trigger::{TriggerDefinition, TriggerKind};
use bacon_plugin_sdk::{PluginDefinition, RetryPolicy, action};
use serde_json::json;

pub use actions::create_case::{CreateCaseInput, CreateCaseOutput};
pub use actions::find_contact::{Contact, FindContactInput, FindContactOutput, contact_by_email_soql};
pub use actions::query::{QueryInput, QueryOutput};
pub use enrich::{SalesforceEnricher, open_cases_soql};
pub use outbound::{OutboundMessageEvent, OutboundMessageTrigger};
pub use settings::{DEFAULT_API_VERSION, SalesforceSettings};
pub use soql::soql_quote;

pub const PLUGIN_ID: &str = "bacon-plugin-salesforce";

/// The plugin's declaration.
pub fn definition() -> PluginDefinition {
    PluginDefinition::new::<SalesforceSettings>(
        PLUGIN_ID,
        "Salesforce",
        env!("CARGO_PKG_VERSION"),
        "Find contacts, create cases and run SOQL through the REST API; receive outbound messages; \
         add a contact's open cases to AI context.",
    )
    .settings_default(json!({"apiVersion": DEFAULT_API_VERSION}))
    .allowed_hosts(&["*.my.salesforce.com", "*.salesforce.com"])
    .action(action(
        "find_contact",
        "Find the Contact with an email address (the most recently modified one when several match).",
        actions::find_contact::run,
    ))
    .action(action(
        "create_case",
        "Create a Case (subject, description, contact, origin, status, priority, any other fields) and return its id.",
        actions::create_case::run,
    ))
    .action(
        action(
            "query",
            "Run a SOQL query with `:name` parameters, following nextRecordsUrl up to `maxRecords` records.",
            actions::query::run,
        )
        .with_timeout(Duration::from_secs(120)),
    )
    .action(
        action(
            "test_connection",
            "Obtain a token with the client credentials, then read the org's API limits.",
            actions::test_connection::run,
        )
        .with_retry(RetryPolicy::None),
    )
    .trigger(TriggerDefinition {
        key: "outbound_message".into(),
        description: "A Salesforce outbound message (workflow or flow action): the record's fields. \
                      Only messages from the configured organizationId are accepted; the reply is the SOAP ack."
            .into(),
        event_schema: outbound::event_schema(),
        kind: TriggerKind::Webhook(Arc::new(OutboundMessageTrigger)),
    })
    .enricher(Arc::new(SalesforceEnricher))
}
