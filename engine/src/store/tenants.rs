//! Tenants.

use bacon_entities::tenants;
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
};

use super::{Page, into_page};
use crate::StoreError;
use crate::ids::TenantId;
use crate::tenancy::Tenant;

fn to_domain(m: tenants::Model) -> Result<Tenant, StoreError> {
    Ok(Tenant {
        id: m.id.parse().map_err(|_| StoreError::not_found("tenant", &m.id))?,
        name: m.name,
        created_at: m.created_at,
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
