//! Errors of the store: what went wrong, typed, so the API can map each to a status and a code.

use sea_orm::sqlx::Error as SqlxError;
use sea_orm::{DbErr, RuntimeErr, SqlErr};

/// An operation of the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The object does not exist for this tenant (or at all).
    #[error("{kind} `{id}` was not found")]
    NotFound { kind: &'static str, id: String },
    /// A uniqueness constraint refused the write.
    #[error("{kind} conflicts with an existing one")]
    Conflict { kind: &'static str },
    /// The caller's version is not the current one (optimistic concurrency).
    #[error("{kind} is at version {current}, not {expected}")]
    Stale { kind: &'static str, expected: i32, current: i32 },
    /// The database failed or is unreachable.
    #[error("database error")]
    Database(#[source] DbErr),
}

impl StoreError {
    pub fn not_found(kind: &'static str, id: impl ToString) -> Self {
        Self::NotFound { kind, id: id.to_string() }
    }

    /// Maps a database error, turning a unique-constraint violation into [`StoreError::Conflict`].
    pub fn from_db(kind: &'static str, err: DbErr) -> Self {
        match err.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => Self::Conflict { kind },
            _ => Self::Database(err),
        }
    }

    /// Whether the database failed as a whole (down, unreachable, or too busy to answer in time)
    /// rather than refusing this statement: the same call may succeed in a moment.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Database(err) if database_unavailable(err))
    }
}

/// Whether `err` says the database could not be reached or could not serve in time, as opposed to
/// refusing the statement itself (a constraint, a syntax or type error), which retrying repeats.
///
/// - No connection: the pool's acquire timed out (while PostgreSQL refuses connections, sqlx keeps
///   trying until then), the pool is closed, or the socket failed (`Io`, `Tls`).
/// - SQLite busy (`SQLITE_BUSY` 5 and its extended codes 261, 517, 773: "database is locked"):
///   another writer held the lock for longer than the busy timeout.
/// - PostgreSQL going away or not there yet: SQLSTATE class 08 (connection exception), 57P01-03
///   (shutting down, crashed, starting up), 53300 (too many connections).
pub fn database_unavailable(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) => true,
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => sqlx_unavailable(e),
        _ => false,
    }
}

fn sqlx_unavailable(err: &SqlxError) -> bool {
    match err {
        SqlxError::Io(_)
        | SqlxError::Tls(_)
        | SqlxError::PoolTimedOut
        | SqlxError::PoolClosed
        | SqlxError::WorkerCrashed => true,
        SqlxError::Database(db) => {
            let code = db.code().unwrap_or_default();
            match db.try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>() {
                Some(_) => matches!(code.as_ref(), "5" | "261" | "517" | "773"),
                None => code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "53300"),
            }
        }
        _ => false,
    }
}

/// `err` and its sources, `outer: inner: innermost`, for a log line (a store error alone says
/// only "database error").
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        out.push_str(": ");
        out.push_str(&e.to_string());
        source = e.source();
    }
    out
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        Self::Database(err)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sea_orm::{ConnAcquireErr, ConnectionTrait, TransactionTrait};

    use super::*;
    use crate::database::{self, DatabaseOptions};

    async fn sqlite(dir: &std::path::Path, busy_timeout: Duration) -> sea_orm::DatabaseConnection {
        let options = DatabaseOptions {
            url: format!("sqlite://{}", dir.join("busy.db").display()),
            max_connections: 2,
            sqlite_durability: database::SqliteDurability::Normal,
            busy_timeout,
            acquire_timeout: Duration::from_secs(5),
        };
        database::connect(&options).await.expect("a SQLite file opens")
    }

    #[tokio::test]
    async fn a_locked_sqlite_database_is_unavailable_not_a_bad_statement() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let holder = sqlite(dir.path(), Duration::from_secs(5)).await;
        holder.execute_unprepared("CREATE TABLE t (id INTEGER PRIMARY KEY)").await.expect("table");
        let writer = database::begin_write(&holder).await.expect("the write lock");
        writer.execute_unprepared("INSERT INTO t (id) VALUES (1)").await.expect("insert");
        // A second pool that does not wait for the lock: it gets SQLITE_BUSY, "database is locked".
        let other = sqlite(dir.path(), Duration::ZERO).await;
        let busy = other.execute_unprepared("INSERT INTO t (id) VALUES (2)").await.expect_err("the file is locked");
        assert!(busy.to_string().contains("database is locked"), "{busy}");
        assert!(StoreError::from(busy).is_unavailable());
        writer.commit().await.expect("commit");

        let bad = holder.execute_unprepared("INSERT INTO nowhere VALUES (1)").await.expect_err("no such table");
        assert!(!StoreError::from(bad).is_unavailable(), "a bad statement fails the same way every time");
        let duplicate = holder.execute_unprepared("INSERT INTO t (id) VALUES (1)").await.expect_err("duplicate");
        assert!(!StoreError::from_db("row", duplicate).is_unavailable());
        let _ = holder.begin().await.expect("the database still answers");
    }

    #[test]
    fn a_pool_that_cannot_hand_out_a_connection_is_unavailable() {
        assert!(StoreError::from(DbErr::ConnectionAcquire(ConnAcquireErr::Timeout)).is_unavailable());
        assert!(StoreError::from(DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed)).is_unavailable());
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let conn = DbErr::Conn(RuntimeErr::SqlxError(std::sync::Arc::new(SqlxError::Io(refused))));
        assert!(StoreError::from(conn).is_unavailable());
        assert!(!StoreError::from(DbErr::RecordNotFound("x".into())).is_unavailable());
        assert!(!StoreError::not_found("flow", "flow_1").is_unavailable());
    }
}
