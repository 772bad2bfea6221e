//! Zapier REST hooks (issue #5): Zapier subscribes to Bacon's events, runs' ends are delivered
//! from the outbox by the workers, a 410 removes the subscription, and the target URL (the
//! subscriber's credential) never shows in responses, audit rows or logs.

use std::time::Duration;

use bacon_plugin_sdk::testing::wiremock::matchers::{method, path};
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
use bacon_tests::app::spawn_app_with;
use bacon_tests::{TestApp, backend_test, logs, postgres, wait};
use serde_json::{Value, json};

pub(super) const HOOKS: &str = "/v1/plugins/bacon-plugin-zapier/hooks";
pub(super) const TARGET_PATH: &str = "/hooks/standard/123456/a1b2c3d4e5/";

async fn run_to_end(app: &TestApp, flow: &str) -> String {
    let reply = app.post(&format!("/v1/flows/{flow}/runs"), &app.tenant_key, json!({"input": {}})).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let run = reply.json["id"].as_str().unwrap().to_string();
    wait::until("the run to succeed", Duration::from_secs(30), || async {
        let r = app.get(&format!("/v1/runs/{run}"), &app.tenant_key).await;
        (r.json["status"] == "succeeded").then_some(())
    })
    .await;
    run
}

pub(super) async fn received(zapier: &MockServer) -> Vec<Value> {
    zapier
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == TARGET_PATH)
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

