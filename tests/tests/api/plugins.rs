//! The plugin host through the API (issue #3): catalog, registry, secrets, settings, HTTP plugin.

use bacon_plugin_sdk::testing::wiremock::matchers::{header, method, path};
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
use bacon_tests::{Backend, TestApp, db_test};
use serde_json::{Value, json};

const TESTKIT: &str = "/v1/plugins/bacon-plugin-testkit";
const HTTP: &str = "/v1/plugins/bacon-plugin-http";

async fn invoke(app: &TestApp, plugin: &str, action: &str, input: Value) -> bacon_tests::app::Reply {
    app.post(&format!("{plugin}/actions/{action}/invoke"), &app.tenant_key, json!({ "input": input })).await
}

async fn audit(app: &TestApp, query: &str) -> Vec<Value> {
    let reply = app.get(&format!("/v1/audit?{query}"), &app.tenant_key).await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json["items"].as_array().unwrap().clone()
}

db_test!(
    async fn catalog_lists_plugins_with_their_forms(app) {
        let list = app.get("/v1/plugins", &app.tenant_key).await;
        assert_eq!(list.status, 200);
        let ids: Vec<&str> = list.json["items"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
        assert!(ids.contains(&"bacon-plugin-http") && ids.contains(&"bacon-plugin-testkit"), "{ids:?}");
        let http = app.get(HTTP, &app.tenant_key).await;
        assert_eq!(http.status, 200);
        assert_eq!(http.json["settingsSchema"]["properties"]["bearerToken"]["writeOnly"], true);
        assert_eq!(http.json["settingsSchema"]["default"]["timeoutMs"], 10000);
        let request = &http.json["actionDetails"].as_array().unwrap().iter().find(|a| a["key"] == "request").unwrap().clone();
        assert_eq!(request["retry"]["kind"], "exponential");
        assert!(request["inputSchema"]["properties"]["url"].is_object());
        app.get("/v1/plugins/bacon-plugin-nope", &app.tenant_key).await.assert_problem(404, "not_found");
    }
);

db_test!(
    async fn retryable_then_success_gives_two_audit_rows(app) {
        let key = format!("flaky-{:?}", app.backend);
        let reply = invoke(&app, TESTKIT, "flaky", json!({"key": key})).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.json["status"], "succeeded");
        assert_eq!(reply.json["output"], json!({"greeting": "hello", "attempt": 2}));
        assert_eq!(reply.json["attempts"], 2);
        let rows = audit(&app, "pluginId=bacon-plugin-testkit&action=flaky").await;
        let outcomes: Vec<(&str, i64)> =
            rows.iter().map(|r| (r["outcome"].as_str().unwrap(), r["attempt"].as_i64().unwrap())).collect();
        assert_eq!(outcomes, [("retryable", 1), ("success", 2)]);
        assert!(rows[0]["error"].as_str().unwrap().contains("the first call always fails"));
    }
);

db_test!(
    async fn permanent_errors_are_not_retried(app) {
        let reply = invoke(&app, TESTKIT, "fail_permanently", json!({})).await;
        assert_eq!(reply.json["status"], "failed");
        assert_eq!(reply.json["error"]["kind"], "permanent");
        assert_eq!(reply.json["attempts"], 1);
        assert_eq!(audit(&app, "action=fail_permanently").await.len(), 1);
    }
);

db_test!(
    async fn panics_hangs_and_huge_outputs_are_contained(app) {
        for (action, kind) in [("panic", "panicked"), ("hang", "timed_out"), ("huge_output", "output_too_large")] {
            let reply = invoke(&app, TESTKIT, action, json!({})).await;
            assert_eq!(reply.status, 200, "{action}: {}", reply.text);
            assert_eq!(reply.json["status"], "failed", "{action}");
            assert_eq!(reply.json["error"]["kind"], kind, "{action}: {}", reply.text);
            let rows = audit(&app, &format!("action={action}")).await;
            assert_eq!(rows.len(), 1, "{action}");
            assert_eq!(rows[0]["outcome"], kind);
            assert_eq!(app.call("GET", "/healthz", None, None).await.status, 200, "still serving after {action}");
        }
        let echo = invoke(&app, TESTKIT, "echo", json!({})).await;
        assert_eq!(echo.json["status"], "succeeded", "{}", echo.text);
    }
);

