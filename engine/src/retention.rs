//! How long what arrives and what runs is kept, and the purge that enforces it.
//!
//! - Inbound deliveries (`inbound_events`): `inbound_days`, 7 by default. They hold no payload
//!   once processed (see `store::inbound`), but their digests and header names go too.
//! - Finished runs with their steps, and audit rows: `runs_days`, kept for ever by default
//!   (audit rows are often a compliance record: dropping them is the operator's choice).
//! - A tenant may have its own of either (`PUT /v1/tenants/{id}/retention`), which wins for its
//!   rows.
//!
//! The worker runtime runs [`purge`] every few minutes; each pass deletes at most a batch of runs
//! and of audit rows, so a first purge of a large backlog never holds a long transaction.

use bacon_entities::{audit_log, inbound_events, runs};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::StoreError;
use crate::runs::status::RunStatus;
use crate::store::tenants;

/// Retention periods, in days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub inbound_days: u32,
    /// `None`: finished runs, steps and audit rows are kept.
    pub runs_days: Option<u32>,
}

impl Default for Retention {
    fn default() -> Self {
        Self { inbound_days: 7, runs_days: None }
    }
}

/// What one pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    pub inbound_events: u64,
    pub runs: u64,
    pub audit_rows: u64,
}

/// Rows one pass deletes per table at most.
const BATCH: u64 = 1000;

fn cutoff(now: DateTime<Utc>, days: u32) -> DateTime<Utc> {
    now - ChronoDuration::days(i64::from(days))
}

/// Whose rows a purge touches: one tenant with a retention of its own, or every other tenant.
enum Scope<'a> {
    Tenant(&'a str),
    AllBut(&'a [String]),
}

impl Scope<'_> {
    fn on(&self, tenant_column: impl ColumnTrait) -> Condition {
        match self {
            Self::Tenant(id) => Condition::all().add(tenant_column.eq(*id)),
            Self::AllBut([]) => Condition::all(),
            Self::AllBut(ids) => Condition::all().add(tenant_column.is_not_in(ids.iter().cloned())),
        }
    }
}

/// Deletes what is older than its retention at `now`: inbound deliveries received before the
/// cutoff, runs finished before it (their steps go with them), audit rows written before it.
/// A tenant's own retention (`tenants.*_retention_days`) wins over `retention` for its rows.
///
/// # Errors
/// On a database failure (the next pass tries again).
pub async fn purge(db: &impl ConnectionTrait, retention: &Retention, now: DateTime<Utc>) -> Result<Purged, StoreError> {
    let own = tenants::with_own_retention(db).await?;
    let mut purged = Purged::default();
    for (tenant, days) in &own {
        let effective = Retention {
            inbound_days: days.inbound_days.unwrap_or(retention.inbound_days),
            runs_days: days.runs_days.or(retention.runs_days),
        };
        purged.add(purge_scope(db, &Scope::Tenant(tenant), &effective, now).await?);
    }
    let others: Vec<String> = own.into_iter().map(|(id, _)| id).collect();
    purged.add(purge_scope(db, &Scope::AllBut(&others), retention, now).await?);
    Ok(purged)
}

impl Purged {
    fn add(&mut self, other: Purged) {
        self.inbound_events += other.inbound_events;
        self.runs += other.runs;
        self.audit_rows += other.audit_rows;
    }
}

async fn purge_scope(
    db: &impl ConnectionTrait,
    scope: &Scope<'_>,
    retention: &Retention,
    now: DateTime<Utc>,
) -> Result<Purged, StoreError> {
    let inbound_events = inbound_events::Entity::delete_many()
        .filter(scope.on(inbound_events::Column::TenantId))
        .filter(inbound_events::Column::ReceivedAt.lt(cutoff(now, retention.inbound_days)))
        .exec(db)
        .await?
        .rows_affected;
    let mut purged = Purged { inbound_events, ..Purged::default() };
    let Some(days) = retention.runs_days else {
        return Ok(purged);
    };
    let before = cutoff(now, days);
    let finished: Vec<String> = runs::Entity::find()
        .select_only()
        .column(runs::Column::Id)
        .filter(scope.on(runs::Column::TenantId))
        .filter(runs::Column::Status.ne(RunStatus::Running.as_str()))
        .filter(runs::Column::UpdatedAt.lt(before))
        .limit(BATCH)
        .into_tuple()
        .all(db)
        .await?;
    if !finished.is_empty() {
        // Steps are deleted with their run (ON DELETE CASCADE).
        purged.runs =
            runs::Entity::delete_many().filter(runs::Column::Id.is_in(finished)).exec(db).await?.rows_affected;
    }
    let old: Vec<String> = audit_log::Entity::find()
        .select_only()
        .column(audit_log::Column::Id)
        .filter(scope.on(audit_log::Column::TenantId))
        .filter(audit_log::Column::CreatedAt.lt(before))
        .limit(BATCH)
        .into_tuple()
        .all(db)
        .await?;
    if !old.is_empty() {
        purged.audit_rows =
            audit_log::Entity::delete_many().filter(audit_log::Column::Id.is_in(old)).exec(db).await?.rows_affected;
    }
    Ok(purged)
}
