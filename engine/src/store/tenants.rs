//! Tenants.

use bacon_entities::tenants;
use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
};

use super::{Page, into_page};
use crate::StoreError;
use crate::ids::TenantId;
use crate::tenancy::{Tenant, TenantLimits, TenantRetention};

fn to_domain(m: tenants::Model) -> Result<Tenant, StoreError> {
    Ok(Tenant {
        id: m.id.parse().map_err(|_| StoreError::not_found("tenant", &m.id))?,
        name: m.name,
        created_at: m.created_at,
        retention: TenantRetention {
            inbound_days: m.inbound_retention_days.and_then(|d| u32::try_from(d).ok()),
            runs_days: m.runs_retention_days.and_then(|d| u32::try_from(d).ok()),
        },
        limits: TenantLimits {
            requests_per_second: m.requests_per_second.and_then(|n| u32::try_from(n).ok()),
            runs_per_second: m.runs_per_second.and_then(|n| u32::try_from(n).ok()),
            concurrent_steps: m.concurrent_steps.and_then(|n| u32::try_from(n).ok()),
        },
    })
}

/// Creates a tenant.
///
/// # Errors
/// On a database failure.
pub async fn create(db: &impl ConnectionTrait, name: &str) -> Result<Tenant, StoreError> {
    let model = tenants::ActiveModel {
        id: Set(TenantId::generate().to_string()),
        name: Set(name.to_string()),
        created_at: Set(Utc::now()),
        inbound_retention_days: Set(None),
        runs_retention_days: Set(None),
        requests_per_second: Set(None),
        runs_per_second: Set(None),
        concurrent_steps: Set(None),
    }
    .insert(db)
    .await
    .map_err(|e| StoreError::from_db("tenant", e))?;
    to_domain(model)
}

/// Fetches a tenant.
///
/// # Errors
/// [`StoreError::NotFound`] when it does not exist.
pub async fn get(db: &impl ConnectionTrait, id: TenantId) -> Result<Tenant, StoreError> {
    let model = tenants::Entity::find_by_id(id.to_string())
        .one(db)
        .await?
        .ok_or_else(|| StoreError::not_found("tenant", id))?;
    to_domain(model)
}

/// Lists tenants by creation, `limit` at a time after `cursor`.
///
/// # Errors
/// On a database failure.
pub async fn list(db: &impl ConnectionTrait, cursor: Option<&str>, limit: u64) -> Result<Page<Tenant>, StoreError> {
    let mut query = tenants::Entity::find().order_by_asc(tenants::Column::Id).limit(limit + 1);
    if let Some(cursor) = cursor {
        query = query.filter(tenants::Column::Id.gt(cursor));
    }
    let rows = query.all(db).await?.into_iter().map(to_domain).collect::<Result<Vec<_>, _>>()?;
    Ok(into_page(rows, limit, |t| t.id.to_string()))
}

/// How many tenants exist.
///
/// # Errors
/// On a database failure.
pub async fn count(db: &impl ConnectionTrait) -> Result<u64, StoreError> {
    Ok(tenants::Entity::find().count(db).await?)
}

/// Sets a tenant's own retention (`None`: the server's setting); returns the tenant.
///
/// # Errors
/// [`StoreError::NotFound`] when it does not exist.
pub async fn set_retention(
    db: &impl ConnectionTrait,
    id: TenantId,
    retention: TenantRetention,
) -> Result<Tenant, StoreError> {
    set_own(
        db,
        id,
        &[
            (tenants::Column::InboundRetentionDays, retention.inbound_days),
            (tenants::Column::RunsRetentionDays, retention.runs_days),
        ],
    )
    .await
}

/// Sets a tenant's own limits (`None`: the server's setting); returns the tenant.
///
/// # Errors
/// [`StoreError::NotFound`] when it does not exist.
pub async fn set_limits(db: &impl ConnectionTrait, id: TenantId, limits: TenantLimits) -> Result<Tenant, StoreError> {
    set_own(
        db,
        id,
        &[
            (tenants::Column::RequestsPerSecond, limits.requests_per_second),
            (tenants::Column::RunsPerSecond, limits.runs_per_second),
            (tenants::Column::ConcurrentSteps, limits.concurrent_steps),
        ],
    )
    .await
}

/// Sets a tenant's own settings (`None`: the server's); returns the tenant.
async fn set_own(
    db: &impl ConnectionTrait,
    id: TenantId,
    values: &[(tenants::Column, Option<u32>)],
) -> Result<Tenant, StoreError> {
    let mut update = tenants::Entity::update_many();
    for (column, value) in values {
        update = update.col_expr(*column, Expr::value(value.map(|n| i32::try_from(n).unwrap_or(i32::MAX))));
    }
    let updated = update.filter(tenants::Column::Id.eq(id.to_string())).exec(db).await?;
    if updated.rows_affected == 0 {
        return Err(StoreError::not_found("tenant", id));
    }
    get(db, id).await
}

/// The tenants with a retention of their own, with it.
///
/// # Errors
/// On a database failure.
pub async fn with_own_retention(db: &impl ConnectionTrait) -> Result<Vec<(String, TenantRetention)>, StoreError> {
    Ok(tenants::Entity::find()
        .filter(
            sea_orm::Condition::any()
                .add(tenants::Column::InboundRetentionDays.is_not_null())
                .add(tenants::Column::RunsRetentionDays.is_not_null()),
        )
        .all(db)
        .await?
        .into_iter()
        .filter_map(|m| to_domain(m).ok())
        .map(|t| (t.id.to_string(), t.retention))
        .collect())
}
