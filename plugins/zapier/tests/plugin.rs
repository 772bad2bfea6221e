//! The Zapier plugin against a loopback mock of hooks.zapier.com: catch hooks and test_connection.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bacon_plugin_sdk::testing::wiremock::matchers::{body_json, header, method, path};
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
use bacon_plugin_sdk::testing::{assert_conformance, run_action};
use serde_json::{Value, json};

const HOOK_URL: &str = "https://hooks.zapier.com/hooks/catch/123456/abc123x/";
const HOOK_PATH: &str = "/hooks/catch/123456/abc123x/";
const SECRET_PART: &str = "abc123x";
const REDACTED: &str = "https://hooks.zapier.com/hooks/catch/123456/***/";

/// What a catch hook answers to every accepted POST.
fn zapier_success() -> Value {
    json!({
        "attempt": "0194b1c2-6a3e-7d4f-9a10-3c2b1a0f9e8d",
        "id": "0194b1c2-6a3e-7d4f-9a10-3c2b1a0f9e8d",
        "request_id": "0194b1c2-6a3e-7d4f-9a10-3c2b1a0f9e8d",
        "status": "success"
    })
}

async fn send(server: &MockServer, settings: Value, payload: Value) -> Result<Value, bacon_plugin_sdk::ActionError> {
    run_action(
        &bacon_plugin_zapier::definition(),
        "send_to_catch_hook",
        settings,
        &server.uri(),
        json!({"payload": payload}),
    )
    .await
}

async fn test_connection(server: &MockServer, settings: Value) -> Value {
    run_action(&bacon_plugin_zapier::definition(), "test_connection", settings, &server.uri(), json!({})).await.unwrap()
}

#[test]
fn conforms() {
    let def = bacon_plugin_zapier::definition();
    assert_conformance(&def);
    assert_eq!(def.allowed_hosts, ["hooks.zapier.com"]);
    assert_eq!(def.settings_schema["properties"]["catchHookUrl"]["writeOnly"], true);
    assert_eq!(def.settings_schema["default"], json!({"recurseParse": true, "postTestEvent": false}));
    let keys: Vec<&str> = def.actions.iter().map(|a| a.key.as_str()).collect();
    assert_eq!(keys, ["send_to_catch_hook", "deliver_rest_hook", "test_connection"]);
    assert!(def.triggers.is_empty());
}

#[tokio::test]
async fn send_to_catch_hook_posts_the_payload_as_json_and_returns_zapiers_ids() {
    let server = MockServer::start().await;
    let payload = json!({"orderId": "1001", "customer": {"email": "ana@example.com"}, "items": [1, 2]});
    Mock::given(method("POST"))
        .and(path(HOOK_PATH))
        .and(header("content-type", "application/json"))
        .and(body_json(payload.clone()))
        .respond_with(ResponseTemplate::new(200).set_body_json(zapier_success()))
        .expect(1)
        .mount(&server)
        .await;
    let out = send(&server, json!({"catchHookUrl": HOOK_URL}), payload).await.unwrap();
    assert_eq!(
        out,
        json!({
            "status": "success",
            "id": "0194b1c2-6a3e-7d4f-9a10-3c2b1a0f9e8d",
            "requestId": "0194b1c2-6a3e-7d4f-9a10-3c2b1a0f9e8d",
            "attempt": "0194b1c2-6a3e-7d4f-9a10-3c2b1a0f9e8d"
        })
    );
    let received = server.received_requests().await.unwrap();
    assert!(received[0].headers.get("x-recurse-parse").is_none(), "recursive parsing is Zapier's default");
    assert!(received[0].headers.get("authorization").is_none(), "the URL is the only credential");
}

#[tokio::test]
async fn recurse_parse_off_sends_the_header() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(HOOK_PATH))
        .and(header("x-recurse-parse", "false"))
        .and(body_json(json!({"nested": {"a": 1}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(zapier_success()))
        .expect(1)
        .mount(&server)
        .await;
    let out =
        send(&server, json!({"catchHookUrl": HOOK_URL, "recurseParse": false}), json!({"nested": {"a": 1}})).await;
    assert_eq!(out.unwrap()["status"], "success");
}

#[tokio::test]
async fn a_throttled_hook_is_rate_limited_with_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(HOOK_PATH))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "7")
                .set_body_json(json!({"status": "error", "message": "Too many requests, slow down."})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = send(&server, json!({"catchHookUrl": HOOK_URL}), json!({"a": 1})).await.unwrap_err();
    assert_eq!(err.kind(), "rate_limited");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(
        err.message(),
        "Zapier is throttling this hook (429 Too Many Requests): Too many requests, slow down. (retry after 7.0 s)"
    );
}

#[tokio::test]
async fn a_deleted_hook_is_a_permanent_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(HOOK_PATH))
        .respond_with(ResponseTemplate::new(410).set_body_string(""))
        .expect(1)
        .mount(&server)
        .await;
    let err = send(&server, json!({"catchHookUrl": HOOK_URL}), json!({"a": 1})).await.unwrap_err();
    assert_eq!(err.kind(), "permanent");
    assert!(err.message().starts_with("the hook was deleted in Zapier"), "{err}");
    assert!(!bacon_plugin_zapier::is_gone(&err), "only REST hook deliveries mean `delete the subscription`");
}

