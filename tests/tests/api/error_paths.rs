//! Error paths (issue #16, acceptance 1): a step that fails for good takes its `error` edge and
//! the run succeeds; without one the run fails; with `continueOnFail` the next node runs and
//! sees the error. Bad error edges are refused with a pointer.

use bacon_plugin_sdk::testing::wiremock::matchers::path;
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
use bacon_tests::{TestApp, db_test};
use serde_json::{Value, json};

fn call(id: &str, url: String, body: Value) -> Value {
    json!({"id": id, "type": "plugin_action", "config": {"pluginId": "bacon-plugin-http", "actionName": "request",
        "payload": {"method": "POST", "url": url, "body": body}, "retry": {"kind": "none"}}})
}

async fn run_to_end(app: &TestApp, graph: Value) -> Value {
    let flow = app.create_flow("errors", graph).await;
    let run = app.start_run(&flow, json!({})).await;
    app.run_ended(&run).await
}

fn status_of(run: &Value, node: &str) -> Option<String> {
    run["steps"].as_array()?.iter().find(|s| s["nodeId"] == node).map(|s| s["status"].as_str().unwrap().to_string())
}

/// The bodies the vendor received on `at`.
async fn bodies(vendor: &MockServer, at: &str) -> Vec<Value> {
    let requests = vendor.received_requests().await.unwrap_or_default();
    requests.iter().filter(|r| r.url.path() == at).map(|r| serde_json::from_slice(&r.body).unwrap()).collect()
}

db_test!(
    async fn a_failure_takes_its_error_edge_goes_on_when_asked_and_fails_the_run_otherwise(app) {
        let vendor = MockServer::start().await;
        let declined = ResponseTemplate::new(400).set_body_string("card declined");
        Mock::given(path("/charge")).respond_with(declined).mount(&vendor).await;
        Mock::given(path("/receipt")).respond_with(ResponseTemplate::new(200)).mount(&vendor).await;
        Mock::given(path("/alert")).respond_with(ResponseTemplate::new(200)).mount(&vendor).await;
        let settings = json!({"allowedHosts": [vendor.uri()]});
        assert_eq!(app.put("/v1/plugins/bacon-plugin-http/settings", &app.tenant_key, settings).await.status, 200);
        let charge = call("charge", format!("{}/charge", vendor.uri()), json!({}));
        let receipt = call("receipt", format!("{}/receipt", vendor.uri()), json!({}));
        let alert = call("alert", format!("{}/alert", vendor.uri()), json!({"why": "{{ nodes.charge.error.message }}"}));
        let trigger = json!({"id": "t", "type": "trigger", "config": {}});

        // An error edge: the alert runs with the error, the receipt does not, and the run succeeds.
        let graph = json!({"nodes": [trigger, charge, receipt, alert], "edges": [
            {"id": "1", "source": "t", "target": "charge"},
            {"id": "2", "source": "charge", "target": "receipt"},
            {"id": "3", "source": "charge", "target": "alert", "kind": "error"}]});
        let run = run_to_end(&app, graph).await;
        assert_eq!(run["status"], "succeeded", "{run}");
        assert_eq!(status_of(&run, "charge").as_deref(), Some("failed"), "{run}");
        assert_eq!(status_of(&run, "alert").as_deref(), Some("succeeded"), "{run}");
        assert_eq!(status_of(&run, "receipt"), None, "the normal edge is not taken: {run}");
        let alerts = bodies(&vendor, "/alert").await;
        assert_eq!(alerts.len(), 1);
        assert!(alerts[0]["why"].as_str().unwrap().contains("card declined"), "{alerts:?}");
        assert!(bodies(&vendor, "/receipt").await.is_empty());

        // No error edge: the run fails and nothing after the failure runs.
        let graph = json!({"nodes": [trigger, charge, receipt], "edges": [
            {"id": "1", "source": "t", "target": "charge"},
            {"id": "2", "source": "charge", "target": "receipt"}]});
        let run = run_to_end(&app, graph).await;
        assert_eq!(run["status"], "failed", "{run}");
        assert!(run["error"]["message"].as_str().unwrap().contains("card declined"), "{run}");
        assert!(bodies(&vendor, "/receipt").await.is_empty());

        // continueOnFail: the next node runs and sees the error.
        let mut lenient = charge.clone();
        lenient["continueOnFail"] = json!(true);
        let graph = json!({"nodes": [trigger, lenient, alert], "edges": [
            {"id": "1", "source": "t", "target": "charge"},
            {"id": "2", "source": "charge", "target": "alert"}]});
        let run = run_to_end(&app, graph).await;
        assert_eq!(run["status"], "succeeded", "{run}");
        let alerts = bodies(&vendor, "/alert").await;
        assert_eq!(alerts.len(), 2, "{alerts:?}");
        assert!(alerts[1]["why"].as_str().unwrap().contains("card declined"), "{alerts:?}");
    }
);

db_test!(
    async fn a_bad_error_edge_is_refused_with_a_pointer(app) {
        let graph = json!({"nodes": [
                {"id": "t", "type": "trigger", "config": {}},
                {"id": "c", "type": "condition", "config": {"expression": "true"}},
                {"id": "e", "type": "end", "config": {}}],
            "edges": [
                {"id": "1", "source": "t", "target": "c"},
                {"id": "2", "source": "c", "target": "e", "when": "true", "kind": "error"},
                {"id": "3", "source": "t", "target": "e", "kind": "error"}]});
        let refused = app.post("/v1/flows", &app.tenant_key, json!({"name": "bad", "graph": graph})).await;
        refused.assert_problem(422, "validation_failed");
        let pointers: Vec<&str> =
            refused.json["errors"].as_array().unwrap().iter().filter_map(|e| e["pointer"].as_str()).collect();
        assert!(pointers.contains(&"/graph/edges/1/when"), "{}", refused.text);
        assert!(pointers.contains(&"/graph/edges/2/kind"), "{}", refused.text);
        let wrong_kind = json!({"nodes": [{"id": "t", "type": "trigger", "config": {}}],
            "edges": [{"id": "1", "source": "t", "target": "t", "kind": "sideways"}]});
        let refused = app.post("/v1/flows", &app.tenant_key, json!({"name": "bad", "graph": wrong_kind})).await;
        refused.assert_problem(422, "validation_failed");
        assert_eq!(app.get("/v1/flows", &app.tenant_key).await.json["items"].as_array().unwrap().len(), 0);
    }
);
