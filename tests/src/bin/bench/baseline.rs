//! The raw apalis baseline: the same queue, storage, pool and worker settings Bacon uses
//! (`bacon_worker::queue::ApalisQueue`, poll 50 ms, PostgreSQL LISTEN/NOTIFY, concurrency 8,
//! finished rows purged every second), with a handler that does nothing, or one committed
//! INSERT. Jobs are pushed first, then drained; the rate counts from the first handler call to
//! the last handler return.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use apalis::prelude::{BackendExt, BoxDynError, Data, Monitor, TaskSink, WorkerBuilder, WorkerBuilderExt};
use bacon_engine::database::{self, DatabaseOptions, SqliteDurability};
use bacon_engine::ids::{RunId, StepId};
use bacon_worker::jobs::{JobPayload, QUEUE, WorkItem, jobs_table};
use bacon_worker::queue::{ApalisQueue, Storage};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

/// What each job's handler does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handler {
    Noop,
    /// One INSERT, committed on its own (autocommit), through sea-orm on the shared pool.
    OneWrite,
}

struct ProbeState {
    target: usize,
    done: AtomicUsize,
    first: OnceLock<Instant>,
    last: Mutex<Option<Instant>>,
    finished: tokio::sync::Notify,
    db: DatabaseConnection,
    handler: Handler,
}

#[derive(Clone)]
struct Probe(Arc<ProbeState>);

async fn handle(job: JobPayload, probe: Data<Probe>) -> Result<(), BoxDynError> {
    let probe: &Probe = &probe;
    let probe = &probe.0;
    probe.first.get_or_init(Instant::now);
    if probe.handler == Handler::OneWrite {
        let backend = probe.db.get_database_backend();
        let sql = match backend {
            DbBackend::Postgres => "INSERT INTO bench_writes (job) VALUES ($1)",
            _ => "INSERT INTO bench_writes (job) VALUES (?)",
        };
        probe.db.execute_raw(Statement::from_sql_and_values(backend, sql, [job.item.id().into()])).await?;
    }
    if probe.done.fetch_add(1, Ordering::SeqCst) + 1 == probe.target {
        *probe.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Instant::now());
        probe.finished.notify_one();
    }
    Ok(())
}

/// Deletes finished rows every second, as `bacon_worker::runtime` does.
fn purge_every_second(db: DatabaseConnection) -> tokio::task::JoinHandle<()> {
    let table = jobs_table(db.get_database_backend());
    let sql = format!("DELETE FROM {table} WHERE job_type = '{QUEUE}' AND status IN ('Done', 'Killed')");
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let _ = db.execute_unprepared(&sql).await;
        }
    })
}

/// Round trips through the same pool settings, one at a time (p50, µs): `SELECT 1`, and one
/// committed INSERT. A calibration: what each statement of a step costs before any work.
///
/// # Errors
/// Database failures.
pub async fn round_trips(url: &str, durability: SqliteDurability) -> anyhow::Result<[f64; 2]> {
    let db = connect(url, durability).await?;
    let backend = db.get_database_backend();
    db.execute_unprepared("CREATE TABLE IF NOT EXISTS bench_round_trips (id INTEGER, job TEXT)").await?;
    let insert = match backend {
        DbBackend::Postgres => "INSERT INTO bench_round_trips (id, job) VALUES ($1, 'x')",
        _ => "INSERT INTO bench_round_trips (id, job) VALUES (?, 'x')",
    };
    let mut results = [0.0; 2];
    for (i, result) in results.iter_mut().enumerate() {
        let mut samples = Vec::new();
        for n in 0..500i64 {
            let started = Instant::now();
            if i == 0 {
                db.query_one_raw(Statement::from_string(backend, "SELECT 1")).await?;
            } else {
                db.execute_raw(Statement::from_sql_and_values(backend, insert, [n.into()])).await?;
            }
            samples.push(started.elapsed().as_secs_f64() * 1e6);
        }
        *result = crate::stats::Percentiles::of(samples).p50;
    }
    db.close().await?;
    Ok(results)
}

async fn connect(url: &str, durability: SqliteDurability) -> anyhow::Result<DatabaseConnection> {
    database::connect(&DatabaseOptions {
        url: url.to_string(),
        max_connections: 10,
        sqlite_durability: durability,
        busy_timeout: Duration::from_secs(5),
        acquire_timeout: Duration::from_secs(10),
    })
    .await
    .context("connecting the baseline database")
}

/// Pushes `jobs` jobs to a fresh database at `url`, drains them with `handler`, and returns
/// jobs per second (0 when they did not all finish within `limit`).
///
/// # Errors
/// Database or queue failures.
pub async fn measure(
    url: &str,
    durability: SqliteDurability,
    handler: Handler,
    jobs: usize,
    limit: Duration,
) -> anyhow::Result<f64> {
    let db = connect(url, durability).await?;
    bacon_worker::prepare_storage(&db).await?;
    let create = match db.get_database_backend() {
        DbBackend::Postgres => "CREATE TABLE bench_writes (id BIGSERIAL PRIMARY KEY, job TEXT NOT NULL)",
        _ => "CREATE TABLE bench_writes (id INTEGER PRIMARY KEY AUTOINCREMENT, job TEXT NOT NULL)",
    };
    db.execute_unprepared(create).await?;
    let queue = ApalisQueue::new(&db);
    let job = |_: usize| JobPayload {
        item: WorkItem::Step { id: StepId::generate(), run_id: RunId::generate() },
        traceparent: None,
    };
    for chunk in (0..jobs).collect::<Vec<_>>().chunks(100) {
        let batch: Vec<JobPayload> = chunk.iter().map(|&n| job(n)).collect();
        match &queue.storage {
            Storage::Sqlite(storage) => storage.clone().push_bulk(batch).await?,
            Storage::Postgres(storage) => storage.clone().push_bulk(batch).await?,
        }
    }
    let probe = Probe(Arc::new(ProbeState {
        target: jobs,
        done: AtomicUsize::new(0),
        first: OnceLock::new(),
        last: Mutex::new(None),
        finished: tokio::sync::Notify::new(),
        db: db.clone(),
        handler,
    }));
    let purge = purge_every_second(db.clone());
    let poll = Duration::from_millis(50);
    let concurrency = 8;
    let monitor = match queue.storage {
        Storage::Sqlite(storage) => {
            let probe = probe.clone();
            Monitor::new().register(move |restarts| {
                WorkerBuilder::new(format!("baseline-{restarts}"))
                    .backend(storage.clone().poll_with_interval(poll))
                    .data(probe.clone())
                    .concurrency(concurrency)
                    .build(handle)
            })
        }
        Storage::Postgres(storage) => {
            let probe = probe.clone();
            Monitor::new().register(move |restarts| {
                WorkerBuilder::new(format!("baseline-{restarts}"))
                    .backend(storage.clone().with_pubsub().poll_with_interval(poll))
                    .data(probe.clone())
                    .concurrency(concurrency)
                    .build(handle)
            })
        }
    };
    let done = probe.clone();
    monitor
        .should_restart(|_, _| true)
        .shutdown_timeout(Duration::from_secs(10))
        .run_with_signal(async move {
            let _ = tokio::time::timeout(limit, done.0.finished.notified()).await;
            Ok(())
        })
        .await
        .map_err(|e| anyhow::anyhow!("the baseline worker failed: {e}"))?;
    purge.abort();
    db.close().await?;
    let state = &probe.0;
    let last = *state.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok(match (state.first.get(), last) {
        (Some(first), Some(last)) => jobs as f64 / (last - *first).as_secs_f64(),
        _ => 0.0,
    })
}
