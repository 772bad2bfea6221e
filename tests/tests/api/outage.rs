//! A database outage (issue #13): while PostgreSQL is gone the API answers a prompt 503
//! `database_unreachable` with `Retry-After`, and `/readyz` answers within a probe's second; once
//! it is back, a run started before the outage and one started after both complete.
//!
//! PostgreSQL is taken away through a [`TcpProxy`] between the test server and the shared server,
//! which keeps running for everyone else. (A SQLite file cannot go away; its `database is locked`
//! answer is mapped by the same code, covered by the unit tests in `api/src/error.rs`.)

use std::time::{Duration, Instant};

use bacon_tests::app::{Reply, spawn_app_with};
use bacon_tests::tcp_proxy::TcpProxy;
use bacon_tests::{Backend, TestApp, logs, postgres, wait};
use serde_json::{Value, json};

/// The acceptance bounds: an API call answers within 2 s, a readiness probe within 1 s.
const API_BOUND: Duration = Duration::from_secs(2);
const PROBE_BOUND: Duration = Duration::from_secs(1);

async fn timed(app: &TestApp, method: &str, path: &str, body: Option<Value>) -> (Reply, Duration) {
    let key = (path != "/readyz").then_some(app.tenant_key.as_str());
    let started = Instant::now();
    let reply = app.call(method, path, key, body).await;
    (reply, started.elapsed())
}

async fn start_run(app: &TestApp, flow: &str) -> String {
    let reply = app.post(&format!("/v1/flows/{flow}/runs"), &app.tenant_key, json!({"input": {}})).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    reply.json["id"].as_str().unwrap().to_string()
}

async fn wait_succeeded(app: &TestApp, run: &str) {
    let done = wait::until(&format!("run {run} to finish"), Duration::from_secs(60), || async {
        let reply = app.get(&format!("/v1/runs/{run}"), &app.tenant_key).await;
        (reply.status == 200 && reply.json["status"] != "running").then_some(reply.json)
    })
    .await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert!(done["steps"].as_array().unwrap().iter().all(|s| s["status"] == "succeeded"), "{done}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_answers_503_promptly_and_loses_nothing() {
    let Some(server) = postgres::server_url() else {
        return postgres::print_skip(concat!(
            module_path!(),
            "::a_postgres_outage_answers_503_promptly_and_loses_nothing"
        ));
    };
    let proxy = TcpProxy::start(&postgres::host_port(&server)).await;
    let address = proxy.address();
    let app = spawn_app_with(Backend::Postgres, |config| {
        config.database_url = config.database_url.as_deref().map(|url| postgres::via(url, address));
    })
    .await
    .expect("a PostgreSQL server is configured");

    // The delay's step becomes due during the outage: its job must survive it.
    let graph = json!({
        "nodes": [
            {"id": "start", "type": "trigger", "config": {}},
            {"id": "wait", "type": "delay", "config": {"durationMs": 2000}},
            {"id": "end", "type": "end", "config": {}}
        ],
        "edges": [{"id": "1", "source": "start", "target": "wait"}, {"id": "2", "source": "wait", "target": "end"}]
    });
    let created = app.post("/v1/flows", &app.tenant_key, json!({"name": "outage", "graph": graph})).await;
    assert_eq!(created.status, 201, "{}", created.text);
    let flow = created.json["id"].as_str().unwrap().to_string();
    let before = start_run(&app, &flow).await;

    proxy.cut().await;
    let calls = [
        ("GET", format!("/v1/flows/{flow}"), None),
        ("POST", format!("/v1/flows/{flow}/runs"), Some(json!({"input": {}}))),
        ("GET", format!("/v1/runs/{before}"), None),
    ];
    for (method, path, body) in calls {
        let (reply, took) = timed(&app, method, &path, body).await;
        reply.assert_problem(503, "database_unreachable");
        let retry_after = reply.retry_after.as_deref().and_then(|v| v.parse::<u64>().ok());
        assert!(retry_after.is_some_and(|s| (1..=5).contains(&s)), "{method} {path}: Retry-After {retry_after:?}");
        assert!(took < API_BOUND, "{method} {path} took {took:?} to answer during the outage");
    }
    // Each refused request is logged once, as a warning (an outage is not a bug to page about):
    // not a second time, at ERROR, by the HTTP trace layer.
    let span = format!("path=/v1/flows/{flow}}}");
    let logged = logs::captured();
    let lines: Vec<&str> = logged.lines().filter(|l| l.contains(&span)).collect();
    let warned = lines.iter().filter(|l| l.contains(" WARN ") && l.contains("database is unavailable")).count();
    assert_eq!(warned, 1, "one warning for GET /v1/flows/{flow}: {lines:#?}");
    assert!(!lines.iter().any(|l| l.contains(" ERROR ")), "no ERROR for a 503: {lines:#?}");

    let (ready, took) = timed(&app, "GET", "/readyz", None).await;
    ready.assert_problem(503, "database_unreachable");
    assert!(took < PROBE_BOUND, "/readyz took {took:?} to answer during the outage");

    proxy.restore().await;
    wait::until("/readyz to answer 200 after the outage", Duration::from_secs(30), || async {
        (app.call("GET", "/readyz", None, None).await.status == 200).then_some(())
    })
    .await;
    let after = start_run(&app, &flow).await;
    wait_succeeded(&app, &before).await;
    wait_succeeded(&app, &after).await;
}
