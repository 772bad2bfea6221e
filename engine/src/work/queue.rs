//! The [`JobQueue`] port (how work gets executed, now or later) and [`commit`], which pushes a
//! transaction's jobs inside it.
//!
//! The worker crate implements the port with apalis, writing a job in the transaction that
//! creates (or reschedules) its item, so there is no window between "committed" and
//! "enqueued". A queue that cannot ([`JobQueue::enqueue_in`] answers `false`) gets the jobs right
//! after the commit, and the reconciler re-enqueues any item whose job was lost in between.

use std::collections::HashSet;
use std::sync::Arc;

use bacon_plugin_sdk::BoxFuture;
use sea_orm::{DatabaseTransaction, DbErr};
use tokio::sync::Notify;

use super::item::{Job, WorkKind};
use crate::StoreError;

/// Where jobs go.
pub trait JobQueue: Send + Sync + 'static {
    /// Enqueues every job.
    fn enqueue(&self, jobs: Vec<Job>) -> BoxFuture<'_, Result<(), QueueError>>;

    /// Enqueues every job inside `txn`, so the jobs commit (or roll back) with the rows they
    /// execute. `false` when this queue cannot: the caller enqueues them after the commit.
    fn enqueue_in<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        jobs: &'a [Job],
    ) -> BoxFuture<'a, Result<bool, QueueError>> {
        let _ = (txn, jobs);
        Box::pin(async { Ok(false) })
    }

    /// Notified after this queue has pushed jobs, so workers in the same process fetch them at
    /// once instead of at their next poll. `None`: workers rely on polling (and the backend's
    /// own wake-ups).
    fn pushed(&self) -> Option<Arc<Notify>> {
        None
    }

    /// Of `ids` (items of `kind`), the ones whose job is still in the queue (waiting, or to be
    /// delivered again): the reconciler leaves those alone. By default none are known, and every
    /// item the reconciler finds is enqueued again (a duplicate job finds its item claimed).
    fn queued(&self, kind: WorkKind, ids: Vec<String>) -> BoxFuture<'_, Result<HashSet<String>, String>> {
        let _ = (kind, ids);
        Box::pin(async { Ok(HashSet::new()) })
    }
}

/// Jobs could not be pushed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The database holding the queue failed; it may be down or busy (see
    /// [`QueueError::is_unavailable`]), in which case the same push may succeed in a moment.
    #[error("the queue's database failed: {0}")]
    Database(#[from] DbErr),
    #[error("{0}")]
    Other(String),
}

impl QueueError {
    /// Whether the queue's database is down, unreachable or busy, rather than refusing the push.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Database(e) if crate::error::database_unavailable(e))
    }
}

impl From<String> for QueueError {
    fn from(message: String) -> Self {
        Self::Other(message)
    }
}

/// A failure to commit work or push its jobs.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not enqueue jobs: {0}")]
    Queue(QueueError),
}

/// Pushes `jobs` inside `txn` when the queue can, commits, and wakes this process's workers;
/// a queue that cannot push in a transaction gets them right after the commit.
///
/// # Errors
/// When the commit or a push fails (after a failed commit nothing was enqueued).
pub async fn commit(queue: &dyn JobQueue, txn: DatabaseTransaction, jobs: Vec<Job>) -> Result<(), CommitError> {
    let in_txn = !jobs.is_empty() && queue.enqueue_in(&txn, &jobs).await.map_err(CommitError::Queue)?;
    txn.commit().await.map_err(StoreError::from)?;
    if jobs.is_empty() {
        return Ok(());
    }
    if !in_txn {
        return queue.enqueue(jobs).await.map_err(CommitError::Queue);
    }
    if let Some(pushed) = queue.pushed() {
        pushed.notify_one();
    }
    Ok(())
}
