//! Dev Dashboard apps: the client credentials grant, its token cached, and renewed after a 401.

use bacon_plugin_sdk::testing::run_action;
use bacon_plugin_sdk::testing::wiremock::matchers::{body_string, header, method, path};
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
use bacon_plugin_shopify::definition;
use serde_json::{Value, json};

use crate::fixtures::{API, invalid_token, shop};

/// Tokens are cached per shop and client for the whole process, and wiremock reuses ports, so
/// each test uses its own client id.
fn settings(client_id: &str) -> Value {
    json!({"shopDomain": "acme.myshopify.com", "clientId": client_id, "clientSecret": "shpss_s3cr/t"})
}

fn grant_form(client_id: &str) -> String {
    format!("grant_type=client_credentials&client_id={client_id}&client_secret=shpss_s3cr%2Ft")
}

fn grant(token: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "access_token": token, "scope": "read_orders,read_customers", "expires_in": 86399
    }))
}

async fn connection(server: &MockServer, client_id: &str) -> Value {
    run_action(&definition(), "test_connection", settings(client_id), &server.uri(), json!({})).await.unwrap()
}

#[tokio::test]
async fn a_granted_token_is_obtained_once_and_reused() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/admin/oauth/access_token"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string(grant_form("app_reused")))
        .respond_with(grant("shpat_granted"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/shop.json")))
        .and(header("x-shopify-access-token", "shpat_granted"))
        .respond_with(ResponseTemplate::new(200).set_body_json(shop()))
        .expect(2)
        .mount(&server)
        .await;
    assert_eq!(connection(&server, "app_reused").await["ok"], true);
    assert_eq!(connection(&server, "app_reused").await["ok"], true);
}

#[tokio::test]
async fn a_refused_token_is_renewed_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/admin/oauth/access_token"))
        .respond_with(grant("shpat_revoked"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/admin/oauth/access_token"))
        .and(body_string(grant_form("app_renewed")))
        .respond_with(grant("shpat_fresh"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/shop.json")))
        .and(header("x-shopify-access-token", "shpat_revoked"))
        .respond_with(ResponseTemplate::new(401).set_body_json(invalid_token()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/shop.json")))
        .and(header("x-shopify-access-token", "shpat_fresh"))
        .respond_with(ResponseTemplate::new(200).set_body_json(shop()))
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(connection(&server, "app_renewed").await["ok"], true);
}

#[tokio::test]
async fn refused_client_credentials_are_reported_without_the_secret() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/admin/oauth/access_token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "error": "invalid_client", "error_description": "Client authentication failed due to unknown client."
        })))
        .expect(2)
        .mount(&server)
        .await;
    let status = connection(&server, "app_refused").await;
    assert_eq!(status["ok"], false);
    assert_eq!(
        status["message"],
        "Shopify refused the client credentials (400): invalid_client: Client authentication failed due to unknown \
         client."
    );
    assert!(!status.to_string().contains("s3cr"));
    let err = run_action(&definition(), "get_order", settings("app_refused"), &server.uri(), json!({"id": 1}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "unauthorized");
}