db_test!(
    async fn in_process_retries_end_before_the_request_times_out_and_every_attempt_is_audited(app) {
        let app = bacon_tests::app::spawn_app_with(app.backend, |c| c.http.request_timeout_ms = 1_500).await.unwrap();
        let reply = invoke(&app, TESTKIT, "hang_with_retries", json!({})).await;
        assert_eq!(reply.status, 200, "the caller gets the result, not a request timeout: {}", reply.text);
        assert_eq!(reply.json["error"]["kind"], "timed_out");
        let attempts = reply.json["attempts"].as_u64().unwrap();
        assert!((2..50).contains(&attempts), "{attempts} attempts");
        let rows = audit(&app, "action=hang_with_retries").await;
        assert_eq!(rows.len() as u64, attempts, "one audit row per attempt");
    }
);

db_test!(
    async fn invalid_input_is_422_with_pointers_under_input(app) {
        let reply = invoke(&app, TESTKIT, "flaky", json!({"key": 5})).await;
        reply.assert_problem(422, "validation_failed");
        assert_eq!(reply.json["errors"][0]["pointer"], "/input/key");
        invoke(&app, TESTKIT, "no_such_action", json!({})).await.assert_problem(404, "not_found");
    }
);

db_test!(
    async fn settings_are_validated_and_nothing_is_stored_on_422(app) {
        let bad = app.put(&format!("{HTTP}/settings"), &app.tenant_key, json!({"timeoutMs": 5, "colour": "red"})).await;
        bad.assert_problem(422, "validation_failed");
        let pointers: Vec<&str> = bad.json["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect();
        assert!(pointers.contains(&"/timeoutMs"), "{pointers:?}");
        assert!(pointers.contains(&""), "additionalProperties is reported on the object: {pointers:?}");
        let bad_url = app.put(&format!("{HTTP}/settings"), &app.tenant_key, json!({"baseUrl": "not a url"})).await;
        bad_url.assert_problem(422, "validation_failed");
        assert_eq!(bad_url.json["errors"][0]["pointer"], "/baseUrl");
        let view = app.get(&format!("{HTTP}/settings"), &app.tenant_key).await;
        assert_eq!(view.json["stored"], false);
        assert_eq!(view.json["values"]["timeoutMs"], 10000, "defaults apply");
    }
);

db_test!(
    async fn a_bots_sealed_secret_moved_to_its_tenants_settings_does_not_decrypt(app) {
        use sea_orm::{ConnectionTrait, Statement};
        let tenant_put = app.put(&format!("{TESTKIT}/settings"), &app.tenant_key, json!({"apiToken": "token-TENANT"})).await;
        assert_eq!(tenant_put.status, 200, "{}", tenant_put.text);
        let bot = app.post("/v1/bots", &app.tenant_key, json!({"name": "b"})).await.json["id"].as_str().unwrap().to_string();
        let bot_put =
            app.put(&format!("{TESTKIT}/settings?botId={bot}"), &app.tenant_key, json!({"apiToken": "token-BOT1"})).await;
        assert_eq!(bot_put.status, 200, "{}", bot_put.text);
        assert_eq!(invoke(&app, TESTKIT, "echo", json!({})).await.status, 200);

        // Someone with write access to the database swaps the bot's ciphertext into the tenant's row.
        let db = sea_orm::Database::connect(&app.database_url).await.unwrap();
        let sql = "UPDATE plugin_settings SET secrets = (SELECT secrets FROM plugin_settings b \
                   WHERE COALESCE(b.bot_id, '') <> '' AND b.plugin_id = 'bacon-plugin-testkit') \
                   WHERE COALESCE(bot_id, '') = '' AND plugin_id = 'bacon-plugin-testkit'";
        let moved = db.execute_raw(Statement::from_string(db.get_database_backend(), sql)).await.unwrap();
        assert_eq!(moved.rows_affected(), 1);
        let swapped = invoke(&app, TESTKIT, "echo", json!({})).await;
        assert_eq!(swapped.json["error"]["kind"], "secret_unavailable", "the bot's secret must not serve the tenant: {}", swapped.text);
        assert!(!swapped.text.contains("token-BOT1"), "{}", swapped.text);
    }
);

db_test!(
    async fn settings_are_per_tenant_and_a_bot_override_wins_for_that_bot_only(app) {
        let other = app.create_tenant("Other").await;
        let other_key = app.issue_key(&other, "editor").await;
        let put = app
            .put(&format!("{TESTKIT}/settings"), &app.tenant_key, json!({"greeting": "tenant hello", "apiToken": "token-AAAA"}))
            .await;
        assert_eq!(put.status, 200, "{}", put.text);
        assert_eq!(put.json["secrets"]["apiToken"], json!({"set": true, "source": "encrypted", "inherited": false}));
        assert!(!put.text.contains("token-AAAA"));

        let theirs = app.get(&format!("{TESTKIT}/settings"), &other_key).await;
        assert_eq!(theirs.json["stored"], false);
        assert_eq!(theirs.json["values"]["greeting"], "hello");
        assert_eq!(theirs.json["secrets"]["apiToken"]["set"], false);

        let bot = app.post("/v1/bots", &app.tenant_key, json!({"name": "b"})).await.json["id"].as_str().unwrap().to_string();
        let override_reply =
            app.put(&format!("{TESTKIT}/settings?botId={bot}"), &app.tenant_key, json!({"greeting": "bot hello"})).await;
        assert_eq!(override_reply.status, 200, "{}", override_reply.text);
        assert_eq!(override_reply.json["secrets"]["apiToken"]["inherited"], true);

        let for_bot = app
            .post(&format!("{TESTKIT}/actions/echo/invoke"), &app.tenant_key, json!({"input": {}, "botId": bot}))
            .await;
        assert_eq!(for_bot.json["output"]["greeting"], "bot hello");
        let for_tenant = invoke(&app, TESTKIT, "echo", json!({})).await;
        assert_eq!(for_tenant.json["output"]["greeting"], "tenant hello");
        let for_other = app.post(&format!("{TESTKIT}/actions/echo/invoke"), &other_key, json!({"input": {}})).await;
        assert_eq!(for_other.json["output"]["greeting"], "hello");

        // Another tenant's bot id is not found; omitting a secret keeps it; null clears it.
        app.get(&format!("{TESTKIT}/settings?botId={bot}"), &other_key).await.assert_problem(404, "not_found");
        let kept = app.put(&format!("{TESTKIT}/settings"), &app.tenant_key, json!({"greeting": "again"})).await;
        assert_eq!(kept.json["secrets"]["apiToken"]["set"], true);
        let cleared = app.put(&format!("{TESTKIT}/settings"), &app.tenant_key, json!({"apiToken": null})).await;
        assert_eq!(cleared.json["secrets"]["apiToken"]["set"], false);
        assert_eq!(app.delete(&format!("{TESTKIT}/settings?botId={bot}"), &app.tenant_key).await.status, 204);
        let viewer = app.issue_key(&app.tenant_id, "viewer").await;
        app.put(&format!("{TESTKIT}/settings"), &viewer, json!({})).await.assert_problem(403, "insufficient_role");
    }
);

/// Everything stored about the tenant, as text: settings rows, audit rows, and for SQLite the
/// database files themselves.
async fn stored_text(app: &TestApp) -> String {
    use sea_orm::{ConnectionTrait, Statement};
    let db = sea_orm::Database::connect(&app.database_url).await.unwrap();
    let backend = db.get_database_backend();
    let mut text = String::new();
    for sql in [
        "SELECT CAST(secrets AS TEXT) || ' ' || CAST(\"values\" AS TEXT) AS t FROM plugin_settings",
        "SELECT COALESCE(error, '') || ' ' || COALESCE(CAST(details AS TEXT), '') AS t FROM audit_log",
    ] {
        for row in db.query_all_raw(Statement::from_string(backend, sql)).await.unwrap() {
            text.push_str(&row.try_get::<String>("", "t").unwrap());
            text.push('\n');
        }
    }
    if app.backend == Backend::Sqlite {
        let file = app.database_url.trim_start_matches("sqlite://");
        for suffix in ["", "-wal"] {
            if let Ok(bytes) = std::fs::read(format!("{file}{suffix}")) {
                text.push_str(&String::from_utf8_lossy(&bytes));
            }
        }
    }
    text
}

db_test!(
    async fn a_canary_secret_is_scrubbed_in_every_encoding(app) {
        use base64::Engine;
        let canary = format!(r#"cnry"q\w/e+r&t{}"#, ulid::Ulid::generate());
        let json_escaped = serde_json::to_string(&canary).unwrap().trim_matches('"').to_string();
        let url_encoded: String = url::form_urlencoded::byte_serialize(canary.as_bytes()).collect();
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("AC42:{canary}"));
        let vendor = MockServer::start().await;
        // The vendor echoes the token back in every form it could take.
        Mock::given(method("GET"))
            .and(path("/echo"))
            .respond_with(ResponseTemplate::new(401).set_body_json(json!({
                "error": format!("bad token {canary}"), "query": format!("token={url_encoded}"),
                "authorization": format!("Basic {basic}")})))
            .mount(&vendor)
            .await;
        let put = app
            .put(
                &format!("{HTTP}/settings"),
                &app.tenant_key,
                json!({"allowedHosts": [vendor.uri()], "baseUrl": vendor.uri(), "bearerToken": canary}),
            )
            .await;
        assert_eq!(put.status, 200, "{}", put.text);
        let invoked = invoke(&app, HTTP, "request", json!({"method": "GET", "url": "/echo"})).await;
        assert_eq!(invoked.json["error"]["kind"], "unauthorized", "{}", invoked.text);
        assert!(invoked.text.contains("[REDACTED]"), "{}", invoked.text);
        let audit = app.get("/v1/audit", &app.tenant_key).await.text;
        let stored = stored_text(&app).await;
        let logs = bacon_tests::logs::captured();
        let tail = &canary[canary.len() - 10..];
        for (where_, text) in [("the response", &invoked.text), ("the audit", &audit), ("the database", &stored), ("the logs", &logs)] {
            for form in [canary.as_str(), &json_escaped, &url_encoded, &basic[8..basic.len() - 4]] {
                assert!(!text.contains(form), "{where_} holds the canary as {form}");
            }
            assert!(!text.contains(tail), "{where_} holds the canary's tail");
        }
    }
);

db_test!(
    async fn a_canary_secret_never_leaks(app) {
        let canary = format!("canary-{}", ulid::Ulid::generate());
        let vendor = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/health"))
            .and(header("authorization", format!("Bearer {canary}").as_str()))
            .respond_with(ResponseTemplate::new(401).set_body_string(format!("bad token {canary}")))
            .mount(&vendor)
            .await;
        let put = app
            .put(
                &format!("{HTTP}/settings"),
                &app.tenant_key,
                json!({"allowedHosts": [vendor.uri()], "baseUrl": vendor.uri(), "healthPath": "/health", "bearerToken": canary}),
            )
            .await;
        assert_eq!(put.status, 200, "{}", put.text);
        let mut replies = vec![put.text.clone()];
        let test = app.post(&format!("{HTTP}/test-connection"), &app.tenant_key, json!({})).await;
        assert_eq!(test.json["ok"], false, "{}", test.text);
        assert!(test.json["message"].as_str().unwrap().contains("[REDACTED]"), "{}", test.text);
        replies.push(test.text);
        let invoked = invoke(&app, HTTP, "request", json!({"method": "GET", "url": "/health"})).await;
        assert_eq!(invoked.json["error"]["kind"], "unauthorized", "{}", invoked.text);
        replies.push(invoked.text);
        let put_tk = app.put(&format!("{TESTKIT}/settings"), &app.tenant_key, json!({"apiToken": canary})).await;
        replies.push(put_tk.text);
        let too_short = app.put(&format!("{TESTKIT}/settings"), &app.tenant_key, json!({"apiToken": "c4n4ry"})).await;
        too_short.assert_problem(422, "validation_failed");
        assert_eq!(too_short.json["errors"][0]["pointer"], "/apiToken");
        assert!(!too_short.text.contains("c4n4ry"), "a rejected secret is not echoed: {}", too_short.text);
        let leaked = invoke(&app, TESTKIT, "leak_token", json!({})).await;
        assert!(leaked.json["error"]["message"].as_str().unwrap().contains("[REDACTED]"), "{}", leaked.text);
        replies.push(leaked.text);
        replies.push(app.get(&format!("{HTTP}/settings"), &app.tenant_key).await.text);
        replies.push(app.get("/v1/audit", &app.tenant_key).await.text);
        for reply in &replies {
            assert!(!reply.contains(&canary), "an API response leaked the canary: {reply}");
        }
        let stored = stored_text(&app).await;
        assert!(stored.contains("v2:mk_"), "the secret is stored encrypted");
        assert!(!stored.contains(&canary), "the canary is in the database in plaintext");
        let logs = bacon_tests::logs::captured();
        assert!(logs.contains("Plugin action attempt finished"), "logs are captured");
        assert!(!logs.contains(&canary), "a log line leaked the canary");
    }
);

db_test!(
    async fn the_http_plugin_calls_allowed_hosts_only(app) {
        let vendor = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/echo"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"echoed": true})))
            .expect(1)
            .mount(&vendor)
            .await;
        let put = app.put(&format!("{HTTP}/settings"), &app.tenant_key, json!({"allowedHosts": [vendor.uri()]})).await;
        assert_eq!(put.status, 200, "{}", put.text);
        let ok = invoke(&app, HTTP, "request", json!({"method": "POST", "url": format!("{}/echo", vendor.uri()), "body": {"a": 1}})).await;
        assert_eq!(ok.json["status"], "succeeded", "{}", ok.text);
        assert_eq!(ok.json["output"]["body"], json!({"echoed": true}));
        let refused = invoke(&app, HTTP, "request", json!({"method": "GET", "url": "http://169.254.169.254/latest/meta-data"})).await;
        assert_eq!(refused.json["status"], "failed");
        assert_eq!(refused.json["attempts"], 1);
        assert!(refused.json["error"]["message"].as_str().unwrap().contains("not in this plugin's allowed hosts"), "{}", refused.text);
    }
);

db_test!(
    async fn a_test_connection_answering_ok_false_is_audited_as_connection_failed(app) {
        let vendor = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/health"))
            .and(header("authorization", "Bearer wrong-token-0000"))
            .respond_with(ResponseTemplate::new(401).set_body_string("bad token"))
            .mount(&vendor)
            .await;
        Mock::given(method("GET"))
            .and(path("/health"))
            .respond_with(ResponseTemplate::new(200).set_body_string("fine"))
            .mount(&vendor)
            .await;
        let settings = |token: &str| {
            json!({"allowedHosts": [vendor.uri()], "baseUrl": vendor.uri(), "healthPath": "/health", "bearerToken": token})
        };
        let put = app.put(&format!("{HTTP}/settings"), &app.tenant_key, settings("wrong-token-0000")).await;
        assert_eq!(put.status, 200, "{}", put.text);
        let refused = app.post(&format!("{HTTP}/test-connection"), &app.tenant_key, json!({})).await;
        assert_eq!((refused.status, &refused.json["ok"]), (200, &json!(false)), "{}", refused.text);
        let put = app.put(&format!("{HTTP}/settings"), &app.tenant_key, settings("right-token-0000")).await;
        assert_eq!(put.status, 200, "{}", put.text);
        let fine = app.post(&format!("{HTTP}/test-connection"), &app.tenant_key, json!({})).await;
        assert_eq!(fine.json["ok"], true, "{}", fine.text);

        let rows = audit(&app, "pluginId=bacon-plugin-http&action=test_connection").await;
        let outcomes: Vec<&str> = rows.iter().map(|r| r["outcome"].as_str().unwrap()).collect();
        assert_eq!(outcomes, ["connection_failed", "success"], "{rows:#?}");
        assert_eq!(rows[0]["kind"], "test_connection");
        assert_eq!(rows[0]["error"], refused.json["message"], "the row says why: {rows:#?}");
        assert!(rows[1]["error"].is_null());
    }
);
