//! Trigger subscriptions of activated flows: the unguessable hook id deliveries arrive on, and
//! the vendor's id of the webhook registered for it.

use bacon_entities::trigger_subscriptions as subs;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde_json::Value;

use crate::StoreError;
use crate::ids::{FlowId, TenantId};

/// An active trigger subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerSubscription {
    pub id: String,
    pub tenant_id: String,
    pub flow_id: String,
    /// `None` for a plain webhook trigger.
    pub plugin_id: Option<String>,
    pub trigger_key: String,
    pub hook_id: String,
    pub external_id: Option<String>,
    /// What the trigger needs (a schedule's `cron` and `timezone`).
    pub config: Value,
    pub created_at: DateTime<Utc>,
}

fn of(m: subs::Model) -> TriggerSubscription {
    TriggerSubscription {
        id: m.id,
        tenant_id: m.tenant_id,
        flow_id: m.flow_id,
        plugin_id: m.plugin_id,
        trigger_key: m.trigger_key,
        hook_id: m.hook_id,
        external_id: m.external_id,
        config: m.config,
        created_at: m.created_at,
    }
}

/// What [`insert`] stores.
pub struct NewTriggerSubscription {
    pub id: String,
    pub tenant_id: TenantId,
    pub flow_id: FlowId,
    pub plugin_id: Option<String>,
    pub trigger_key: String,
    pub hook_id: String,
    pub external_id: Option<String>,
    pub config: Value,
}

/// Stores an active subscription.
///
/// # Errors
/// On a database failure.
pub async fn insert(db: &impl ConnectionTrait, new: NewTriggerSubscription) -> Result<TriggerSubscription, StoreError> {
    let now = Utc::now();
    let model = subs::ActiveModel {
        id: Set(new.id),
        tenant_id: Set(new.tenant_id.to_string()),
        flow_id: Set(new.flow_id.to_string()),
        plugin_id: Set(new.plugin_id),
        trigger_key: Set(new.trigger_key),
        hook_id: Set(new.hook_id),
        external_id: Set(new.external_id),
        status: Set("active".into()),
        config: Set(new.config),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db)
    .await
    .map_err(|e| StoreError::from_db("trigger subscription", e))?;
    Ok(of(model))
}

/// The flow's active subscription, if it is activated.
///
/// # Errors
/// On a database failure.
pub async fn for_flow(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    flow: FlowId,
) -> Result<Option<TriggerSubscription>, StoreError> {
    Ok(subs::Entity::find()
        .filter(subs::Column::TenantId.eq(tenant.to_string()))
        .filter(subs::Column::FlowId.eq(flow.to_string()))
        .filter(subs::Column::Status.eq("active"))
        .one(db)
        .await?
        .map(of))
}

/// The active subscription a hook id belongs to.
///
/// # Errors
/// On a database failure.
pub async fn by_hook(db: &impl ConnectionTrait, hook_id: &str) -> Result<Option<TriggerSubscription>, StoreError> {
    Ok(subs::Entity::find()
        .filter(subs::Column::HookId.eq(hook_id))
        .filter(subs::Column::Status.eq("active"))
        .one(db)
        .await?
        .map(of))
}

/// Every active subscription with this trigger key (`schedule`).
///
/// # Errors
/// On a database failure.
pub async fn active_with_key(db: &impl ConnectionTrait, key: &str) -> Result<Vec<TriggerSubscription>, StoreError> {
    Ok(subs::Entity::find()
        .filter(subs::Column::TriggerKey.eq(key))
        .filter(subs::Column::PluginId.is_null())
        .filter(subs::Column::Status.eq("active"))
        .all(db)
        .await?
        .into_iter()
        .map(of)
        .collect())
}

/// Every subscription (key rotation).
///
/// # Errors
/// On a database failure.
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<TriggerSubscription>, StoreError> {
    Ok(subs::Entity::find().all(db).await?.into_iter().map(of).collect())
}

/// Replaces a subscription's config if it is still `old` (key rotation).
///
/// # Errors
/// On a database failure.
pub async fn replace_config(db: &impl ConnectionTrait, id: &str, old: &Value, new: Value) -> Result<bool, StoreError> {
    use sea_orm::sea_query::Expr;
    let Some(row) = subs::Entity::find_by_id(id.to_string()).one(db).await? else {
        return Ok(false);
    };
    if &row.config != old {
        return Ok(false);
    }
    let result = subs::Entity::update_many()
        .col_expr(subs::Column::Config, Expr::value(new))
        .col_expr(subs::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(subs::Column::Id.eq(id))
        .filter(subs::Column::UpdatedAt.eq(row.updated_at))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Removes a subscription (the flow is deactivated); its hook id stops answering.
///
/// # Errors
/// On a database failure.
pub async fn remove(db: &impl ConnectionTrait, id: &str) -> Result<(), StoreError> {
    subs::Entity::delete_by_id(id.to_string()).exec(db).await?;
    Ok(())
}
