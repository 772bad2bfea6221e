//! Tenant API keys: issued (plaintext returned once), looked up by hash, revoked.

use bacon_entities::api_keys;
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use super::{Page, into_page};
use crate::StoreError;
use crate::ids::{ApiKeyId, TenantId};
use crate::tenancy::{ApiKey, GeneratedKey, Role, TENANT_KEY_PREFIX, generate_key};

fn to_domain(m: api_keys::Model) -> Result<ApiKey, StoreError> {
    let broken = || StoreError::not_found("API key", &m.id);
    Ok(ApiKey {
        id: m.id.parse().map_err(|_| broken())?,
        tenant_id: m.tenant_id.parse().map_err(|_| broken())?,
        name: m.name.clone(),
        role: Role::parse(&m.role).ok_or_else(broken)?,
        prefix: m.prefix,
        created_at: m.created_at,
        last_used_at: m.last_used_at,
        revoked_at: m.revoked_at,
    })
}

/// Issues a key for a tenant; the returned [`GeneratedKey`] holds the only copy of the plaintext.
///
/// # Errors
/// On a database failure.
pub async fn issue(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    name: &str,
    role: Role,
) -> Result<(ApiKey, GeneratedKey), StoreError> {
    let key = generate_key(TENANT_KEY_PREFIX);
    let model = api_keys::ActiveModel {
        id: Set(ApiKeyId::generate().to_string()),
        tenant_id: Set(tenant.to_string()),
        name: Set(name.to_string()),
        role: Set(role.as_str().to_string()),
        key_hash: Set(key.hash.clone()),
        prefix: Set(key.prefix.clone()),
        created_at: Set(Utc::now()),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(db)
    .await
    .map_err(|e| StoreError::from_db("API key", e))?;
    Ok((to_domain(model)?, key))
}

/// The active (not revoked) key with this hash, if any.
///
/// # Errors
/// On a database failure.
pub async fn find_active_by_hash(db: &impl ConnectionTrait, hash: &str) -> Result<Option<ApiKey>, StoreError> {
    api_keys::Entity::find()
        .filter(api_keys::Column::KeyHash.eq(hash))
        .filter(api_keys::Column::RevokedAt.is_null())
        .one(db)
        .await?
        .map(to_domain)
        .transpose()
}

/// Lists a tenant's keys (active and revoked) by creation.
///
/// # Errors
/// On a database failure.
pub async fn list(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    cursor: Option<&str>,
    limit: u64,
) -> Result<Page<ApiKey>, StoreError> {
    let mut query = api_keys::Entity::find()
        .filter(api_keys::Column::TenantId.eq(tenant.to_string()))
        .order_by_asc(api_keys::Column::Id)
        .limit(limit + 1);
    if let Some(cursor) = cursor {
        query = query.filter(api_keys::Column::Id.gt(cursor));
    }
    let rows = query.all(db).await?.into_iter().map(to_domain).collect::<Result<Vec<_>, _>>()?;
    Ok(into_page(rows, limit, |k| k.id.to_string()))
}

/// Revokes a key of this tenant; revoking twice is not an error.
///
/// # Errors
/// [`StoreError::NotFound`] when the key does not exist for this tenant.
pub async fn revoke(db: &impl ConnectionTrait, tenant: TenantId, id: ApiKeyId) -> Result<(), StoreError> {
    let model = api_keys::Entity::find_by_id(id.to_string())
        .filter(api_keys::Column::TenantId.eq(tenant.to_string()))
        .one(db)
        .await?
        .ok_or_else(|| StoreError::not_found("API key", id))?;
    if model.revoked_at.is_none() {
        let mut active: api_keys::ActiveModel = model.into();
        active.revoked_at = Set(Some(Utc::now()));
        active.update(db).await?;
    }
    Ok(())
}
