//! Durable runs through the API and the embedded apalis workers (issue #4).

use std::time::Duration;

use bacon_plugin_sdk::testing::wiremock::matchers::{body_json, method, path};
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
use bacon_tests::{TestApp, db_test, wait};
use serde_json::{Value, json};

async fn allow(app: &TestApp, vendor: &MockServer) {
    let put = app
        .put("/v1/plugins/bacon-plugin-http/settings", &app.tenant_key, json!({"allowedHosts": [vendor.uri()]}))
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
}

fn call(id: &str, url: String, extra: Value) -> Value {
    let mut config = json!({"pluginId": "bacon-plugin-http", "actionName": "request",
        "payload": {"method": "POST", "url": url, "body": {"order": "{{ input.orderId }}"}}});
    if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    json!({"id": id, "type": "plugin_action", "config": config})
}

fn chain(nodes: Vec<Value>) -> Value {
    let edges: Vec<Value> = nodes
        .windows(2)
        .enumerate()
        .map(|(i, w)| json!({"id": format!("e{i}"), "source": w[0]["id"], "target": w[1]["id"]}))
        .collect();
    json!({"nodes": nodes, "edges": edges})
}

async fn audit_of(app: &TestApp, run: &str) -> Vec<Value> {
    app.get(&format!("/v1/audit?runId={run}"), &app.tenant_key).await.json["items"].as_array().unwrap().clone()
}

db_test!(
    async fn a_branching_flow_runs_the_chosen_branch_only(app) {
        let vendor = MockServer::start().await;
        Mock::given(method("POST")).and(path("/orders")).and(body_json(json!({"order": "1001"})))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"state": "paid"}))).expect(1).mount(&vendor).await;
        Mock::given(path("/yes")).respond_with(ResponseTemplate::new(200)).expect(1).mount(&vendor).await;
        Mock::given(path("/no")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&vendor).await;
        allow(&app, &vendor).await;
        let graph = json!({
            "nodes": [
                {"id": "start", "type": "trigger", "config": {}},
                call("fetch", format!("{}/orders", vendor.uri()), json!({})),
                {"id": "paid", "type": "condition", "config": {"expression": "nodes.fetch.output.body.state == 'paid'"}},
                call("yes", format!("{}/yes", vendor.uri()), json!({})),
                call("no", format!("{}/no", vendor.uri()), json!({})),
                {"id": "end", "type": "end", "config": {}}
            ],
            "edges": [
                {"id": "1", "source": "start", "target": "fetch"},
                {"id": "2", "source": "fetch", "target": "paid"},
                {"id": "3", "source": "paid", "target": "yes", "when": "true"},
                {"id": "4", "source": "paid", "target": "no", "when": "false"},
                {"id": "5", "source": "yes", "target": "end"},
                {"id": "6", "source": "no", "target": "end"}
            ]
        });
        let flow = app.create_flow("flow", graph).await;
        let run = app.start_run(&flow, json!({"orderId": "1001"})).await;
        let done = app.run_ended(&run).await;
        assert_eq!(done["status"], "succeeded", "{done}");
        let ran: Vec<&str> = done["steps"].as_array().unwrap().iter().map(|s| s["nodeId"].as_str().unwrap()).collect();
        assert_eq!(ran, ["fetch", "yes"]);
        let audit = audit_of(&app, &run).await;
        assert_eq!(audit.len(), 2, "one audit row per action attempt: {audit:?}");
        assert!(audit.iter().all(|a| a["outcome"] == "success" && a["kind"] == "flow_step"));
        vendor.verify().await;
    }
);

