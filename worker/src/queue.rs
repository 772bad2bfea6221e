//! [`ApalisQueue`]: the engine's `JobQueue` port, pushing work items to apalis storage on the
//! shared pool.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use apalis::prelude::{TaskBuilder, TaskSink};
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use bacon_engine::work::{Job, JobQueue, QueueError, WorkKind};
use bacon_plugin_sdk::BoxFuture;
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, Statement};
use tokio::sync::Notify;

use crate::jobs::{JobPayload, QUEUE, jobs_table};

/// The storage for the configured backend, and the signal workers in this process wait on.
#[derive(Clone)]
pub struct ApalisQueue {
    pub storage: Storage,
    db: DatabaseConnection,
    pushed: Arc<Notify>,
}

/// apalis storage on the configured backend.
#[derive(Clone)]
pub enum Storage {
    Sqlite(SqliteStorage<JobPayload>),
    Postgres(PostgresStorage<JobPayload>),
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
        let storage = match db.get_database_backend() {
            DbBackend::Sqlite => Storage::Sqlite(
                SqliteStorage::new(db.get_sqlite_connection_pool())
                    .with_config(apalis_sqlite::Config::default().queue(QUEUE).batch_size(20)),
            ),
            DbBackend::Postgres => Storage::Postgres(
                PostgresStorage::new(db.get_postgres_connection_pool())
                    .with_config(apalis_postgres::Config::default().queue(QUEUE).batch_size(50)),
            ),
            other => panic!("unsupported database backend for the job queue: {other:?}"),
        };
        Self { storage, db: db.clone(), pushed: Arc::new(Notify::new()) }
    }
}

/// The Unix second a job is due at. apalis schedules in whole seconds, so a delayed job is due at
/// the first whole second not before `now + delay`: never earlier than its item (a job that
/// came early only finds its item not yet claimable and is enqueued again for the rest). A job
/// due now is due at the current second, so it is fetched at once.
fn due_second(delay: Duration) -> Result<u64, String> {
    let due = (SystemTime::now() + delay).duration_since(UNIX_EPOCH).map_err(|e| e.to_string())?;
    let rounds_up = !delay.is_zero() && due.subsec_nanos() > 0;
    Ok(due.as_secs() + u64::from(rounds_up))
}

/// The INSERT apalis's `push_tasks` (`queries/task/sink.sql` of apalis-sqlite and
/// apalis-postgres 1.0) makes for one task, as a statement that can run in any transaction:
/// the payload is the [`JobPayload`]'s JSON (apalis's `JsonCodec`), the job's priority, no metadata, no
/// idempotency key, and `run_at` from [`due_second`]. apalis's own
/// function needs an sqlx connection, which a sea-orm transaction does not hand out.
fn insert_job(backend: DbBackend, job: &Job) -> Result<Statement, String> {
    let payload = serde_json::to_vec(&JobPayload::in_current_trace(job.item.clone())).map_err(|e| e.to_string())?;
    let run_at = due_second(job.delay)? as i64;
    let id = ulid::Ulid::generate().to_string();
    let attempts = DELIVERY_ATTEMPTS as i64;
    let sql = match backend {
        DbBackend::Sqlite => {
            "INSERT INTO Jobs (job, id, job_type, status, attempts, max_attempts, run_at, priority, metadata) \
             VALUES ($1, $2, $3, 'Pending', 0, $4, $5, $6, '{}')"
        }
        _ => {
            "INSERT INTO apalis.jobs (job, id, job_type, status, attempts, max_attempts, run_at, priority, metadata) \
             VALUES ($1, $2, $3, 'Pending', 0, $4, to_timestamp($5), $6, ''::hstore)"
        }
    };
    let values: [sea_orm::Value; 6] =
        [payload.into(), id.into(), QUEUE.into(), attempts.into(), run_at.into(), job.priority.into()];
    Ok(Statement::from_sql_and_values(backend, sql, values))
}

