//! A tenant's cap on steps running at once (`concurrentSteps`, `workers.tenant_concurrent_steps`):
//! a step whose job comes while its tenant's slots are taken is parked, without a job, and the
//! end of each of the tenant's steps unparks the longest-parked ones into the slots it frees.
//! Nothing is polled: a tenant with 100,000 steps over its cap costs one row update each, and
//! other tenants' steps are never held back by them. The reconciler unparks what a stopped
//! process left parked (and everything, when a cap is lifted).

use chrono::Duration as ChronoDuration;
use sea_orm::DatabaseConnection;

use crate::StoreError;
use crate::database::begin_write;
use crate::store::runs::{self, Step};
use crate::store::step_slots;
use crate::work::queue::{CommitError, commit};
use crate::work::{Job, JobQueue, WorkItem};

/// Steps unparked at once when no cap holds them (a cap lifted).
const UNCAPPED_BATCH: u64 = 500;

/// What a claim under a cap came to.
#[derive(Debug)]
pub enum Claim {
    Claimed(Box<Step>),
    /// Not claimable: done, running elsewhere, or not yet due.
    NotClaimable,
    /// The tenant's slots are taken: parked until one frees.
    Parked,
}

/// Claims `step_id` if `tenant` has fewer than `cap` steps running, else parks it.
///
/// # Errors
/// On a database failure.
pub async fn claim_within(
    db: &DatabaseConnection,
    tenant: &str,
    step_id: &str,
    lease: ChronoDuration,
    cap: u32,
) -> Result<Claim, StoreError> {
    let txn = begin_write(db).await?;
    step_slots::lock_tenant(&txn, tenant).await?;
    let claim = if step_slots::running(&txn, tenant).await? >= u64::from(cap) {
        if step_slots::park(&txn, step_id).await? { Claim::Parked } else { Claim::NotClaimable }
    } else {
        runs::claim_step(&txn, step_id, lease).await?.map_or(Claim::NotClaimable, |s| Claim::Claimed(Box::new(s)))
    };
    txn.commit().await?;
    Ok(claim)
}

/// Gives jobs to as many of `tenant`'s parked steps as it has free slots under `cap` (`None`: up
/// to a batch); how many.
///
/// # Errors
/// On a database or queue failure.
pub async fn unpark(
    db: &DatabaseConnection,
    queue: &dyn JobQueue,
    tenant: &str,
    cap: Option<u32>,
) -> Result<usize, CommitError> {
    let txn = begin_write(db).await.map_err(StoreError::from)?;
    step_slots::lock_tenant(&txn, tenant).await?;
    let free = match cap {
        Some(cap) => u64::from(cap).saturating_sub(step_slots::running(&txn, tenant).await?),
        None => UNCAPPED_BATCH,
    };
    if free == 0 {
        txn.rollback().await.map_err(StoreError::from)?;
        return Ok(0);
    }
    let unparked = step_slots::unpark_oldest(&txn, tenant, free).await?;
    let jobs = unparked
        .iter()
        .map(|(run_id, step_id)| WorkItem::step(run_id, step_id).map(Job::now))
        .collect::<Result<Vec<_>, _>>()?;
    let count = jobs.len();
    commit(queue, txn, jobs).await?;
    Ok(count)
}
