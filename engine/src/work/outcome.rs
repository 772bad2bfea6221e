//! Recording an attempt's outcome after its effect happened (a vendor was called, a message
//! sent): the transaction that records it is retried while the database is only busy or briefly
//! unreachable, instead of leaving the item claimed until its lease runs out and running the
//! effect a second time.
//!
//! The recording closure must be safe to run again: each one finishes its item with a guarded
//! `UPDATE … WHERE status = <claimed>` and gives up quietly when that matches nothing (a commit
//! that failed on the wire but landed, or a lease taken over meanwhile).

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};

use crate::runs::engine::RunError;

/// How long an outcome may keep failing before the item is left to the reconciler: well inside
/// every lease, so the item is never run again while we still try to record it.
pub const PATIENCE: Duration = Duration::from_secs(30);

fn policy() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(50))
        .with_max_delay(Duration::from_secs(2))
        .with_jitter()
        .without_max_times()
        .with_total_delay(Some(PATIENCE))
}

/// Runs `record` until it succeeds, fails for a reason retrying would repeat, or [`PATIENCE`]
/// runs out. `what` and `id` name the item in the logs.
///
/// # Errors
/// The last failure.
pub async fn record<T, F, Fut>(what: &'static str, id: &str, record: F) -> Result<T, RunError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, RunError>>,
{
    record
        .retry(policy())
        .when(RunError::is_transient)
        .notify(|e, wait| {
            tracing::warn!(
                item = what,
                id,
                error = %crate::error::chain(e),
                wait_ms = wait.as_millis() as u64,
                "Recording an outcome failed; retrying."
            );
        })
        .await
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use sea_orm::DbErr;

    use super::*;
    use crate::StoreError;

    fn busy() -> RunError {
        RunError::Store(StoreError::Database(DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout)))
    }

    #[tokio::test]
    async fn a_busy_database_is_retried_and_a_refused_statement_is_not() {
        let calls = AtomicUsize::new(0);
        let result = record("step", "s1", || async {
            match calls.fetch_add(1, Ordering::SeqCst) {
                0 | 1 => Err(busy()),
                _ => Ok(7),
            }
        })
        .await;
        assert_eq!(result.unwrap(), 7);
        assert_eq!(calls.load(Ordering::SeqCst), 3);

        let calls = AtomicUsize::new(0);
        let result: Result<(), _> = record("step", "s1", || async {
            calls.fetch_add(1, Ordering::SeqCst);
            Err(RunError::BadGraph("no".into()))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
