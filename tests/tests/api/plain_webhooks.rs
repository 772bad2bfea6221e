//! Plain signed webhooks (issue #18): deliveries carry `X-Bacon-Timestamp` and `X-Bacon-Signature:
//! v1=<hex HMAC-SHA256 of v1:{timestamp}:{body}>`; a stale or forged one answers 401 and starts
//! nothing, and a replay of a signature (whatever its `Idempotency-Key`) is a duplicate.

use std::time::{SystemTime, UNIX_EPOCH};

use bacon_tests::{TestApp, db_test};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};

use super::triggers::{create_flow, deliver, flow_with_trigger, runs_of, succeeded_runs};

/// `v1=` + hex HMAC-SHA256(secret, `v1:{timestamp}:{body}`), computed as a sender would.
fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("v1:{timestamp}:").as_bytes());
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// Headers of a delivery signed at `timestamp`.
fn signed_headers(secret: &str, timestamp: u64, body: &[u8]) -> Vec<(&'static str, String)> {
    let timestamp = timestamp.to_string();
    vec![
        ("content-type", "application/json".to_string()),
        ("x-bacon-signature", sign(secret, &timestamp, body)),
        ("x-bacon-timestamp", timestamp),
    ]
}

/// Activates a signed webhook flow: its id, hook path and signing secret.
async fn signed_flow(app: &TestApp) -> (String, String, String) {
    let key = &app.tenant_key;
    let flow = create_flow(app, flow_with_trigger(json!({"kind": "webhook", "signed": true}), vec![])).await;
    let activated = app.post(&format!("/v1/flows/{flow}/activate"), key, json!({})).await;
    assert_eq!(activated.status, 200, "{}", activated.text);
    let secret = activated.json["signingSecret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"));
    let again = app.post(&format!("/v1/flows/{flow}/activate"), key, json!({})).await;
    assert_eq!(again.json["signingSecret"], Value::Null, "the secret is shown once");
    assert!(!app.get(&format!("/v1/flows/{flow}"), key).await.text.contains(&secret));
    let url = activated.json["hookUrl"].as_str().unwrap();
    (flow, url[url.find("/hooks/").unwrap()..].to_string(), secret)
}

db_test!(
    async fn a_signed_webhook_trigger_refuses_unsigned_forged_and_body_only_deliveries(app) {
        let key = app.tenant_key.clone();
        let (flow, hook, secret) = signed_flow(&app).await;
        let hook = hook.as_str();
        let body = br#"{"orderId": 8}"#.to_vec();
        let now = unix_now();
        let json_type = ("content-type", "application/json".to_string());
        deliver(&app, hook, std::slice::from_ref(&json_type), body.clone()).await.assert_problem(401, "delivery_refused");
        let forged = signed_headers("whsec_guess", now, &body);
        deliver(&app, hook, &forged, body.clone()).await.assert_problem(401, "delivery_refused");
        // The scheme that signed the body alone is refused, saying what to sign instead.
        let body_only = {
            let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).unwrap();
            mac.update(&body);
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        };
        let retired = vec![json_type.clone(), ("x-bacon-signature", body_only)];
        let refused = deliver(&app, hook, &retired, body.clone()).await;
        refused.assert_problem(401, "delivery_refused");
        assert!(refused.json["detail"].as_str().unwrap().contains("X-Bacon-Timestamp"), "{}", refused.text);
        // A signature moved to another timestamp does not verify.
        let mut moved = signed_headers(&secret, now, &body);
        moved[2].1 = (now + 1).to_string();
        deliver(&app, hook, &moved, body.clone()).await.assert_problem(401, "delivery_refused");
        let accepted = deliver(&app, hook, &signed_headers(&secret, now, &body), body.clone()).await;
        assert_eq!(accepted.json["status"], "accepted", "{}", accepted.text);
        let runs = succeeded_runs(&app, &flow, 1).await;
        let run = app.get(&format!("/v1/runs/{}", runs[0]["id"].as_str().unwrap()), &key).await;
        assert_eq!(run.json["trigger"]["body"], json!({"orderId": 8}), "{}", run.text);

        // An active flow's trigger cannot change under it (409); other edits save.
        let unsigned = flow_with_trigger(json!({"kind": "webhook"}), vec![]);
        let changed = app.put(&format!("/v1/flows/{flow}"), &key, json!({"name": "triggered", "graph": unsigned})).await;
        changed.assert_problem(409, "flow_active");
        let same = flow_with_trigger(json!({"kind": "webhook", "signed": true}), vec![]);
        let renamed = app.put(&format!("/v1/flows/{flow}"), &key, json!({"name": "renamed", "graph": same})).await;
        assert_eq!(renamed.status, 200, "{}", renamed.text);

        // Two activations at once: one trigger, the same hook URL for both callers.
        let twice = create_flow(&app, flow_with_trigger(json!({"kind": "webhook"}), vec![])).await;
        let path = format!("/v1/flows/{twice}/activate");
        let (a, b) = tokio::join!(app.post(&path, &key, json!({})), app.post(&path, &key, json!({})));
        assert_eq!((a.status, b.status), (200, 200), "{} {}", a.text, b.text);
        assert_eq!(a.json["hookUrl"], b.json["hookUrl"]);
    }
);

