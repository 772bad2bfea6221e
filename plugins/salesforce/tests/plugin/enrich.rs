//! The context enricher: the contact by email, then its open cases.

use bacon_plugin_salesforce::definition;
use bacon_plugin_sdk::enrich::{ContextSnippet, Conversation};
use bacon_plugin_sdk::testing::context_for;
use bacon_plugin_sdk::testing::wiremock::matchers::{header, method, path, query_param};
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
use serde_json::json;

use crate::support::{TOKEN, contact_record, mount_token, page, settings, start};

async fn enrich(server: &MockServer, email: Option<&str>) -> Vec<ContextSnippet> {
    let def = definition();
    let ctx = context_for(&def, "enrich_context", settings(server), &server.uri());
    let conversation = Conversation { email: email.map(str::to_string), ..Conversation::default() };
    def.enricher.unwrap().enrich_context(ctx, conversation).await.unwrap()
}

#[tokio::test]
async fn adds_the_contact_and_its_open_cases() {
    let server = start().await;
    mount_token(&server, TOKEN, 1).await;
    Mock::given(method("GET"))
        .and(path("/services/data/v62.0/query"))
        .and(query_param(
            "q",
            "SELECT Id, FirstName, LastName, Email, Phone, AccountId, Account.Name FROM Contact \
             WHERE Email = 'john@example.com' ORDER BY LastModifiedDate DESC LIMIT 1",
        ))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(vec![contact_record()], 1, None)))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/services/data/v62.0/query"))
        .and(query_param(
            "q",
            "SELECT Id, CaseNumber, Subject, Status, Priority, CreatedDate FROM Case \
             WHERE ContactId = '003RO0000035WQgYAM' AND IsClosed = false ORDER BY CreatedDate DESC LIMIT 5",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(
            vec![
                json!({"attributes": {"type": "Case"}, "Id": "500RO00000AbCdEYAV", "CaseNumber": "00001026",
                       "Subject": "Order 1001 arrived damaged", "Status": "Working", "Priority": "High",
                       "CreatedDate": "2025-01-14T09:30:00.000+0000"}),
                json!({"attributes": {"type": "Case"}, "Id": "500RO00000AbCdFYAV", "CaseNumber": "00001019",
                       "Subject": null, "Status": "New", "Priority": "Medium",
                       "CreatedDate": "2025-01-02T16:05:00.000+0000"}),
            ],
            2,
            None,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let snippets = enrich(&server, Some("john@example.com")).await;
    assert_eq!(
        snippets,
        vec![
            ContextSnippet {
                source: "salesforce:contact:003RO0000035WQgYAM".into(),
                content: "Salesforce contact John Smith <john@example.com>, phone +1 415 555 0100, account Acme Corp; \
                          2 open cases."
                    .into(),
                weight: 0.8,
            },
            ContextSnippet {
                source: "salesforce:case:500RO00000AbCdEYAV".into(),
                content:
                    "Open Salesforce case 00001026: \"Order 1001 arrived damaged\" (status Working, priority High, \
                          opened 2025-01-14T09:30:00.000+0000)."
                        .into(),
                weight: 0.7,
            },
            ContextSnippet {
                source: "salesforce:case:500RO00000AbCdFYAV".into(),
                content:
                    "Open Salesforce case 00001019 (status New, priority Medium, opened 2025-01-02T16:05:00.000+0000)."
                        .into(),
                weight: 0.65,
            },
        ]
    );
}

#[tokio::test]
async fn an_unknown_email_gives_nothing() {
    let server = start().await;
    mount_token(&server, TOKEN, 1).await;
    Mock::given(path("/services/data/v62.0/query"))
        .and(query_param(
            "q",
            r"SELECT Id, FirstName, LastName, Email, Phone, AccountId, Account.Name FROM Contact WHERE Email = 'nobody\'@example.com' ORDER BY LastModifiedDate DESC LIMIT 1",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(vec![], 0, None)))
        .expect(1)
        .mount(&server)
        .await;
    assert!(enrich(&server, Some("nobody'@example.com")).await.is_empty());
}

#[tokio::test]
async fn no_email_means_no_request() {
    let server = start().await;
    mount_token(&server, TOKEN, 0).await;
    assert!(enrich(&server, None).await.is_empty());
    assert!(enrich(&server, Some("  ")).await.is_empty());
}
