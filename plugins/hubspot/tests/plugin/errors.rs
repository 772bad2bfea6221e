//! `test_connection`, and HubSpot's failures mapped to action errors: bad token, missing scope,
//! rate limits, validation errors, outages.

use std::time::Duration;

use bacon_plugin_hubspot::definition;
use bacon_plugin_sdk::testing::run_action;
use bacon_plugin_sdk::testing::wiremock::matchers::{header, method, path, query_param};
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
use serde_json::{Value, json};

use crate::fixtures::{
    BEARER, TOKEN, invalid_authentication, invalid_property, missing_scopes, settings, ten_secondly_limit,
};

async fn contacts_list_answers(server: &MockServer, response: ResponseTemplate) {
    Mock::given(method("GET"))
        .and(path("/crm/v3/objects/contacts"))
        .and(query_param("limit", "1"))
        .and(header("authorization", BEARER))
        .respond_with(response)
        .expect(1)
        .mount(server)
        .await;
}

async fn test_connection(server: &MockServer, settings: Value) -> Value {
    run_action(&definition(), "test_connection", settings, &server.uri(), json!({})).await.unwrap()
}

#[tokio::test]
async fn test_connection_reads_one_contact() {
    let server = MockServer::start().await;
    let page = json!({"results": [crate::fixtures::contact_512()], "paging": {"next": {"after": "513"}}});
    contacts_list_answers(
        &server,
        ResponseTemplate::new(200)
            .insert_header("x-hubspot-ratelimit-daily", "250000")
            .insert_header("x-hubspot-ratelimit-daily-remaining", "249873")
            .set_body_json(page),
    )
    .await;
    let out = test_connection(&server, json!({"accessToken": TOKEN, "portalId": 62515})).await;
    assert_eq!(
        out,
        json!({"ok": true, "message": "Connected to HubSpot: the token can read contacts.",
               "details": {"dailyLimit": 250000, "dailyRemaining": 249873, "portalId": 62515}})
    );
}

#[tokio::test]
async fn test_connection_reports_a_bad_token_with_hubspot_s_reason() {
    let server = MockServer::start().await;
    contacts_list_answers(&server, ResponseTemplate::new(401).set_body_json(invalid_authentication())).await;
    let out = test_connection(&server, settings()).await;
    assert_eq!(out["ok"], false);
    let message = out["message"].as_str().unwrap();
    assert!(
        message.starts_with("HubSpot answered 401 Unauthorized: Authentication credentials not found."),
        "{message}"
    );
    assert!(message.contains("[INVALID_AUTHENTICATION]"), "{message}");
    assert!(message.contains("(correlationId a43683b0-5717-4ceb-80b4-104d02915d8c)"), "{message}");
    assert!(!message.contains(TOKEN));
}

#[tokio::test]
async fn test_connection_names_the_missing_scope() {
    let server = MockServer::start().await;
    contacts_list_answers(&server, ResponseTemplate::new(403).set_body_json(missing_scopes())).await;
    let out = test_connection(&server, settings()).await;
    assert_eq!(out["ok"], false);
    let message = out["message"].as_str().unwrap();
    assert!(message.contains("[MISSING_SCOPES] (required scopes: crm.objects.contacts.read)"), "{message}");
}

async fn find_contact_failing_with(response: ResponseTemplate) -> bacon_plugin_sdk::ActionError {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/objects/contacts/ada@example.com"))
        .respond_with(response)
        .expect(1)
        .mount(&server)
        .await;
    run_action(&definition(), "find_contact", settings(), &server.uri(), json!({"email": "ada@example.com"}))
        .await
        .unwrap_err()
}

#[tokio::test]
async fn a_bad_token_is_unauthorized() {
    let err = find_contact_failing_with(ResponseTemplate::new(401).set_body_json(invalid_authentication())).await;
    assert_eq!(err.kind(), "unauthorized");
    assert!(err.message().contains("Authentication credentials not found"), "{err}");
    assert!(!err.message().contains(TOKEN));
}

#[tokio::test]
async fn a_429_waits_as_long_as_retry_after_says() {
    let err = find_contact_failing_with(
        ResponseTemplate::new(429).insert_header("retry-after", "3").set_body_json(ten_secondly_limit()),
    )
    .await;
    assert_eq!(err.kind(), "rate_limited");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
    assert!(err.message().contains("You have reached your ten_secondly_rolling limit. [RATE_LIMIT]"), "{err}");
}

#[tokio::test]
async fn a_429_without_retry_after_waits_out_the_ten_second_window() {
    let err = find_contact_failing_with(ResponseTemplate::new(429).set_body_json(ten_secondly_limit())).await;
    assert_eq!(err.kind(), "rate_limited");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(10)));
}

#[tokio::test]
async fn the_daily_limit_is_not_retried() {
    let mut body = ten_secondly_limit();
    body["policyName"] = json!("DAILY");
    body["message"] = json!("You have reached your daily limit.");
    let err = find_contact_failing_with(ResponseTemplate::new(429).set_body_json(body)).await;
    assert_eq!(err.kind(), "permanent");
    assert!(err.message().contains("daily API limit is used up"), "{err}");
}

#[tokio::test]
async fn an_outage_is_retryable() {
    let err = find_contact_failing_with(ResponseTemplate::new(502).set_body_string("<html>Bad Gateway</html>")).await;
    assert_eq!(err.kind(), "retryable");
    assert_eq!(err.message(), "HubSpot answered 502 Bad Gateway: <html>Bad Gateway</html>");
}

#[tokio::test]
async fn a_validation_error_is_invalid_input_with_hubspot_s_message() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/objects/contacts/ada@example.com"))
        .respond_with(ResponseTemplate::new(404).set_body_json(crate::fixtures::not_found("ada@example.com")))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts"))
        .respond_with(ResponseTemplate::new(400).set_body_json(invalid_property()))
        .expect(1)
        .mount(&server)
        .await;
    let err = run_action(
        &definition(),
        "upsert_contact",
        settings(),
        &server.uri(),
        json!({"email": "ada@example.com", "properties": {"favorite_color": "green"}}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), "invalid_input");
    assert!(err.message().starts_with("HubSpot answered 400 Bad Request: Property values were not valid"), "{err}");
    assert!(err.message().contains("Property \\\"favorite_color\\\" does not exist"), "{err}");
    assert!(err.message().contains("[VALIDATION_ERROR]"), "{err}");
}