impl JobQueue for ApalisQueue {
    fn enqueue(&self, jobs: Vec<Job>) -> BoxFuture<'_, Result<(), QueueError>> {
        Box::pin(async move {
            for job in jobs {
                let task = TaskBuilder::new(JobPayload::in_current_trace(job.item))
                    .max_attempts(DELIVERY_ATTEMPTS)
                    .run_at_timestamp(due_second(job.delay)?)
                    .priority(usize::try_from(job.priority).unwrap_or(0))
                    .build();
                match &self.storage {
                    Storage::Sqlite(storage) => storage.clone().push_task(task).await.map_err(|e| e.to_string())?,
                    Storage::Postgres(storage) => storage.clone().push_task(task).await.map_err(|e| e.to_string())?,
                }
            }
            // One stored permit wakes the next poll: pushes in between coalesce into one fetch.
            self.pushed.notify_one();
            Ok(())
        })
    }

    fn enqueue_in<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        jobs: &'a [Job],
    ) -> BoxFuture<'a, Result<bool, QueueError>> {
        Box::pin(async move {
            for job in jobs {
                // Kept typed: a database that is down or busy here makes the caller's answer a 503.
                txn.execute_raw(insert_job(txn.get_database_backend(), job)?).await?;
            }
            Ok(true)
        })
    }

    fn pushed(&self) -> Option<Arc<Notify>> {
        Some(self.pushed.clone())
    }

    fn queued(&self, kind: WorkKind, ids: Vec<String>) -> BoxFuture<'_, Result<HashSet<String>, String>> {
        Box::pin(async move {
            if ids.is_empty() {
                return Ok(HashSet::new());
            }
            let backend = self.db.get_database_backend();
            // A job is live while any worker will fetch it: waiting, or failed with attempts left.
            // Not when fetched or running: its worker may be dead (a SIGKILL leaves it `Queued`
            // or `Running` for good), and a live worker claims a fetched step within moments.
            // `job` holds the JSON of the `JobPayload` as bytes (BLOB, bytea).
            let field = |name: &str| match backend {
                DbBackend::Sqlite => format!("json_extract(CAST(job AS TEXT), '$.{name}')"),
                _ => format!("(convert_from(job, 'UTF8')::jsonb ->> '{name}')"),
            };
            let (id, item_kind, table) = (field("id"), field("kind"), jobs_table(backend));
            let placeholder = |i: usize| if backend == DbBackend::Sqlite { format!("?{i}") } else { format!("${i}") };
            let placeholders = (3..ids.len() + 3).map(placeholder).collect::<Vec<_>>();
            let sql = format!(
                "SELECT {id} AS step_id FROM {table} WHERE job_type = {} AND {item_kind} = {} \
                 AND (status = 'Pending' OR (status = 'Failed' AND attempts < max_attempts)) \
                 AND {id} IN ({})",
                placeholder(1),
                placeholder(2),
                placeholders.join(", ")
            );
            let mut values: Vec<sea_orm::Value> = vec![QUEUE.into(), kind.as_str().into()];
            values.extend(ids.into_iter().map(sea_orm::Value::from));
            let rows = self
                .db
                .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
                .await
                .map_err(|e| e.to_string())?;
            rows.iter().map(|row| row.try_get::<String>("", "step_id").map_err(|e| e.to_string())).collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unix_now() -> Duration {
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
    }

    #[test]
    fn a_delayed_job_is_due_at_the_first_whole_second_not_before_its_delay() {
        for delay_ms in [1, 100, 999, 1000, 1001, 2500] {
            let delay = Duration::from_millis(delay_ms);
            let earliest = unix_now() + delay;
            let due = due_second(delay).unwrap();
            let latest = unix_now() + delay;
            assert!(Duration::from_secs(due) >= earliest, "{delay_ms} ms: due at {due}, before {earliest:?}");
            assert!(Duration::from_secs(due) < latest + Duration::from_secs(1), "{delay_ms} ms: a second too late");
        }
    }

    #[test]
    fn a_job_due_now_is_due_at_the_current_second() {
        let before = unix_now().as_secs();
        let due = due_second(Duration::ZERO).unwrap();
        assert!(due >= before && due <= unix_now().as_secs());
    }
}
