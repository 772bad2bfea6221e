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

db_test!(
    async fn bodies_that_must_be_objects_refuse_anything_else(app) {
        let key = app.tenant_key.clone();
        let graph = serde_json::json!({
            "nodes": [{"id": "start", "type": "trigger", "config": {}}, {"id": "end", "type": "end", "config": {}}],
            "edges": [{"id": "1", "source": "start", "target": "end"}]
        });
        let flow = app.post("/v1/flows", &key, serde_json::json!({"name": "objects", "graph": graph})).await;
        assert_eq!(flow.status, 201, "{}", flow.text);
        let runs = format!("/v1/flows/{}/runs", flow.json["id"].as_str().unwrap());

        // serde reads a struct from an array too: `[null, null]` was a run with no input (202).
        let cases = [
            ("POST", runs.clone(), serde_json::json!([null, null]), ""),
            ("POST", runs.clone(), serde_json::json!("input"), ""),
            ("POST", runs.clone(), serde_json::json!({"input": [1, 2]}), "/input"),
            ("POST", runs.clone(), serde_json::json!({"input": "x"}), "/input"),
            ("PUT", "/v1/plugins/bacon-plugin-http/settings".into(), serde_json::json!([]), ""),
            (
                "POST",
                "/v1/plugins/bacon-plugin-http/actions/request/invoke".into(),
                serde_json::json!({"input": [null]}),
                "/input",
            ),
            (
                "POST",
                "/v1/channels/bacon-plugin-twilio-whatsapp/messages".into(),
                serde_json::json!({"to": "whatsapp:+15550000000", "text": "hi", "templateVariables": [1]}),
                "/templateVariables",
            ),
            ("POST", "/v1/bots".into(), serde_json::json!([{"name": "b"}]), ""),
        ];
        for (method, path, body, pointer) in cases {
            let reply = app.call(method, &path, Some(&key), Some(body.clone())).await;
            reply.assert_problem(422, "validation_failed");
            assert_eq!(reply.json["errors"][0]["pointer"], pointer, "{method} {path} {body}: {}", reply.text);
            assert_eq!(reply.json["errors"][0]["message"], "must be a JSON object", "{}", reply.text);
        }
        // Malformed JSON stays a syntax error.
        let truncated = read(
            app.client
                .post(app.url(&runs))
                .bearer_auth(&key)
                .header("content-type", "application/json")
                .body("[null, ")
                .send()
                .await
                .unwrap(),
        )
        .await;
        truncated.assert_problem(400, "invalid_json");

        let listed = app.get("/v1/runs", &key).await;
        assert_eq!(listed.json["items"].as_array().unwrap().len(), 0, "no run was started: {}", listed.text);
        assert_eq!(bot_count(&app).await, 0);
        let settings = app.get("/v1/plugins/bacon-plugin-http/settings", &key).await;
        assert_eq!(settings.json["stored"], false, "{}", settings.text);
    }
);
