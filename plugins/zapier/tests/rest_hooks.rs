//! REST hook deliveries against a loopback mock of hooks.zapier.com, and the allow-list.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bacon_plugin_sdk::context::{ActionContext, ContextParts};
use bacon_plugin_sdk::http::HttpClient;
use bacon_plugin_sdk::testing::run_action;
use bacon_plugin_sdk::testing::wiremock::matchers::{body_json, header, method, path};
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
use bacon_plugin_sdk::{ActionError, RetryPolicy};
use bacon_plugin_zapier::{GONE_PREFIX, is_gone};
use serde_json::{Value, json};

const TARGET_URL: &str = "https://hooks.zapier.com/hooks/standard/123456/7f3e9a/";
const TARGET_PATH: &str = "/hooks/standard/123456/7f3e9a/";
const REDACTED: &str = "https://hooks.zapier.com/hooks/standard/123456/***/";

fn event() -> Value {
    json!({
        "id": "evt_01JHX3Y6Z8",
        "event": "message.received",
        "occurredAt": "2025-01-15T10:30:00Z",
        "data": {"conversationId": "conv_01JHX3", "text": "Where is my order?"}
    })
}

async fn deliver(server: &MockServer, target_url: &str, payload: Value) -> Result<Value, ActionError> {
    run_action(
        &bacon_plugin_zapier::definition(),
        "deliver_rest_hook",
        json!({}),
        &server.uri(),
        json!({"targetUrl": target_url, "payload": payload}),
    )
    .await
}

async fn mock_answer(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("POST"))
        .and(path(TARGET_PATH))
        .and(header("content-type", "application/json"))
        .and(body_json(event()))
        .respond_with(response)
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_2xx_is_delivered() {
    let server = MockServer::start().await;
    mock_answer(
        &server,
        ResponseTemplate::new(200).set_body_json(json!({
            "attempt": "0194b1c2-aaaa-7000-8000-000000000001",
            "id": "0194b1c2-aaaa-7000-8000-000000000001",
            "request_id": "0194b1c2-aaaa-7000-8000-000000000002",
            "status": "success"
        })),
    )
    .await;
    let out = deliver(&server, TARGET_URL, event()).await.unwrap();
    assert_eq!(
        out,
        json!({
            "delivered": true,
            "status": 200,
            "eventId": "evt_01JHX3Y6Z8",
            "requestId": "0194b1c2-aaaa-7000-8000-000000000002"
        })
    );
    let received = server.received_requests().await.unwrap();
    assert!(received[0].headers.get("x-recurse-parse").is_none());
}

#[tokio::test]
async fn a_410_is_gone_so_the_host_deletes_the_subscription() {
    let server = MockServer::start().await;
    mock_answer(&server, ResponseTemplate::new(410).set_body_string("")).await;
    let err = deliver(&server, TARGET_URL, event()).await.unwrap_err();
    assert_eq!(err.kind(), "permanent");
    assert!(is_gone(&err));
    assert!(err.message().starts_with(GONE_PREFIX));
    assert_eq!(
        err.message(),
        format!(
            "gone: Zapier answered 410 Gone for {REDACTED}: the Zap was turned off or deleted, so the subscription \
             must be removed"
        )
    );
}

#[tokio::test]
async fn a_429_is_rate_limited_with_retry_after() {
    let server = MockServer::start().await;
    mock_answer(&server, ResponseTemplate::new(429).insert_header("retry-after", "30")).await;
    let err = deliver(&server, TARGET_URL, event()).await.unwrap_err();
    assert_eq!(err.kind(), "rate_limited");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
    assert!(!is_gone(&err));
    assert_eq!(err.message(), "Zapier is throttling this hook (429 Too Many Requests) (retry after 30.0 s)");
}

#[tokio::test]
async fn a_5xx_is_retryable() {
    let server = MockServer::start().await;
    mock_answer(
        &server,
        ResponseTemplate::new(502).set_body_json(json!({"status": "error", "message": "Bad gateway, try again."})),
    )
    .await;
    let err = deliver(&server, TARGET_URL, event()).await.unwrap_err();
    assert_eq!(err.kind(), "retryable");
    assert!(!is_gone(&err));
    assert_eq!(err.message(), "Zapier answered 502 Bad Gateway: Bad gateway, try again.");
}

#[tokio::test]
async fn a_payload_without_an_id_or_a_foreign_target_sends_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&server).await;
    for payload in [json!({"event": "run.failed"}), json!({"id": ""}), json!({"id": null})] {
        let err = deliver(&server, TARGET_URL, payload).await.unwrap_err();
        assert_eq!(
            err,
            ActionError::InvalidInput {
                message: "`payload` needs an `id` (a non-empty string or a number): Zapier de-duplicates events on it"
                    .into(),
                pointer: Some("/payload/id".into()),
            }
        );
    }
    for target in [
        "http://hooks.zapier.com/hooks/standard/123456/7f3e9a/",
        "https://attacker.example/hooks/standard/123456/7f3e9a/",
    ] {
        let err = deliver(&server, target, event()).await.unwrap_err();
        assert_eq!(err.kind(), "invalid_input");
        assert!(err.message().starts_with("`targetUrl` is not a Zapier hook URL"), "{err}");
        assert!(!err.message().contains("7f3e9a"), "{err}");
    }
}

#[tokio::test]
async fn the_allow_list_applies_to_deliveries() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&server).await;
    let def = bacon_plugin_zapier::definition();
    // The operator pointed the plugin at the mock but left the allow-list at hooks.zapier.com.
    let ctx = ActionContext::new(ContextParts {
        tenant_id: "ten_test".into(),
        bot_id: None,
        plugin_id: def.id.clone(),
        action: "deliver_rest_hook".into(),
        attempt: 1,
        idempotency_key: None,
        run_id: None,
        step_id: None,
        base_url: Some(server.uri()),
        http: HttpClient::new(&def.allowed_hosts, Duration::from_secs(5)),
        settings: json!({}),
    });
    let action = def.find_action("deliver_rest_hook").unwrap();
    assert_ne!(action.retry, RetryPolicy::None, "deliveries are retried: Zapier de-duplicates on the payload id");
    let err = (action.handler)(ctx, json!({"targetUrl": TARGET_URL, "payload": event()})).await.unwrap_err();
    assert_eq!(err.kind(), "permanent");
    assert!(err.message().contains("is not in this plugin's allowed hosts; no request was sent"), "{err}");
    assert!(!is_gone(&err));
}

#[test]
fn the_host_side_types_round_trip() {
    let request: bacon_plugin_zapier::SubscribeRequest = serde_json::from_value(json!({
        "target_url": "https://hooks.zapier.com/hooks/standard/123/abc/",
        "event": "message.received"
    }))
    .unwrap();
    let subscription = request.parse().unwrap();
    assert_eq!(subscription.event, "message.received");
    let response = serde_json::to_value(bacon_plugin_zapier::SubscribeResponse { id: "sub_123".into() }).unwrap();
    assert_eq!(response, json!({"id": "sub_123"}));
    let samples = bacon_plugin_zapier::sample_list("message.received", Vec::new(), 3).unwrap();
    assert!(samples[0]["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert_eq!(
        bacon_plugin_zapier::events().iter().map(|e| e.name).collect::<Vec<_>>(),
        ["message.received", "run.succeeded", "run.failed", "run.cancelled"]
    );
}
