//! Undefined references in templates (issue #16, acceptance 6): saving a flow whose template
//! names a node it does not have is a 422 pointing at the template; a run whose input lacks a
//! field a template names fails that step, naming the field, and calls nothing.

use std::time::Duration;

use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate, matchers::any};
use bacon_tests::{db_test, wait};
use serde_json::json;

db_test!(
    async fn a_template_naming_an_unknown_node_or_a_missing_field_is_an_error(app) {
        let vendor = MockServer::start().await;
        Mock::given(any()).respond_with(ResponseTemplate::new(200)).expect(0).mount(&vendor).await;
        let settings = json!({"allowedHosts": [vendor.uri()]});
        assert_eq!(app.put("/v1/plugins/bacon-plugin-http/settings", &app.tenant_key, settings).await.status, 200);
        let call = |body: serde_json::Value| {
            json!({"id": "call", "type": "plugin_action", "config": {"pluginId": "bacon-plugin-http",
                "actionName": "request", "payload": {"method": "POST", "url": format!("{}/orders", vendor.uri()), "body": body}}})
        };
        let graph = |body| {
            json!({"nodes": [{"id": "t", "type": "trigger", "config": {}}, call(body)],
                "edges": [{"id": "1", "source": "t", "target": "call"}]})
        };

        let typo = app
            .post("/v1/flows", &app.tenant_key, json!({"name": "typo", "graph": graph(json!({"id": "{{ nodes.fecth.output.id }}"}))}))
            .await;
        typo.assert_problem(422, "validation_failed");
        assert_eq!(typo.json["errors"][0]["pointer"], "/graph/nodes/1/config/payload/body/id", "{}", typo.text);
        assert!(typo.json["errors"][0]["message"].as_str().unwrap().contains("`fecth`"), "{}", typo.text);

        let flow = app
            .post("/v1/flows", &app.tenant_key, json!({"name": "order", "graph": graph(json!({"order": "{{ input.ordr }}"}))}))
            .await;
        assert_eq!(flow.status, 201, "{}", flow.text);
        let started = app
            .post(&format!("/v1/flows/{}/runs", flow.json["id"].as_str().unwrap()), &app.tenant_key, json!({"input": {"order": 7}}))
            .await;
        assert_eq!(started.status, 202, "{}", started.text);
        let run = started.json["id"].as_str().unwrap();
        let done = wait::until("the run to end", Duration::from_secs(30), || async {
            let reply = app.get(&format!("/v1/runs/{run}"), &app.tenant_key).await;
            (reply.json["status"] != "running").then_some(reply.json)
        })
        .await;
        assert_eq!(done["status"], "failed", "{done}");
        let error = &done["steps"][0]["error"];
        assert_eq!(error["kind"], "template", "{done}");
        assert_eq!(error["pointer"], "/body/order", "{done}");
        assert!(error["message"].as_str().unwrap().contains("`input.ordr` is undefined"), "{done}");
        // The vendor mock expects no call: it is verified when it is dropped.
    }
);
