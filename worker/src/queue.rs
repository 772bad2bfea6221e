//! [`ApalisQueue`]: the engine's `JobQueue` port, pushing to apalis storage on the shared pool.

use std::time::Duration;

use apalis::prelude::{TaskBuilder, TaskSink};
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use bacon_engine::runs::queue::{JobQueue, StepJobSpec};
use bacon_plugin_sdk::BoxFuture;
use sea_orm::{DatabaseConnection, DbBackend};

use crate::jobs::{QUEUE, StepJob};

/// The storage for the configured backend.
#[derive(Clone)]
pub enum ApalisQueue {
    Sqlite(SqliteStorage<StepJob>),
    Postgres(PostgresStorage<StepJob>),
}

/// Infrastructure failures are retried by apalis this many times; the engine's own retries
/// (per the action's policy) are separate, rescheduled jobs.
const DELIVERY_ATTEMPTS: usize = 5;

impl ApalisQueue {
    /// The queue on `db`'s pool.
    ///
    /// # Panics
    /// On a backend other than SQLite or PostgreSQL.
    pub fn new(db: &DatabaseConnection) -> Self {
        match db.get_database_backend() {
            DbBackend::Sqlite => Self::Sqlite(
                SqliteStorage::new(db.get_sqlite_connection_pool())
                    .with_config(apalis_sqlite::Config::default().queue(QUEUE).batch_size(20)),
            ),
            DbBackend::Postgres => Self::Postgres(
                PostgresStorage::new(db.get_postgres_connection_pool())
                    .with_config(apalis_postgres::Config::default().queue(QUEUE).batch_size(50)),
            ),
            other => panic!("unsupported database backend for the job queue: {other:?}"),
        }
    }
}

/// apalis schedules in whole seconds (rounding down): round up, so a job never arrives before
/// its step is due (the step's claim would refuse it).
fn whole_seconds(delay: Duration) -> Duration {
    if delay.subsec_nanos() == 0 { delay } else { Duration::from_secs(delay.as_secs() + 1) }
}

impl JobQueue for ApalisQueue {
    fn enqueue(&self, jobs: Vec<StepJobSpec>) -> BoxFuture<'_, Result<(), String>> {
        Box::pin(async move {
            for job in jobs {
                let task = TaskBuilder::new(StepJob { run_id: job.run_id, step_id: job.step_id })
                    .max_attempts(DELIVERY_ATTEMPTS)
                    .run_after(whole_seconds(job.delay))
                    .build();
                match self {
                    Self::Sqlite(storage) => storage.clone().push_task(task).await.map_err(|e| e.to_string())?,
                    Self::Postgres(storage) => storage.clone().push_task(task).await.map_err(|e| e.to_string())?,
                }
            }
            Ok(())
        })
    }
}