db_test!(
    async fn retries_follow_the_policy_and_retry_after(app) {
        let vendor = MockServer::start().await;
        Mock::given(path("/flaky")).respond_with(ResponseTemplate::new(503)).up_to_n_times(1).with_priority(1).mount(&vendor).await;
        Mock::given(path("/flaky"))
            .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
            .up_to_n_times(1)
            .with_priority(2)
            .mount(&vendor)
            .await;
        Mock::given(path("/flaky")).respond_with(ResponseTemplate::new(200)).with_priority(3).mount(&vendor).await;
        allow(&app, &vendor).await;
        let retry = json!({"retry": {"kind": "fixed", "intervalMs": 100, "maxAttempts": 5}});
        let flow = app.create_flow("flow", chain(vec![json!({"id": "t", "type": "trigger", "config": {}}), call("a", format!("{}/flaky", vendor.uri()), retry)])).await;
        let run = app.start_run(&flow, json!({"orderId": "7"})).await;
        let done = app.run_ended(&run).await;
        assert_eq!(done["status"], "succeeded", "{done}");
        assert_eq!(done["steps"][0]["attempts"], 3);
        let audit = audit_of(&app, &run).await;
        let outcomes: Vec<&str> = audit.iter().map(|a| a["outcome"].as_str().unwrap()).collect();
        assert_eq!(outcomes, ["retryable", "rate_limited", "success"]);
        assert_eq!(audit[1]["details"]["retryAfterMs"], 1000);
        let at = |i: usize| chrono::DateTime::parse_from_rfc3339(audit[i]["createdAt"].as_str().unwrap()).unwrap();
        assert!(at(2) - at(1) >= chrono::Duration::milliseconds(1000), "the Retry-After of 1 s was honoured");
        let requests = vendor.received_requests().await.unwrap();
        let keys: Vec<&str> = requests.iter().map(|r| r.headers["idempotency-key"].to_str().unwrap()).collect();
        assert!(keys.iter().all(|k| *k == keys[0] && k.starts_with("run_")), "a stable idempotency key: {keys:?}");
    }
);

db_test!(
    async fn a_permanent_failure_fails_the_run_and_retry_resumes_from_the_failed_step(app) {
        let vendor = MockServer::start().await;
        Mock::given(path("/first")).respond_with(ResponseTemplate::new(200)).mount(&vendor).await;
        Mock::given(path("/second")).respond_with(ResponseTemplate::new(400).set_body_string("bad order")).with_priority(1).up_to_n_times(1).mount(&vendor).await;
        Mock::given(path("/second")).respond_with(ResponseTemplate::new(200)).with_priority(2).mount(&vendor).await;
        allow(&app, &vendor).await;
        let flow = app.create_flow("flow", chain(vec![
            json!({"id": "t", "type": "trigger", "config": {}}),
            call("first", format!("{}/first", vendor.uri()), json!({})),
            call("second", format!("{}/second", vendor.uri()), json!({})),
        ])).await;
        let run = app.start_run(&flow, json!({"orderId": "9"})).await;
        let done = app.run_ended(&run).await;
        assert_eq!(done["status"], "failed", "{done}");
        assert_eq!(done["steps"][1]["attempts"], 1, "a 400 is not retried");
        assert!(done["error"]["message"].as_str().unwrap().contains("bad order"), "{done}");

        let retried = app.post(&format!("/v1/runs/{run}/retry"), &app.tenant_key, json!({})).await;
        assert_eq!(retried.status, 202, "{}", retried.text);
        let done = app.run_ended(&run).await;
        assert_eq!(done["status"], "succeeded", "{done}");
        let requests = vendor.received_requests().await.unwrap();
        assert_eq!(requests.iter().filter(|r| r.url.path() == "/first").count(), 1, "earlier steps are not re-run");
        app.post(&format!("/v1/runs/{run}/retry"), &app.tenant_key, json!({})).await.assert_problem(409, "invalid_run_state");
    }
);

