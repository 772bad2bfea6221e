//! `find_contact` and `upsert_contact` against the contacts API.

use bacon_plugin_hubspot::definition;
use bacon_plugin_sdk::testing::run_action;
use bacon_plugin_sdk::testing::wiremock::matchers::{body_json, header, method, path, query_param};
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
use serde_json::json;

use crate::fixtures::{BEARER, PROPERTIES, contact_512, contact_512_parsed, contact_exists, not_found, settings};

const BY_EMAIL: &str = "/crm/v3/objects/contacts/ada@example.com";

async fn mount_lookup(server: &MockServer, status: u16, body: serde_json::Value, properties: &str) {
    Mock::given(method("GET"))
        .and(path(BY_EMAIL))
        .and(query_param("idProperty", "email"))
        .and(query_param("properties", properties))
        .and(header("authorization", BEARER))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn find_contact_reads_the_contact_by_its_email() {
    let server = MockServer::start().await;
    mount_lookup(&server, 200, contact_512(), &format!("{PROPERTIES},city")).await;
    let out = run_action(
        &definition(),
        "find_contact",
        settings(),
        &server.uri(),
        json!({"email": "  Ada@Example.com ", "properties": ["city"]}),
    )
    .await
    .unwrap();
    assert_eq!(out, json!({"found": true, "contact": contact_512_parsed()}));
}

#[tokio::test]
async fn find_contact_answers_found_false_when_hubspot_has_no_such_contact() {
    let server = MockServer::start().await;
    mount_lookup(&server, 404, not_found("ada@example.com"), PROPERTIES).await;
    let out = run_action(&definition(), "find_contact", settings(), &server.uri(), json!({"email": "ada@example.com"}))
        .await
        .unwrap();
    assert_eq!(out, json!({"found": false, "contact": null}));
}

#[tokio::test]
async fn find_contact_refuses_what_is_not_an_email_without_calling_hubspot() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&server).await;
    let err = run_action(&definition(), "find_contact", settings(), &server.uri(), json!({"email": "../owners"}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "invalid_input");
    assert!(err.message().contains("is not an email address"), "{err}");
}

#[tokio::test]
async fn upsert_contact_updates_the_contact_that_exists() {
    let server = MockServer::start().await;
    mount_lookup(&server, 200, contact_512(), PROPERTIES).await;
    let mut updated = contact_512();
    updated["properties"]["phone"] = json!("+44 20 7946 0000");
    updated["properties"]["city"] = json!("London");
    Mock::given(method("PATCH"))
        .and(path("/crm/v3/objects/contacts/512"))
        .and(header("authorization", BEARER))
        .and(body_json(json!({"properties": {
            "email": "ada@example.com", "phone": "+44 20 7946 0000", "city": "London", "numemployees": "42"
        }})))
        .respond_with(ResponseTemplate::new(200).set_body_json(&updated))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(500)).expect(0).mount(&server).await;
    let out = run_action(
        &definition(),
        "upsert_contact",
        settings(),
        &server.uri(),
        json!({"email": "ada@example.com", "phone": "+44 20 7946 0000",
               "properties": {"city": "London", "numemployees": 42, "phone": "overridden"}}),
    )
    .await
    .unwrap();
    assert_eq!(out["id"], "512");
    assert_eq!(out["created"], false);
    assert_eq!(out["contact"]["phone"], "+44 20 7946 0000");
    assert_eq!(out["contact"]["properties"]["city"], "London");
}

#[tokio::test]
async fn upsert_contact_creates_the_contact_that_does_not_exist() {
    let server = MockServer::start().await;
    mount_lookup(&server, 404, not_found("ada@example.com"), PROPERTIES).await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts"))
        .and(header("authorization", BEARER))
        .and(body_json(json!({"properties": {
            "email": "ada@example.com", "firstname": "Ada", "lastname": "Lovelace",
            "company": "Analytical Engines Ltd", "lifecyclestage": "customer"
        }})))
        .respond_with(ResponseTemplate::new(201).set_body_json(contact_512()))
        .expect(1)
        .mount(&server)
        .await;
    let out = run_action(
        &definition(),
        "upsert_contact",
        settings(),
        &server.uri(),
        json!({"email": "Ada@example.com", "firstName": "Ada", "lastName": "Lovelace",
               "company": "Analytical Engines Ltd", "lifecycleStage": "customer"}),
    )
    .await
    .unwrap();
    assert_eq!(out, json!({"id": "512", "created": true, "contact": contact_512_parsed()}));
}

#[tokio::test]
async fn upsert_contact_updates_the_contact_another_writer_created_meanwhile() {
    let server = MockServer::start().await;
    mount_lookup(&server, 404, not_found("ada@example.com"), PROPERTIES).await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/contacts"))
        .respond_with(ResponseTemplate::new(409).set_body_json(contact_exists("512")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/crm/v3/objects/contacts/512"))
        .and(header("authorization", BEARER))
        .and(body_json(json!({"properties": {"email": "ada@example.com", "firstname": "Ada"}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(contact_512()))
        .expect(1)
        .mount(&server)
        .await;
    let out = run_action(
        &definition(),
        "upsert_contact",
        settings(),
        &server.uri(),
        json!({"email": "ada@example.com", "firstName": "Ada"}),
    )
    .await
    .unwrap();
    assert_eq!((out["id"].as_str(), out["created"].as_bool()), (Some("512"), Some(false)));
}

#[tokio::test]
async fn upsert_contact_with_only_the_email_of_an_existing_contact_writes_nothing() {
    let server = MockServer::start().await;
    mount_lookup(&server, 200, contact_512(), PROPERTIES).await;
    Mock::given(method("PATCH")).respond_with(ResponseTemplate::new(500)).expect(0).mount(&server).await;
    let out =
        run_action(&definition(), "upsert_contact", settings(), &server.uri(), json!({"email": "ada@example.com"}))
            .await
            .unwrap();
    assert_eq!(out, json!({"id": "512", "created": false, "contact": contact_512_parsed()}));
}

#[tokio::test]
async fn a_404_page_that_is_not_hubspot_s_is_an_error_not_a_missing_contact() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(BY_EMAIL))
        .respond_with(ResponseTemplate::new(404).set_body_string("<html><h1>Not Found</h1></html>"))
        .expect(1)
        .mount(&server)
        .await;
    let err = run_action(&definition(), "find_contact", settings(), &server.uri(), json!({"email": "ada@example.com"}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "permanent");
    assert_eq!(err.message(), "HubSpot answered 404 Not Found: <html><h1>Not Found</h1></html>");
}
