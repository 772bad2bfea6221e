//! Errors of the store: what went wrong, typed, so the API can map each to a status and a code.

use sea_orm::{DbErr, SqlErr};

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
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        Self::Database(err)
    }
}
