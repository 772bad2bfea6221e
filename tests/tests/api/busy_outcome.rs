//! An attempt's outcome is recorded though the database is busy or away when the vendor answers
//! (issue #13, fault 3): the commit is retried, so the step does not sit `running` until its lease
//! ends and the vendor is not called a second time.
//!
//! On SQLite another connection holds the write lock for longer than the server's busy timeout
//! while the vendor answers; on PostgreSQL the connection is cut (through a [`TcpProxy`]) for the
//! same span. Before the fix the step stayed `running` for the whole 300 s lease.

use std::time::Duration;

use bacon_plugin_sdk::testing::wiremock::matchers::path;
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
use bacon_tests::app::spawn_app_with;
use bacon_tests::tcp_proxy::TcpProxy;
use bacon_tests::{Backend, TestApp, postgres, wait};
use sea_orm::sqlx::{Connection, Executor, SqliteConnection};
use serde_json::{Value, json};

/// How long the vendor takes to answer: the database is taken away while it thinks.
const VENDOR_DELAY: Duration = Duration::from_millis(1500);
/// How long the database stays away: longer than the busy timeout and the pool's acquire timeout.
const AWAY: Duration = Duration::from_secs(4);

/// Starts a run whose one action calls the slow vendor; returns the run's id once the vendor
/// has the request.
async fn start_slow_run(app: &TestApp, vendor: &MockServer) -> String {
    Mock::given(path("/slow")).respond_with(ResponseTemplate::new(200).set_delay(VENDOR_DELAY)).mount(vendor).await;
    let put = app
        .put("/v1/plugins/bacon-plugin-http/settings", &app.tenant_key, json!({"allowedHosts": [vendor.uri()]}))
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
    let graph = json!({
        "nodes": [
            {"id": "t", "type": "trigger", "config": {}},
            {"id": "a", "type": "plugin_action", "config": {"pluginId": "bacon-plugin-http", "actionName": "request",
                "payload": {"method": "GET", "url": format!("{}/slow", vendor.uri())}}}
        ],
        "edges": [{"id": "e", "source": "t", "target": "a"}]
    });
    let flow = app.post("/v1/flows", &app.tenant_key, json!({"name": "slow", "graph": graph})).await;
    assert_eq!(flow.status, 201, "{}", flow.text);
    let started = app
        .post(&format!("/v1/flows/{}/runs", flow.json["id"].as_str().unwrap()), &app.tenant_key, json!({"input": {}}))
        .await;
    assert_eq!(started.status, 202, "{}", started.text);
    wait::until("the vendor to get the request", Duration::from_secs(30), || async {
        (!vendor.received_requests().await.unwrap_or_default().is_empty()).then_some(())
    })
    .await;
    started.json["id"].as_str().unwrap().to_string()
}

/// The run succeeds well before the lease would have freed the step, on one vendor call with
/// one audit row.
async fn assert_recorded_once(app: &TestApp, vendor: &MockServer, run: &str) {
    let done: Value = wait::until("the run to finish", Duration::from_secs(60), || async {
        let reply = app.get(&format!("/v1/runs/{run}"), &app.tenant_key).await;
        (reply.status == 200 && reply.json["status"] != "running").then_some(reply.json)
    })
    .await;
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(vendor.received_requests().await.unwrap().len(), 1, "the vendor is called once");
    let audit = app.get(&format!("/v1/audit?runId={run}"), &app.tenant_key).await.json["items"].clone();
    let outcomes: Vec<&str> = audit.as_array().unwrap().iter().map(|a| a["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["success"], "{audit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outcome_is_recorded_once_a_locked_sqlite_database_frees_up() {
    let app = spawn_app_with(Backend::Sqlite, |config| {
        config.database.busy_timeout_ms = 200;
    })
    .await
    .unwrap();
    let vendor = MockServer::start().await;
    let run = start_slow_run(&app, &vendor).await;

    // Another process takes the write lock while the vendor thinks, and keeps it past the answer.
    let mut other = SqliteConnection::connect(&app.database_url).await.unwrap();
    other.execute("PRAGMA busy_timeout = 10000").await.unwrap();
    other.execute("BEGIN IMMEDIATE").await.unwrap();
    tokio::time::sleep(AWAY).await; // The fault being injected, not a wait for a condition.
    other.execute("COMMIT").await.unwrap();

    assert_recorded_once(&app, &vendor, &run).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outcome_is_recorded_once_postgres_comes_back() {
    let Some(server) = postgres::server_url() else {
        return postgres::print_skip(concat!(module_path!(), "::an_outcome_is_recorded_once_postgres_comes_back"));
    };
    let proxy = TcpProxy::start(&postgres::host_port(&server)).await;
    let address = proxy.address();
    let app = spawn_app_with(Backend::Postgres, |config| {
        config.database_url = config.database_url.as_deref().map(|url| postgres::via(url, address));
    })
    .await
    .expect("a PostgreSQL server is configured");
    let vendor = MockServer::start().await;
    let run = start_slow_run(&app, &vendor).await;

    proxy.cut().await;
    tokio::time::sleep(AWAY).await; // The outage being injected, not a wait for a condition.
    proxy.restore().await;

    assert_recorded_once(&app, &vendor, &run).await;
}
