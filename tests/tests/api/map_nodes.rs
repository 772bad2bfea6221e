//! `map` nodes (issue #16, acceptance 2): a map over 50 items with concurrency 5 never has more
//! than 5 item calls at the vendor at once, makes each item's call once, and collects the 50
//! results in item order. (The SIGKILL half is in `tests/tests/durability.rs`.)

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bacon_plugin_sdk::testing::wiremock::matchers::path;
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};
use bacon_tests::{TestApp, db_test};
use serde_json::{Value, json};

/// The vendor: echoes each request's body after `DELAY`, recording when each arrived.
#[derive(Clone, Default)]
struct SlowEcho(Arc<Mutex<Vec<Instant>>>);

const DELAY: Duration = Duration::from_millis(150);

impl Respond for SlowEcho {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.0.lock().unwrap().push(Instant::now());
        let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        ResponseTemplate::new(200).set_body_json(body).set_delay(DELAY)
    }
}

impl SlowEcho {
    /// The most calls whose answer was still being waited for at one moment: a call is in flight
    /// from its arrival until its answer (`DELAY` later), and the next item's call can only come
    /// after an answer was recorded.
    fn most_at_once(&self) -> usize {
        let arrivals = self.0.lock().unwrap().clone();
        arrivals
            .iter()
            .map(|&start| arrivals.iter().filter(|&&t| t >= start && t < start + DELAY).count())
            .max()
            .unwrap_or(0)
    }
}

pub(crate) fn map_flow(vendor: &str, items: usize, concurrency: u32) -> Value {
    json!({
        "nodes": [
            {"id": "t", "type": "trigger", "config": {}},
            {"id": "skus", "type": "transform", "config": {"set": {
                "skus": format!("{{{{ range({items}) | map('string') | list }}}}")}}},
            {"id": "stock", "type": "map", "config": {
                "items": "vars.skus", "concurrency": concurrency,
                "graph": {"nodes": [
                    {"id": "lookup", "type": "plugin_action", "config": {
                        "pluginId": "bacon-plugin-http", "actionName": "request", "retry": {"kind": "none"},
                        "payload": {"method": "POST", "url": format!("{vendor}/stock"),
                            "body": {"sku": "sku-{{ item }}", "position": "{{ index }}"}}}}
                ]}}},
            {"id": "collect", "type": "transform", "config": {"set": {
                "skusSeen": "{{ nodes.stock.output.results | map(attribute='body') | map(attribute='sku') | list }}"}}}
        ],
        "edges": [
            {"id": "1", "source": "t", "target": "skus"},
            {"id": "2", "source": "skus", "target": "stock"},
            {"id": "3", "source": "stock", "target": "collect"}
        ]
    })
}

async fn run_to_end(app: &TestApp, graph: Value) -> Value {
    let flow = app.create_flow("map", graph).await;
    let run = app.start_run(&flow, json!({})).await;
    app.run_ended(&run).await
}

