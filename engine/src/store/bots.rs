//! Bots of a tenant.

use bacon_entities::bots;
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use super::{Page, into_page};
use crate::StoreError;
use crate::ids::{BotId, TenantId};
use crate::tenancy::Bot;

fn to_domain(m: bots::Model) -> Result<Bot, StoreError> {
    let broken = || StoreError::not_found("bot", &m.id);
    Ok(Bot {
        id: m.id.parse().map_err(|_| broken())?,
        tenant_id: m.tenant_id.parse().map_err(|_| broken())?,
        name: m.name,
        description: m.description,
        created_at: m.created_at,
    })
}

/// Creates a bot for a tenant.
///
/// # Errors
/// On a database failure.
pub async fn create(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    name: &str,
    description: Option<&str>,
) -> Result<Bot, StoreError> {
    let model = bots::ActiveModel {
        id: Set(BotId::generate().to_string()),
        tenant_id: Set(tenant.to_string()),
        name: Set(name.to_string()),
        description: Set(description.map(str::to_string)),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await
    .map_err(|e| StoreError::from_db("bot", e))?;
    to_domain(model)
}

/// Fetches a bot of this tenant.
///
/// # Errors
/// [`StoreError::NotFound`] when it does not exist for this tenant.
pub async fn get(db: &impl ConnectionTrait, tenant: TenantId, id: BotId) -> Result<Bot, StoreError> {
    let model = bots::Entity::find_by_id(id.to_string())
        .filter(bots::Column::TenantId.eq(tenant.to_string()))
        .one(db)
        .await?
        .ok_or_else(|| StoreError::not_found("bot", id))?;
    to_domain(model)
}

/// Lists the tenant's bots by creation.
///
/// # Errors
/// On a database failure.
pub async fn list(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    cursor: Option<&str>,
    limit: u64,
) -> Result<Page<Bot>, StoreError> {
    let mut query = bots::Entity::find()
        .filter(bots::Column::TenantId.eq(tenant.to_string()))
        .order_by_asc(bots::Column::Id)
        .limit(limit + 1);
    if let Some(cursor) = cursor {
        query = query.filter(bots::Column::Id.gt(cursor));
    }
    let rows = query.all(db).await?.into_iter().map(to_domain).collect::<Result<Vec<_>, _>>()?;
    Ok(into_page(rows, limit, |b| b.id.to_string()))
}

/// Deletes a bot of this tenant.
///
/// # Errors
/// [`StoreError::NotFound`] when it does not exist for this tenant.
pub async fn delete(db: &impl ConnectionTrait, tenant: TenantId, id: BotId) -> Result<(), StoreError> {
    let result = bots::Entity::delete_many()
        .filter(bots::Column::Id.eq(id.to_string()))
        .filter(bots::Column::TenantId.eq(tenant.to_string()))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(StoreError::not_found("bot", id));
    }
    // The bot's settings overrides (and their secrets) go with it.
    bacon_entities::plugin_settings::Entity::delete_many()
        .filter(bacon_entities::plugin_settings::Column::TenantId.eq(tenant.to_string()))
        .filter(bacon_entities::plugin_settings::Column::BotId.eq(id.to_string()))
        .exec(db)
        .await?;
    Ok(())
}
