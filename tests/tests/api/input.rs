//! Bad request bodies get a 4xx problem+json naming the problem, and change nothing
//! (issue #2, acceptance 4).

use bacon_tests::TestApp;
use bacon_tests::app::read;
use bacon_tests::db_test;

async fn bot_count(app: &TestApp) -> usize {
    app.get("/v1/bots", &app.tenant_key).await.json["items"].as_array().expect("items").len()
}

async fn post_raw(app: &TestApp, content_type: Option<&str>, body: Vec<u8>) -> bacon_tests::app::Reply {
    let mut request = app.client.post(app.url("/v1/bots")).bearer_auth(&app.tenant_key).body(body);
    if let Some(ct) = content_type {
        request = request.header("content-type", ct);
    }
    read(request.send().await.expect("sent")).await
}

/// Posts a body the server refuses before reading it all. The server answers 413 and closes the
/// connection; the client may still be writing and then sees the reset instead of the answer (a
/// TCP race, not a server choice), so a transport error is retried a few times.
async fn post_oversized(app: &TestApp, body: Vec<u8>) -> bacon_tests::app::Reply {
    for _ in 0..5 {
        let request = app
            .client
            .post(app.url("/v1/bots"))
            .bearer_auth(&app.tenant_key)
            .header("content-type", "application/json")
            .body(body.clone());
        if let Ok(response) = request.send().await {
            return read(response).await;
        }
    }
    panic!("the oversized request never got an answer");
}

db_test!(
    async fn bad_bodies_are_rejected_and_change_nothing(app) {
        assert_eq!(bot_count(&app).await, 0);

        let invalid = post_raw(&app, Some("application/json"), b"{\"name\": ".to_vec()).await;
        invalid.assert_problem(400, "invalid_json");

        let trailing = post_raw(&app, Some("application/json"), b"{\"name\": \"a\"} {}".to_vec()).await;
        trailing.assert_problem(400, "invalid_json");

        let wrong_type = post_raw(&app, Some("text/plain"), b"{\"name\": \"a\"}".to_vec()).await;
        wrong_type.assert_problem(415, "unsupported_media_type");
        let no_type = post_raw(&app, None, b"{\"name\": \"a\"}".to_vec()).await;
        no_type.assert_problem(415, "unsupported_media_type");

        let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(2 * 1024 * 1024));
        let too_big = post_oversized(&app, huge.into_bytes()).await;
        too_big.assert_problem(413, "payload_too_large");
        assert_eq!(too_big.connection.as_deref(), Some("close"), "the connection is not reused after a 413");
        assert!(too_big.json["detail"].as_str().unwrap().contains("1048576"));

        let unknown = post_raw(&app, Some("application/json"), b"{\"name\": \"a\", \"colour\": \"red\"}".to_vec()).await;
        unknown.assert_problem(422, "validation_failed");
        assert!(unknown.json["errors"][0]["message"].as_str().unwrap().contains("unknown field `colour`"));

        let wrong_shape = post_raw(&app, Some("application/json"), b"{\"name\": 42}".to_vec()).await;
        wrong_shape.assert_problem(422, "validation_failed");
        assert_eq!(wrong_shape.json["errors"][0]["pointer"], "/name");

        let empty_name = post_raw(&app, Some("application/json"), b"{\"name\": \"   \"}".to_vec()).await;
        empty_name.assert_problem(422, "validation_failed");
        assert_eq!(empty_name.json["errors"][0]["pointer"], "/name");

        let bad_role = app
            .post(
                &format!("/v1/tenants/{}/api-keys", app.tenant_id),
                &app.tenant_key,
                serde_json::json!({"name": "k", "role": "owner"}),
            )
            .await;
        bad_role.assert_problem(422, "validation_failed");
        assert_eq!(bad_role.json["errors"][0]["pointer"], "/role");

        assert_eq!(bot_count(&app).await, 0, "no rejected request stored anything");
        let keys = app.get(&format!("/v1/tenants/{}/api-keys", app.tenant_id), &app.tenant_key).await;
        assert_eq!(keys.json["items"].as_array().unwrap().len(), 1, "only the bootstrap key");
    }
);