db_test!(
    async fn a_run_keeps_its_version_and_idempotency_keys_return_the_same_run(app) {
        let vendor = MockServer::start().await;
        Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&vendor).await;
        allow(&app, &vendor).await;
        let graph = |p: &str| chain(vec![
            json!({"id": "t", "type": "trigger", "config": {}}),
            json!({"id": "wait", "type": "delay", "config": {"durationMs": 1000}}),
            call("a", format!("{}/{p}", vendor.uri()), json!({})),
        ]);
        let flow = app.create_flow("flow", graph("v1")).await;
        let request = |key: &'static str| {
            app.client
                .post(app.url(&format!("/v1/flows/{flow}/runs")))
                .bearer_auth(&app.tenant_key)
                .header("idempotency-key", key)
                .json(&json!({"input": {"orderId": "1"}}))
        };
        let first = bacon_tests::app::read(request("k-1").send().await.unwrap()).await;
        assert_eq!(first.status, 202, "{}", first.text);
        let again = bacon_tests::app::read(request("k-1").send().await.unwrap()).await;
        assert_eq!(again.status, 200, "{}", again.text);
        assert_eq!(again.json["id"], first.json["id"]);
        let updated = app.put(&format!("/v1/flows/{flow}"), &app.tenant_key, json!({"name": "flow", "graph": graph("v2")})).await;
        assert_eq!(updated.json["version"], 2);
        let run = first.json["id"].as_str().unwrap().to_string();
        let done = app.run_ended(&run).await;
        assert_eq!(done["status"], "succeeded", "{done}");
        assert_eq!(done["flowVersion"], 1);
        let paths: Vec<String> = vendor.received_requests().await.unwrap().iter().map(|r| r.url.path().to_string()).collect();
        assert_eq!(paths, ["/v1"], "the run finished on the version it started on");
        let listed = app.get(&format!("/v1/runs?flowId={flow}&status=succeeded"), &app.tenant_key).await;
        assert_eq!(listed.json["items"].as_array().unwrap().len(), 1);
    }
);

db_test!(
    async fn a_variable_set_by_a_transform_reaches_a_later_action_mid_run(app) {
        let vendor = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/orders"))
            .and(body_json(json!({"order": "A-7"})))
            .respond_with(ResponseTemplate::new(200))
            .expect(1)
            .mount(&vendor)
            .await;
        allow(&app, &vendor).await;
        let graph = chain(vec![
            json!({"id": "t", "type": "trigger", "config": {}}),
            json!({"id": "name", "type": "transform", "config": {"set": {"orderRef": "A-{{ input.orderId }}"}}}),
            json!({"id": "call", "type": "plugin_action", "config": {"pluginId": "bacon-plugin-http", "actionName": "request",
                "payload": {"method": "POST", "url": format!("{}/orders", vendor.uri()), "body": {"order": "{{ vars.orderRef }}"}}}}),
        ]);
        let flow = app.create_flow("flow", graph).await;
        let run = app.start_run(&flow, json!({"orderId": 7})).await;
        assert_eq!(app.run_ended(&run).await["status"], "succeeded");
    }
);

/// How many step jobs wait in apalis's queue table.
async fn queued_jobs(db: &sea_orm::DatabaseConnection) -> i64 {
    let table = if db.get_database_backend() == sea_orm::DbBackend::Sqlite { "Jobs" } else { "apalis.jobs" };
    bacon_tests::rows::count(db, &format!("{table} WHERE status = 'Pending'")).await
}

bacon_tests::backend_test!(
    async fn the_reconciler_leaves_a_queued_step_alone_and_requeues_one_whose_job_is_lost(backend) {
        use sea_orm::ConnectionTrait;
        // No workers: the run's first step stays pending with its job in the queue.
        let Some(app) = bacon_tests::app::spawn_app_with(backend, |c| c.workers.embedded = false).await else {
            return bacon_tests::postgres::print_skip(module_path!());
        };
        let vendor = MockServer::start().await;
        allow(&app, &vendor).await;
        let flow = app.create_flow("flow", chain(vec![
            json!({"id": "t", "type": "trigger", "config": {}}),
            call("a", format!("{}/a", vendor.uri()), json!({})),
        ]))
        .await;
        app.start_run(&flow, json!({"orderId": "1"})).await;
        let config = bacon_tests::app::test_config(app.data_dir(), app.database_url.clone(), &app.admin_key);
        let (db, engine) = bacon_api::startup::worker_engine(&config).await.unwrap();
        // The step has waited a minute (a backlog): past the reconciler's grace.
        let a_minute_ago = chrono::Utc::now() - chrono::Duration::minutes(1);
        let age = sea_orm::Statement::from_sql_and_values(
            db.get_database_backend(),
            "UPDATE steps SET updated_at = $1",
            [a_minute_ago.into()],
        );
        db.execute_raw(age).await.unwrap();
        assert_eq!(queued_jobs(&db).await, 1);
        let engine = engine.runs();
        assert_eq!(engine.reconcile().await.unwrap(), 0, "its job is still queued: no duplicate");
        assert_eq!(queued_jobs(&db).await, 1);

        // The job is lost (say, a crash between the commit and the push): the step gets a new one.
        let table = if backend == bacon_tests::Backend::Sqlite { "Jobs" } else { "apalis.jobs" };
        db.execute_unprepared(&format!("DELETE FROM {table}")).await.unwrap();
        assert_eq!(engine.reconcile().await.unwrap(), 1);
        assert_eq!(queued_jobs(&db).await, 1);
    }
);

