//! Synchronous webhooks (issue #16, acceptance 5): a webhook trigger marked `respond: "sync"`
//! answers its caller with the run's `respond` node, within the one request; a flow slower than
//! `respondTimeoutMs` answers 202 with the run id; a retried delivery (same `Idempotency-Key`)
//! gets the same answer from the same run.

use bacon_tests::{TestApp, db_test};
use serde_json::{Value, json};

use super::triggers::{create_flow, runs_of};

struct Answer {
    status: u16,
    run_id: Option<String>,
    header: Option<String>,
    body: Value,
}

async fn call(app: &TestApp, hook: &str, key: &str, body: Value) -> Answer {
    let response = app.client.post(app.url(hook)).header("idempotency-key", key).json(&body).send().await.unwrap();
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (run_id, header) = (header("x-bacon-run-id"), header("x-order"));
    Answer { status: response.status().as_u16(), run_id, header, body: response.json().await.unwrap_or_default() }
}

/// A sync webhook flow; `hold` puts a wait (that nothing ends) before the answer.
async fn sync_flow(app: &TestApp, hold: bool, timeout_ms: u64) -> (String, String) {
    let mut nodes = vec![
        json!({"id": "in", "type": "trigger", "config": {"kind": "webhook", "respond": "sync", "respondTimeoutMs": timeout_ms}}),
        json!({"id": "price", "type": "transform", "config": {"set": {"total": "{{ trigger.body.qty * 3 }}"}}}),
        json!({"id": "answer", "type": "respond", "config": {"status": 201,
            "headers": {"x-order": "{{ trigger.body.order }}"},
            "body": {"order": "{{ trigger.body.order }}", "total": "{{ vars.total }}"}}}),
    ];
    if hold {
        nodes.insert(2, json!({"id": "hold", "type": "wait", "config": {}}));
    }
    let edges: Vec<Value> = nodes
        .windows(2)
        .enumerate()
        .map(|(i, w)| json!({"id": format!("e{i}"), "source": w[0]["id"], "target": w[1]["id"]}))
        .collect();
    let flow = create_flow(app, json!({"nodes": nodes, "edges": edges})).await;
    let activated = app.post(&format!("/v1/flows/{flow}/activate"), &app.tenant_key, json!({})).await;
    assert_eq!(activated.status, 200, "{}", activated.text);
    let url = activated.json["hookUrl"].as_str().unwrap();
    (flow, url[url.find("/hooks/").unwrap()..].to_string())
}

db_test!(
    async fn a_sync_webhook_answers_with_the_runs_respond_node_and_the_same_answer_on_a_retry(app) {
        let (flow, hook) = sync_flow(&app, false, 10_000).await;
        let first = call(&app, &hook, "order-1", json!({"order": "A-1", "qty": 4})).await;
        assert_eq!(first.status, 201, "{}", first.body);
        assert_eq!(first.body, json!({"order": "A-1", "total": 12}));
        assert_eq!(first.header.as_deref(), Some("A-1"));
        let run = first.run_id.clone().expect("the run's id is in X-Bacon-Run-Id");

        let retried = call(&app, &hook, "order-1", json!({"order": "A-1", "qty": 4})).await;
        assert_eq!((retried.status, &retried.body), (201, &first.body), "the same answer");
        assert_eq!(retried.run_id.as_deref(), Some(run.as_str()), "from the same run");
        assert_eq!(runs_of(&app, &flow).await.len(), 1, "a retry starts nothing");

        let stored = app.get(&format!("/v1/runs/{run}"), &app.tenant_key).await;
        assert_eq!(stored.json["response"]["body"], first.body, "{}", stored.text);

        let second = call(&app, &hook, "order-2", json!({"order": "A-2", "qty": 1})).await;
        assert_eq!((second.status, second.body), (201, json!({"order": "A-2", "total": 3})));
    }
);

db_test!(
    async fn a_sync_webhook_whose_flow_is_too_slow_answers_202_with_the_run_id(app) {
        let (flow, hook) = sync_flow(&app, true, 300).await;
        let answer = call(&app, &hook, "slow-1", json!({"order": "B-1", "qty": 1})).await;
        assert_eq!(answer.status, 202, "{}", answer.body);
        let run = answer.body["runId"].as_str().expect("the run id").to_string();
        assert_eq!(answer.body["status"], "running");
        assert_eq!(answer.run_id.as_deref(), Some(run.as_str()));
        assert_eq!(runs_of(&app, &flow).await.len(), 1);

        // Once the run answers, a retry of the delivery gets the answer.
        let resumed = app.post(&format!("/v1/runs/{run}/events/hold"), &app.tenant_key, json!({})).await;
        assert_eq!(resumed.status, 200, "{}", resumed.text);
        let retried = call(&app, &hook, "slow-1", json!({"order": "B-1", "qty": 1})).await;
        assert_eq!((retried.status, retried.body), (201, json!({"order": "B-1", "total": 3})));
    }
);

db_test!(
    async fn respond_settings_in_the_wrong_place_are_refused_with_pointers(app) {
        let graph = json!({
            "nodes": [
                {"id": "in", "type": "trigger", "config": {"kind": "manual", "respond": "sync", "respondTimeoutMs": 0}},
                {"id": "answer", "type": "respond", "config": {"status": 99, "headers": {"bad header": "x"}, "body": "{{ nodes.nobody.output }}"}}
            ],
            "edges": [{"id": "1", "source": "in", "target": "answer"}]
        });
        let refused = app.post("/v1/flows", &app.tenant_key, json!({"name": "bad", "graph": graph})).await;
        refused.assert_problem(422, "validation_failed");
        let pointers: Vec<&str> =
            refused.json["errors"].as_array().unwrap().iter().filter_map(|e| e["pointer"].as_str()).collect();
        for expected in [
            "/graph/nodes/0/config/respond",
            "/graph/nodes/0/config/respondTimeoutMs",
            "/graph/nodes/1/config/status",
            "/graph/nodes/1/config/headers/bad header",
            "/graph/nodes/1/config/body",
        ] {
            assert!(pointers.contains(&expected), "{expected} in {}", refused.text);
        }
    }
);