db_test!(
    async fn a_map_of_50_items_runs_5_at_a_time_and_returns_results_in_item_order(app) {
        let vendor = MockServer::start().await;
        let echo = SlowEcho::default();
        Mock::given(path("/stock")).respond_with(echo.clone()).mount(&vendor).await;
        let settings = json!({"allowedHosts": [vendor.uri()]});
        assert_eq!(app.put("/v1/plugins/bacon-plugin-http/settings", &app.tenant_key, settings).await.status, 200);

        let run = run_to_end(&app, map_flow(&vendor.uri(), 50, 5)).await;
        assert_eq!(run["status"], "succeeded", "{run}");
        let expected: Vec<String> = (0..50).map(|i| format!("sku-{i}")).collect();
        assert_eq!(run["vars"]["skusSeen"], json!(expected), "50 results, in item order");

        let steps = run["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 50, "one step per item");
        for i in 0..50 {
            let step = steps.iter().find(|s| s["nodeId"] == format!("stock[{i}].lookup")).expect("the item's step");
            assert_eq!(step["status"], "succeeded");
            assert_eq!(step["input"]["body"], json!({"sku": format!("sku-{i}"), "position": i}));
        }
        let requests = vendor.received_requests().await.unwrap();
        assert_eq!(requests.len(), 50, "each item's call was made once");
        let keys: std::collections::HashSet<_> =
            requests.iter().map(|r| r.headers["idempotency-key"].to_str().unwrap().to_string()).collect();
        assert_eq!(keys.len(), 50, "each item's call has its own idempotency key");
        let most = echo.most_at_once();
        eprintln!("most item calls in flight at once: {most}");
        assert!(most <= 5, "at most 5 items in flight, saw {most}");
        assert!(most >= 2, "items ran side by side, not one at a time: saw {most}");
    }
);

db_test!(
    async fn a_map_tolerates_the_failures_it_is_told_to_and_fails_past_them(app) {
        let vendor = MockServer::start().await;
        Mock::given(path("/stock/3")).respond_with(ResponseTemplate::new(400)).mount(&vendor).await;
        Mock::given(path("/stock/5")).respond_with(ResponseTemplate::new(400)).mount(&vendor).await;
        Mock::given(path("/stock/0")).respond_with(ResponseTemplate::new(200)).mount(&vendor).await;
        for i in [1, 2, 4] {
            Mock::given(path(format!("/stock/{i}"))).respond_with(ResponseTemplate::new(200)).mount(&vendor).await;
        }
        let settings = json!({"allowedHosts": [vendor.uri()]});
        assert_eq!(app.put("/v1/plugins/bacon-plugin-http/settings", &app.tenant_key, settings).await.status, 200);
        let graph = |tolerated: u32| {
            json!({
                "nodes": [
                    {"id": "t", "type": "trigger", "config": {}},
                    {"id": "each", "type": "map", "config": {
                        "items": "[0, 1, 2, 3, 4, 5]", "concurrency": 2, "toleratedFailures": tolerated,
                        "graph": {"nodes": [{"id": "get", "type": "plugin_action", "config": {
                            "pluginId": "bacon-plugin-http", "actionName": "request", "retry": {"kind": "none"},
                            "payload": {"method": "GET", "url": format!("{}/stock/{{{{ item }}}}", vendor.uri())}}}]}}},
                    {"id": "sum", "type": "transform", "config": {"set": {
                        "failed": "{{ nodes.each.output.failures | map(attribute='index') | list }}"}}}
                ],
                "edges": [{"id": "1", "source": "t", "target": "each"}, {"id": "2", "source": "each", "target": "sum"}]
            })
        };
        let run = run_to_end(&app, graph(2)).await;
        assert_eq!(run["status"], "succeeded", "{run}");
        assert_eq!(run["vars"]["failed"], json!([3, 5]));

        let run = run_to_end(&app, graph(1)).await;
        assert_eq!(run["status"], "failed", "{run}");
        let message = run["error"]["message"].as_str().unwrap();
        assert!(message.contains("2 of the map's items failed (it tolerates 1)"), "{message}");
    }
);

db_test!(
    async fn a_bad_map_is_refused_with_pointers(app) {
        let graph = json!({
            "nodes": [
                {"id": "t", "type": "trigger", "config": {}},
                {"id": "m", "type": "map", "config": {"items": "input.items ||", "concurrency": 0, "graph": {"nodes": [
                    {"id": "x[1]", "type": "transform", "config": {"set": {"a": "{{ nodes.ghost.output }}"}}},
                    {"id": "in", "type": "trigger", "config": {}}
                ]}}}
            ],
            "edges": [{"id": "1", "source": "t", "target": "m"}]
        });
        let refused = app.post("/v1/flows", &app.tenant_key, json!({"name": "bad", "graph": graph})).await;
        refused.assert_problem(422, "validation_failed");
        let pointers: Vec<&str> =
            refused.json["errors"].as_array().unwrap().iter().filter_map(|e| e["pointer"].as_str()).collect();
        for expected in [
            "/graph/nodes/1/config/items",
            "/graph/nodes/1/config/concurrency",
            "/graph/nodes/1/config/graph/nodes/0/id",
            "/graph/nodes/1/config/graph/nodes/1",
        ] {
            assert!(pointers.contains(&expected), "{expected} in {}", refused.text);
        }
        assert_eq!(app.get("/v1/flows", &app.tenant_key).await.json["items"].as_array().unwrap().len(), 0);
    }
);
