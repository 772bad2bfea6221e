//! The actions against a loopback Twilio: the exact requests Twilio would receive, and its answers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod twilio_mock;

use std::time::Duration;

use bacon_plugin_sdk::ActionError;
use bacon_plugin_sdk::testing::wiremock::matchers::{header, method, path, query_param};
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
use bacon_plugin_sdk::testing::{assert_conformance, run_action};
use bacon_plugin_twilio_whatsapp::definition;
use serde_json::{Value, json};
use twilio_mock::*;

#[test]
fn conforms() {
    assert_conformance(&definition());
}

#[test]
fn declares_secrets_credentials_hosts_trigger_and_channel() {
    let def = definition();
    let schema = &def.settings_schema;
    for secret in ["authToken", "keySecret"] {
        assert_eq!(schema["properties"][secret]["writeOnly"], true, "{secret}");
    }
    assert_eq!(schema["properties"]["accountSid"]["pattern"], "^AC[0-9a-fA-F]{32}$");
    assert_eq!(schema["required"], json!(["accountSid"]));
    assert_eq!(schema["anyOf"], json!([{"required": ["authToken"]}, {"required": ["keySid", "keySecret"]}]));
    assert_eq!(schema["dependentRequired"]["keySid"], json!(["keySecret"]));
    assert_eq!(schema["default"], json!({"baseUrl": "https://api.twilio.com"}));
    assert_eq!(def.allowed_hosts, ["api.twilio.com"]);
    assert_eq!(
        def.triggers.iter().map(|t| (t.key.as_str(), t.kind_name())).collect::<Vec<_>>(),
        [("message_received", "webhook")]
    );
    assert!(def.channel.is_some());
}

async fn run(server: &MockServer, action: &str, settings: Value, input: Value) -> Result<Value, ActionError> {
    run_action(&definition(), action, settings, &server.uri(), input).await
}

#[tokio::test]
async fn send_message_posts_a_free_form_message_with_media() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .and(header("authorization", basic(AC, TOKEN).as_str()))
        .and(FormIs::new(&[
            ("To", USER),
            ("From", SENDER),
            ("Body", "Your order #1001 has shipped 📦"),
            ("MediaUrl", "https://cdn.example.com/label.pdf"),
            ("MediaUrl", "https://cdn.example.com/map.png"),
            ("StatusCallback", "https://hooks.example.com/twilio/status"),
        ]))
        .respond_with(ResponseTemplate::new(201).set_body_json(message(
            "queued",
            "Your order #1001 has shipped 📦",
            "2",
        )))
        .expect(1)
        .mount(&server)
        .await;
    let mut settings = token_settings();
    settings["statusCallbackUrl"] = json!("https://hooks.example.com/twilio/status");
    let out = run(
        &server,
        "send_message",
        settings,
        json!({
            "to": "+15558675310",
            "body": "Your order #1001 has shipped 📦",
            "mediaUrls": ["https://cdn.example.com/label.pdf", "https://cdn.example.com/map.png"]
        }),
    )
    .await
    .unwrap();
    assert_eq!(out["sid"], SM);
    assert_eq!(out["status"], "queued");
    assert_eq!(out["numMedia"], 2);
    assert_eq!(out["to"], USER);
    assert_eq!(out["direction"], "outbound-api");
    assert_eq!(out["errorCode"], Value::Null);
}

#[tokio::test]
async fn send_message_sends_a_template_through_a_messaging_service_with_an_api_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .and(header("authorization", basic(SK, KEY_SECRET).as_str()))
        .respond_with(ResponseTemplate::new(201).set_body_json(message("accepted", "", "0")))
        .expect(1)
        .mount(&server)
        .await;
    let out = run(
        &server,
        "send_message",
        api_key_settings(),
        json!({"to": USER, "contentSid": HX, "contentVariables": {"1": "Ada", "2": 1001}}),
    )
    .await
    .unwrap();
    assert_eq!(out["status"], "accepted");
    let requests = server.received_requests().await.unwrap();
    let form = form_of(&requests[0].body);
    let names: Vec<&str> = form.keys().map(String::as_str).collect();
    assert_eq!(names, ["ContentSid", "ContentVariables", "MessagingServiceSid", "To"]);
    assert_eq!(form["To"], [USER]);
    assert_eq!(form["MessagingServiceSid"], [MG]);
    assert_eq!(form["ContentSid"], [HX]);
    let variables: Value = serde_json::from_str(&form["ContentVariables"][0]).unwrap();
    assert_eq!(variables, json!({"1": "Ada", "2": "1001"}));
}

