//! The worker runtime: apalis workers executing every kind of work item, and three background
//! loops that never wait on one another: the reconciler, the purge of finished job rows, and
//! schedule triggers. A slow vendor (a REST-hook target, a channel) holds one worker slot for
//! its attempt, never a loop.

use std::future::Future;
use std::time::Duration;

use apalis::prelude::{BackendExt, BoxDynError, Data, Monitor, WorkerBuilder, WorkerBuilderExt};
use bacon_engine::work::runner::WorkRunner;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend};

use crate::jobs::{QUEUE, WorkItem, jobs_table};
use crate::queue::{ApalisQueue, Storage};
use crate::wakeups::Wakeups;

/// The worker runtime failed to start.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("could not apply the job queue's migrations")]
    Migrate(#[source] sea_orm::sqlx::migrate::MigrateError),
    #[error("unsupported database backend for the job queue")]
    UnsupportedBackend,
    #[error("the worker monitor stopped with an error: {0}")]
    Monitor(String),
}

/// Applies apalis's migrations for this backend on the shared pool, without touching PRAGMAs.
///
/// # Errors
/// When the job-queue migrations fail.
pub async fn prepare_storage(db: &DatabaseConnection) -> Result<(), WorkerError> {
    match db.get_database_backend() {
        DbBackend::Sqlite => apalis_sqlite::SqliteStorage::<()>::migrations()
            .run(db.get_sqlite_connection_pool())
            .await
            .map_err(WorkerError::Migrate),
        DbBackend::Postgres => apalis_postgres::PostgresStorage::<()>::migrations()
            .run(db.get_postgres_connection_pool())
            .await
            .map_err(WorkerError::Migrate),
        _ => Err(WorkerError::UnsupportedBackend),
    }
}

async fn handle(item: WorkItem, runner: Data<WorkRunner>) -> Result<(), BoxDynError> {
    runner.execute(&item).await.map_err(|e| {
        tracing::warn!(kind = item.kind().as_str(), id = %item.id(), error = %e, "A work item failed; apalis will deliver it again.");
        Box::new(e) as BoxDynError
    })
}

/// Deletes finished job rows: the `steps` and `audit_log` tables are the record, and apalis's
/// SQLite acknowledgement slows down with every finished row it keeps.
async fn purge(db: &DatabaseConnection) {
    let table = jobs_table(db.get_database_backend());
    let sql = format!(
        "DELETE FROM {table} WHERE job_type = '{QUEUE}' AND (status IN ('Done', 'Killed') OR (status = 'Failed' AND attempts >= max_attempts))"
    );
    if let Err(e) = db.execute_unprepared(&sql).await {
        tracing::debug!(error = %e, "Purging finished jobs failed; will try again.");
    }
}

/// Aborts the background loop (reconciler, purge) when the runtime returns.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs `f` every `period` until dropped (the returned guard aborts it).
fn every<F, Fut>(period: Duration, mut f: F) -> AbortOnDrop
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    AbortOnDrop(tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            f().await;
        }
    }))
}

/// Runs `concurrency` workers for every kind of work item, the reconciler, the purge and the
/// schedule triggers until `shutdown` resolves.
///
/// # Errors
/// When the job storage cannot be prepared or the monitor fails.
pub async fn run_until(
    db: DatabaseConnection,
    runner: WorkRunner,
    concurrency: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WorkerError> {
    prepare_storage(&db).await?;
    let instance = ulid::Ulid::generate().to_string().to_lowercase();
    // Each loop on its own task: a slow pass of one never delays another.
    let _purge = {
        let db = db.clone();
        every(Duration::from_secs(1), move || {
            let db = db.clone();
            async move { purge(&db).await }
        })
    };
    let _reconciler = {
        let runner = runner.clone();
        every(Duration::from_secs(5), move || {
            let runner = runner.clone();
            async move {
                runner.reconcile().await;
            }
        })
    };
    let _schedules = {
        let engine = runner.runs().clone();
        every(Duration::from_secs(1), move || {
            let engine = engine.clone();
            async move {
                if let Err(e) = bacon_engine::schedules::fire_due(&engine).await {
                    tracing::warn!(error = %e, "Firing schedule triggers failed; will try again.");
                }
            }
        })
    };
    let queue = ApalisQueue::new(&db);
    tracing::info!(backend = ?db.get_database_backend(), concurrency, "Workers started.");
    // Jobs pushed by this process wake the workers at once; the interval finds the others
    // (another process's pushes, delayed jobs coming due) and is the fallback for any missed
    // wake-up. Built per worker start: the strategy holds a timer of the worker's runtime.
    let pushed = runner.runs().jobs_pushed();
    let strategy = move || Wakeups::new(Duration::from_millis(50), pushed.clone());
    let monitor = match queue.storage {
        Storage::Sqlite(storage) => Monitor::new().register(move |restarts| {
            WorkerBuilder::new(format!("work-{instance}-{restarts}"))
                .backend(storage.clone().poll_with_strategy(strategy()))
                .data(runner.clone())
                .concurrency(concurrency)
                .build(handle)
        }),
        Storage::Postgres(storage) => Monitor::new().register(move |restarts| {
            WorkerBuilder::new(format!("work-{instance}-{restarts}"))
                .backend(storage.clone().with_pubsub().poll_with_strategy(strategy()))
                .data(runner.clone())
                .concurrency(concurrency)
                .build(handle)
        }),
    };
    let monitor = monitor.should_restart(|_, _| true).shutdown_timeout(Duration::from_secs(10));
    monitor
        .run_with_signal(async move {
            shutdown.await;
            Ok(())
        })
        .await
        .map_err(|e| WorkerError::Monitor(e.to_string()))?;
    tracing::info!("Workers stopped.");
    Ok(())
}
