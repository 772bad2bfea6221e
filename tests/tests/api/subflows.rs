//! `subflow` nodes (issue #16, acceptance 4): a child run starts with its input, its parent
//! waits for it without a worker and takes its output; a failed child fails the node (an error
//! edge handles it); cancelling the parent cancels the child and its wait in one go; the child
//! links to its parent in the API.

use std::time::Duration;

use bacon_tests::{TestApp, db_test, wait};
use serde_json::{Value, json};

async fn children(app: &TestApp, parent: &str) -> Vec<Value> {
    app.get(&format!("/v1/runs?parentRunId={parent}"), &app.tenant_key).await.json["items"].as_array().unwrap().clone()
}

fn parent_graph(child: &str, input: Value) -> Value {
    json!({
        "nodes": [
            {"id": "t", "type": "trigger", "config": {}},
            {"id": "child", "type": "subflow", "config": {"flowId": child, "input": input}},
            {"id": "use", "type": "transform", "config": {"set": {"sum": "{{ nodes.child.output.vars.total }}"}}},
            {"id": "handle", "type": "transform", "config": {"set": {"why": "{{ nodes.child.error.message }}"}}}
        ],
        "edges": [
            {"id": "1", "source": "t", "target": "child"},
            {"id": "2", "source": "child", "target": "use"},
            {"id": "3", "source": "child", "target": "handle", "kind": "error"}
        ]
    })
}

db_test!(
    async fn a_subflow_runs_its_child_and_takes_its_output(app) {
        let adder = app.create_flow("adder", json!({
            "nodes": [
                {"id": "t", "type": "trigger", "config": {}},
                {"id": "check", "type": "condition", "config": {"expression": "input.a >= 0"}},
                {"id": "add", "type": "transform", "config": {"set": {"total": "{{ input.a + input.b }}"}}}
            ],
            "edges": [{"id": "1", "source": "t", "target": "check"},
                      {"id": "2", "source": "check", "target": "add", "when": "true"}]
        }))
        .await;
        let parent = app.create_flow("parent", parent_graph(&adder, json!({"a": "{{ input.x }}", "b": 3}))).await;
        let run = app.start_run(&parent, json!({"x": 2})).await;
        let done = app.run_ended(&run).await;
        assert_eq!(done["status"], "succeeded", "{done}");
        assert_eq!(done["vars"]["sum"], 5, "{done}");
        let kids = children(&app, &run).await;
        assert_eq!(kids.len(), 1, "{kids:?}");
        let child = &kids[0];
        assert_eq!(child["flowId"], adder);
        assert_eq!(child["parentRunId"], run);
        assert_eq!(child["triggerKind"], "subflow");
        assert_eq!(child["input"], json!({"a": 2, "b": 3}));
        let step = &done["steps"][0];
        assert_eq!(child["parentStepId"], step["id"], "{done}");
        assert_eq!(step["output"]["runId"], child["id"]);

        // A child that fails fails the node, and the parent's error edge handles it.
        let failing = app.create_flow("failing", json!({
            "nodes": [
                {"id": "t", "type": "trigger", "config": {}},
                {"id": "boom", "type": "transform", "config": {"set": {"total": "{{ input.missing.field }}"}}}
            ],
            "edges": [{"id": "1", "source": "t", "target": "boom"}]
        }))
        .await;
        let parent = app.create_flow("parent of failing", parent_graph(&failing, json!({}))).await;
        let run = app.start_run(&parent, json!({})).await;
        let done = app.run_ended(&run).await;
        assert_eq!(done["status"], "succeeded", "the error edge handled it: {done}");
        let why = done["vars"]["why"].as_str().unwrap();
        assert!(why.contains("failed") && why.contains("input.missing"), "{why}");
        assert_eq!(children(&app, &run).await[0]["status"], "failed");
    }
);