#[tokio::test]
async fn send_message_refuses_malformed_input_without_calling_twilio() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(201)).expect(0).mount(&server).await;
    let no_sender = json!({"accountSid": AC, "authToken": TOKEN});
    let err = run(&server, "send_message", no_sender, json!({"to": USER, "body": "hi"})).await.unwrap_err();
    assert!(matches!(&err, ActionError::InvalidInput { pointer: Some(p), .. } if p == "/from"), "{err:?}");
    let err = run(&server, "send_message", token_settings(), json!({"to": USER, "body": "hi", "contentSid": HX}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "invalid_input");
    assert!(err.message().contains("not both"), "{err}");
}

#[tokio::test]
async fn send_message_maps_rate_limits_with_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "2").set_body_json(error(
            20429,
            "Too Many Requests",
            429,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let err = run(&server, "send_message", token_settings(), json!({"to": USER, "body": "hi"})).await.unwrap_err();
    assert_eq!(err.kind(), "rate_limited");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(2)));
    assert!(err.message().contains("20429") && err.message().contains("Too Many Requests"), "{err}");
}

#[tokio::test]
async fn send_message_maps_twilio_validation_errors() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .and(FormIs::new(&[("To", "whatsapp:+1555"), ("From", SENDER), ("Body", "hi")]))
        .respond_with(ResponseTemplate::new(400).set_body_json(error(
            21211,
            "The 'To' number whatsapp:+1555 is not a valid phone number.",
            400,
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(messages_path()))
        .and(FormIs::new(&[("To", USER), ("From", SENDER), ("Body", "late")]))
        .respond_with(ResponseTemplate::new(400).set_body_json(error(
            63016,
            "Failed to send freeform message because you are outside the allowed window. \
             If you are using WhatsApp, please use a Message Template.",
            400,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let invalid =
        run(&server, "send_message", token_settings(), json!({"to": "+1555", "body": "hi"})).await.unwrap_err();
    assert!(matches!(&invalid, ActionError::InvalidInput { pointer: Some(p), .. } if p == "/to"), "{invalid:?}");
    assert_eq!(
        invalid.message(),
        "Twilio error 21211 (HTTP 400): The 'To' number whatsapp:+1555 is not a valid phone number. \
         (see https://www.twilio.com/docs/errors/21211)"
    );
    let window = run(&server, "send_message", token_settings(), json!({"to": USER, "body": "late"})).await.unwrap_err();
    assert_eq!(window.kind(), "permanent");
    assert!(window.message().contains("63016") && window.message().contains("outside the allowed window"));
    assert!(window.message().contains("contentSid"), "{window}");
}

#[tokio::test]
async fn a_refused_credential_is_unauthorized_and_never_echoed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(error(20003, "Authenticate", 401)))
        .expect(1)
        .mount(&server)
        .await;
    let err = run(&server, "send_message", token_settings(), json!({"to": USER, "body": "hi"})).await.unwrap_err();
    assert_eq!(err.kind(), "unauthorized");
    assert!(err.message().contains("20003") && err.message().contains("Authenticate"), "{err}");
    assert!(!err.message().contains(TOKEN));
}

#[tokio::test]
async fn get_message_status_fetches_the_message() {
    let server = MockServer::start().await;
    let mut delivered = message("delivered", "Hello!", "0");
    delivered["date_sent"] = json!("Thu, 30 Jul 2015 20:12:32 +0000");
    delivered["price"] = json!("-0.00500");
    Mock::given(method("GET"))
        .and(path(format!("/2010-04-01/Accounts/{AC}/Messages/{SM}.json")))
        .and(header("authorization", basic(AC, TOKEN).as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(delivered))
        .expect(1)
        .mount(&server)
        .await;
    let out = run(&server, "get_message_status", token_settings(), json!({"sid": SM})).await.unwrap();
    assert_eq!(out["status"], "delivered");
    assert_eq!(out["dateSent"], "Thu, 30 Jul 2015 20:12:32 +0000");
    assert_eq!(out["price"], "-0.00500");
    assert_eq!(out["numSegments"], 1);
}

#[tokio::test]
async fn get_message_status_reports_an_unknown_message() {
    let server = MockServer::start().await;
    let resource = format!("/2010-04-01/Accounts/{AC}/Messages/{SM}.json");
    Mock::given(method("GET"))
        .and(path(resource.clone()))
        .respond_with(ResponseTemplate::new(404).set_body_json(error(
            20404,
            &format!("The requested resource {resource} was not found"),
            404,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let err = run(&server, "get_message_status", token_settings(), json!({"sid": SM})).await.unwrap_err();
    assert_eq!(err.kind(), "permanent");
    assert!(err.message().contains("20404") && err.message().contains("was not found"), "{err}");
}

#[tokio::test]
async fn test_connection_with_the_auth_token_reads_the_account() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/2010-04-01/Accounts/{AC}.json")))
        .and(header("authorization", basic(AC, TOKEN).as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "sid": AC, "friendly_name": "Acme Support", "status": "active", "type": "Full",
            "owner_account_sid": AC, "date_created": "Thu, 30 Jul 2015 20:00:00 +0000",
            "uri": format!("/2010-04-01/Accounts/{AC}.json")
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path(messages_path())).respond_with(ResponseTemplate::new(200)).expect(0).mount(&server).await;
    let out = run(&server, "test_connection", token_settings(), json!({})).await.unwrap();
    assert_eq!(out["ok"], true, "{out}");
    assert_eq!(out["details"]["friendlyName"], "Acme Support");
    assert_eq!(out["details"]["credential"], "authToken");
}

#[tokio::test]
async fn test_connection_with_an_api_key_lists_one_message() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(messages_path()))
        .and(query_param("PageSize", "1"))
        .and(header("authorization", basic(SK, KEY_SECRET).as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "messages": [message("delivered", "Hello!", "0")], "page": 0, "page_size": 1,
            "first_page_uri": format!("{}?PageSize=1&Page=0", messages_path()),
            "next_page_uri": null, "previous_page_uri": null, "uri": format!("{}?PageSize=1&Page=0", messages_path())
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path(format!("/2010-04-01/Accounts/{AC}.json")))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let out = run(&server, "test_connection", api_key_settings(), json!({})).await.unwrap();
    assert_eq!(out["ok"], true, "{out}");
    assert_eq!(out["details"]["credential"], "apiKey");
    assert_eq!(out["details"]["keySid"], SK);
}

#[tokio::test]
async fn test_connection_reports_a_wrong_credential_with_twilios_reason() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/2010-04-01/Accounts/{AC}.json")))
        .respond_with(ResponseTemplate::new(401).set_body_json(error(20003, "Authenticate", 401)))
        .expect(1)
        .mount(&server)
        .await;
    let out = run(&server, "test_connection", token_settings(), json!({})).await.unwrap();
    assert_eq!(out["ok"], false);
    assert_eq!(
        out["message"],
        "Twilio error 20003 (HTTP 401): Authenticate (see https://www.twilio.com/docs/errors/20003)"
    );
    assert_eq!(out["details"]["errorKind"], "unauthorized");
}

#[tokio::test]
async fn test_connection_explains_missing_credentials_without_calling_twilio() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&server).await;
    let half_key = json!({"accountSid": AC, "keySid": SK});
    let out = run(&server, "test_connection", half_key, json!({})).await.unwrap();
    assert_eq!(out["ok"], false);
    assert!(out["message"].as_str().unwrap().contains("`keySid` and `keySecret`"), "{out}");
}
