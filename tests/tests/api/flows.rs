//! Flows through the API (issue #4, the parts that exist): validation with pointers, versions,
//! optimistic concurrency, tenant isolation.

use bacon_tests::{TestApp, db_test};
use serde_json::{Value, json};

fn graph(url: &str) -> Value {
    json!({
        "nodes": [
            {"id": "start", "type": "trigger", "config": {"kind": "manual"}},
            {"id": "call", "type": "plugin_action", "config": {"pluginId": "bacon-plugin-http", "actionName": "request",
                "payload": {"method": "POST", "url": url, "body": {"order": "{{ input.orderId }}"}}}},
            {"id": "ok", "type": "condition", "config": {"expression": "nodes.call.output.status == 200"}},
            {"id": "yes", "type": "end", "config": {}},
            {"id": "no", "type": "end", "config": {}}
        ],
        "edges": [
            {"id": "e1", "source": "start", "target": "call"},
            {"id": "e2", "source": "call", "target": "ok"},
            {"id": "e3", "source": "ok", "target": "yes", "when": "true"},
            {"id": "e4", "source": "ok", "target": "no", "when": "false"}
        ]
    })
}

async fn create(app: &TestApp, name: &str) -> Value {
    let reply = app
        .post("/v1/flows", &app.tenant_key, json!({"name": name, "graph": graph("https://api.example.com/a")}))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.json
}

