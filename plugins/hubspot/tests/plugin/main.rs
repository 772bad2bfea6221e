//! The HubSpot plugin against loopback mocks that answer as HubSpot's CRM API does.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod contacts;
mod enrich;
mod errors;
mod fixtures;
mod notes_and_tickets;
mod webhook;

use bacon_plugin_sdk::testing::assert_conformance;
use serde_json::json;

#[test]
fn conforms() {
    assert_conformance(&bacon_plugin_hubspot::definition());
}

#[test]
fn secrets_are_write_only_and_defaults_are_declared() {
    let def = bacon_plugin_hubspot::definition();
    let props = &def.settings_schema["properties"];
    for secret in ["accessToken", "clientSecret", "previousClientSecret"] {
        assert_eq!(props[secret]["writeOnly"], true, "{secret}");
    }
    assert_eq!(def.settings_schema["required"], json!(["accessToken"]));
    assert_eq!(
        def.settings_schema["default"],
        json!({"baseUrl": "https://api.hubapi.com", "defaultTicketPipeline": "0", "defaultTicketStage": "1"})
    );
    assert_eq!(def.allowed_hosts, ["api.hubapi.com"]);
    let keys: Vec<&str> = def.actions.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(keys, ["find_contact", "upsert_contact", "create_note", "create_ticket", "test_connection"]);
    assert_eq!(def.triggers[0].key, "contact_created");
    assert_eq!(def.triggers[0].kind_name(), "webhook");
    assert!(def.enricher.is_some());
}
