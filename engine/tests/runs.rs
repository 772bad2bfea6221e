//! The run engine with its own runtime and queue (the ports), on a real SQLite file: the state
//! machine, step by step, without workers or plugins.

#![allow(clippy::unwrap_used)] // Test code: a panic is the failure report.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bacon_engine::database::{self, DatabaseOptions, SqliteDurability};
use bacon_engine::plugins::registry::{InvokeError, InvokeOutcome, InvokeRequest};
use bacon_engine::runs::engine::{RunEngine, Started};
use bacon_engine::runs::queue::ActionRuntime;
use bacon_engine::runs::status::{RunStatus, StepStatus};
use bacon_engine::store;
use bacon_engine::work::{Job, JobQueue, QueueError, WorkItem};
use bacon_plugin_sdk::{ActionError, BoxFuture, RetryPolicy};
use serde_json::json;

/// Fails the first call retryably (with Retry-After 2 s), then echoes the input.
#[derive(Default)]
struct FlakyRuntime {
    calls: Mutex<Vec<InvokeRequest>>,
}

impl ActionRuntime for FlakyRuntime {
    fn invoke_action(&self, request: InvokeRequest) -> BoxFuture<'_, InvokeOutcome> {
        Box::pin(async move {
            let mut calls = self.calls.lock().unwrap();
            calls.push(request.clone());
            let result = if calls.len() == 1 {
                Err(InvokeError::Action(ActionError::RateLimited {
                    message: "slow down".into(),
                    retry_after: Some(Duration::from_secs(2)),
                }))
            } else {
                Ok(json!({"echo": request.input}))
            };
            InvokeOutcome { result, attempts: 1, deferred_audit: Vec::new() }
        })
    }

    fn retry_policy(&self, _: &str, _: &str) -> Option<RetryPolicy> {
        Some(RetryPolicy::Fixed { interval_ms: 10, max_attempts: 3 })
    }
}

#[derive(Default)]
struct RecordingQueue {
    jobs: Mutex<Vec<Job>>,
}

impl JobQueue for RecordingQueue {
    fn enqueue(&self, jobs: Vec<Job>) -> BoxFuture<'_, Result<(), QueueError>> {
        self.jobs.lock().unwrap().extend(jobs);
        Box::pin(async { Ok(()) })
    }
}

/// The step a job executes, as the worker's handler sees it.
fn step_of(job: &Job) -> (String, String) {
    match &job.item {
        WorkItem::Step { id, run_id } => (run_id.to_string(), id.to_string()),
        other => panic!("not a step: {other:?}"),
    }
}

#[tokio::test]
async fn a_rate_limited_step_is_rescheduled_after_retry_after_then_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let db = database::connect(&DatabaseOptions {
        url: format!("sqlite://{}", dir.path().join("t.db").display()),
        max_connections: 4,
        sqlite_durability: SqliteDurability::Normal,
        busy_timeout: Duration::from_secs(5),
        acquire_timeout: Duration::from_secs(5),
    })
    .await
    .unwrap();
    database::migrate(&db).await.unwrap();
    let tenant = store::tenants::create(&db, "t").await.unwrap();
    let graph = json!({
        "nodes": [
            {"id": "t", "type": "trigger", "config": {}},
            {"id": "a", "type": "plugin_action", "config": {"pluginId": "bacon-plugin-x", "actionName": "go",
                "payload": {"n": "{{ input.n }}"}}},
            {"id": "e", "type": "end", "config": {}}
        ],
        "edges": [{"id": "1", "source": "t", "target": "a"}, {"id": "2", "source": "a", "target": "e"}]
    });
    let fields = store::flows::FlowFields { name: "f".into(), description: None, bot_id: None, graph };
    let flow = store::flows::create(&db, tenant.id, fields).await.unwrap();
    let runtime = Arc::new(FlakyRuntime::default());
    let queue = Arc::new(RecordingQueue::default());
    let engine = RunEngine::new(db.clone(), runtime.clone(), queue.clone());

    let (run, created) =
        engine.start(tenant.id, flow.id, None, json!({"n": 5}), Started::manual(), Some("k".into())).await.unwrap();
    assert!(created);
    let (same, created) =
        engine.start(tenant.id, flow.id, None, json!({"n": 6}), Started::manual(), Some("k".into())).await.unwrap();
    assert!(!created);
    assert_eq!(same.id, run.id);
    let job = queue.jobs.lock().unwrap().pop().unwrap();
    assert_eq!(job.delay, Duration::ZERO);

    let (run_id, step_id) = step_of(&job);
    engine.execute_step(&run_id, &step_id).await.unwrap();
    let retry = queue.jobs.lock().unwrap().pop().unwrap();
    assert!(retry.delay >= Duration::from_millis(1900), "Retry-After wins over the 10 ms policy: {:?}", retry.delay);
    let steps = store::runs::steps_of(&db, &run.id).await.unwrap();
    assert_eq!((steps[0].status.as_str(), steps[0].attempt), ("retrying", 1));

    // A duplicate delivery of the first job does nothing: the step is not due yet (and is
    // re-enqueued for the rest of its wait instead of being run early).
    engine.execute_step(&run_id, &step_id).await.unwrap();
    assert_eq!(runtime.calls.lock().unwrap().len(), 1);
    queue.jobs.lock().unwrap().clear();

    // The scheduler's part, played by the test: deliver the job until the step is due and runs.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let run = loop {
        let (run_id, step_id) = step_of(&retry);
        engine.execute_step(&run_id, &step_id).await.unwrap();
        let run = store::runs::get(&db, tenant.id, run.id.parse().unwrap()).await.unwrap();
        if run.status != RunStatus::Running {
            break run;
        }
        assert!(std::time::Instant::now() < deadline, "the retry never became due");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(run.status, RunStatus::Succeeded);
    let calls = runtime.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].input, json!({"n": 5}), "payload rendered from the run input");
    assert_eq!(calls[0].idempotency_key, calls[1].idempotency_key, "a stable idempotency key across attempts");
    let steps = store::runs::steps_of(&db, &run.id).await.unwrap();
    assert_eq!(steps[0].output, Some(json!({"echo": {"n": 5}})));
}

