//! The worker runtime: apalis workers executing every kind of work item, and four background
//! loops that never wait on one another: the reconciler, the purge of finished job rows, the
//! retention purge (every 5 minutes), and schedule triggers. A slow vendor (a REST-hook target, a channel) holds one worker slot for
//! its attempt, never a loop.
//!
//! apalis stops a worker when its backend fails (a busy, vanished or unreachable database);
//! [`run_until`] starts it again after a wait that doubles with each quick failure (50 ms up to
//! 2 s), so an outage is never a busy loop of reconnects, and an attempt under way finishes on
//! its own task either way.

use std::future::Future;
use std::time::Duration;

use apalis::prelude::{BackendExt, BoxDynError, Data, Monitor, WorkerBuilder, WorkerBuilderExt};
use bacon_engine::work::runner::WorkRunner;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend};

use tracing::Instrument as _;

use crate::jobs::{JobPayload, QUEUE, jobs_table};
use crate::queue::{ApalisQueue, Storage};
use crate::wakeups::Wakeups;

/// The worker runtime failed to start.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("could not apply the job queue's migrations")]
    Migrate(#[source] sea_orm::sqlx::migrate::MigrateError),
    #[error("unsupported database backend for the job queue")]
    UnsupportedBackend,
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
            .map_err(WorkerError::Migrate)?,
        DbBackend::Postgres => apalis_postgres::PostgresStorage::<()>::migrations()
            .run(db.get_postgres_connection_pool())
            .await
            .map_err(WorkerError::Migrate)?,
        _ => return Err(WorkerError::UnsupportedBackend),
    }
    drop_retired_queues(db).await;
    Ok(())
}

/// Queues of earlier versions no worker reads any more (`steps`, before every kind of work
/// shared the `work` queue). Their items are not lost: the reconciler re-enqueues any step
/// whose job is gone. Best effort: another process may be doing the same.
const RETIRED_QUEUES: &[&str] = &["steps"];

async fn drop_retired_queues(db: &DatabaseConnection) {
    let table = jobs_table(db.get_database_backend());
    let names = RETIRED_QUEUES.iter().map(|q| format!("'{q}'")).collect::<Vec<_>>().join(", ");
    match db.execute_unprepared(&format!("DELETE FROM {table} WHERE job_type IN ({names})")).await {
        Ok(done) if done.rows_affected() > 0 => {
            tracing::info!(
                jobs = done.rows_affected(),
                "Dropped the jobs of retired queues; the reconciler re-enqueues their items."
            );
        }
        Ok(_) => {}
        Err(e) => tracing::debug!(error = %e, "Dropping the jobs of retired queues failed; they are harmless."),
    }
}

