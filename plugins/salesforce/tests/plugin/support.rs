//! Mock pieces shared by the tests: settings, the token endpoint, Salesforce-shaped bodies.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use bacon_plugin_sdk::testing::wiremock::matchers::{body_string, header, method, path};
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
use serde_json::{Value, json};

pub const CLIENT_SECRET: &str = "8C4F3B0A1E9D2C7B6A5F4E3D2C1B0A99";
pub const ORG_ID: &str = "00D5e000000KQ2eEAG";
pub const TOKEN: &str = "00D5e000000KQ2e!AQ4AQFakeAccessTokenOne";

fn client_ids() -> &'static Mutex<HashMap<String, String>> {
    static IDS: OnceLock<Mutex<HashMap<String, String>>> = OnceLock::new();
    IDS.get_or_init(Default::default)
}

/// A mock server with its own connected-app client id. The plugin caches tokens per process,
/// and a later test may get an earlier test's port: a fresh client id keeps their tokens apart.
pub async fn start() -> MockServer {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let server = MockServer::start().await;
    let id = format!("3MVG9dAEux2v1sLtE6DHYnvXj8v.{}", NEXT.fetch_add(1, Ordering::Relaxed));
    client_ids().lock().unwrap().insert(server.uri(), id);
    server
}

/// The client id given to `server` by [`start`].
pub fn client_id(server: &MockServer) -> String {
    client_ids().lock().unwrap().get(&server.uri()).cloned().expect("start the server with support::start")
}

/// The form Salesforce's token endpoint receives for the client-credentials grant.
pub fn token_form(server: &MockServer) -> String {
    format!("grant_type=client_credentials&client_id={}&client_secret={CLIENT_SECRET}", client_id(server))
}

/// Tenant settings (the login URL is replaced by the mock's through the context's base URL).
pub fn settings(server: &MockServer) -> Value {
    let mut settings = org_settings();
    settings["clientId"] = json!(client_id(server));
    settings
}

/// Settings for what needs no server (the trigger).
pub fn org_settings() -> Value {
    json!({
        "loginUrl": "https://acme.my.salesforce.com",
        "clientId": "3MVG9dAEux2v1sLtE6DHYnvXj8v",
        "clientSecret": CLIENT_SECRET,
        "apiVersion": "62.0",
        "organizationId": ORG_ID,
    })
}

/// A token response as Salesforce sends it.
pub fn token_body(access_token: &str, instance_url: &str) -> Value {
    json!({
        "access_token": access_token,
        "signature": "d9kFfR3oI7Yb0i5mVtq9yHxPjN2wW1Qm2hKx9fYdGv0=",
        "scope": "api",
        "instance_url": instance_url,
        "id": "https://login.salesforce.com/id/00D5e000000KQ2eEAG/0055e000004Xy1ZAAS",
        "token_type": "Bearer",
        "issued_at": "1735689600000",
    })
}

/// Mounts the token endpoint answering `access_token`, expected `times` times.
pub async fn mount_token(server: &MockServer, access_token: &str, times: u64) {
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string(token_form(server)))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body(access_token, &server.uri())))
        .expect(times)
        .mount(server)
        .await;
}

/// Salesforce's answer to an expired or revoked token.
pub fn invalid_session() -> ResponseTemplate {
    ResponseTemplate::new(401)
        .set_body_json(json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]))
}

/// A query result page.
pub fn page(records: Vec<Value>, total: u64, next: Option<&str>) -> Value {
    let mut body = json!({"totalSize": total, "done": next.is_none(), "records": records});
    if let Some(next) = next {
        body["nextRecordsUrl"] = json!(next);
    }
    body
}

/// A Contact record as the query endpoint returns it.
pub fn contact_record() -> Value {
    json!({
        "attributes": {"type": "Contact", "url": "/services/data/v62.0/sobjects/Contact/003RO0000035WQgYAM"},
        "Id": "003RO0000035WQgYAM",
        "FirstName": "John",
        "LastName": "Smith",
        "Email": "john@example.com",
        "Phone": "+1 415 555 0100",
        "AccountId": "001RO000001abcdIAA",
        "Account": {
            "attributes": {"type": "Account", "url": "/services/data/v62.0/sobjects/Account/001RO000001abcdIAA"},
            "Name": "Acme Corp"
        }
    })
}