bacon_tests::backend_test!(
    async fn a_run_of_a_deleted_flow_finishes_on_its_pinned_version(backend) {
        // The API process has no workers: the run is executed by a fresh worker runtime that never
        // saw the flow (its graph cache is empty), as another process would.
        let Some(app) = bacon_tests::app::spawn_app_with(backend, |c| c.workers.embedded = false).await else {
            return bacon_tests::postgres::print_skip(module_path!());
        };
        let vendor = MockServer::start().await;
        Mock::given(method("POST")).and(path("/after")).respond_with(ResponseTemplate::new(200)).expect(1).mount(&vendor).await;
        allow(&app, &vendor).await;
        let flow = app.create_flow("flow", chain(vec![
            json!({"id": "t", "type": "trigger", "config": {}}),
            call("after", format!("{}/after", vendor.uri()), json!({})),
        ]))
        .await;
        let run = app.start_run(&flow, json!({"orderId": "1"})).await;
        let deleted = app.delete(&format!("/v1/flows/{flow}"), &app.tenant_key).await;
        assert_eq!(deleted.status, 204, "{}", deleted.text);
        assert_eq!(app.get(&format!("/v1/flows/{flow}"), &app.tenant_key).await.status, 404);
        let config = bacon_tests::app::test_config(app.data_dir(), app.database_url.clone(), &app.admin_key);
        let (db, work) = bacon_api::startup::worker_engine(&config).await.unwrap();
        let stop = tokio_util::sync::CancellationToken::new();
        let workers = tokio::spawn(bacon_worker::run_until(db, work, 2, stop.clone().cancelled_owned()));
        // README: deleting a flow keeps its runs going on their pinned version.
        let done = app.run_ended(&run).await;
        assert_eq!(done["status"], "succeeded", "{done}");
        assert_eq!(done["flowVersion"], 1);
        vendor.verify().await;
        stop.cancel();
        workers.await.unwrap().unwrap();
    }
);

/// A chain of `n` nodes: the trigger, `n - 2` transforms each counting `vars.count` up by one,
/// and an end. Every node is inline, so starting a run plans all of them at once.
fn counting_chain(n: usize) -> Value {
    let mut nodes = vec![json!({"id": "t", "type": "trigger", "config": {}})];
    nodes.extend((1..n - 1).map(|i| {
        json!({"id": format!("n{i}"), "type": "transform", "config": {"set": {"count": "{{ (vars.count or 0) + 1 }}"}}})
    }));
    nodes.push(json!({"id": "end", "type": "end", "config": {}}));
    chain(nodes)
}

db_test!(
    async fn a_5000_node_flow_starts_promptly_while_another_tenant_writes(app) {
        // Issue #13: planning was quadratic and held the write transaction, so a large flow's
        // start took minutes and other tenants' writes failed with `database is locked`.
        let nodes = 5_000;
        let flow = app.create_flow("flow", counting_chain(nodes)).await;
        let neighbour_tenant = app.create_tenant("neighbour").await;
        let neighbour = app.issue_key(&neighbour_tenant, "editor").await;
        let small = chain(vec![json!({"id": "t", "type": "trigger", "config": {}}), json!({"id": "end", "type": "end", "config": {}})]);

        let started = std::time::Instant::now();
        let request = app.client.post(app.url(&format!("/v1/flows/{flow}/runs"))).bearer_auth(&app.tenant_key).json(&json!({"input": {}})).send();
        let start = tokio::spawn(async move { bacon_tests::app::read(request.await.unwrap()).await });
        let mut writes = Vec::new();
        loop {
            let reply = app.post("/v1/flows", &neighbour, json!({"name": "neighbour", "graph": small})).await;
            writes.push((reply.status, reply.text));
            if start.is_finished() {
                break;
            }
        }
        let reply = start.await.unwrap();
        let elapsed = started.elapsed();
        eprintln!("{nodes}-node chain: POST /runs answered {} in {elapsed:?} ({:?} backend); {} writes of another tenant meanwhile", reply.status, app.backend, writes.len());
        assert_eq!(reply.status, 202, "{}", reply.text);
        assert!(elapsed < Duration::from_secs(10), "the start took {elapsed:?}");
        let failed: Vec<_> = writes.iter().filter(|(status, _)| *status != 201).collect();
        assert!(failed.is_empty(), "another tenant's writes failed meanwhile: {failed:?}");

        let run = reply.json["id"].as_str().unwrap();
        let done = app.run_ended(run).await;
        assert_eq!(done["status"], "succeeded", "{done}");
        assert_eq!(done["vars"]["count"], nodes - 2, "every transform ran once, in order");
    }
);

