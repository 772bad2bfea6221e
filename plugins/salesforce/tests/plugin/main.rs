//! The Salesforce plugin against loopback mocks of the token endpoint and the REST API.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod actions;
mod auth;
mod connection;
mod enrich;
mod outbound;
mod support;

#[test]
fn conforms() {
    let def = bacon_plugin_salesforce::definition();
    bacon_plugin_sdk::testing::assert_conformance(&def);
    assert_eq!(def.settings_schema["properties"]["clientSecret"]["writeOnly"], true);
    assert_eq!(def.settings_schema["default"]["apiVersion"], "62.0");
    assert_eq!(def.allowed_hosts, ["*.my.salesforce.com", "*.salesforce.com"]);
    let keys: Vec<&str> = def.actions.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(keys, ["find_contact", "create_case", "query", "test_connection"]);
    assert!(def.enricher.is_some());
    assert_eq!(def.triggers[0].key, "outbound_message");
    assert_eq!(def.triggers[0].kind_name(), "webhook");
}
