//! The worker runtime: storage preparation and the process-level loop.

use std::future::Future;

use sea_orm::{DatabaseConnection, DbBackend};

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
            .map_err(WorkerError::Migrate),
        DbBackend::Postgres => apalis_postgres::PostgresStorage::<()>::migrations()
            .run(db.get_postgres_connection_pool())
            .await
            .map_err(WorkerError::Migrate),
        _ => Err(WorkerError::UnsupportedBackend),
    }
}

/// Runs the worker runtime until `shutdown` resolves.
///
/// # Errors
/// When the job storage cannot be prepared.
pub async fn run_until(db: DatabaseConnection, shutdown: impl Future<Output = ()>) -> Result<(), WorkerError> {
    prepare_storage(&db).await?;
    tracing::info!(
        backend = ?db.get_database_backend(),
        "Worker runtime started; no job types are registered yet."
    );
    shutdown.await;
    tracing::info!("Worker runtime stopped.");
    Ok(())
}
