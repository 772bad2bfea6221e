//! Run controls (issue #16): cancelling a run whose step waits stops it for good (the step's
//! job, when it comes, does nothing, and the vendor is never called), a second cancel is a 409;
//! a rerun starts a new run from the trigger on the version asked for, or the current one.

use std::time::Duration;

use bacon_plugin_sdk::testing::wiremock::matchers::path;
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
use bacon_tests::rows::count;
use bacon_tests::{TestApp, db_test, wait};
use serde_json::{Value, json};

fn call(vendor: &MockServer, body: Value) -> Value {
    json!({"id": "call", "type": "plugin_action", "config": {"pluginId": "bacon-plugin-http", "actionName": "request",
        "payload": {"method": "POST", "url": format!("{}/orders", vendor.uri()), "body": body}}})
}

async fn allow(app: &TestApp, vendor: &MockServer) {
    let settings = json!({"allowedHosts": [vendor.uri()]});
    assert_eq!(app.put("/v1/plugins/bacon-plugin-http/settings", &app.tenant_key, settings).await.status, 200);
}

/// Jobs not yet done (waiting, fetched or running) in the app's queue.
async fn jobs_left(db: &sea_orm::DatabaseConnection) -> i64 {
    let table = bacon_worker::jobs::jobs_table(db.get_database_backend());
    count(db, &format!("{table} WHERE status IN ('Pending', 'Queued', 'Running')")).await
}