db_test!(
    async fn cancelling_a_parent_cancels_its_waiting_child(app) {
        let waiter = app.create_flow("waiter", json!({
            "nodes": [
                {"id": "t", "type": "trigger", "config": {}},
                {"id": "hold", "type": "wait", "config": {"event": "go"}}
            ],
            "edges": [{"id": "1", "source": "t", "target": "hold"}]
        }))
        .await;
        let parent = app.create_flow("parent", parent_graph(&waiter, json!({}))).await;
        let run = app.start_run(&parent, json!({})).await;
        let child = wait::until("the child to wait", Duration::from_secs(30), || async {
            let kid = children(&app, &run).await.first().cloned()?;
            let id = kid["id"].as_str()?.to_string();
            let child = app.get(&format!("/v1/runs/{id}"), &app.tenant_key).await;
            (child.json["steps"][0]["status"] == "waiting").then_some(id)
        })
        .await;
        let parent_run = app.get(&format!("/v1/runs/{run}"), &app.tenant_key).await;
        assert_eq!(parent_run.json["steps"][0]["status"], "waiting", "{}", parent_run.text);

        let cancelled = app.post(&format!("/v1/runs/{run}/cancel"), &app.tenant_key, json!({})).await;
        assert_eq!(cancelled.status, 200, "{}", cancelled.text);
        assert_eq!(cancelled.json["status"], "cancelled");
        assert_eq!(cancelled.json["steps"][0]["status"], "cancelled", "{}", cancelled.text);
        let child_run = app.get(&format!("/v1/runs/{child}"), &app.tenant_key).await;
        assert_eq!(child_run.json["status"], "cancelled", "the cancel reached the child at once: {}", child_run.text);
        assert_eq!(child_run.json["steps"][0]["status"], "cancelled", "{}", child_run.text);
        app.post(&format!("/v1/runs/{child}/events/go"), &app.tenant_key, json!({}))
            .await
            .assert_problem(409, "invalid_run_state");
    }
);

db_test!(
    async fn a_subflow_naming_no_flow_is_refused_or_fails_its_node(app) {
        let refused = app
            .post("/v1/flows", &app.tenant_key, json!({"name": "bad", "graph": parent_graph("nope", json!({}))}))
            .await;
        refused.assert_problem(422, "validation_failed");
        assert_eq!(refused.json["errors"][0]["pointer"], "/graph/nodes/1/config/flowId", "{}", refused.text);

        let ghost = "flow_01M99HSE5TERTM81ZSKGXEK3WV";
        let parent = app.create_flow("parent of nothing", parent_graph(ghost, json!({}))).await;
        let run = app.start_run(&parent, json!({})).await;
        let done = app.run_ended(&run).await;
        assert_eq!(done["status"], "succeeded", "the error edge handled it: {done}");
        assert_eq!(done["vars"]["why"], format!("flow `{ghost}` does not exist"), "{done}");
    }
);

db_test!(
    async fn retrying_a_run_whose_child_failed_starts_a_new_child(app) {
        use bacon_plugin_sdk::testing::wiremock::matchers::path;
        use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
        let vendor = MockServer::start().await;
        Mock::given(path("/flaky")).respond_with(ResponseTemplate::new(500)).up_to_n_times(1).mount(&vendor).await;
        Mock::given(path("/flaky")).respond_with(ResponseTemplate::new(200)).mount(&vendor).await;
        let settings = json!({"allowedHosts": [vendor.uri()]});
        assert_eq!(app.put("/v1/plugins/bacon-plugin-http/settings", &app.tenant_key, settings).await.status, 200);
        let flaky = app.create_flow("flaky", json!({
            "nodes": [
                {"id": "t", "type": "trigger", "config": {}},
                {"id": "call", "type": "plugin_action", "config": {"pluginId": "bacon-plugin-http", "actionName": "request",
                    "retry": {"kind": "none"}, "payload": {"method": "POST", "url": format!("{}/flaky", vendor.uri())}}},
                {"id": "add", "type": "transform", "config": {"set": {"total": "{{ nodes.call.output.status }}"}}}
            ],
            "edges": [{"id": "1", "source": "t", "target": "call"}, {"id": "2", "source": "call", "target": "add"}]
        }))
        .await;
        let graph = json!({
            "nodes": [
                {"id": "t", "type": "trigger", "config": {}},
                {"id": "child", "type": "subflow", "config": {"flowId": flaky}},
                {"id": "use", "type": "transform", "config": {"set": {"sum": "{{ nodes.child.output.vars.total }}"}}}
            ],
            "edges": [{"id": "1", "source": "t", "target": "child"}, {"id": "2", "source": "child", "target": "use"}]
        });
        let parent = app.create_flow("parent", graph).await;
        let run = app.start_run(&parent, json!({})).await;
        assert_eq!(app.run_ended(&run).await["status"], "failed", "the child failed and nothing handled it");

        let retried = app.post(&format!("/v1/runs/{run}/retry"), &app.tenant_key, json!({})).await;
        assert_eq!(retried.status, 202, "{}", retried.text);
        let done = app.run_ended(&run).await;
        assert_eq!(done["status"], "succeeded", "{done}");
        assert_eq!(done["vars"]["sum"], 200);
        let kids = children(&app, &run).await;
        let statuses: Vec<&str> = kids.iter().map(|k| k["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["succeeded", "failed"], "a new child, newest first: {kids:?}");
    }
);