db_test!(
    async fn invalid_flows_get_422_with_pointers_and_store_nothing(app) {
        let mut bad = graph("https://x");
        bad["nodes"][1]["config"]["actionName"] = json!("teleport");
        bad["edges"][2]["when"] = Value::Null;
        bad["nodes"][1]["config"]["payload"]["url"] = json!("{{ input. }}");
        let reply = app.post("/v1/flows", &app.tenant_key, json!({"name": "bad", "graph": bad})).await;
        reply.assert_problem(422, "validation_failed");
        let pointers: Vec<&str> = reply.json["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect();
        assert!(pointers.contains(&"/graph/nodes/1/config/actionName"), "{pointers:?}");
        assert!(pointers.contains(&"/graph/nodes/1/config/payload/url"), "{pointers:?}");
        assert!(pointers.contains(&"/graph/edges/2/when"), "{pointers:?}");
        assert_eq!(app.get("/v1/flows", &app.tenant_key).await.json["items"].as_array().unwrap().len(), 0);

        let no_trigger = json!({"nodes": [{"id": "z", "type": "end", "config": {}}], "edges": []});
        let reply = app.post("/v1/flows/validate", &app.tenant_key, json!({"graph": no_trigger})).await;
        reply.assert_problem(422, "validation_failed");
        assert_eq!(reply.json["errors"][0]["pointer"], "/graph/nodes");
        let ok = app.post("/v1/flows/validate", &app.tenant_key, json!({"graph": graph("https://x")})).await;
        assert_eq!(ok.status, 200, "{}", ok.text);
        assert_eq!(ok.json["valid"], true);
    }
);

db_test!(
    async fn updates_write_versions_and_a_stale_if_match_gets_412(app) {
        let flow = create(&app, "Orders").await;
        let id = flow["id"].as_str().unwrap().to_string();
        assert_eq!(flow["version"], 1);
        let got = app.client.get(app.url(&format!("/v1/flows/{id}"))).bearer_auth(&app.tenant_key).send().await.unwrap();
        assert_eq!(got.headers()["etag"], "\"1\"");

        let update = |if_match: &'static str, url: &'static str| {
            let request = app
                .client
                .put(app.url(&format!("/v1/flows/{id}")))
                .bearer_auth(&app.tenant_key)
                .header("if-match", if_match)
                .json(&json!({"name": "Orders", "graph": graph(url)}));
            async move { bacon_tests::app::read(request.send().await.unwrap()).await }
        };
        let v2 = update("\"1\"", "https://api.example.com/v2").await;
        assert_eq!(v2.status, 200, "{}", v2.text);
        assert_eq!(v2.json["version"], 2);
        let stale = update("\"1\"", "https://api.example.com/lost").await;
        stale.assert_problem(412, "precondition_failed");

        let versions = app.get(&format!("/v1/flows/{id}/versions"), &app.tenant_key).await;
        let urls: Vec<&str> = versions.json["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["graph"]["nodes"][1]["config"]["payload"]["url"].as_str().unwrap())
            .collect();
        assert_eq!(urls, ["https://api.example.com/a", "https://api.example.com/v2"]);
        let v1 = app.get(&format!("/v1/flows/{id}/versions/1"), &app.tenant_key).await;
        assert_eq!(v1.json["version"], 1);
        app.get(&format!("/v1/flows/{id}/versions/9"), &app.tenant_key).await.assert_problem(404, "not_found");
    }
);

db_test!(
    async fn flows_are_tenant_scoped_and_deletable(app) {
        let flow = create(&app, "Mine").await;
        let id = flow["id"].as_str().unwrap().to_string();
        let other = app.create_tenant("Other").await;
        let other_key = app.issue_key(&other, "admin").await;
        app.get(&format!("/v1/flows/{id}"), &other_key).await.assert_problem(404, "not_found");
        app.delete(&format!("/v1/flows/{id}"), &other_key).await.assert_problem(404, "not_found");
        let viewer = app.issue_key(&app.tenant_id, "viewer").await;
        app.delete(&format!("/v1/flows/{id}"), &viewer).await.assert_problem(403, "insufficient_role");
        assert_eq!(app.delete(&format!("/v1/flows/{id}"), &app.tenant_key).await.status, 204);
        app.get(&format!("/v1/flows/{id}"), &app.tenant_key).await.assert_problem(404, "not_found");
    }
);

db_test!(
    async fn a_flow_over_the_node_cap_gets_422_pointing_at_its_nodes(app) {
        // README: at most 10,000 nodes (and 20,000 edges) per flow.
        let mut nodes = vec![json!({"id": "t", "type": "trigger", "config": {}})];
        nodes.extend((1..=10_000).map(|i| json!({"id": format!("n{i}"), "type": "end", "config": {}})));
        let reply = app.post("/v1/flows", &app.tenant_key, json!({"name": "huge", "graph": {"nodes": nodes, "edges": []}})).await;
        reply.assert_problem(422, "validation_failed");
        let errors = reply.json["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "the cap is reported alone: {errors:?}");
        assert_eq!(errors[0]["pointer"], "/graph/nodes");
        assert!(errors[0]["message"].as_str().unwrap().contains("10000"), "{errors:?}");
        assert_eq!(app.get("/v1/flows", &app.tenant_key).await.json["items"].as_array().unwrap().len(), 0);
    }
);

db_test!(
    async fn an_action_timeout_must_be_between_1_ms_and_4_minutes(app) {
        let with_timeout = |ms: u64| {
            let mut g = graph("https://api.example.com/a");
            g["nodes"][1]["config"]["timeoutMs"] = json!(ms);
            json!({"name": format!("timeout {ms}"), "graph": g})
        };
        // 0 failed every attempt; above the 300 s lease a second worker ran the same step.
        for ms in [0, 240_001, 3_600_000] {
            let reply = app.post("/v1/flows", &app.tenant_key, with_timeout(ms)).await;
            reply.assert_problem(422, "validation_failed");
            assert_eq!(reply.json["errors"][0]["pointer"], "/graph/nodes/1/config/timeoutMs", "{ms}: {}", reply.text);
        }
        for ms in [1, 240_000] {
            let reply = app.post("/v1/flows", &app.tenant_key, with_timeout(ms)).await;
            assert_eq!(reply.status, 201, "{ms}: {}", reply.text);
        }
        let listed = app.get("/v1/flows", &app.tenant_key).await;
        assert_eq!(listed.json["items"].as_array().unwrap().len(), 2, "{}", listed.text);
        let doc = app.call("GET", "/openapi.json", None, None).await.json;
        let schema = &doc["components"]["schemas"]["PluginActionNodeConfig"]["properties"]["timeoutMs"];
        assert_eq!((&schema["minimum"], &schema["maximum"]), (&json!(1), &json!(240_000)), "{schema}");
    }
);