backend_test!(
    async fn zapier_subscribes_gets_run_events_and_a_410_removes_the_subscription(backend) {
        let zapier = MockServer::start().await;
        let base = zapier.uri();
        let Some(app) = spawn_app_with(backend, |c| {
            c.plugins.base_urls.insert("bacon-plugin-zapier".into(), base);
        })
        .await
        else {
            return postgres::print_skip(module_path!());
        };
        let key = app.tenant_key.clone();
        let target = format!("https://hooks.zapier.com{TARGET_PATH}");

        // Bad subscriptions: 422 with a pointer, the URL never echoed; other plugins have no hooks.
        let off_zapier = app.post(HOOKS, &key, json!({"target_url": "https://evil.example/x/", "event": "run.succeeded"})).await;
        off_zapier.assert_problem(422, "validation_failed");
        assert_eq!(off_zapier.json["errors"][0]["pointer"], "/target_url");
        assert!(!off_zapier.text.contains("evil.example"), "{}", off_zapier.text);
        let unknown = app.post(HOOKS, &key, json!({"target_url": target, "event": "order.eaten"})).await;
        unknown.assert_problem(422, "validation_failed");
        assert_eq!(unknown.json["errors"][0]["pointer"], "/event");
        app.post("/v1/plugins/bacon-plugin-http/hooks", &key, json!({"target_url": target, "event": "run.succeeded"}))
            .await
            .assert_problem(404, "not_found");
        assert_eq!(app.get(HOOKS, &key).await.json["items"], json!([]));

        // Before any event, the sample list holds the declared sample.
        let samples = app.get("/v1/plugins/bacon-plugin-zapier/samples?event=run.succeeded", &key).await;
        assert_eq!(samples.status, 200, "{}", samples.text);
        assert_eq!(samples.json.as_array().unwrap().len(), 1);
        assert!(samples.json[0]["id"].as_str().unwrap().starts_with("evt_sample"));

        let subscribed = app.post(HOOKS, &key, json!({"target_url": target, "event": "run.succeeded"})).await;
        assert_eq!(subscribed.status, 201, "{}", subscribed.text);
        let subscription = subscribed.json["id"].as_str().unwrap().to_string();
        let listed = app.get(HOOKS, &key).await;
        assert_eq!(listed.json["items"][0]["id"], subscription.as_str());
        assert!(!listed.text.contains(TARGET_PATH), "the target URL is never returned");

        // Zapier takes the first event, then says the Zap is gone.
        Mock::given(method("POST"))
            .and(path(TARGET_PATH))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "success", "id": "zap-req-1"})))
            .up_to_n_times(1)
            .mount(&zapier)
            .await;
        Mock::given(method("POST")).and(path(TARGET_PATH)).respond_with(ResponseTemplate::new(410)).mount(&zapier).await;

        let graph = json!({"nodes": [{"id": "start", "type": "trigger", "config": {}}, {"id": "done", "type": "end", "config": {}}],
            "edges": [{"id": "e1", "source": "start", "target": "done"}]});
        let flow = app.post("/v1/flows", &key, json!({"name": "notify", "graph": graph})).await;
        assert_eq!(flow.status, 201, "{}", flow.text);
        let flow = flow.json["id"].as_str().unwrap().to_string();

        let first = run_to_end(&app, &flow).await;
        let delivered = wait::until("Zapier to receive the event", Duration::from_secs(30), || async {
            received(&zapier).await.first().cloned()
        })
        .await;
        assert_eq!(delivered["event"], "run.succeeded");
        assert_eq!(delivered["data"]["runId"], first.as_str());
        assert_eq!(delivered["data"]["flowId"], flow.as_str());
        assert!(delivered["id"].as_str().unwrap().starts_with("evt_"));

        let samples = app.get("/v1/plugins/bacon-plugin-zapier/samples?event=run.succeeded", &key).await;
        assert_eq!(samples.json[0]["id"], delivered["id"], "the sample list now holds the real event");

        // The next event meets a 410: the subscription is removed, and nothing more is sent.
        let second = run_to_end(&app, &flow).await;
        wait::until("the gone subscription to be removed", Duration::from_secs(30), || async {
            (app.get(HOOKS, &key).await.json["items"] == json!([])).then_some(())
        })
        .await;
        let bodies = received(&zapier).await;
        assert_eq!(bodies.len(), 2, "one delivery per event, the 410 one included");
        assert_eq!(bodies[1]["data"]["runId"], second.as_str());
        run_to_end(&app, &flow).await;
        app.delete(&format!("{HOOKS}/{subscription}"), &key).await.assert_problem(404, "not_found");

        let audit = app.get("/v1/audit?pluginId=bacon-plugin-zapier", &key).await;
        let outcomes: Vec<&str> = audit.json["items"].as_array().unwrap().iter().map(|r| r["outcome"].as_str().unwrap()).collect();
        assert_eq!(outcomes, ["success", "permanent"], "{}", audit.text);
        assert!(!audit.text.contains("a1b2c3d4e5"), "the hook's secret path is not in audit rows: {}", audit.text);
        assert!(received(&zapier).await.len() == 2, "nothing is delivered after the subscription is gone");
        assert!(!logs::captured().contains("a1b2c3d4e5"), "the hook's secret path is not in the logs");
    }
);

backend_test!(
    async fn unsubscribing_drops_the_subscription_of_this_tenant_only(backend) {
        let Some(app) = spawn_app_with(backend, |_| {}).await else {
            return postgres::print_skip(module_path!());
        };
        let key = app.tenant_key.clone();
        let target = "https://hooks.zapier.com/hooks/standard/1/abc/";
        let subscribed = app.post(HOOKS, &key, json!({"target_url": target, "event": "run.failed"})).await;
        assert_eq!(subscribed.status, 201, "{}", subscribed.text);
        let id = subscribed.json["id"].as_str().unwrap().to_string();
        let other_tenant = app.create_tenant("other").await;
        let other = app.issue_key(&other_tenant, "editor").await;
        app.delete(&format!("{HOOKS}/{id}"), &other).await.assert_problem(404, "not_found");
        let gone = app.delete(&format!("{HOOKS}/{id}"), &key).await;
        assert_eq!(gone.status, 204, "{}", gone.text);
        assert_eq!(app.get(HOOKS, &key).await.json["items"], json!([]));
    }
);
