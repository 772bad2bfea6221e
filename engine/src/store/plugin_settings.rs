//! Plugin settings rows: plain values and sealed secrets per tenant, optionally per bot.

use bacon_entities::plugin_settings;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde_json::{Map, Value};

use crate::StoreError;
use crate::ids::{BotId, SettingsId, TenantId};

/// One stored settings row.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSettings {
    pub plugin_id: String,
    pub bot_id: Option<String>,
    /// Non-secret values as the user sent them (defaults are applied when read).
    pub values: Map<String, Value>,
    /// Secret field -> sealed value (`v1:…` ciphertext or `env:NAME`).
    pub secrets: Map<String, Value>,
    pub updated_at: DateTime<Utc>,
}

fn scope_key(bot: Option<BotId>) -> String {
    bot.map(|b| b.to_string()).unwrap_or_default()
}

fn to_domain(m: plugin_settings::Model) -> StoredSettings {
    StoredSettings {
        plugin_id: m.plugin_id,
        bot_id: m.bot_id,
        values: m.values.as_object().cloned().unwrap_or_default(),
        secrets: m.secrets.as_object().cloned().unwrap_or_default(),
        updated_at: m.updated_at,
    }
}

/// The row for this tenant, plugin and scope (`None` = tenant-wide).
///
/// # Errors
/// On a database failure.
pub async fn get(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    plugin_id: &str,
    bot: Option<BotId>,
) -> Result<Option<StoredSettings>, StoreError> {
    Ok(plugin_settings::Entity::find()
        .filter(plugin_settings::Column::TenantId.eq(tenant.to_string()))
        .filter(plugin_settings::Column::PluginId.eq(plugin_id))
        .filter(plugin_settings::Column::ScopeKey.eq(scope_key(bot)))
        .one(db)
        .await?
        .map(to_domain))
}

/// Every row of this tenant (all plugins and scopes): used for key rotation and redaction.
///
/// # Errors
/// On a database failure.
pub async fn list_for_tenant(db: &impl ConnectionTrait, tenant: TenantId) -> Result<Vec<StoredSettings>, StoreError> {
    Ok(plugin_settings::Entity::find()
        .filter(plugin_settings::Column::TenantId.eq(tenant.to_string()))
        .all(db)
        .await?
        .into_iter()
        .map(to_domain)
        .collect())
}

/// Inserts or replaces the row for this scope.
///
/// # Errors
/// On a database failure.
pub async fn upsert(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    plugin_id: &str,
    bot: Option<BotId>,
    values: Map<String, Value>,
    secrets: Map<String, Value>,
) -> Result<StoredSettings, StoreError> {
    let now = Utc::now();
    let existing = plugin_settings::Entity::find()
        .filter(plugin_settings::Column::TenantId.eq(tenant.to_string()))
        .filter(plugin_settings::Column::PluginId.eq(plugin_id))
        .filter(plugin_settings::Column::ScopeKey.eq(scope_key(bot)))
        .one(db)
        .await?;
    let model = match existing {
        Some(row) => {
            let mut active: plugin_settings::ActiveModel = row.into();
            active.values = Set(Value::Object(values));
            active.secrets = Set(Value::Object(secrets));
            active.updated_at = Set(now);
            active.update(db).await?
        }
        None => plugin_settings::ActiveModel {
            id: Set(SettingsId::generate().to_string()),
            tenant_id: Set(tenant.to_string()),
            bot_id: Set(bot.map(|b| b.to_string())),
            scope_key: Set(scope_key(bot)),
            plugin_id: Set(plugin_id.to_string()),
            values: Set(Value::Object(values)),
            secrets: Set(Value::Object(secrets)),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(db)
        .await
        .map_err(|e| StoreError::from_db("plugin settings", e))?,
    };
    Ok(to_domain(model))
}

/// Deletes the row for this scope.
///
/// # Errors
/// [`StoreError::NotFound`] when there is none.
pub async fn delete(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    plugin_id: &str,
    bot: Option<BotId>,
) -> Result<(), StoreError> {
    let result = plugin_settings::Entity::delete_many()
        .filter(plugin_settings::Column::TenantId.eq(tenant.to_string()))
        .filter(plugin_settings::Column::PluginId.eq(plugin_id))
        .filter(plugin_settings::Column::ScopeKey.eq(scope_key(bot)))
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(StoreError::not_found("plugin settings", plugin_id));
    }
    Ok(())
}

/// Every row with at least one secret, across tenants (key rotation walks them).
///
/// # Errors
/// On a database failure.
pub async fn all_with_ids(db: &impl ConnectionTrait) -> Result<Vec<(String, String, StoredSettings)>, StoreError> {
    Ok(plugin_settings::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|m| (m.id.clone(), m.tenant_id.clone(), to_domain(m)))
        .collect())
}

/// Replaces the sealed secrets of one row (key rotation), only if the row was not changed since
/// it was read (`updated_at` still `seen`). Returns whether it was replaced.
///
/// # Errors
/// On a database failure.
pub async fn replace_secrets(
    db: &impl ConnectionTrait,
    row_id: &str,
    seen: DateTime<Utc>,
    secrets: Map<String, Value>,
) -> Result<bool, StoreError> {
    let result = plugin_settings::Entity::update_many()
        .col_expr(plugin_settings::Column::Secrets, sea_orm::sea_query::Expr::value(Value::Object(secrets)))
        .filter(plugin_settings::Column::Id.eq(row_id))
        .filter(plugin_settings::Column::UpdatedAt.eq(seen))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}
