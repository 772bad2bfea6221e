//! test_connection: a new token, then the limits; a refused credential is `ok: false`.

use bacon_plugin_salesforce::definition;
use bacon_plugin_sdk::testing::run_action;
use bacon_plugin_sdk::testing::wiremock::matchers::{header, method, path, query_param};
use bacon_plugin_sdk::testing::wiremock::{Mock, ResponseTemplate};
use serde_json::json;

use crate::support::{TOKEN, mount_token, page, settings, start};

#[tokio::test]
async fn reports_the_daily_api_allowance() {
    let server = start().await;
    mount_token(&server, TOKEN, 1).await;
    Mock::given(method("GET"))
        .and(path("/services/data/v62.0/limits"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(
            ResponseTemplate::new(200).insert_header("sforce-limit-info", "api-usage=18/15000").set_body_json(json!({
                "ConcurrentAsyncGetReportInstances": {"Max": 200, "Remaining": 200},
                "DailyApiRequests": {"Max": 15000, "Remaining": 14982},
                "DataStorageMB": {"Max": 5, "Remaining": 5}
            })),
        )
        .expect(1)
        .mount(&server)
        .await;
    let out = run_action(&definition(), "test_connection", settings(&server), &server.uri(), json!({})).await.unwrap();
    assert_eq!(out["ok"], true);
    assert_eq!(out["message"], format!("connected to {}; 14982 of 15000 daily API requests remain", server.uri()));
    assert_eq!(out["details"]["dailyApiRequests"], json!({"max": 15000, "remaining": 14982}));
    assert_eq!(out["details"]["apiVersion"], "v62.0");
}

#[tokio::test]
async fn wrong_credentials_are_ok_false_with_salesforce_s_reason() {
    let server = start().await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"error": "invalid_client", "error_description": "invalid client credentials"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/services/data/v62.0/limits"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let out = run_action(&definition(), "test_connection", settings(&server), &server.uri(), json!({})).await.unwrap();
    assert_eq!(out["ok"], false);
    assert_eq!(
        out["message"],
        "Salesforce refused the client credentials: invalid client credentials (invalid_client)"
    );
}

#[tokio::test]
async fn without_view_setup_a_contact_query_proves_the_token() {
    let server = start().await;
    mount_token(&server, TOKEN, 1).await;
    Mock::given(path("/services/data/v62.0/limits"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!([{
            "message": "The REST API limits resource requires the View Setup permission",
            "errorCode": "INSUFFICIENT_ACCESS"
        }])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/services/data/v62.0/query"))
        .and(query_param("q", "SELECT Id FROM Contact LIMIT 1"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(vec![], 0, None)))
        .expect(1)
        .mount(&server)
        .await;
    let out = run_action(&definition(), "test_connection", settings(&server), &server.uri(), json!({})).await.unwrap();
    assert_eq!(out["ok"], true);
    assert!(out["message"].as_str().unwrap().contains("View Setup"), "{out}");
}
