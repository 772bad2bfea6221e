//! `contact_created`: signature v3 checked against vectors computed here with hmac/sha2/base64,
//! the five-minute window, delivery ids and events.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bacon_plugin_hubspot::definition;
use bacon_plugin_hubspot::webhook::ContactCreated;
use bacon_plugin_sdk::trigger::{InboundRequest, TriggerKind, VerifyError, WebhookTrigger};
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const SECRET: &str = "5d8e2b1c-0a7f-4c3e-9b6d-1f2e3a4b5c6d";
const PREVIOUS: &str = "0f9e8d7c-6b5a-4938-8271-605f4e3d2c1b";
const HOOK: &str = "https://bacon.example.com/v1/hooks/whk_01JD3T";
/// 2025-01-11T09:00:00Z in epoch milliseconds.
const SENT_MS: u64 = 1_736_586_000_000;

fn trigger() -> Arc<dyn WebhookTrigger> {
    match &definition().triggers[0].kind {
        TriggerKind::Webhook(trigger) => trigger.clone(),
        _ => panic!("contact_created is a webhook"),
    }
}

/// base64(HMAC-SHA256(secret, method + uri + body + timestamp)), computed without the plugin or the SDK.
fn sign(secret: &str, method: &str, uri: &str, body: &[u8], timestamp: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(method.as_bytes());
    mac.update(uri.as_bytes());
    mac.update(body);
    mac.update(timestamp.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn settings() -> Value {
    json!({"accessToken": "pat-na1-x", "clientSecret": SECRET, "previousClientSecret": PREVIOUS, "portalId": 62515})
}

fn event(event_id: u64, object_id: u64, subscription_type: &str) -> Value {
    json!({"eventId": event_id, "subscriptionId": 12345, "portalId": 62515, "occurredAt": 1_736_585_999_000u64,
           "subscriptionType": subscription_type, "attemptNumber": 0, "objectId": object_id,
           "changeSource": "CRM", "changeFlag": "NEW", "appId": 54321})
}

fn body_of(events: &[Value]) -> Vec<u8> {
    serde_json::to_vec(events).unwrap()
}

fn one_creation() -> Vec<u8> {
    body_of(&[event(1, 123, "contact.creation")])
}

fn delivery(url: &str, body: &[u8], timestamp: &str, signature: Option<String>) -> InboundRequest {
    let mut headers = vec![
        ("content-type".to_string(), "application/json".to_string()),
        ("x-hubspot-request-timestamp".to_string(), timestamp.to_string()),
    ];
    if let Some(signature) = signature {
        headers.push(("x-hubspot-signature-v3".into(), signature));
    }
    InboundRequest { method: "POST".into(), url: url.into(), headers, body: body.to_vec() }
}

fn signed(secret: &str, body: &[u8], sent_ms: u64) -> InboundRequest {
    let timestamp = sent_ms.to_string();
    delivery(HOOK, body, &timestamp, Some(sign(secret, "POST", HOOK, body, &timestamp)))
}

fn at(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

#[test]
fn a_delivery_signed_with_the_client_secret_is_accepted() {
    let body = one_creation();
    let verified = ContactCreated.verify_at(&settings(), &signed(SECRET, &body, SENT_MS), at(SENT_MS + 1_000)).unwrap();
    assert_eq!(verified.delivery_id, "1");
    assert_eq!(
        verified.event,
        json!({
            "subscriptionType": "contact.creation", "portalId": 62515, "contactId": "123", "contactIds": ["123"],
            "eventIds": ["1"], "occurredAt": 1_736_585_999_000u64, "events": [event(1, 123, "contact.creation")]
        })
    );
}

#[test]
fn a_delivery_sent_just_now_passes_through_the_trigger() {
    let body = one_creation();
    let verified = trigger().verify(&settings(), &signed(SECRET, &body, now_ms())).unwrap();
    assert_eq!(verified.delivery_id, "1");
    assert_eq!(verified.event["contactId"], "123");
}

#[test]
fn the_secret_being_rotated_out_still_verifies() {
    let body = one_creation();
    assert!(trigger().verify(&settings(), &signed(PREVIOUS, &body, now_ms())).is_ok());
}

#[test]
fn a_changed_byte_fails() {
    let body = one_creation();
    let mut request = signed(SECRET, &body, SENT_MS);
    let position = request.body.iter().position(|b| *b == b'3').unwrap();
    request.body[position] = b'4';
    let result = ContactCreated.verify_at(&settings(), &request, at(SENT_MS));
    assert_eq!(result, Err(VerifyError::BadSignature));
    let mut moved = signed(SECRET, &body, SENT_MS);
    moved.url = format!("{HOOK}x");
    assert_eq!(ContactCreated.verify_at(&settings(), &moved, at(SENT_MS)), Err(VerifyError::BadSignature));
}

#[test]
fn a_wrong_secret_fails() {
    let body = one_creation();
    let request = signed("not-the-client-secret", &body, now_ms());
    assert_eq!(trigger().verify(&settings(), &request), Err(VerifyError::BadSignature));
}

#[test]
fn an_expired_timestamp_fails_even_with_a_valid_signature() {
    let body = one_creation();
    let request = signed(SECRET, &body, SENT_MS);
    let five_minutes = 5 * 60 * 1_000;
    assert!(ContactCreated.verify_at(&settings(), &request, at(SENT_MS + five_minutes)).is_ok());
    assert_eq!(
        ContactCreated.verify_at(&settings(), &request, at(SENT_MS + five_minutes + 1)),
        Err(VerifyError::Expired)
    );
    assert_eq!(
        ContactCreated.verify_at(&settings(), &request, at(SENT_MS - five_minutes - 1)),
        Err(VerifyError::Expired)
    );
    let stale = signed(SECRET, &body, now_ms() - 10 * 60 * 1_000);
    assert_eq!(trigger().verify(&settings(), &stale), Err(VerifyError::Expired));
}

#[test]
fn missing_headers_and_secrets_are_refused() {
    let body = one_creation();
    let unsigned = delivery(HOOK, &body, &SENT_MS.to_string(), None);
    assert_eq!(ContactCreated.verify_at(&settings(), &unsigned, at(SENT_MS)), Err(VerifyError::MissingSignature));
    let mut no_time = signed(SECRET, &body, SENT_MS);
    no_time.headers.retain(|(k, _)| k != "x-hubspot-request-timestamp");
    assert!(matches!(ContactCreated.verify_at(&settings(), &no_time, at(SENT_MS)), Err(VerifyError::Malformed(_))));
    let no_secret =
        ContactCreated.verify_at(&json!({"accessToken": "x"}), &signed(SECRET, &body, SENT_MS), at(SENT_MS));
    assert!(matches!(no_secret, Err(VerifyError::Malformed(m)) if m.contains("clientSecret")));
}

#[test]
fn hubspot_signs_the_uri_with_listed_escapes_decoded() {
    let body = one_creation();
    let received = format!("{HOOK}?tenant=acme%3Aeu&from=ops%40acme.example&q=a%20b");
    let signed_uri = format!("{HOOK}?tenant=acme:eu&from=ops@acme.example&q=a%20b");
    let timestamp = SENT_MS.to_string();
    let request = delivery(&received, &body, &timestamp, Some(sign(SECRET, "POST", &signed_uri, &body, &timestamp)));
    assert!(ContactCreated.verify_at(&settings(), &request, at(SENT_MS)).is_ok());
}

#[test]
fn a_batch_keeps_its_contact_creations_under_one_delivery_id() {
    let body = body_of(&[
        event(12, 124, "contact.creation"),
        event(9, 900, "contact.propertyChange"),
        event(7, 123, "contact.creation"),
    ]);
    let verified = ContactCreated.verify_at(&settings(), &signed(SECRET, &body, SENT_MS), at(SENT_MS)).unwrap();
    assert_eq!(verified.event["contactIds"], json!(["124", "123"]));
    assert_eq!(verified.event["eventIds"], json!(["12", "7"]));
    assert_eq!(verified.event["contactId"], "124");
    // The kept events' ids in numeric order, hashed: the same batch retried keys the same.
    let digest: String = Sha256::digest(b"7,12").iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(verified.delivery_id, format!("batch-{digest}"));
    let reordered = body_of(&[event(7, 123, "contact.creation"), event(12, 124, "contact.creation")]);
    let again = ContactCreated.verify_at(&settings(), &signed(SECRET, &reordered, SENT_MS), at(SENT_MS)).unwrap();
    assert_eq!(again.delivery_id, verified.delivery_id);
}

#[test]
fn deliveries_of_another_portal_are_refused_and_signed_ones_without_contact_creations_hold_no_event() {
    let mut foreign = event(1, 123, "contact.creation");
    foreign["portalId"] = json!(99999);
    let body = body_of(&[foreign]);
    let result = ContactCreated.verify_at(&settings(), &signed(SECRET, &body, SENT_MS), at(SENT_MS));
    assert_eq!(result, Err(VerifyError::Malformed("the delivery is for portal 99999, not 62515".into())));
    let body = body_of(&[event(2, 123, "contact.propertyChange")]);
    let result = ContactCreated.verify_at(&settings(), &signed(SECRET, &body, SENT_MS), at(SENT_MS));
    assert_eq!(
        result,
        Err(VerifyError::NoEvent("no `contact.creation` event (it holds: contact.propertyChange)".into()))
    );
    let forged = delivery(HOOK, &body, &SENT_MS.to_string(), Some(sign("guess", "POST", HOOK, &body, "0")));
    assert_eq!(ContactCreated.verify_at(&settings(), &forged, at(SENT_MS)), Err(VerifyError::BadSignature));
    let not_an_array = br#"{"eventId":1}"#;
    let result = ContactCreated.verify_at(&settings(), &signed(SECRET, not_an_array, SENT_MS), at(SENT_MS));
    assert!(matches!(result, Err(VerifyError::Malformed(_))));
}
