//! `order_created`: signatures checked against vectors computed here with hmac/sha2/base64,
//! delivery ids and events, and registration through the Admin API.

use bacon_plugin_sdk::testing::context_for;
use bacon_plugin_sdk::testing::wiremock::matchers::{body_json, header, method, path, query_param};
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
use bacon_plugin_sdk::trigger::{InboundRequest, TriggerKind, VerifyError, WebhookTrigger};
use bacon_plugin_shopify::definition;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::sync::Arc;

use crate::fixtures::{API, TOKEN, order_1001, settings};

const CURRENT: &str = "shpss_current_client_secret";
const PREVIOUS: &str = "shpss_previous_client_secret";
const HOOK: &str = "https://bacon.example.com/v1/hooks/whk_01JD3T";

fn trigger() -> Arc<dyn WebhookTrigger> {
    match &definition().triggers[0].kind {
        TriggerKind::Webhook(trigger) => trigger.clone(),
        _ => panic!("order_created is a webhook"),
    }
}

/// base64(HMAC-SHA256(secret, body)), computed without the plugin or the SDK.
fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn secrets() -> Value {
    json!({"shopDomain": "acme.myshopify.com", "clientSecret": CURRENT, "previousWebhookSecret": PREVIOUS})
}

fn body() -> Vec<u8> {
    serde_json::to_vec(&order_1001()).unwrap()
}

fn delivery(body: &[u8], signature: Option<&str>, extra: &[(&str, &str)]) -> InboundRequest {
    let mut headers: Vec<(String, String)> = [
        ("content-type", "application/json"),
        ("x-shopify-topic", "orders/create"),
        ("x-shopify-shop-domain", "acme.myshopify.com"),
        ("x-shopify-api-version", "2026-04"),
        ("x-shopify-webhook-id", "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"),
        ("x-shopify-event-id", "98880550-7158-44d4-b7cd-2c97c8a091b5"),
        ("x-shopify-triggered-at", "2026-11-25T20:51:37.123Z"),
    ]
    .into_iter()
    .filter(|(name, _)| !extra.iter().any(|(n, _)| n == name))
    .chain(extra.iter().copied())
    .filter(|(_, value)| !value.is_empty())
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if let Some(signature) = signature {
        headers.push(("x-shopify-hmac-sha256".into(), signature.into()));
    }
    InboundRequest { method: "POST".into(), url: HOOK.into(), headers, body: body.to_vec() }
}

#[test]
fn a_delivery_signed_with_the_current_secret_is_accepted() {
    let body = body();
    let verified = trigger().verify(&secrets(), &delivery(&body, Some(&sign(CURRENT, &body)), &[])).unwrap();
    assert_eq!(verified.delivery_id, "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043");
    assert_eq!(
        verified.event,
        json!({
            "topic": "orders/create", "shopDomain": "acme.myshopify.com", "apiVersion": "2026-04",
            "webhookId": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043", "eventId": "98880550-7158-44d4-b7cd-2c97c8a091b5",
            "triggeredAt": "2026-11-25T20:51:37.123Z", "order": order_1001()
        })
    );
}

#[test]
fn the_previous_secret_and_a_separate_webhook_secret_are_accepted() {
    let body = body();
    assert!(trigger().verify(&secrets(), &delivery(&body, Some(&sign(PREVIOUS, &body)), &[])).is_ok());
    let admin_created = json!({"shopDomain": "acme", "accessToken": TOKEN, "webhookSecret": "whsec_admin_key"});
    assert!(trigger().verify(&admin_created, &delivery(&body, Some(&sign("whsec_admin_key", &body)), &[])).is_ok());
}

#[test]
fn a_changed_byte_or_a_wrong_secret_is_refused() {
    let body = body();
    let signature = sign(CURRENT, &body);
    let mut tampered = body.clone();
    let at = tampered.iter().position(|b| *b == b'5').unwrap();
    tampered[at] = b'6';
    assert_eq!(
        trigger().verify(&secrets(), &delivery(&tampered, Some(&signature), &[])),
        Err(VerifyError::BadSignature)
    );
    let wrong = sign("shpss_someone_else", &body);
    assert_eq!(trigger().verify(&secrets(), &delivery(&body, Some(&wrong), &[])), Err(VerifyError::BadSignature));
    assert_eq!(trigger().verify(&secrets(), &delivery(&body, None, &[])), Err(VerifyError::MissingSignature));
    let no_secret = json!({"shopDomain": "acme", "accessToken": TOKEN});
    assert!(matches!(
        trigger().verify(&no_secret, &delivery(&body, Some(&signature), &[])),
        Err(VerifyError::Malformed(m)) if m.contains("no webhook secret")
    ));
}

