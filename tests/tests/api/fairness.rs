//! Fair shares (issue #19, acceptance 3): tenant A starts 5,000 runs, then tenant B starts one;
//! B's run does not wait behind A's backlog. A step's priority falls with the number of runs its
//! tenant has going, so B's step is taken next while A's thousands drain.
//!
//! What is asserted is an order, never a duration: when B's run ends, most of A's are still
//! going (without fair shares B's step would be the 5,001st in line and end after them all).

use std::time::{Duration, Instant};

use bacon_plugin_sdk::testing::wiremock::matchers::path;
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
use bacon_tests::rows::count;
use bacon_tests::{TestApp, db_test, wait};
use futures::StreamExt;
use sea_orm::Database;
use serde_json::{Value, json};

const BACKLOG: usize = 5_000;

/// A flow of one HTTP call to `vendor` (which takes 20 ms), for the tenant of `key`.
async fn flow(app: &TestApp, key: &str, vendor: &MockServer) -> String {
    let settings = json!({"allowedHosts": [vendor.uri()]});
    let put = app.put("/v1/plugins/bacon-plugin-http/settings", key, settings).await;
    assert_eq!(put.status, 200, "{}", put.text);
    let graph = json!({
        "nodes": [
            {"id": "t", "type": "trigger", "config": {}},
            {"id": "a", "type": "plugin_action", "config": {"pluginId": "bacon-plugin-http", "actionName": "request",
                "payload": {"method": "GET", "url": format!("{}/work", vendor.uri())}}}
        ],
        "edges": [{"id": "e", "source": "t", "target": "a"}]
    });
    let created = app.post("/v1/flows", key, json!({"name": "work", "graph": graph})).await;
    assert_eq!(created.status, 201, "{}", created.text);
    created.json["id"].as_str().unwrap().to_string()
}

async fn running(app: &TestApp, tenant: &str) -> i64 {
    let db = Database::connect(&app.database_url).await.unwrap();
    count(&db, &format!("runs WHERE tenant_id = '{tenant}' AND status = 'running'")).await
}

db_test!(
    async fn one_tenants_backlog_does_not_hold_back_another_tenants_run(app) {
        let vendor = MockServer::start().await;
        let slow = ResponseTemplate::new(200).set_delay(Duration::from_millis(20));
        Mock::given(path("/work")).respond_with(slow).mount(&vendor).await;
        let b_id = app.create_tenant("B").await;
        let b_key = app.issue_key(&b_id, "editor").await;
        let a_flow = flow(&app, &app.tenant_key, &vendor).await;
        let b_flow = flow(&app, &b_key, &vendor).await;

        let path = format!("/v1/flows/{a_flow}/runs");
        let started = futures::stream::iter(0..BACKLOG)
            .map(|_| app.post(&path, &app.tenant_key, json!({})))
            .buffer_unordered(8)
            .filter(|reply| std::future::ready(reply.status == 202))
            .count()
            .await;
        assert_eq!(started, BACKLOG);

        let clock = Instant::now();
        let b_run = app.post(&format!("/v1/flows/{b_flow}/runs"), &b_key, json!({})).await;
        assert_eq!(b_run.status, 202, "{}", b_run.text);
        let b_run = b_run.json["id"].as_str().unwrap().to_string();
        let done: Value = wait::until("B's run to end", Duration::from_secs(300), || async {
            let reply = app.get(&format!("/v1/runs/{b_run}"), &b_key).await;
            (reply.json["status"] != "running").then_some(reply.json)
        })
        .await;
        let b_took = clock.elapsed();
        let a_going = running(&app, &app.tenant_id).await;
        eprintln!("{:?}: B's run ended after {b_took:?}; {a_going} of A's {BACKLOG} runs were still going", app.backend);
        assert_eq!(done["status"], "succeeded", "{done}");
        assert!(a_going >= 500, "B's run waited behind A's backlog: only {a_going} of A's runs were left");
    }
);
