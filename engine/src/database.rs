//! Connecting to the database and migrating it.
//!
//! SQLite is the embedded default: WAL, `foreign_keys=ON`, a busy timeout and the `synchronous`
//! level chosen in config, set on EVERY pooled connection (apalis's own `setup()` would leave the
//! pool with mixed PRAGMAs, see `shared/reference/dependencies.md`). PostgreSQL is used when the URL
//! says `postgres://`. sea-orm and apalis share this one sqlx pool.

use std::str::FromStr;
use std::time::Duration;

use bacon_migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, SqliteTransactionMode,
    SqlxPostgresConnector, SqlxSqliteConnector, TransactionOptions, TransactionTrait,
};

/// How durable a SQLite commit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteDurability {
    /// `synchronous=NORMAL`: survives a process crash; the last commits can be lost on power loss.
    #[default]
    Normal,
    /// `synchronous=FULL`: survives power loss, at about half the write throughput.
    Full,
}

/// What [`connect`] needs.
#[derive(Debug, Clone)]
pub struct DatabaseOptions {
    /// `sqlite://path/to/file.db` or `postgres://user@host/db`.
    pub url: String,
    pub max_connections: u32,
    pub sqlite_durability: SqliteDurability,
    pub busy_timeout: Duration,
    pub acquire_timeout: Duration,
}

/// Connection failures, with the URL's scheme but never its password.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("unsupported database URL scheme `{0}` (expected sqlite:// or postgres://)")]
    UnsupportedScheme(String),
    #[error("invalid database URL")]
    InvalidUrl(#[source] sea_orm::sqlx::Error),
    #[error("could not create the database directory {path}")]
    CreateDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("could not connect to the database")]
    Connect(#[source] sea_orm::sqlx::Error),
}

/// Opens the pool for `options.url` and wraps it in a sea-orm connection.
///
/// # Errors
/// On an unknown scheme, a malformed URL, or a database that cannot be reached.
pub async fn connect(options: &DatabaseOptions) -> Result<DatabaseConnection, ConnectError> {
    let url = options.url.as_str();
    if url.starts_with("sqlite:") {
        let connect = SqliteConnectOptions::from_str(url)
            .map_err(ConnectError::InvalidUrl)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match options.sqlite_durability {
                SqliteDurability::Normal => SqliteSynchronous::Normal,
                SqliteDurability::Full => SqliteSynchronous::Full,
            })
            .busy_timeout(options.busy_timeout)
            .foreign_keys(true);
        if let Some(dir) = connect.get_filename().parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|source| ConnectError::CreateDir { path: dir.display().to_string(), source })?;
        }
        let pool_options = || {
            SqlitePoolOptions::new()
                .max_connections(options.max_connections.max(2))
                .acquire_timeout(options.acquire_timeout)
                // A file on local disk does not go away between statements: no ping per checkout.
                .test_before_acquire(false)
        };
        // The first connection creates the file and sets WAL: on a starved machine that can take
        // longer than a request may wait for a connection, so a start tries a few times.
        let mut tries = 0;
        let pool = loop {
            match pool_options().connect_with(connect.clone()).await {
                Ok(pool) => break pool,
                Err(sea_orm::sqlx::Error::PoolTimedOut) if tries < 3 => tries += 1,
                Err(e) => return Err(ConnectError::Connect(e)),
            }
        };
        Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let connect = PgConnectOptions::from_str(url).map_err(ConnectError::InvalidUrl)?;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            // The ping on checkout stays: an idle connection a server restart or a network timeout
            // killed would otherwise fail its next statement, and when that is the commit of a
            // step's outcome the action has already run and would run again after the lease.
            .connect_with(connect)
            .await
            .map_err(ConnectError::Connect)?;
        Ok(SqlxPostgresConnector::from_sqlx_postgres_pool(pool))
    } else {
        let scheme = url.split(':').next().unwrap_or_default().to_string();
        Err(ConnectError::UnsupportedScheme(scheme))
    }
}

/// Applies every pending migration.
///
/// # Errors
/// When a migration fails; the database is left at the last one that succeeded.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Whether the database answers and has every migration applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    Unreachable,
    PendingMigrations(usize),
}

/// Checks [`Readiness`] with one round trip for reachability and one for migrations. A SQLite
/// database whose file is gone (its directory deleted under a running server) is unreachable:
/// its open connections would go on writing to the unlinked file and lose everything.
pub async fn readiness(db: &DatabaseConnection) -> Readiness {
    if sqlite_file_vanished(db) || db.execute_unprepared("SELECT 1").await.is_err() {
        return Readiness::Unreachable;
    }
    match Migrator::get_pending_migrations(db).await {
        Ok(pending) if pending.is_empty() => Readiness::Ready,
        Ok(pending) => Readiness::PendingMigrations(pending.len()),
        Err(_) => Readiness::Unreachable,
    }
}

fn sqlite_file_vanished(db: &DatabaseConnection) -> bool {
    if db.get_database_backend() != DbBackend::Sqlite {
        return false;
    }
    let options = db.get_sqlite_connection_pool().connect_options();
    let file = options.get_filename();
    let in_memory = file.as_os_str().is_empty() || file.to_string_lossy().contains(":memory:");
    !in_memory && !file.exists()
}

/// Which backend a connection talks to.
pub fn backend_name(db: &DatabaseConnection) -> &'static str {
    match db.get_database_backend() {
        DbBackend::Sqlite => "sqlite",
        DbBackend::Postgres => "postgres",
        _ => "other",
    }
}

/// Begins a transaction that will write: `BEGIN IMMEDIATE` on SQLite, so it takes the write lock
/// up front and waits (busy timeout) for it, instead of failing with `database is locked` when a
/// deferred transaction cannot upgrade its read lock; a plain `BEGIN` on PostgreSQL.
///
/// # Errors
/// When the lock cannot be had within the busy timeout, or the database is unreachable.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    })
    .await
}