/// Executes one item on a task of its own: when the apalis worker stops on a backend error
/// (a busy or unreachable database), an attempt already under way still records its outcome
/// instead of being dropped mid-flight and left claimed until its lease runs out. A job the
/// worker could not acknowledge is delivered again and finds its item no longer claimable.
///
/// The attempt runs in a span of its own that continues the trace of whatever enqueued the job.
async fn handle(payload: JobPayload, runner: Data<WorkRunner>) -> Result<(), BoxDynError> {
    let runner = (*runner).clone();
    let JobPayload { item, traceparent } = payload;
    let span = tracing::info_span!(
        "job",
        otel.name = %format_args!("{} job", item.kind().as_str()),
        work.kind = item.kind().as_str(),
        work.id = %item.id(),
        trace_id = tracing::field::Empty,
    );
    crate::trace_context::continue_trace(&span, traceparent.iter().map(|t| ("traceparent", t.as_str())));
    let attempt = tokio::spawn(
        async move {
            let result = runner.execute(&item).await;
            if let Err(e) = &result {
                tracing::warn!(kind = item.kind().as_str(), id = %item.id(), error = %bacon_engine::error::chain(e), "A work item failed; apalis will deliver it again.");
            }
            result
        }
        .instrument(span),
    );
    match attempt.await {
        Ok(result) => result.map_err(|e| Box::new(e) as BoxDynError),
        Err(panic) => Err(Box::new(panic) as BoxDynError),
    }
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
    let _retention = {
        let runner = runner.clone();
        every(Duration::from_secs(300), move || {
            let runner = runner.clone();
            async move { runner.purge_expired().await }
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
    let shutdown = futures::FutureExt::shared(Box::pin(shutdown));
    let mut restarts = Restarts::default();
    loop {
        let stop = shutdown.clone();
        let started = std::time::Instant::now();
        run_monitor(&queue, &runner, &instance, restarts.count, concurrency, async move {
            stop.await;
            Ok(())
        })
        .await;
        if shutdown.peek().is_some() {
            break;
        }
        // The worker stopped on an error (its reason is logged): the database is likely gone.
        // Start again, but wait longer after each quick failure so an outage is not a busy loop.
        let wait = restarts.failed_after(started.elapsed());
        tracing::warn!(
            restarts = restarts.count,
            wait_ms = wait.as_millis() as u64,
            "Workers stopped on an error; restarting them."
        );
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shutdown.clone() => break,
        }
        release_jobs_of(&db, &worker_name(&instance, restarts.count - 1)).await;
    }
    tracing::info!("Workers stopped.");
    Ok(())
}

/// The name of the apalis worker of start `restarts` of this runtime (its jobs' `lock_by`).
fn worker_name(instance: &str, restarts: usize) -> String {
    format!("work-{instance}-{restarts}")
}

/// Hands the jobs a stopped worker had fetched but not finished back to the queue at once, so
/// the next worker runs them now instead of after apalis's orphan timeout or the reconciler's
/// grace (a 100 ms retry waited 15 s that way). A job whose attempt is still running on its own
/// task is delivered again and finds its item claimed. Best effort: if the database is still
/// away, those later paths recover the jobs.
async fn release_jobs_of(db: &DatabaseConnection, worker: &str) {
    let table = jobs_table(db.get_database_backend());
    let sql = format!(
        "UPDATE {table} SET status = 'Pending', lock_by = NULL, lock_at = NULL \
         WHERE lock_by = '{worker}' AND status IN ('Queued', 'Running')"
    );
    match db.execute_unprepared(&sql).await {
        Ok(done) if done.rows_affected() > 0 => {
            tracing::info!(worker, jobs = done.rows_affected(), "Jobs of a stopped worker are queued again.");
        }
        Ok(_) => {}
        Err(e) => tracing::debug!(worker, error = %e, "Could not release a stopped worker's jobs; apalis will."),
    }
}

/// Quick successive worker failures, to space out restarts.
#[derive(Debug, Default)]
struct Restarts {
    count: usize,
    /// Failures in a row of workers that ran less than [`Restarts::HEALTHY`].
    in_a_row: u32,
}

impl Restarts {
    /// A worker that ran this long before failing was healthy (a passing error under load, not
    /// an outage): it starts again after the shortest wait.
    const HEALTHY: Duration = Duration::from_secs(5);
    const FIRST: Duration = Duration::from_millis(50);
    /// Short enough that work resumes promptly once the database is back; long enough that an
    /// outage costs a few reconnects a second at most.
    const LONGEST: Duration = Duration::from_secs(2);

    /// Records the failure of a worker that ran for `ran`; returns how long to wait before the
    /// next start.
    fn failed_after(&mut self, ran: Duration) -> Duration {
        self.in_a_row = if ran < Self::HEALTHY { self.in_a_row.saturating_add(1) } else { 0 };
        self.count += 1;
        Self::FIRST.saturating_mul(2u32.saturating_pow(self.in_a_row.saturating_sub(1))).min(Self::LONGEST)
    }
}

/// Runs one apalis monitor of `concurrency` workers until `shutdown` resolves or the worker
/// fails (apalis restarts nothing itself: [`run_until`] decides when to start again).
async fn run_monitor(
    queue: &ApalisQueue,
    runner: &WorkRunner,
    instance: &str,
    restarts: usize,
    concurrency: usize,
    shutdown: impl Future<Output = std::io::Result<()>> + Send,
) {
    // Jobs pushed by this process wake the workers at once; the interval finds the others
    // (another process's pushes, delayed jobs coming due) and is the fallback for any missed
    // wake-up. Built per worker start: the strategy holds a timer of the worker's runtime.
    let pushed = runner.runs().jobs_pushed();
    let strategy = move || Wakeups::new(Duration::from_millis(50), pushed.clone());
    let name = worker_name(instance, restarts);
    let runner = runner.clone();
    let monitor = match queue.storage.clone() {
        Storage::Sqlite(storage) => Monitor::new().register(move |_| {
            WorkerBuilder::new(name.as_str())
                .backend(storage.clone().poll_with_strategy(strategy()))
                .data(runner.clone())
                .concurrency(concurrency)
                .build(handle)
        }),
        Storage::Postgres(storage) => Monitor::new().register(move |_| {
            WorkerBuilder::new(name.as_str())
                .backend(storage.clone().with_pubsub().poll_with_strategy(strategy()))
                .data(runner.clone())
                .concurrency(concurrency)
                .build(handle)
        }),
    };
    let monitor = monitor
        .should_restart(|worker, error| {
            tracing::warn!(worker = %worker.name(), error = %error, "A worker stopped on an error.");
            false
        })
        .shutdown_timeout(Duration::from_secs(10));
    if let Err(e) = monitor.run_with_signal(shutdown).await {
        tracing::warn!(error = %e, "The worker monitor stopped with an error.");
    }
}

#[cfg(test)]
mod tests {

    use super::*;

    #[tokio::test]
    async fn jobs_of_a_retired_queue_are_dropped_and_the_work_queue_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let options = bacon_engine::database::DatabaseOptions {
            url: format!("sqlite://{}", dir.path().join("jobs.db").display()),
            max_connections: 2,
            sqlite_durability: Default::default(),
            busy_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(5),
        };
        let db = bacon_engine::database::connect(&options).await.unwrap();
        prepare_storage(&db).await.unwrap();
        for (id, queue) in [("old", "steps"), ("new", QUEUE)] {
            db.execute_unprepared(&format!(
                "INSERT INTO Jobs (job, id, job_type, status, attempts, max_attempts, run_at, priority, metadata) \
                 VALUES (x'7b7d', '{id}', '{queue}', 'Pending', 0, 5, 0, 0, '{{}}')"
            ))
            .await
            .unwrap();
        }
        prepare_storage(&db).await.unwrap();
        let left = db
            .query_all_raw(sea_orm::Statement::from_string(DbBackend::Sqlite, "SELECT id FROM Jobs ORDER BY id"))
            .await
            .unwrap();
        let ids: Vec<String> = left.iter().map(|r| r.try_get::<String>("", "id").unwrap()).collect();
        assert_eq!(ids, ["new"]);
    }

    #[test]
    fn quick_failures_wait_longer_each_time_up_to_a_bound_and_a_healthy_run_starts_over() {
        let mut restarts = Restarts::default();
        let quick = Duration::from_millis(10);
        let waits: Vec<u128> = (0..8).map(|_| restarts.failed_after(quick).as_millis()).collect();
        assert_eq!(waits, [50, 100, 200, 400, 800, 1600, 2000, 2000]);
        assert_eq!(
            restarts.failed_after(Duration::from_secs(60)).as_millis(),
            50,
            "a worker that ran a minute was healthy"
        );
        assert_eq!(restarts.failed_after(quick).as_millis(), 50, "and the count starts over");
        assert_eq!(restarts.count, 10);
    }
}