/// Fails each call with `errors` in turn, then succeeds.
struct FailingRuntime {
    errors: Mutex<Vec<InvokeError>>,
}

impl ActionRuntime for FailingRuntime {
    fn invoke_action(&self, _: InvokeRequest) -> BoxFuture<'_, InvokeOutcome> {
        Box::pin(async move {
            let result = match self.errors.lock().unwrap().pop() {
                Some(e) => Err(e),
                None => Ok(json!({})),
            };
            InvokeOutcome { result, attempts: 1, deferred_audit: Vec::new() }
        })
    }

    fn retry_policy(&self, _: &str, _: &str) -> Option<RetryPolicy> {
        Some(RetryPolicy::Fixed { interval_ms: 10, max_attempts: 3 })
    }
}

/// Runs a one-action flow's first attempt with `error` and returns the step's status.
async fn status_after(error: InvokeError) -> StepStatus {
    let dir = tempfile::tempdir().unwrap();
    let db = database::connect(&DatabaseOptions {
        url: format!("sqlite://{}", dir.path().join("t.db").display()),
        max_connections: 4,
        sqlite_durability: SqliteDurability::Normal,
        busy_timeout: Duration::from_secs(5),
        acquire_timeout: Duration::from_secs(5),
    })
    .await
    .unwrap();
    database::migrate(&db).await.unwrap();
    let tenant = store::tenants::create(&db, "t").await.unwrap();
    let graph = json!({
        "nodes": [
            {"id": "t", "type": "trigger", "config": {}},
            {"id": "a", "type": "plugin_action", "config": {"pluginId": "bacon-plugin-x", "actionName": "go", "payload": {}}}
        ],
        "edges": [{"id": "1", "source": "t", "target": "a"}]
    });
    let fields = store::flows::FlowFields { name: "f".into(), description: None, bot_id: None, graph };
    let flow = store::flows::create(&db, tenant.id, fields).await.unwrap();
    let runtime = Arc::new(FailingRuntime { errors: Mutex::new(vec![error]) });
    let queue = Arc::new(RecordingQueue::default());
    let engine = RunEngine::new(db.clone(), runtime, queue.clone());
    let (run, _) = engine.start(tenant.id, flow.id, None, json!({}), Started::manual(), None).await.unwrap();
    let job = queue.jobs.lock().unwrap().pop().unwrap();
    let (run_id, step_id) = step_of(&job);
    engine.execute_step(&run_id, &step_id).await.unwrap();
    store::runs::steps_of(&db, &run.id).await.unwrap()[0].status
}

/// The database was down or busy while the registry read the step's settings: the next attempt
/// may well succeed, so the step is retried rather than failed for good.
#[tokio::test]
async fn a_step_whose_settings_could_not_be_read_from_an_unavailable_database_is_retried() {
    use bacon_engine::StoreError;
    use sea_orm::{ConnAcquireErr, DbErr};

    let down = InvokeError::Store(StoreError::Database(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)));
    assert_eq!(status_after(down).await, StepStatus::Retrying);
    let refused = InvokeError::Store(StoreError::Database(DbErr::Custom("no such column: settings".into())));
    assert_eq!(
        status_after(refused).await,
        StepStatus::Failed,
        "a statement the database refuses fails the same way again"
    );
    assert_eq!(status_after(InvokeError::Secret("apiToken".into())).await, StepStatus::Failed);
}