#[tokio::test]
async fn a_zapier_error_body_becomes_a_clear_message() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(HOOK_PATH))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"errors": ["Hook not found"]})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/hooks/catch/123456/down1/"))
        .respond_with(ResponseTemplate::new(503).set_body_string("upstream unavailable"))
        .expect(1)
        .mount(&server)
        .await;
    let err = send(&server, json!({"catchHookUrl": HOOK_URL}), json!({"a": 1})).await.unwrap_err();
    assert_eq!(err.kind(), "permanent");
    assert_eq!(err.message(), "Zapier answered 404 Not Found: Hook not found");
    let down = "https://hooks.zapier.com/hooks/catch/123456/down1/";
    let err = send(&server, json!({"catchHookUrl": down}), json!({"a": 1})).await.unwrap_err();
    assert_eq!(err.kind(), "retryable");
    assert_eq!(err.message(), "Zapier answered 503 Service Unavailable: upstream unavailable");
}

#[tokio::test]
async fn a_missing_or_malformed_hook_url_sends_nothing_and_is_never_echoed() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&server).await;
    let err = send(&server, json!({}), json!({"a": 1})).await.unwrap_err();
    assert_eq!(err.kind(), "permanent");
    assert!(err.message().contains("no catch hook URL is set"), "{err}");
    for bad in [
        "https://example.com/hooks/catch/123456/abc123x/",
        "http://hooks.zapier.com/hooks/catch/123456/abc123x/",
        "https://hooks.zapier.com/hooks/catch/abc123x/",
    ] {
        let err = send(&server, json!({"catchHookUrl": bad}), json!({"a": 1})).await.unwrap_err();
        assert_eq!(err.kind(), "permanent");
        assert!(err.message().starts_with("the `catchHookUrl` setting is not a Zapier catch hook URL"), "{err}");
        assert!(!err.message().contains(SECRET_PART), "{err}");
    }
}

#[tokio::test]
async fn the_payload_must_be_an_object() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&server).await;
    let err = send(&server, json!({"catchHookUrl": HOOK_URL}), json!([1, 2])).await.unwrap_err();
    assert_eq!(err.kind(), "invalid_input");
}

#[tokio::test]
async fn test_connection_checks_the_form_without_posting_unless_opted_in() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&server).await;
    let ok = test_connection(&server, json!({"catchHookUrl": HOOK_URL})).await;
    assert_eq!(ok["ok"], true);
    assert_eq!(
        ok["message"],
        format!(
            "{REDACTED} is a well-formed catch hook URL; no event was sent (turn on `postTestEvent` to post a test \
             event)"
        )
    );
    assert_eq!(ok["details"], json!({"hook": REDACTED, "eventSent": false}));

    let bad =
        test_connection(&server, json!({"catchHookUrl": "https://hooks.zapier.com/hooks/catch/12x/abc123x/"})).await;
    assert_eq!(bad["ok"], false);
    assert_eq!(
        bad["message"],
        "the `catchHookUrl` setting is not a Zapier catch hook URL: the account part of a catch hook URL is a number \
         (the form is https://hooks.zapier.com/hooks/catch/{account}/{hook}/)"
    );

    let missing = test_connection(&server, json!({})).await;
    assert_eq!(missing["ok"], false);
    assert!(missing["message"].as_str().unwrap().starts_with("no catch hook URL is set"));
}

#[tokio::test]
async fn test_connection_posts_an_explicit_test_event_when_opted_in() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(HOOK_PATH))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "test": true,
            "source": "bacon",
            "plugin": "bacon-plugin-zapier",
            "message": "A test event from Bacon's Zapier plugin (test_connection). Filter on `test` if the Zap should \
                        ignore it.",
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(zapier_success()))
        .expect(1)
        .mount(&server)
        .await;
    let out = test_connection(&server, json!({"catchHookUrl": HOOK_URL, "postTestEvent": true})).await;
    assert_eq!(out["ok"], true);
    assert_eq!(
        out["message"],
        format!("Zapier accepted the test event sent to {REDACTED} (request id 0194b1c2-6a3e-7d4f-9a10-3c2b1a0f9e8d)")
    );
    assert_eq!(out["details"]["requestId"], "0194b1c2-6a3e-7d4f-9a10-3c2b1a0f9e8d");
    assert_eq!(out["details"]["eventSent"], true);
    assert!(!out.to_string().contains(SECRET_PART));
}

#[tokio::test]
async fn test_connection_reports_a_refused_test_event_as_not_ok() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(HOOK_PATH))
        .respond_with(ResponseTemplate::new(410))
        .expect(1)
        .mount(&server)
        .await;
    let out = test_connection(&server, json!({"catchHookUrl": HOOK_URL, "postTestEvent": true})).await;
    assert_eq!(out["ok"], false);
    let message = out["message"].as_str().unwrap();
    assert!(
        message.starts_with(&format!("{REDACTED} refused the test event: the hook was deleted in Zapier")),
        "{message}"
    );
    assert_eq!(out["details"]["status"], 410);
    assert!(!out.to_string().contains(SECRET_PART));
}

#[tokio::test]
async fn a_2xx_without_zapiers_answer_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(HOOK_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>ok</html>"))
        .expect(1)
        .mount(&server)
        .await;
    let err = send(&server, json!({"catchHookUrl": HOOK_URL}), json!({"a": 1})).await.unwrap_err();
    assert_eq!(err.kind(), "permanent");
    assert_eq!(
        err.message(),
        format!(
            "{REDACTED} answered 200 OK but not with Zapier's usual {{\"status\": …}} JSON (the request may have been \
             accepted; not retrying): <html>ok</html>"
        )
    );
}