db_test!(
    async fn a_cancelled_run_stays_cancelled_and_calls_nothing(app) {
        let vendor = MockServer::start().await;
        Mock::given(path("/orders")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&vendor).await;
        allow(&app, &vendor).await;
        let graph = json!({"nodes": [
                {"id": "t", "type": "trigger", "config": {}},
                {"id": "later", "type": "delay", "config": {"durationMs": 1000}},
                call(&vendor, json!({}))],
            "edges": [{"id": "1", "source": "t", "target": "later"}, {"id": "2", "source": "later", "target": "call"}]});
        let flow = app.post("/v1/flows", &app.tenant_key, json!({"name": "cancel me", "graph": graph})).await;
        assert_eq!(flow.status, 201, "{}", flow.text);
        let started = app
            .post(&format!("/v1/flows/{}/runs", flow.json["id"].as_str().unwrap()), &app.tenant_key, json!({}))
            .await;
        let run = started.json["id"].as_str().unwrap().to_string();

        let viewer = app.issue_key(&app.tenant_id, "viewer").await;
        app.post(&format!("/v1/runs/{run}/cancel"), &viewer, json!({})).await.assert_problem(403, "insufficient_role");
        let cancelled = app.post(&format!("/v1/runs/{run}/cancel"), &app.tenant_key, json!({})).await;
        assert_eq!(cancelled.status, 200, "{}", cancelled.text);
        assert_eq!(cancelled.json["status"], "cancelled");
        let statuses: Vec<&str> =
            cancelled.json["steps"].as_array().unwrap().iter().map(|s| s["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["cancelled"], "the waiting delay step is cancelled: {}", cancelled.text);
        app.post(&format!("/v1/runs/{run}/cancel"), &app.tenant_key, json!({}))
            .await
            .assert_problem(409, "invalid_run_state");

        // The delay's job comes after its second and finds the run cancelled: nothing runs.
        let db = sea_orm::Database::connect(&app.database_url).await.unwrap();
        wait::until("the delay's job to be done", Duration::from_secs(30), || async {
            (jobs_left(&db).await == 0).then_some(())
        })
        .await;
        let after = app.get(&format!("/v1/runs/{run}"), &app.tenant_key).await;
        assert_eq!(after.json["status"], "cancelled");
        assert_eq!(after.json["steps"].as_array().unwrap().len(), 1, "no step was added: {}", after.text);
        let audit = app.get(&format!("/v1/audit?runId={run}"), &app.tenant_key).await;
        assert_eq!(audit.json["items"].as_array().unwrap().len(), 0, "no plugin was called: {}", audit.text);
    }
);

db_test!(
    async fn a_rerun_starts_a_new_run_on_the_version_asked_for(app) {
        let vendor = MockServer::start().await;
        Mock::given(path("/orders")).respond_with(ResponseTemplate::new(200)).mount(&vendor).await;
        allow(&app, &vendor).await;
        let graph = |v: i64| {
            json!({"nodes": [{"id": "t", "type": "trigger", "config": {}}, call(&vendor, json!({"v": v, "order": "{{ input.order }}"}))],
                "edges": [{"id": "1", "source": "t", "target": "call"}]})
        };
        let flow = app.post("/v1/flows", &app.tenant_key, json!({"name": "versions", "graph": graph(1)})).await;
        let flow = flow.json["id"].as_str().unwrap().to_string();
        let updated = app
            .client
            .put(app.url(&format!("/v1/flows/{flow}")))
            .bearer_auth(&app.tenant_key)
            .header("if-match", "\"1\"")
            .json(&json!({"name": "versions", "graph": graph(2)}))
            .send()
            .await
            .unwrap();
        assert_eq!(updated.status(), 200);

        let first = app.post(&format!("/v1/flows/{flow}/runs"), &app.tenant_key, json!({"input": {"order": 7}})).await;
        let first = first.json["id"].as_str().unwrap().to_string();
        assert_eq!(app.run_ended(&first).await["flowVersion"], 2);

        let on_v1 = app.post(&format!("/v1/runs/{first}/rerun"), &app.tenant_key, json!({"version": 1})).await;
        assert_eq!(on_v1.status, 202, "{}", on_v1.text);
        let on_v1 = on_v1.json["id"].as_str().unwrap().to_string();
        assert_ne!(on_v1, first, "a rerun is a new run");
        let done = app.run_ended(&on_v1).await;
        assert_eq!((done["status"].as_str(), done["flowVersion"].as_i64()), (Some("succeeded"), Some(1)), "{done}");
        assert_eq!(done["input"], json!({"order": 7}), "the same input");

        let current = app.post(&format!("/v1/runs/{first}/rerun"), &app.tenant_key, json!({})).await;
        let current = current.json["id"].as_str().unwrap().to_string();
        assert_eq!(app.run_ended(&current).await["flowVersion"], 2);
        let missing = app.post(&format!("/v1/runs/{first}/rerun"), &app.tenant_key, json!({"version": 9})).await;
        assert_eq!(missing.status, 404, "{}", missing.text);

        let sent: Vec<Value> = vendor
            .received_requests()
            .await
            .unwrap()
            .iter()
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect();
        assert_eq!(sent, [json!({"v": 2, "order": 7}), json!({"v": 1, "order": 7}), json!({"v": 2, "order": 7})]);
    }
);

db_test!(
    async fn a_run_past_its_flows_timeout_fails_and_cancels_its_wait_and_child(app) {
        let key = app.tenant_key.clone();
        let child_graph = json!({"nodes": [
                {"id": "t", "type": "trigger", "config": {}},
                {"id": "hold", "type": "wait", "config": {}}],
            "edges": [{"id": "1", "source": "t", "target": "hold"}]});
        let child = app.post("/v1/flows", &key, json!({"name": "child", "graph": child_graph})).await;
        let child = child.json["id"].as_str().unwrap().to_string();
        let graph = json!({"nodes": [
                {"id": "t", "type": "trigger", "config": {}},
                {"id": "hold", "type": "wait", "config": {}},
                {"id": "kid", "type": "subflow", "config": {"flowId": child}}],
            "edges": [{"id": "1", "source": "t", "target": "hold"}, {"id": "2", "source": "t", "target": "kid"}],
            "timeoutMs": 1000});
        let flow = app.post("/v1/flows", &key, json!({"name": "bounded", "graph": graph})).await;
        assert_eq!(flow.status, 201, "{}", flow.text);
        let started = app.post(&format!("/v1/flows/{}/runs", flow.json["id"].as_str().unwrap()), &key, json!({})).await;
        let run = started.json["id"].as_str().unwrap().to_string();
        let done = app.run_ended(&run).await;
        assert_eq!(done["status"], "failed", "{done}");
        assert_eq!(done["error"]["kind"], "timeout", "{done}");
        let statuses: Vec<&str> = done["steps"].as_array().unwrap().iter().map(|s| s["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["cancelled", "cancelled"], "{done}");
        let children = app.get(&format!("/v1/runs?parentRunId={run}"), &key).await;
        assert_eq!(children.json["items"][0]["status"], "cancelled", "{}", children.text);

        let too_long = json!({"nodes": [{"id": "t", "type": "trigger", "config": {}}], "timeoutMs": 0});
        let refused = app.post("/v1/flows", &key, json!({"name": "bad", "graph": too_long})).await;
        refused.assert_problem(422, "validation_failed");
        assert_eq!(refused.json["errors"][0]["pointer"], "/graph/timeoutMs", "{}", refused.text);
    }
);

db_test!(
    async fn a_run_past_its_deadline_whose_job_was_lost_is_ended_by_the_reconciler(app) {
        use sea_orm::ConnectionTrait;
        let key = app.tenant_key.clone();
        let graph = json!({"nodes": [
                {"id": "t", "type": "trigger", "config": {}},
                {"id": "hold", "type": "wait", "config": {}}],
            "edges": [{"id": "1", "source": "t", "target": "hold"}],
            "timeoutMs": 600000});
        let flow = app.post("/v1/flows", &key, json!({"name": "bounded", "graph": graph})).await;
        let started = app.post(&format!("/v1/flows/{}/runs", flow.json["id"].as_str().unwrap()), &key, json!({})).await;
        let run = started.json["id"].as_str().unwrap().to_string();
        // The deadline passes while its job is still 10 minutes away, as if that job were lost.
        let db = sea_orm::Database::connect(&app.database_url).await.unwrap();
        let past = (chrono::Utc::now() - chrono::Duration::seconds(30)).to_rfc3339();
        let sql = format!("UPDATE runs SET deadline_at = '{past}' WHERE id = '{run}'");
        db.execute_unprepared(&sql).await.unwrap();
        let done = app.run_ended(&run).await;
        assert_eq!(done["status"], "failed", "{done}");
        assert_eq!(done["error"]["kind"], "timeout", "{done}");
        assert_eq!(done["error"]["message"], "the run passed its timeout of 600000 ms", "{done}");
    }
);
