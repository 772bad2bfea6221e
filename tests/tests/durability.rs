//! Durability through real processes (issue #4): a SIGKILL mid-flight loses no run and runs no
//! step to success twice; two worker processes and an API process share one PostgreSQL.

#![allow(clippy::unwrap_used)] // Test code: a panic is the failure report.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use bacon_plugin_sdk::testing::wiremock::matchers::{method, path};
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
use bacon_tests::process::ServerProcess;
use bacon_tests::wait;
use serde_json::{Value, json};

struct Api {
    base: String,
    key: String,
    client: reqwest::Client,
}

impl Api {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&self.key);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    }

    async fn runs_by_status(&self, flow: &str) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/v1/runs?flowId={flow}&limit=200&cursor={c}"),
                None => format!("/v1/runs?flowId={flow}&limit=200"),
            };
            let (_, page) = self.send(reqwest::Method::GET, &path, None).await;
            for run in page["items"].as_array().unwrap() {
                *counts.entry(run["status"].as_str().unwrap().to_string()).or_default() += 1;
            }
            cursor = page["nextCursor"].as_str().map(str::to_string);
            if cursor.is_none() {
                return counts;
            }
        }
    }
}

/// A flow of two HTTP calls to the mock; returns its id.
async fn two_step_flow(api: &Api, vendor: &MockServer) -> String {
    let (status, _) = api
        .send(
            reqwest::Method::PUT,
            "/v1/plugins/bacon-plugin-http/settings",
            Some(json!({"allowedHosts": [vendor.uri()]})),
        )
        .await;
    assert_eq!(status, 200);
    let call = |id: &str| {
        json!({"id": id, "type": "plugin_action", "config": {"pluginId": "bacon-plugin-http", "actionName": "request",
            "payload": {"method": "POST", "url": format!("{}/{id}", vendor.uri()), "body": {"n": "{{ input.n }}"}}}})
    };
    let graph = json!({
        "nodes": [{"id": "t", "type": "trigger", "config": {}}, call("a"), call("b")],
        "edges": [{"id": "1", "source": "t", "target": "a"}, {"id": "2", "source": "a", "target": "b"}]
    });
    let (status, flow) =
        api.send(reqwest::Method::POST, "/v1/flows", Some(json!({"name": "durable", "graph": graph}))).await;
    assert_eq!(status, 201, "{flow}");
    flow["id"].as_str().unwrap().to_string()
}

async fn start_runs(api: &Api, flow: &str, count: usize) {
    let mut pending = Vec::new();
    for n in 0..count {
        let request = api
            .client
            .post(format!("{}/v1/flows/{flow}/runs", api.base))
            .bearer_auth(&api.key)
            .json(&json!({"input": {"n": n}}));
        pending.push(tokio::spawn(async move { request.send().await.unwrap().status().as_u16() }));
        if pending.len() >= 16 {
            for p in pending.drain(..) {
                assert_eq!(p.await.unwrap(), 202);
            }
        }
    }
    for p in pending {
        assert_eq!(p.await.unwrap(), 202);
    }
}

/// Every step of every run succeeded exactly once, and the vendor saw each step's key.
async fn assert_each_step_succeeded_once(database_url: &str, vendor: &MockServer, runs: usize) {
    use sea_orm::{ConnectionTrait, Statement};
    let db = sea_orm::Database::connect(database_url).await.unwrap();
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(backend, "SELECT run_id, node_id, status, id FROM steps"))
        .await
        .unwrap();
    assert_eq!(rows.len(), runs * 2, "one step row per node per run");
    let mut keys = HashSet::new();
    for row in &rows {
        assert_eq!(row.try_get::<String>("", "status").unwrap(), "succeeded");
        keys.insert(format!(
            "{}:{}",
            row.try_get::<String>("", "run_id").unwrap(),
            row.try_get::<String>("", "id").unwrap()
        ));
    }
    let received: HashSet<String> = vendor
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.headers["idempotency-key"].to_str().unwrap().to_string())
        .collect();
    assert_eq!(received, keys, "the vendor saw exactly the steps' idempotency keys");
}

