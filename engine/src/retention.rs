//! How long what arrives and what runs is kept, and the purge that enforces it.
//!
//! - Inbound deliveries (`inbound_events`): `inbound_days`, 7 by default. They hold no payload
//!   once processed (see `store::inbound`), but their digests and header names go too.
//! - Finished runs with their steps, and audit rows: `runs_days`, kept for ever by default
//!   (audit rows are often a compliance record: dropping them is the operator's choice).
//!
//! The worker runtime runs [`purge`] every few minutes; each pass deletes at most a batch of runs
//! and of audit rows, so a first purge of a large backlog never holds a long transaction.

use bacon_entities::{audit_log, runs};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::StoreError;
use crate::runs::status::RunStatus;
use crate::store::inbound;

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

/// Deletes what is older than its retention at `now`: inbound deliveries received before the
/// cutoff, runs finished before it (their steps go with them), audit rows written before it.
///
/// # Errors
/// On a database failure (the next pass tries again).
pub async fn purge(db: &impl ConnectionTrait, retention: &Retention, now: DateTime<Utc>) -> Result<Purged, StoreError> {
    let mut purged = Purged {
        inbound_events: inbound::purge_older_than(db, cutoff(now, retention.inbound_days)).await?,
        ..Default::default()
    };
    if let Some(days) = retention.runs_days {
        let before = cutoff(now, days);
        let finished: Vec<String> = runs::Entity::find()
            .select_only()
            .column(runs::Column::Id)
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
            .filter(audit_log::Column::CreatedAt.lt(before))
            .limit(BATCH)
            .into_tuple()
            .all(db)
            .await?;
        if !old.is_empty() {
            purged.audit_rows =
                audit_log::Entity::delete_many().filter(audit_log::Column::Id.is_in(old)).exec(db).await?.rows_affected;
        }
    }
    Ok(purged)
}
