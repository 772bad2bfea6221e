//! Slots under a tenant's cap on steps running at once: counting its running steps, parking a
//! step over the cap, and unparking the longest-parked ones when slots free.
//!
//! Every function runs in the caller's write transaction after [`lock_tenant`], so a count and
//! the claim or unpark that follows it are one decision across every process: PostgreSQL takes a
//! transaction-scoped advisory lock per tenant; SQLite's write transactions are serial already.

use bacon_entities::{runs, steps};
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};

use crate::StoreError;
use crate::runs::status::{RunStatus, StepStatus};

/// Holds `tenant`'s slots until `txn` ends.
///
/// # Errors
/// On a database failure.
pub async fn lock_tenant(txn: &DatabaseTransaction, tenant: &str) -> Result<(), StoreError> {
    if txn.get_database_backend() == DbBackend::Postgres {
        let sql = "SELECT pg_advisory_xact_lock(hashtextextended($1, 19))";
        txn.execute_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, [tenant.into()])).await?;
    }
    Ok(())
}

/// How many of `tenant`'s steps are running.
///
/// # Errors
/// On a database failure.
pub async fn running(txn: &DatabaseTransaction, tenant: &str) -> Result<u64, StoreError> {
    Ok(steps::Entity::find()
        .filter(steps::Column::TenantId.eq(tenant))
        .filter(steps::Column::Status.eq(StepStatus::Running.as_str()))
        .count(txn)
        .await?)
}

/// Parks a step that is claimable now (waiting and due); `false` when it is not. A step parked
/// already stays parked (a duplicate job finds it so) and keeps its place in the line.
///
/// # Errors
/// On a database failure.
pub async fn park(txn: &DatabaseTransaction, step_id: &str) -> Result<bool, StoreError> {
    let now = Utc::now();
    let claimable = || {
        sea_orm::Condition::all()
            .add(steps::Column::Id.eq(step_id))
            .add(steps::Column::Status.is_in([StepStatus::Pending.as_str(), StepStatus::Retrying.as_str()]))
            .add(
                sea_orm::Condition::any()
                    .add(steps::Column::NextAttemptAt.is_null())
                    .add(steps::Column::NextAttemptAt.lte(now)),
            )
    };
    let parked = steps::Entity::update_many()
        .col_expr(steps::Column::ParkedAt, Expr::value(Some(now)))
        .filter(claimable())
        .filter(steps::Column::ParkedAt.is_null())
        .exec(txn)
        .await?;
    if parked.rows_affected > 0 {
        return Ok(true);
    }
    let already = steps::Entity::find().filter(claimable()).filter(steps::Column::ParkedAt.is_not_null()).count(txn);
    Ok(already.await? > 0)
}

/// The parked steps that may still run: waiting, of a run still running.
fn live_parked(tenant: &str) -> sea_orm::Condition {
    use sea_orm::sea_query::Query;
    let running_runs = Query::select()
        .column(runs::Column::Id)
        .from(runs::Entity)
        .and_where(runs::Column::TenantId.eq(tenant))
        .and_where(runs::Column::Status.eq(RunStatus::Running.as_str()))
        .to_owned();
    sea_orm::Condition::all()
        .add(steps::Column::TenantId.eq(tenant))
        .add(steps::Column::ParkedAt.is_not_null())
        .add(steps::Column::Status.is_in([StepStatus::Pending.as_str(), StepStatus::Retrying.as_str()]))
        .add(steps::Column::RunId.in_subquery(running_runs))
}

/// Unparks up to `count` of `tenant`'s parked steps, longest parked first; their `(run_id, id)`.
///
/// # Errors
/// On a database failure.
pub async fn unpark_oldest(
    txn: &DatabaseTransaction,
    tenant: &str,
    count: u64,
) -> Result<Vec<(String, String)>, StoreError> {
    let oldest: Vec<(String, String)> = steps::Entity::find()
        .select_only()
        .column(steps::Column::RunId)
        .column(steps::Column::Id)
        .filter(live_parked(tenant))
        .order_by_asc(steps::Column::ParkedAt)
        .limit(count)
        .into_tuple()
        .all(txn)
        .await?;
    if !oldest.is_empty() {
        steps::Entity::update_many()
            .col_expr(steps::Column::ParkedAt, Expr::value(Option::<chrono::DateTime<Utc>>::None))
            .filter(steps::Column::Id.is_in(oldest.iter().map(|(_, id)| id.clone())))
            .exec(txn)
            .await?;
    }
    Ok(oldest)
}

/// Tenants with parked steps (at most `limit`).
///
/// # Errors
/// On a database failure.
pub async fn tenants_with_parked(db: &impl ConnectionTrait, limit: u64) -> Result<Vec<String>, StoreError> {
    Ok(steps::Entity::find()
        .select_only()
        .column(steps::Column::TenantId)
        .filter(steps::Column::ParkedAt.is_not_null())
        .filter(steps::Column::Status.is_in([StepStatus::Pending.as_str(), StepStatus::Retrying.as_str()]))
        .distinct()
        .limit(limit)
        .into_tuple()
        .all(db)
        .await?)
}