/// Every vendor call has an audit row (issue #13): per step, at least as many attempts are
/// audited as the vendor received (an attempt killed before its request still has a row), and the
/// attempts a SIGKILL interrupted are audited as `lost`. Returns how many were lost.
async fn assert_every_call_audited(database_url: &str, vendor: &MockServer) -> usize {
    use sea_orm::{ConnectionTrait, Statement};
    let db = sea_orm::Database::connect(database_url).await.unwrap();
    let backend = db.get_database_backend();
    let rows = db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT run_id, step_id, outcome FROM audit_log WHERE kind = 'flow_step'",
        ))
        .await
        .unwrap();
    let mut audited: HashMap<String, usize> = HashMap::new();
    let mut lost = 0;
    for row in &rows {
        let key = format!(
            "{}:{}",
            row.try_get::<String>("", "run_id").unwrap(),
            row.try_get::<String>("", "step_id").unwrap()
        );
        *audited.entry(key).or_default() += 1;
        let outcome = row.try_get::<String>("", "outcome").unwrap();
        assert!(outcome == "success" || outcome == "lost", "unexpected outcome {outcome}");
        lost += usize::from(outcome == "lost");
    }
    let mut calls: HashMap<String, usize> = HashMap::new();
    for request in vendor.received_requests().await.unwrap() {
        *calls.entry(request.headers["idempotency-key"].to_str().unwrap().to_string()).or_default() += 1;
    }
    for (key, n) in &calls {
        let rows = audited.get(key).copied().unwrap_or(0);
        assert!(rows >= *n, "step {key}: the vendor saw {n} calls but only {rows} attempts are audited");
    }
    let total_calls: usize = calls.values().sum();
    assert!(lost >= total_calls - calls.len(), "every call beyond the first of a step was a lost attempt's retry");
    lost
}

