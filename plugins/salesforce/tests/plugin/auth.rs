//! The client-credentials token: fetched once and reused, renewed once on a 401, refused with
//! Salesforce's reason, and the token's instance URL used for the REST calls.

use std::time::Duration;

use bacon_plugin_salesforce::definition;
use bacon_plugin_sdk::context::ContextParts;
use bacon_plugin_sdk::egress::EgressPolicy;
use bacon_plugin_sdk::http::HttpClient;
use bacon_plugin_sdk::testing::run_action;
use bacon_plugin_sdk::testing::wiremock::matchers::{body_string, header, method, path};
use bacon_plugin_sdk::testing::wiremock::{Mock, ResponseTemplate};
use bacon_plugin_sdk::{ActionContext, PluginDefinition};
use serde_json::{Value, json};

use crate::support::{
    TOKEN, contact_record, invalid_session, mount_token, page, settings, start, token_body, token_form,
};

#[tokio::test]
async fn two_actions_in_a_row_fetch_one_token() {
    let server = start().await;
    mount_token(&server, TOKEN, 1).await;
    Mock::given(method("GET"))
        .and(path("/services/data/v62.0/query"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(vec![contact_record()], 1, None)))
        .expect(2)
        .mount(&server)
        .await;
    for _ in 0..2 {
        let out = run_action(
            &definition(),
            "find_contact",
            settings(&server),
            &server.uri(),
            json!({"email": "john@example.com"}),
        )
        .await
        .unwrap();
        assert_eq!(out["found"], true);
    }
}

#[tokio::test]
async fn a_401_renews_the_token_once_and_retries() {
    let server = start().await;
    let token_mock = |access_token: &str| {
        Mock::given(method("POST"))
            .and(path("/services/oauth2/token"))
            .and(body_string(token_form(&server)))
            .respond_with(ResponseTemplate::new(200).set_body_json(token_body(access_token, &server.uri())))
    };
    token_mock("expired-token").up_to_n_times(1).expect(1).mount(&server).await;
    token_mock("fresh-token").expect(1).mount(&server).await;
    Mock::given(path("/services/data/v62.0/query"))
        .and(header("authorization", "Bearer expired-token"))
        .respond_with(invalid_session())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/services/data/v62.0/query"))
        .and(header("authorization", "Bearer fresh-token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page(vec![contact_record()], 1, None)))
        .expect(2)
        .mount(&server)
        .await;
    let (def, uri) = (definition(), server.uri());
    let first = run_action(&def, "find_contact", settings(&server), &uri, json!({"email": "john@example.com"}));
    assert_eq!(first.await.unwrap()["contact"]["id"], "003RO0000035WQgYAM");
    // The renewed token is cached: no third token request.
    let second = run_action(&def, "find_contact", settings(&server), &uri, json!({"email": "john@example.com"}));
    assert_eq!(second.await.unwrap()["found"], true);
}

#[tokio::test]
async fn a_second_401_is_unauthorized() {
    let server = start().await;
    mount_token(&server, TOKEN, 2).await;
    Mock::given(path("/services/data/v62.0/query")).respond_with(invalid_session()).expect(2).mount(&server).await;
    let err = run_action(
        &definition(),
        "find_contact",
        settings(&server),
        &server.uri(),
        json!({"email": "john@example.com"}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), "unauthorized");
    assert_eq!(err.message(), "Salesforce answered 401 INVALID_SESSION_ID: Session expired or invalid");
}

#[tokio::test]
async fn refused_credentials_are_unauthorized_with_salesforce_s_reason() {
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
    Mock::given(path("/services/data/v62.0/query"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let err = run_action(
        &definition(),
        "find_contact",
        settings(&server),
        &server.uri(),
        json!({"email": "john@example.com"}),
    )
    .await
    .unwrap_err();
    assert_eq!(err.kind(), "unauthorized");
    assert_eq!(err.message(), "Salesforce refused the client credentials: invalid client credentials (invalid_client)");
    assert!(!err.message().contains(crate::support::CLIENT_SECRET));
}

/// Without an operator base URL, the token comes from the login URL and the REST calls go to
/// the `instance_url` the token endpoint returned.
#[tokio::test]
async fn rest_calls_go_to_the_token_s_instance_url() {
    let login = start().await;
    let instance = start().await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .and(body_string(token_form(&login)))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body(TOKEN, &instance.uri())))
        .expect(1)
        .mount(&login)
        .await;
    Mock::given(method("POST"))
        .and(path("/services/data/v62.0/sobjects/Case/"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"id": "500RO00000AbCdEYAV", "success": true, "errors": []})),
        )
        .expect(1)
        .mount(&instance)
        .await;
    let def = definition();
    let mut settings = settings(&login);
    settings["loginUrl"] = json!(login.uri());
    let ctx = context_without_base_url(&def, settings, &[login.uri(), instance.uri()]);
    let handler = &def.find_action("create_case").unwrap().handler;
    let out = handler(ctx, json!({"subject": "Where is my order?"})).await.unwrap();
    assert_eq!(out["id"], "500RO00000AbCdEYAV");
}

#[tokio::test]
async fn a_plain_http_login_url_is_refused_before_sending_the_secret() {
    let def = definition();
    let mut settings = crate::support::org_settings();
    settings["loginUrl"] = json!("http://acme.my.salesforce.com");
    let ctx = context_without_base_url(&def, settings, &["*.salesforce.com".into()]);
    let handler = &def.find_action("create_case").unwrap().handler;
    let err = handler(ctx, json!({"subject": "x"})).await.unwrap_err();
    assert_eq!(err.kind(), "invalid_input");
    assert_eq!(err.message(), "`loginUrl` must be an https URL, not `http://acme.my.salesforce.com`");
}

/// A context as the host builds it when the operator set no base URL for the plugin.
fn context_without_base_url(def: &PluginDefinition, settings: Value, allowed: &[String]) -> ActionContext {
    ActionContext::new(ContextParts {
        tenant_id: "ten_test".into(),
        bot_id: None,
        plugin_id: def.id.clone(),
        action: "create_case".into(),
        attempt: 1,
        idempotency_key: None,
        run_id: None,
        step_id: None,
        base_url: None,
        // Loopback open: the mock login and instance servers listen on 127.0.0.1.
        http: HttpClient::with_egress(allowed, Duration::from_secs(10), EgressPolicy::with_loopback()),
        settings,
    })
}