#[test]
fn signed_but_malformed_deliveries_are_refused() {
    let check = |body: &[u8], extra: &[(&str, &str)]| {
        trigger().verify(&secrets(), &delivery(body, Some(&sign(CURRENT, body)), extra)).unwrap_err()
    };
    let body = body();
    assert_eq!(
        check(b"not json", &[]),
        VerifyError::Malformed("the body is not JSON: expected ident at line 1 column 2".into())
    );
    assert_eq!(check(b"[1]", &[]), VerifyError::Malformed("the body is not a JSON object".into()));
    assert_eq!(
        check(&body, &[("x-shopify-topic", "orders/paid")]),
        VerifyError::Malformed("the topic is `orders/paid`, not `orders/create`".into())
    );
    assert_eq!(
        check(&body, &[("x-shopify-shop-domain", "other.myshopify.com")]),
        VerifyError::Malformed("the delivery is for `other.myshopify.com`, not `acme.myshopify.com`".into())
    );
    assert_eq!(
        check(&body, &[("x-shopify-webhook-id", ""), ("x-shopify-event-id", "")]),
        VerifyError::Malformed("the X-Shopify-Webhook-Id header is missing".into())
    );
}

#[tokio::test]
async fn subscribe_registers_the_webhook_and_returns_its_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/webhooks.json")))
        .and(header("x-shopify-access-token", TOKEN))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({"webhook": {"topic": "orders/create", "address": HOOK, "format": "json"}})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"webhook": {
            "id": 4759306, "address": HOOK, "topic": "orders/create", "created_at": "2026-11-25T15:51:37-05:00",
            "updated_at": "2026-11-25T15:51:37-05:00", "format": "json", "fields": [], "metafield_namespaces": [],
            "api_version": "2026-04"
        }})))
        .expect(1)
        .mount(&server)
        .await;
    let ctx = context_for(&definition(), "order_created", settings(), &server.uri());
    let subscription = trigger().subscribe(ctx, HOOK.into()).await.unwrap();
    assert_eq!(subscription.external_id.as_deref(), Some("4759306"));
}

#[tokio::test]
async fn subscribe_adopts_its_own_webhook_when_shopify_already_has_it() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/webhooks.json")))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({
            "errors": {"address": ["for this topic has already been taken"]}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/webhooks.json")))
        .and(query_param("topic", "orders/create"))
        .and(query_param("address", HOOK))
        .and(header("x-shopify-access-token", TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"webhooks": [
            {"id": 901431826, "address": HOOK, "topic": "orders/create", "format": "json", "api_version": "2026-04"}
        ]})))
        .expect(1)
        .mount(&server)
        .await;
    let ctx = context_for(&definition(), "order_created", settings(), &server.uri());
    let subscription = trigger().subscribe(ctx, HOOK.into()).await.unwrap();
    assert_eq!(subscription.external_id.as_deref(), Some("901431826"));
}

#[tokio::test]
async fn subscribe_passes_other_refusals_on() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/webhooks.json")))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({
            "errors": {"address": ["protocol http:// is not supported"]}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let ctx = context_for(&definition(), "order_created", settings(), &server.uri());
    let err = trigger().subscribe(ctx, "http://bacon.example.com/hook".into()).await.unwrap_err();
    assert_eq!(err.kind(), "invalid_input");
    assert_eq!(err.message(), "Shopify refused the request (422): address protocol http:// is not supported");
}

#[tokio::test]
async fn unsubscribe_deletes_the_webhook_and_tolerates_it_being_gone() {
    let server = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path(format!("{API}/webhooks/4759306.json")))
        .and(header("x-shopify-access-token", TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{API}/webhooks/5.json")))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"errors": "Not Found"})))
        .expect(1)
        .mount(&server)
        .await;
    let def = definition();
    trigger()
        .unsubscribe(context_for(&def, "order_created", settings(), &server.uri()), "4759306".into())
        .await
        .unwrap();
    trigger().unsubscribe(context_for(&def, "order_created", settings(), &server.uri()), "5".into()).await.unwrap();
    let err = trigger()
        .unsubscribe(context_for(&def, "order_created", settings(), &server.uri()), "../shop".into())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "invalid_input");
}
