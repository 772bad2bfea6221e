//! `create_note` and `create_ticket`: the objects, their associations and the defaults.

use std::time::{SystemTime, UNIX_EPOCH};

use bacon_plugin_hubspot::definition;
use bacon_plugin_sdk::testing::run_action;
use bacon_plugin_sdk::testing::wiremock::matchers::{body_json, body_partial_json, header, method, path};
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
use serde_json::{Value, json};

use crate::fixtures::{BEARER, TOKEN, settings};

fn note_created(timestamp: &str) -> Value {
    json!({
        "id": "90211",
        "properties": {
            "hs_body_preview": "Called about order #1001", "hs_createdate": "2025-01-11T09:00:01.123Z",
            "hs_lastmodifieddate": "2025-01-11T09:00:01.123Z", "hs_note_body": "Called about order #1001",
            "hs_object_id": "90211", "hs_timestamp": timestamp
        },
        "createdAt": "2025-01-11T09:00:01.123Z", "updatedAt": "2025-01-11T09:00:01.123Z", "archived": false
    })
}

fn association(id: &str, type_id: u32) -> Value {
    json!({"to": {"id": id}, "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}]})
}

#[tokio::test]
async fn create_note_posts_the_note_associated_to_the_contact_and_ticket() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/notes"))
        .and(header("authorization", BEARER))
        .and(body_json(json!({
            "properties": {"hs_timestamp": "2025-01-11T09:00:00Z", "hs_note_body": "Called about order #1001",
                           "hubspot_owner_id": "77"},
            "associations": [association("512", 202), association("3001", 228)]
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(note_created("2025-01-11T09:00:00Z")))
        .expect(1)
        .mount(&server)
        .await;
    let out = run_action(
        &definition(),
        "create_note",
        settings(),
        &server.uri(),
        json!({"contactId": "512", "body": "Called about order #1001", "timestamp": "2025-01-11T09:00:00Z",
               "ownerId": "77", "ticketId": "3001"}),
    )
    .await
    .unwrap();
    assert_eq!(
        out,
        json!({"id": "90211", "timestamp": "2025-01-11T09:00:00Z", "createdAt": "2025-01-11T09:00:01.123Z"})
    );
}

#[tokio::test]
async fn create_note_is_dated_now_by_default() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/notes"))
        .and(body_partial_json(json!({"associations": [association("512", 202)]})))
        .respond_with(ResponseTemplate::new(201).set_body_json(note_created("2025-01-11T09:00:00Z")))
        .expect(1)
        .mount(&server)
        .await;
    let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis();
    run_action(&definition(), "create_note", settings(), &server.uri(), json!({"contactId": "512", "body": "Hi"}))
        .await
        .unwrap();
    let after = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis();
    let sent: Value = server.received_requests().await.unwrap()[0].body_json().unwrap();
    let stamp: u128 = sent["properties"]["hs_timestamp"].as_str().unwrap().parse().unwrap();
    assert!((before..=after).contains(&stamp), "{stamp} not in {before}..={after}");
    assert_eq!(sent["properties"]["hs_note_body"], "Hi");
}

#[tokio::test]
async fn create_note_refuses_a_bad_contact_id_or_an_empty_body_without_calling_hubspot() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(201)).expect(0).mount(&server).await;
    let bad_id =
        run_action(&definition(), "create_note", settings(), &server.uri(), json!({"contactId": "ada", "body": "x"}))
            .await
            .unwrap_err();
    assert_eq!(
        bad_id,
        bacon_plugin_sdk::ActionError::InvalidInput {
            message: "`ada` is not a HubSpot record id (a number such as `512`)".into(),
            pointer: Some("/contactId".into()),
        }
    );
    let empty =
        run_action(&definition(), "create_note", settings(), &server.uri(), json!({"contactId": "512", "body": "  "}))
            .await
            .unwrap_err();
    assert_eq!(empty.kind(), "invalid_input");
}

fn ticket_created(pipeline: &str, stage: &str) -> Value {
    json!({
        "id": "3001",
        "properties": {
            "content": "The parcel never arrived.", "createdate": "2025-01-11T09:05:00Z",
            "hs_lastmodifieddate": "2025-01-11T09:05:00Z", "hs_object_id": "3001", "hs_pipeline": pipeline,
            "hs_pipeline_stage": stage, "hs_ticket_priority": "HIGH", "subject": "Where is my order?"
        },
        "createdAt": "2025-01-11T09:05:00Z", "updatedAt": "2025-01-11T09:05:00Z", "archived": false
    })
}

#[tokio::test]
async fn create_ticket_uses_the_default_pipeline_and_associates_the_contact() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/tickets"))
        .and(header("authorization", BEARER))
        .and(body_json(json!({
            "properties": {"subject": "Where is my order?", "content": "The parcel never arrived.",
                           "hs_pipeline": "0", "hs_pipeline_stage": "1", "hs_ticket_priority": "HIGH",
                           "source_type": "CHAT"},
            "associations": [association("512", 16)]
        })))
        .respond_with(ResponseTemplate::new(201).set_body_json(ticket_created("0", "1")))
        .expect(1)
        .mount(&server)
        .await;
    let out = run_action(
        &definition(),
        "create_ticket",
        settings(),
        &server.uri(),
        json!({"subject": " Where is my order? ", "content": "The parcel never arrived.", "priority": "HIGH",
               "contactId": "512", "properties": {"source_type": "CHAT"}}),
    )
    .await
    .unwrap();
    assert_eq!(out["id"], "3001");
    assert_eq!((out["pipeline"].as_str(), out["stage"].as_str()), (Some("0"), Some("1")));
    assert_eq!(out["createdAt"], "2025-01-11T09:05:00Z");
    assert_eq!(out["properties"]["subject"], "Where is my order?");
}

#[tokio::test]
async fn create_ticket_takes_the_pipeline_from_the_input_then_the_settings() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/crm/v3/objects/tickets"))
        .and(body_json(json!({"properties": {
            "subject": "Refund", "hs_pipeline": "12345", "hs_pipeline_stage": "67890", "hubspot_owner_id": "77"
        }})))
        .respond_with(ResponseTemplate::new(201).set_body_json(ticket_created("12345", "67890")))
        .expect(1)
        .mount(&server)
        .await;
    let tenant = json!({"accessToken": TOKEN, "defaultTicketPipeline": "12345", "defaultTicketStage": "111"});
    let out = run_action(
        &definition(),
        "create_ticket",
        tenant,
        &server.uri(),
        json!({"subject": "Refund", "stage": "67890", "ownerId": "77"}),
    )
    .await
    .unwrap();
    assert_eq!((out["pipeline"].as_str(), out["stage"].as_str()), (Some("12345"), Some("67890")));
}