async fn sigkill_mid_flight(database_url: Option<&str>) {
    let vendor = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(150)))
        .mount(&vendor)
        .await;
    let cwd = tempfile::tempdir().unwrap();
    let mut env = vec![
        ("BACON_HTTP__BIND", "127.0.0.1:0"),
        ("BACON_WORKERS__LEASE_SECS", "3"),
        ("BACON_WORKERS__CONCURRENCY", "4"),
    ];
    if let Some(url) = database_url {
        env.push(("BACON_DATABASE_URL", url));
    }
    let mut server = ServerProcess::start(cwd.path(), &["serve"], &env);
    let base = server.wait_for_listening().await;
    let api = Api { base, key: server.first_tenant_key(), client: bacon_tests::http_client() };
    let flow = two_step_flow(&api, &vendor).await;
    start_runs(&api, &flow, 30).await;
    wait::until("some steps to be in flight", Duration::from_secs(30), || async {
        (vendor.received_requests().await.unwrap().len() >= 8).then_some(())
    })
    .await;
    server.child.start_kill().unwrap();
    server.child.wait().await.unwrap();

    let mut restarted = ServerProcess::start(cwd.path(), &["serve"], &env);
    let base = restarted.wait_for_listening().await;
    let api = Api { base, ..api };
    let counts = wait::until("every run to succeed after the crash", Duration::from_secs(120), || async {
        let counts = api.runs_by_status(&flow).await;
        (counts.get("succeeded") == Some(&30)).then_some(counts)
    })
    .await;
    assert_eq!(counts.len(), 1, "{counts:?}");
    let url = database_url
        .map(str::to_string)
        .unwrap_or_else(|| format!("sqlite://{}", cwd.path().join("data/bacon.db").display()));
    assert_each_step_succeeded_once(&url, &vendor, 30).await;
    let lost = assert_every_call_audited(&url, &vendor).await;
    eprintln!("attempts lost to the SIGKILL and audited as such: {lost}");
    assert!(lost > 0, "steps were in flight when the process was killed");
    restarted.terminate(Duration::from_secs(30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_mid_flight_loses_no_run_on_sqlite() {
    sigkill_mid_flight(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_mid_flight_loses_no_run_on_postgres() {
    let Some(url) = bacon_tests::postgres::fresh_database().await else {
        return bacon_tests::postgres::print_skip("a_sigkill_mid_flight_loses_no_run_on_postgres");
    };
    sigkill_mid_flight(Some(&url)).await;
}

/// A SIGKILL in the middle of a `map` of 50 items (issue #16, acceptance 2): after a restart the
/// map completes, every item's step succeeded once, and the vendor saw each item's call under
/// that item's one idempotency key (a repeat only for an attempt the kill lost, audited so).
async fn sigkill_mid_map(database_url: Option<&str>) {
    let vendor = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(150)))
        .mount(&vendor)
        .await;
    let cwd = tempfile::tempdir().unwrap();
    let mut env = vec![("BACON_HTTP__BIND", "127.0.0.1:0"), ("BACON_WORKERS__LEASE_SECS", "3")];
    if let Some(url) = database_url {
        env.push(("BACON_DATABASE_URL", url));
    }
    let mut server = ServerProcess::start(cwd.path(), &["serve"], &env);
    let base = server.wait_for_listening().await;
    let api = Api { base, key: server.first_tenant_key(), client: bacon_tests::http_client() };
    let settings = json!({"allowedHosts": [vendor.uri()]});
    let (status, _) = api.send(reqwest::Method::PUT, "/v1/plugins/bacon-plugin-http/settings", Some(settings)).await;
    assert_eq!(status, 200);
    let graph = json!({
        "nodes": [
            {"id": "t", "type": "trigger", "config": {}},
            {"id": "each", "type": "map", "config": {"items": "range(50) | list", "concurrency": 5,
                "graph": {"nodes": [{"id": "call", "type": "plugin_action", "config": {
                    "pluginId": "bacon-plugin-http", "actionName": "request",
                    "payload": {"method": "POST", "url": format!("{}/item", vendor.uri()), "body": {"item": "{{ item }}"}}}}]}}},
            {"id": "count", "type": "transform", "config": {"set": {"results": "{{ nodes.each.output.results | length }}"}}}
        ],
        "edges": [{"id": "1", "source": "t", "target": "each"}, {"id": "2", "source": "each", "target": "count"}]
    });
    let (status, flow) =
        api.send(reqwest::Method::POST, "/v1/flows", Some(json!({"name": "map", "graph": graph}))).await;
    assert_eq!(status, 201, "{flow}");
    let flow = flow["id"].as_str().unwrap().to_string();
    let (status, run) = api.send(reqwest::Method::POST, &format!("/v1/flows/{flow}/runs"), Some(json!({}))).await;
    assert_eq!(status, 202, "{run}");
    let run = run["id"].as_str().unwrap().to_string();
    wait::until("the map to be under way", Duration::from_secs(30), || async {
        (vendor.received_requests().await.unwrap().len() >= 12).then_some(())
    })
    .await;
    server.child.start_kill().unwrap();
    server.child.wait().await.unwrap();

    let mut restarted = ServerProcess::start(cwd.path(), &["serve"], &env);
    let base = restarted.wait_for_listening().await;
    let api = Api { base, ..api };
    let finished = wait::until("the map's run to end after the crash", Duration::from_secs(120), || async {
        let (_, run) = api.send(reqwest::Method::GET, &format!("/v1/runs/{run}"), None).await;
        (run["status"] != "running").then_some(run)
    })
    .await;
    assert_eq!(finished["status"], "succeeded", "{finished}");
    assert_eq!(finished["vars"]["results"], 50);
    let steps = finished["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 50, "one step per item");
    assert!(steps.iter().all(|s| s["status"] == "succeeded"), "{finished}");
    let keys: HashSet<String> = steps.iter().map(|s| format!("{run}:{}", s["id"].as_str().unwrap())).collect();
    let received: HashSet<String> = vendor
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.headers["idempotency-key"].to_str().unwrap().to_string())
        .collect();
    assert_eq!(received, keys, "each item's call was made under its own step's one key");
    let url = database_url
        .map(str::to_string)
        .unwrap_or_else(|| format!("sqlite://{}", cwd.path().join("data/bacon.db").display()));
    let lost = assert_every_call_audited(&url, &vendor).await;
    eprintln!("item attempts lost to the SIGKILL and audited as such: {lost}");
    restarted.terminate(Duration::from_secs(30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_mid_map_completes_every_item_once_on_sqlite() {
    sigkill_mid_map(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_mid_map_completes_every_item_once_on_postgres() {
    let Some(url) = bacon_tests::postgres::fresh_database().await else {
        return bacon_tests::postgres::print_skip("a_sigkill_mid_map_completes_every_item_once_on_postgres");
    };
    sigkill_mid_map(Some(&url)).await;
}

/// Waiting runs survive a SIGKILL (issue #16, acceptance 3): one waiting for an event is
/// resumed by it after the restart, and one with a timeout takes
/// its `timeout` branch after the restart.
async fn waits_survive_a_sigkill(database_url: Option<&str>) {
    let cwd = tempfile::tempdir().unwrap();
    let mut env = vec![("BACON_HTTP__BIND", "127.0.0.1:0")];
    if let Some(url) = database_url {
        env.push(("BACON_DATABASE_URL", url));
    }
    let mut server = ServerProcess::start(cwd.path(), &["serve"], &env);
    let base = server.wait_for_listening().await;
    let api = Api { base, key: server.first_tenant_key(), client: bacon_tests::http_client() };
    let graph = |timeout_ms: u64| {
        json!({
            "nodes": [
                {"id": "t", "type": "trigger", "config": {}},
                {"id": "hold", "type": "wait", "config": {"event": "go", "timeoutMs": timeout_ms}},
                {"id": "went", "type": "transform", "config": {"set": {"went": "{{ nodes.hold.output.why }}"}}},
                {"id": "late", "type": "transform", "config": {"set": {"late": true}}}
            ],
            "edges": [
                {"id": "1", "source": "t", "target": "hold"},
                {"id": "2", "source": "hold", "target": "went"},
                {"id": "3", "source": "hold", "target": "late", "kind": "timeout"}
            ]
        })
    };
    let mut runs = Vec::new();
    // The second times out 8 s after it starts: after the kill and restart below, which follow
    // at once.
    for timeout_ms in [600_000, 8_000] {
        let (status, flow) = api
            .send(reqwest::Method::POST, "/v1/flows", Some(json!({"name": "hold", "graph": graph(timeout_ms)})))
            .await;
        assert_eq!(status, 201, "{flow}");
        let path = format!("/v1/flows/{}/runs", flow["id"].as_str().unwrap());
        let (status, run) = api.send(reqwest::Method::POST, &path, Some(json!({}))).await;
        assert_eq!(status, 202, "{run}");
        runs.push(run["id"].as_str().unwrap().to_string());
    }
    for run in &runs {
        wait::until("the run to wait", Duration::from_secs(30), || async {
            let (_, run) = api.send(reqwest::Method::GET, &format!("/v1/runs/{run}"), None).await;
            (run["steps"][0]["status"] == "waiting").then_some(())
        })
        .await;
    }
    server.child.start_kill().unwrap();
    server.child.wait().await.unwrap();

    let mut restarted = ServerProcess::start(cwd.path(), &["serve"], &env);
    let base = restarted.wait_for_listening().await;
    let api = Api { base, ..api };
    let (_, timing) = api.send(reqwest::Method::GET, &format!("/v1/runs/{}", runs[1]), None).await;
    eprintln!("after the restart, the wait with a timeout is {}", timing["steps"][0]["status"]);
    let (status, resumed) = api
        .send(reqwest::Method::POST, &format!("/v1/runs/{}/events/go", runs[0]), Some(json!({"why": "approved"})))
        .await;
    assert_eq!(status, 200, "{resumed}");
    for (run, var, value) in [(&runs[0], "went", json!("approved")), (&runs[1], "late", json!(true))] {
        let finished = wait::until("the run to end after the restart", Duration::from_secs(60), || async {
            let (_, run) = api.send(reqwest::Method::GET, &format!("/v1/runs/{run}"), None).await;
            (run["status"] != "running").then_some(run)
        })
        .await;
        assert_eq!(finished["status"], "succeeded", "{finished}");
        assert_eq!(finished["vars"][var], value, "{finished}");
    }
    restarted.terminate(Duration::from_secs(30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_runs_survive_a_sigkill_on_sqlite() {
    waits_survive_a_sigkill(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_runs_survive_a_sigkill_on_postgres() {
    let Some(url) = bacon_tests::postgres::fresh_database().await else {
        return bacon_tests::postgres::print_skip("waiting_runs_survive_a_sigkill_on_postgres");
    };
    waits_survive_a_sigkill(Some(&url)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_processes_and_an_api_share_postgres() {
    let Some(url) = bacon_tests::postgres::fresh_database().await else {
        return bacon_tests::postgres::print_skip("two_worker_processes_and_an_api_share_postgres");
    };
    let vendor = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&vendor).await;
    let cwd = tempfile::tempdir().unwrap();
    let database = ("BACON_DATABASE_URL", url.as_str());
    let api_env = [("BACON_HTTP__BIND", "127.0.0.1:0"), database];
    let mut api_process = ServerProcess::start(cwd.path(), &["serve", "--no-workers"], &api_env);
    let base = api_process.wait_for_listening().await;
    let api = Api { base, key: api_process.first_tenant_key(), client: bacon_tests::http_client() };
    let worker_env = [database, ("BACON_WORKERS__CONCURRENCY", "16")];
    let mut workers = [
        ServerProcess::start(cwd.path(), &["worker"], &worker_env),
        ServerProcess::start(cwd.path(), &["worker"], &worker_env),
    ];
    for w in &mut workers {
        w.wait_for_line("Bacon workers are running", Duration::from_secs(60)).await;
    }
    let flow = two_step_flow(&api, &vendor).await;
    start_runs(&api, &flow, 1000).await;
    wait::until("1,000 runs to succeed", Duration::from_secs(300), || async {
        let counts = api.runs_by_status(&flow).await;
        (counts.get("succeeded") == Some(&1000)).then_some(())
    })
    .await;
    assert_each_step_succeeded_once(&url, &vendor, 1000).await;
    for w in &mut workers {
        w.terminate(Duration::from_secs(30)).await;
    }
    api_process.terminate(Duration::from_secs(30)).await;
}

/// Every run's `trigger.scheduledAt`, whatever its status.
async fn scheduled_ticks(api: &Api, flow: &str) -> Vec<String> {
    let (_, page) = api.send(reqwest::Method::GET, &format!("/v1/runs?flowId={flow}&limit=200"), None).await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["trigger"]["scheduledAt"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_fires_once_per_tick_with_two_worker_processes_on_postgres() {
    let Some(url) = bacon_tests::postgres::fresh_database().await else {
        return bacon_tests::postgres::print_skip(
            "a_schedule_fires_once_per_tick_with_two_worker_processes_on_postgres",
        );
    };
    let cwd = tempfile::tempdir().unwrap();
    let database = ("BACON_DATABASE_URL", url.as_str());
    let mut api_process =
        ServerProcess::start(cwd.path(), &["serve", "--no-workers"], &[("BACON_HTTP__BIND", "127.0.0.1:0"), database]);
    let base = api_process.wait_for_listening().await;
    let api = Api { base, key: api_process.first_tenant_key(), client: bacon_tests::http_client() };
    let mut workers = [
        ServerProcess::start(cwd.path(), &["worker"], &[database]),
        ServerProcess::start(cwd.path(), &["worker"], &[database]),
    ];
    for w in &mut workers {
        w.wait_for_line("Bacon workers are running", Duration::from_secs(60)).await;
    }
    let graph = json!({
        "nodes": [
            {"id": "tick", "type": "trigger", "config": {"kind": "schedule", "cron": "* * * * * *", "timezone": "Europe/Paris"}},
            {"id": "done", "type": "end", "config": {}}
        ],
        "edges": [{"id": "e1", "source": "tick", "target": "done"}]
    });
    let (status, flow) =
        api.send(reqwest::Method::POST, "/v1/flows", Some(json!({"name": "every second", "graph": graph}))).await;
    assert_eq!(status, 201, "{flow}");
    let flow = flow["id"].as_str().unwrap().to_string();
    let (status, activated) = api.send(reqwest::Method::POST, &format!("/v1/flows/{flow}/activate"), None).await;
    assert_eq!(status, 200, "{activated}");

    wait::until("five ticks to fire", Duration::from_secs(60), || async {
        (scheduled_ticks(&api, &flow).await.len() >= 5).then_some(())
    })
    .await;
    let (status, _) = api.send(reqwest::Method::POST, &format!("/v1/flows/{flow}/deactivate"), None).await;
    assert_eq!(status, 200);
    // Runs of ticks fired before the deactivation may still be finishing; ticks are fired in order,
    // so whatever is seen has no gap unless one was skipped.
    wait::until("the fired runs to finish", Duration::from_secs(30), || async {
        let counts = api.runs_by_status(&flow).await;
        (!counts.contains_key("running")).then_some(())
    })
    .await;
    let ticks = scheduled_ticks(&api, &flow).await;
    let seconds: Vec<i64> = ticks
        .iter()
        .map(|t| chrono::DateTime::parse_from_rfc3339(t).unwrap().timestamp())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(seconds.len(), ticks.len(), "no tick fired twice: {ticks:?}");
    assert!(seconds.windows(2).all(|w| w[1] - w[0] == 1), "no tick was skipped: {ticks:?}");
    for w in &mut workers {
        w.terminate(Duration::from_secs(30)).await;
    }
    api_process.terminate(Duration::from_secs(30)).await;
}

/// An acknowledged inbound delivery, an accepted channel message and a REST-hook delivery of a
/// run's end survive a SIGKILL of the process that accepted them (issue #13): each commits with
/// its work item, so the next process with workers starts the run, sends the message and
/// delivers the event, each exactly once.
async fn accepted_work_survives_sigkill(database_url: Option<&str>) {
    let zapier = MockServer::start().await;
    let zap_path = "/hooks/standard/123456/sigkill/";
    Mock::given(method("POST"))
        .and(path(zap_path))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "success"})))
        .mount(&zapier)
        .await;
    let twilio = MockServer::start().await;
    let account = "AC0123456789abcdef0123456789abcdef";
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"sid": "SM33333333333333333333333333333333",
            "account_sid": account, "from": "whatsapp:+14155238886", "to": "whatsapp:+15558675310", "body": "",
            "status": "queued", "direction": "outbound-api", "num_media": "0", "num_segments": "1",
            "error_code": null, "error_message": null})))
        .mount(&twilio)
        .await;
    let cwd = tempfile::tempdir().unwrap();
    let (twilio_url, zapier_url) = (twilio.uri(), zapier.uri());
    let mut env = vec![
        ("BACON_HTTP__BIND", "127.0.0.1:0"),
        ("BACON_PLUGIN_TWILIO_WHATSAPP__BASE_URL", twilio_url.as_str()),
        ("BACON_PLUGIN_ZAPIER__BASE_URL", zapier_url.as_str()),
    ];
    if let Some(url) = database_url {
        env.push(("BACON_DATABASE_URL", url));
    }
    // No workers: the accepted work can only be in the database when the process dies.
    let mut server = ServerProcess::start(cwd.path(), &["serve", "--no-workers"], &env);
    let base = server.wait_for_listening().await;
    let api = Api { base, key: server.first_tenant_key(), client: bacon_tests::http_client() };
    let graph = json!({
        "nodes": [{"id": "in", "type": "trigger", "config": {"kind": "webhook"}}, {"id": "done", "type": "end", "config": {}}],
        "edges": [{"id": "e1", "source": "in", "target": "done"}]
    });
    let (status, flow) =
        api.send(reqwest::Method::POST, "/v1/flows", Some(json!({"name": "hook", "graph": graph}))).await;
    assert_eq!(status, 201, "{flow}");
    let flow = flow["id"].as_str().unwrap().to_string();
    let (status, activated) = api.send(reqwest::Method::POST, &format!("/v1/flows/{flow}/activate"), None).await;
    assert_eq!(status, 200, "{activated}");
    let hook_path = activated["hookUrl"].as_str().unwrap().split("/hooks/").nth(1).unwrap().to_string();
    let delivered =
        api.client.post(format!("{}/hooks/{hook_path}", api.base)).json(&json!({"order": 1})).send().await.unwrap();
    assert_eq!(delivered.status().as_u16(), 200, "the delivery is acknowledged");
    let (status, _) = api
        .send(
            reqwest::Method::PUT,
            "/v1/plugins/bacon-plugin-twilio-whatsapp/settings",
            Some(
                json!({"accountSid": account, "authToken": "twilio-token-0123456789abcdef01", "from": "+14155238886"}),
            ),
        )
        .await;
    assert_eq!(status, 200);
    let (status, message) = api
        .send(
            reqwest::Method::POST,
            "/v1/channels/bacon-plugin-twilio-whatsapp/messages",
            Some(json!({"to": "+15558675310", "text": "Your order shipped"})),
        )
        .await;
    assert_eq!(status, 202, "{message}");
    let message = message["id"].as_str().unwrap().to_string();
    // A run with no durable step ends in the request that starts it: its `run.succeeded`
    // delivery to the subscriber is committed with it.
    let (status, subscribed) = api
        .send(
            reqwest::Method::POST,
            "/v1/plugins/bacon-plugin-zapier/hooks",
            Some(json!({"target_url": format!("https://hooks.zapier.com{zap_path}"), "event": "run.succeeded"})),
        )
        .await;
    assert_eq!(status, 201, "{subscribed}");
    let graph = json!({"nodes": [{"id": "t", "type": "trigger", "config": {}}, {"id": "done", "type": "end", "config": {}}],
        "edges": [{"id": "e1", "source": "t", "target": "done"}]});
    let (_, quick) = api.send(reqwest::Method::POST, "/v1/flows", Some(json!({"name": "quick", "graph": graph}))).await;
    let (status, quick_run) = api
        .send(
            reqwest::Method::POST,
            &format!("/v1/flows/{}/runs", quick["id"].as_str().unwrap()),
            Some(json!({"input": {}})),
        )
        .await;
    assert_eq!(status, 202, "{quick_run}");
    assert_eq!(quick_run["status"], "succeeded", "{quick_run}");
    let quick_run = quick_run["id"].as_str().unwrap().to_string();
    assert!(zapier.received_requests().await.unwrap().is_empty(), "no worker delivered it before the kill");
    server.child.start_kill().unwrap();
    server.child.wait().await.unwrap();

    let mut restarted = ServerProcess::start(cwd.path(), &["serve"], &env);
    let base = restarted.wait_for_listening().await;
    let api = Api { base, ..api };
    wait::until("the delivery's run to succeed", Duration::from_secs(60), || async {
        (api.runs_by_status(&flow).await.get("succeeded") == Some(&1)).then_some(())
    })
    .await;
    let sent = wait::until("the message to be sent", Duration::from_secs(60), || async {
        let (_, m) = api
            .send(reqwest::Method::GET, &format!("/v1/channels/bacon-plugin-twilio-whatsapp/messages/{message}"), None)
            .await;
        (m["status"] == "sent").then_some(m)
    })
    .await;
    assert_eq!(sent["attempts"], 1, "{sent}");
    assert_eq!(twilio.received_requests().await.unwrap().len(), 1, "sent once");
    let of_quick_run = || async {
        let requests = zapier.received_requests().await.unwrap_or_default();
        let bodies = requests.iter().filter_map(|r| serde_json::from_slice::<Value>(&r.body).ok());
        bodies.filter(|b| b["data"]["runId"] == quick_run.as_str()).count()
    };
    wait::until("the run's end to be delivered", Duration::from_secs(60), || async {
        (of_quick_run().await >= 1).then_some(())
    })
    .await;
    restarted.terminate(Duration::from_secs(30)).await;
    assert_eq!(of_quick_run().await, 1, "delivered once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_deliveries_messages_and_rest_hooks_survive_a_sigkill_on_sqlite() {
    accepted_work_survives_sigkill(None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_deliveries_messages_and_rest_hooks_survive_a_sigkill_on_postgres() {
    let Some(url) = bacon_tests::postgres::fresh_database().await else {
        return bacon_tests::postgres::print_skip(
            "accepted_deliveries_messages_and_rest_hooks_survive_a_sigkill_on_postgres",
        );
    };
    accepted_work_survives_sigkill(Some(&url)).await;
}