db_test!(
    async fn a_captured_signed_delivery_replayed_with_any_idempotency_key_starts_nothing(app) {
        let (flow, hook, secret) = signed_flow(&app).await;
        let body = br#"{"orderId": 9}"#.to_vec();
        let captured = signed_headers(&secret, unix_now(), &body);
        let with_key = |key: Option<&str>| {
            let mut headers = captured.clone();
            headers.extend(key.map(|k| ("idempotency-key", k.to_string())));
            headers
        };
        let first = deliver(&app, &hook, &with_key(Some("order-9")), body.clone()).await;
        assert_eq!((first.status, first.json["status"].as_str()), (200, Some("accepted")), "{}", first.text);
        // The attacker's replays: new keys, no key, the same signature in upper case.
        let mut shouted = captured.clone();
        shouted[1].1 = format!("v1={}", shouted[1].1["v1=".len()..].to_uppercase());
        for replay in [with_key(Some("replay-1")), with_key(Some("replay-2")), with_key(None), shouted] {
            let answer = deliver(&app, &hook, &replay, body.clone()).await;
            assert_eq!((answer.status, answer.json["status"].as_str()), (200, Some("duplicate")), "{}", answer.text);
        }
        // A new delivery (a new signature) still starts its run; the replays started none.
        let later = br#"{"orderId": 10}"#.to_vec();
        let fresh = deliver(&app, &hook, &signed_headers(&secret, unix_now(), &later), later.clone()).await;
        assert_eq!(fresh.json["status"], "accepted", "{}", fresh.text);
        let runs = succeeded_runs(&app, &flow, 2).await;
        let mut orders = Vec::new();
        for run in &runs {
            let run = app.get(&format!("/v1/runs/{}", run["id"].as_str().unwrap()), &app.tenant_key).await;
            orders.push(run.json["trigger"]["body"]["orderId"].as_u64().unwrap());
        }
        orders.sort_unstable();
        assert_eq!(orders, [9, 10]);
    }
);

db_test!(
    async fn a_signed_delivery_more_than_five_minutes_off_is_refused_as_expired(app) {
        let (flow, hook, secret) = signed_flow(&app).await;
        let body = br#"{"orderId": 11}"#.to_vec();
        let now = unix_now();
        for (sent, label) in [(now - 6 * 60, "stale"), (now + 6 * 60, "from the future")] {
            let answer = deliver(&app, &hook, &signed_headers(&secret, sent, &body), body.clone()).await;
            answer.assert_problem(401, "delivery_expired");
            assert!(!answer.text.contains(&secret), "{label}: {}", answer.text);
        }
        let millis = signed_headers(&secret, now * 1000, &body);
        deliver(&app, &hook, &millis, body.clone()).await.assert_problem(401, "delivery_expired");
        let garbled = signed_headers(&secret, now, &body)
            .into_iter()
            .map(|(k, v)| if k == "x-bacon-timestamp" { (k, "yesterday".to_string()) } else { (k, v) })
            .collect::<Vec<_>>();
        deliver(&app, &hook, &garbled, body.clone()).await.assert_problem(401, "delivery_refused");
        // Within the window: accepted.
        let recent = deliver(&app, &hook, &signed_headers(&secret, now - 4 * 60, &body), body.clone()).await;
        assert_eq!(recent.json["status"], "accepted", "{}", recent.text);
        succeeded_runs(&app, &flow, 1).await;
        assert_eq!(runs_of(&app, &flow).await.len(), 1);
    }
);
