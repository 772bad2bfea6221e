//! A retry comes when its policy says, from the first second of a fresh server (issue #13,
//! fault 1): apalis's own polling interval stopped after its first tick, so a 100 ms retry
//! waited for the 30 s heartbeat.

use std::time::Duration;

use bacon_plugin_sdk::testing::wiremock::matchers::path;
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
use bacon_tests::{Backend, wait};
use serde_json::{Value, json};

/// Fresh starts per backend: the fault showed in about half of them.
const STARTS: usize = 20;

/// One fresh server: a run whose action answers 503 then 200 under a `fixed` 100 ms policy.
/// Returns the wait between the two attempts, from their audit rows; `None` without PostgreSQL.
async fn wait_between_attempts(backend: Backend) -> Option<chrono::Duration> {
    let app = bacon_tests::spawn_app(backend).await?;
    let vendor = MockServer::start().await;
    Mock::given(path("/flaky"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&vendor)
        .await;
    Mock::given(path("/flaky")).respond_with(ResponseTemplate::new(200)).with_priority(2).mount(&vendor).await;
    let put = app
        .put("/v1/plugins/bacon-plugin-http/settings", &app.tenant_key, json!({"allowedHosts": [vendor.uri()]}))
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
    let graph = json!({
        "nodes": [
            {"id": "t", "type": "trigger", "config": {}},
            {"id": "a", "type": "plugin_action", "config": {"pluginId": "bacon-plugin-http", "actionName": "request",
                "payload": {"method": "GET", "url": format!("{}/flaky", vendor.uri())},
                "retry": {"kind": "fixed", "intervalMs": 100, "maxAttempts": 3}}}
        ],
        "edges": [{"id": "e", "source": "t", "target": "a"}]
    });
    let flow = app.post("/v1/flows", &app.tenant_key, json!({"name": "flaky", "graph": graph})).await;
    assert_eq!(flow.status, 201, "{}", flow.text);
    let started = app
        .post(&format!("/v1/flows/{}/runs", flow.json["id"].as_str().unwrap()), &app.tenant_key, json!({"input": {}}))
        .await;
    assert_eq!(started.status, 202, "{}", started.text);
    let run = started.json["id"].as_str().unwrap().to_string();
    // Generous: without the fix the second attempt comes after ~30 s.
    let done: Value = wait::until("the run to finish", Duration::from_secs(60), || async {
        let reply = app.get(&format!("/v1/runs/{run}"), &app.tenant_key).await;
        (reply.json["status"] != "running").then_some(reply.json)
    })
    .await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let audit = app.get(&format!("/v1/audit?runId={run}"), &app.tenant_key).await.json["items"].clone();
    let outcomes: Vec<&str> = audit.as_array().unwrap().iter().map(|a| a["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["retryable", "success"]);
    let at = |i: usize| chrono::DateTime::parse_from_rfc3339(audit[i]["createdAt"].as_str().unwrap()).unwrap();
    Some(at(1) - at(0))
}

async fn retries_come_on_time(backend: Backend) {
    let mut waits = Vec::new();
    for _ in 0..STARTS {
        let Some(waited) = wait_between_attempts(backend).await else {
            return bacon_tests::postgres::print_skip("retry_timing::postgres");
        };
        waits.push(waited.num_milliseconds());
    }
    eprintln!("{backend:?}: waits between attempt 1 and 2 (ms): {waits:?}");
    // apalis schedules in whole seconds: a 100 ms retry is due at the first whole second after
    // it, then the 50 ms poll: never more than about 1.05 s. Two faults made it wait for
    // something else: apalis's interval stopped after one tick (the 30 s heartbeat, fault 1),
    // and a job that came a moment early was dropped when its step fell due between the claim
    // and the check (the reconciler's 15 s; 1 to 3 starts in 20 on PostgreSQL under load).
    assert!(waits.iter().all(|ms| *ms <= 1500), "a 100 ms retry waited too long (ms): {waits:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_ms_retry_never_waits_for_the_heartbeat_on_sqlite() {
    retries_come_on_time(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_ms_retry_never_waits_for_the_heartbeat_on_postgres() {
    retries_come_on_time(Backend::Postgres).await;
}
