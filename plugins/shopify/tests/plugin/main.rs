//! The Shopify plugin against loopback mocks that answer as the Admin API does.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod actions;
mod credentials;
mod enrich;
mod fixtures;
mod webhook;

use bacon_plugin_sdk::testing::assert_conformance;

#[test]
fn conforms() {
    assert_conformance(&bacon_plugin_shopify::definition());
}

#[test]
fn secrets_are_write_only_and_defaults_are_declared() {
    let def = bacon_plugin_shopify::definition();
    let props = &def.settings_schema["properties"];
    for secret in ["accessToken", "clientSecret", "webhookSecret", "previousWebhookSecret"] {
        assert_eq!(props[secret]["writeOnly"], true, "{secret}");
    }
    assert_eq!(def.settings_schema["required"], serde_json::json!(["shopDomain"]));
    assert_eq!(def.settings_schema["default"], serde_json::json!({"apiVersion": "2026-04", "recentOrdersLimit": 3}));
    assert_eq!(def.allowed_hosts, ["*.myshopify.com"]);
    assert_eq!(def.triggers[0].key, "order_created");
    assert_eq!(def.triggers[0].kind_name(), "webhook");
    assert!(def.enricher.is_some());
}
