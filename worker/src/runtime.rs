//! The worker runtime: apalis workers executing step jobs, the reconciler, the purge, schedule
//! triggers and REST-hook deliveries.

use std::future::Future;
use std::time::Duration;

use apalis::prelude::{BackendExt, BoxDynError, Data, Monitor, WorkerBuilder, WorkerBuilderExt};
use bacon_engine::runs::engine::RunEngine;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend};

use crate::jobs::{QUEUE, StepJob};
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

async fn handle(job: StepJob, engine: Data<RunEngine>) -> Result<(), BoxDynError> {
    engine.execute_step(&job.run_id, &job.step_id).await.map_err(|e| {
        tracing::warn!(run.id = %job.run_id, step.id = %job.step_id, error = %e, "Step job failed; apalis will deliver it again.");
        Box::new(e) as BoxDynError
    })
}

/// Deletes finished job rows: the `steps` and `audit_log` tables are the record, and apalis's
/// SQLite acknowledgement slows down with every finished row it keeps.
async fn purge(db: &DatabaseConnection) {
    let table = match db.get_database_backend() {
        DbBackend::Sqlite => "Jobs",
        DbBackend::Postgres => "apalis.jobs",
        _ => return,
    };
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

/// Runs `concurrency` step workers, the reconciler and the purge until `shutdown` resolves.
///
/// # Errors
/// When the job storage cannot be prepared or the monitor fails.
pub async fn run_until(
    db: DatabaseConnection,
    engine: RunEngine,
    concurrency: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WorkerError> {
    prepare_storage(&db).await?;
    let instance = ulid::Ulid::generate().to_string().to_lowercase();
    let background = {
        let db = db.clone();
        let engine = engine.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let mut n: u64 = 0;
            loop {
                tick.tick().await;
                purge(&db).await;
                if let Err(e) = engine.deliver_hooks().await {
                    tracing::warn!(error = %e, "Delivering REST hooks or channel messages failed; will try again.");
                }
                if n.is_multiple_of(5)
                    && let Err(e) = engine.reconcile().await
                {
                    tracing::warn!(error = %e, "The reconciler failed; will try again.");
                }
                n += 1;
            }
        })
    };
    let _background = AbortOnDrop(background);
    // Schedules on their own loop, so a slow vendor delivery never delays a tick past its catch-up.
    let schedules = {
        let engine = engine.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                if let Err(e) = bacon_engine::schedules::fire_due(&engine).await {
                    tracing::warn!(error = %e, "Firing schedule triggers failed; will try again.");
                }
            }
        })
    };
    let _schedules = AbortOnDrop(schedules);
    let queue = ApalisQueue::new(&db);
    tracing::info!(backend = ?db.get_database_backend(), concurrency, "Workers started.");
    // Jobs pushed by this process wake the workers at once; the interval finds the others
    // (another process's pushes, delayed jobs coming due) and is the fallback for any missed
    // wake-up. Built per worker start: the strategy holds a timer of the worker's runtime.
    let pushed = engine.jobs_pushed();
    let strategy = move || Wakeups::new(Duration::from_millis(50), pushed.clone());
    let monitor = match queue.storage {
        Storage::Sqlite(storage) => Monitor::new().register(move |restarts| {
            WorkerBuilder::new(format!("steps-{instance}-{restarts}"))
                .backend(storage.clone().poll_with_strategy(strategy()))
                .data(engine.clone())
                .concurrency(concurrency)
                .build(handle)
        }),
        Storage::Postgres(storage) => Monitor::new().register(move |restarts| {
            WorkerBuilder::new(format!("steps-{instance}-{restarts}"))
                .backend(storage.clone().with_pubsub().poll_with_strategy(strategy()))
                .data(engine.clone())
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
