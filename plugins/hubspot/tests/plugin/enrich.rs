//! The contact summary for the AI context.

use bacon_plugin_hubspot::definition;
use bacon_plugin_sdk::enrich::{ContextSnippet, Conversation};
use bacon_plugin_sdk::testing::context_for;
use bacon_plugin_sdk::testing::wiremock::matchers::{header, method, path, query_param};
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
use serde_json::json;

use crate::fixtures::{BEARER, contact_512, missing_scopes, not_found, settings};

async fn enrich(server: &MockServer, email: Option<&str>) -> Vec<ContextSnippet> {
    let def = definition();
    let ctx = context_for(&def, "enrich_context", settings(), &server.uri());
    let conversation = Conversation { email: email.map(str::to_string), ..Conversation::default() };
    def.enricher.clone().unwrap().enrich_context(ctx, conversation).await.unwrap()
}

async fn mount_contact(server: &MockServer, status: u16, body: serde_json::Value) {
    Mock::given(method("GET"))
        .and(path("/crm/v3/objects/contacts/ada@example.com"))
        .and(query_param("idProperty", "email"))
        .and(header("authorization", BEARER))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn summarises_the_contact_with_its_owner() {
    let server = MockServer::start().await;
    mount_contact(&server, 200, contact_512()).await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/owners/77"))
        .and(header("authorization", BEARER))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "77", "email": "jane@acme.example", "type": "PERSON", "firstName": "Jane", "lastName": "Doe",
            "userId": 9001, "createdAt": "2024-03-01T10:00:00Z", "updatedAt": "2024-03-01T10:00:00Z", "archived": false
        })))
        .expect(1)
        .mount(&server)
        .await;
    let snippets = enrich(&server, Some("Ada@Example.com")).await;
    assert_eq!(
        snippets,
        vec![ContextSnippet {
            source: "hubspot:contact:512".into(),
            content: "HubSpot contact Ada Lovelace <ada@example.com>: company Analytical Engines Ltd, lifecycle stage \
                  Customer, owner Jane Doe (jane@acme.example), last activity 2025-01-11, contact since 2025-01-10."
                .into(),
            weight: 0.75,
        }]
    );
}

#[tokio::test]
async fn names_the_owner_by_id_when_the_token_may_not_read_owners() {
    let server = MockServer::start().await;
    mount_contact(&server, 200, contact_512()).await;
    Mock::given(method("GET"))
        .and(path("/crm/v3/owners/77"))
        .respond_with(ResponseTemplate::new(403).set_body_json(missing_scopes()))
        .expect(1)
        .mount(&server)
        .await;
    let snippets = enrich(&server, Some("ada@example.com")).await;
    assert!(snippets[0].content.contains(", owner owner id 77,"), "{}", snippets[0].content);
}

#[tokio::test]
async fn no_contact_or_no_email_gives_no_snippet() {
    let server = MockServer::start().await;
    mount_contact(&server, 404, not_found("ada@example.com")).await;
    assert!(enrich(&server, Some("ada@example.com")).await.is_empty());
    assert!(enrich(&server, None).await.is_empty());
    assert!(enrich(&server, Some("not an email")).await.is_empty());
}