db_test!(
    async fn a_500_branch_fan_out_finishes_in_seconds(app) {
        let branches = 500;
        let mut nodes = vec![json!({"id": "t", "type": "trigger", "config": {}})];
        let mut edges = Vec::new();
        for i in 0..branches {
            nodes.push(json!({"id": format!("d{i}"), "type": "delay", "config": {"durationMs": 0}}));
            edges.push(json!({"id": format!("in{i}"), "source": "t", "target": format!("d{i}")}));
            edges.push(json!({"id": format!("out{i}"), "source": format!("d{i}"), "target": "end"}));
        }
        nodes.push(json!({"id": "end", "type": "end", "config": {}}));
        let flow = app.create_flow("flow", json!({"nodes": nodes, "edges": edges})).await;

        let started = std::time::Instant::now();
        let run = app.start_run(&flow, json!({})).await;
        let done = app.run_ended(&run).await;
        eprintln!("{branches}-branch fan-out: the run finished in {:?} ({:?} backend)", started.elapsed(), app.backend);
        assert_eq!(done["status"], "succeeded", "{done}");
        let steps = done["steps"].as_array().unwrap();
        assert_eq!(steps.len(), branches, "one step per branch");
        assert!(steps.iter().all(|s| s["status"] == "succeeded"), "{done}");
    }
);

db_test!(
    async fn a_host_that_does_not_resolve_is_tried_once_and_again_after_a_minute(app) {
        let put = app
            .put("/v1/plugins/bacon-plugin-http/settings", &app.tenant_key, json!({"allowedHosts": ["nowhere.invalid"]}))
            .await;
        assert_eq!(put.status, 200, "{}", put.text);
        let url = "http://nowhere.invalid/orders".to_string();

        // A synchronous call gives up after one attempt instead of retrying the lookup for seconds.
        let started = std::time::Instant::now();
        let invoked = app
            .post(
                "/v1/plugins/bacon-plugin-http/actions/request/invoke",
                &app.tenant_key,
                json!({"input": {"method": "GET", "url": url}}),
            )
            .await;
        assert!(started.elapsed() < Duration::from_secs(2), "the call was held {:?}", started.elapsed());
        assert_eq!((invoked.json["status"].as_str(), invoked.json["attempts"].as_u64()), (Some("failed"), Some(1)));
        assert_eq!(invoked.json["error"]["kind"], "retryable", "{}", invoked.text);
        assert!(invoked.json["error"]["message"].as_str().unwrap().contains("could not resolve host"), "{}", invoked.text);

        // A durable step waits a minute for its next attempt.
        let flow = app.create_flow("flow", chain(vec![json!({"id": "t", "type": "trigger", "config": {}}), call("a", url, json!({}))])).await;
        let run = app.start_run(&flow, json!({"orderId": "1"})).await;
        let step = wait::until("the step to be retrying", Duration::from_secs(30), || async {
            let reply = app.get(&format!("/v1/runs/{run}"), &app.tenant_key).await;
            let step = reply.json["steps"].as_array()?.iter().find(|s| s["nodeId"] == "a")?.clone();
            (step["status"] == "retrying").then_some(step)
        })
        .await;
        let next = step["nextAttemptAt"].as_str().unwrap().parse::<chrono::DateTime<chrono::Utc>>().unwrap();
        let wait = next - chrono::Utc::now();
        assert!(wait > chrono::Duration::seconds(50), "the next attempt is due in {wait:?}: {step}");
        assert_eq!(audit_of(&app, &run).await.len(), 1, "one attempt so far");
    }
);
