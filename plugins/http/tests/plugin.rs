//! The HTTP plugin against a loopback mock server.

use bacon_plugin_sdk::testing::wiremock::matchers::{body_json, header, method, path, query_param};
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
use bacon_plugin_sdk::testing::{assert_conformance, run_action};
use serde_json::json;

#[test]
fn conforms() {
    assert_conformance(&bacon_plugin_http::definition());
}

#[tokio::test]
async fn sends_the_request_and_parses_the_response() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/orders"))
        .and(query_param("expand", "items"))
        .and(header("authorization", "Bearer tok"))
        .and(header("x-tenant", "acme"))
        .and(header("idempotency-key", "run_test:step_test"))
        .and(body_json(json!({"id": 7})))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"created": true})))
        .expect(1)
        .mount(&server)
        .await;
    let settings =
        json!({"allowedHosts": [server.uri()], "bearerToken": "tok", "defaultHeaders": {"x-tenant": "acme"}});
    let out = run_action(
        &bacon_plugin_http::definition(),
        "request",
        settings,
        &server.uri(),
        json!({"method": "POST", "url": format!("{}/orders", server.uri()), "query": {"expand": "items"}, "body": {"id": 7}}),
    )
    .await
    .unwrap();
    assert_eq!(out["status"], 201);
    assert_eq!(out["body"], json!({"created": true}));
}

#[tokio::test]
async fn refuses_hosts_outside_the_tenant_allow_list_without_sending() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&server).await;
    let err = run_action(
        &bacon_plugin_http::definition(),
        "request",
        json!({"allowedHosts": ["api.example.com"]}),
        &server.uri(),
        json!({"method": "GET", "url": format!("{}/x", server.uri())}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), "permanent");
    assert!(err.message().contains("is not in this plugin's allowed hosts"), "{err}");
}

#[tokio::test]
async fn maps_vendor_errors() {
    let server = MockServer::start().await;
    Mock::given(path("/limited"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "3").set_body_string("slow down"))
        .mount(&server)
        .await;
    Mock::given(path("/bad")).respond_with(ResponseTemplate::new(400).set_body_string("nope")).mount(&server).await;
    let settings = json!({"allowedHosts": [server.uri()], "baseUrl": server.uri()});
    let def = bacon_plugin_http::definition();
    let limited =
        run_action(&def, "request", settings.clone(), &server.uri(), json!({"method": "GET", "url": "/limited"}))
            .await
            .unwrap_err();
    assert_eq!(limited.kind(), "rate_limited");
    assert_eq!(limited.retry_after(), Some(std::time::Duration::from_secs(3)));
    let bad = run_action(&def, "request", settings.clone(), &server.uri(), json!({"method": "GET", "url": "/bad"}))
        .await
        .unwrap_err();
    assert_eq!(bad.kind(), "invalid_input");
    assert!(bad.message().contains("nope"));
    let expected = run_action(
        &def,
        "request",
        settings,
        &server.uri(),
        json!({"method": "GET", "url": "/bad", "expectedStatuses": [400]}),
    )
    .await
    .unwrap();
    assert_eq!(expected["status"], 400);
}

#[tokio::test]
async fn test_connection_reports_ok_and_failure() {
    let server = MockServer::start().await;
    Mock::given(path("/health")).respond_with(ResponseTemplate::new(200)).mount(&server).await;
    let def = bacon_plugin_http::definition();
    let ok = run_action(
        &def,
        "test_connection",
        json!({"allowedHosts": [server.uri()], "baseUrl": server.uri(), "healthPath": "/health"}),
        &server.uri(),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(ok["ok"], true);
    let failed = run_action(
        &def,
        "test_connection",
        json!({"allowedHosts": [server.uri()], "baseUrl": server.uri(), "healthPath": "/missing"}),
        &server.uri(),
        json!({}),
    )
    .await
    .unwrap();
    assert_eq!(failed["ok"], false);
    assert!(failed["message"].as_str().unwrap().contains("404"));
}
