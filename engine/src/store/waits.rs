//! Open waits of `wait` nodes: one row per waiting step, found by its run and event name (an
//! event posted to the run) or by tenant, plugin and correlation key (a delivery). Deleting the
//! row is how a wait is ended exactly once: whoever deletes it resumes the step.

use bacon_entities::waits;
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use crate::StoreError;

/// A wait as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Wait {
    pub step_id: String,
    pub tenant_id: String,
    pub run_id: String,
    pub node_id: String,
    pub event_name: String,
    pub plugin_id: Option<String>,
    pub event_key: Option<String>,
    pub correlation_key: Option<String>,
    pub due_at: Option<DateTime<Utc>>,
}

fn wait_of(m: waits::Model) -> Wait {
    Wait {
        step_id: m.step_id,
        tenant_id: m.tenant_id,
        run_id: m.run_id,
        node_id: m.node_id,
        event_name: m.event_name,
        plugin_id: m.plugin_id,
        event_key: m.event_key,
        correlation_key: m.correlation_key,
        due_at: m.due_at,
    }
}

/// Opens a wait (once per step: a second insert for the same step changes nothing).
///
/// # Errors
/// On a database failure.
pub async fn open(db: &impl ConnectionTrait, wait: &Wait) -> Result<(), StoreError> {
    let row = waits::ActiveModel {
        id: Set(wait.step_id.clone()),
        tenant_id: Set(wait.tenant_id.clone()),
        run_id: Set(wait.run_id.clone()),
        step_id: Set(wait.step_id.clone()),
        node_id: Set(wait.node_id.clone()),
        event_name: Set(wait.event_name.clone()),
        plugin_id: Set(wait.plugin_id.clone()),
        event_key: Set(wait.event_key.clone()),
        correlation_key: Set(wait.correlation_key.clone()),
        due_at: Set(wait.due_at),
        created_at: Set(Utc::now()),
    };
    waits::Entity::insert(row)
        .on_conflict(sea_orm::sea_query::OnConflict::column(waits::Column::Id).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The run's open wait for the event `name`, if any.
///
/// # Errors
/// On a database failure.
pub async fn for_event(db: &impl ConnectionTrait, run_id: &str, name: &str) -> Result<Option<Wait>, StoreError> {
    Ok(waits::Entity::find()
        .filter(waits::Column::RunId.eq(run_id))
        .filter(waits::Column::EventName.eq(name))
        // In a map, several items may wait for one name: the longest-waiting goes first.
        .order_by_asc(waits::Column::CreatedAt)
        .one(db)
        .await?
        .map(wait_of))
}

/// The run's open wait of node `node_id`, if any.
///
/// # Errors
/// On a database failure.
pub async fn for_node(db: &impl ConnectionTrait, run_id: &str, node_id: &str) -> Result<Option<Wait>, StoreError> {
    Ok(waits::Entity::find()
        .filter(waits::Column::RunId.eq(run_id))
        .filter(waits::Column::NodeId.eq(node_id))
        .one(db)
        .await?
        .map(wait_of))
}

/// The distinct expressions the tenant's open waits key `plugin_id`'s deliveries by.
///
/// # Errors
/// On a database failure.
pub async fn event_keys(
    db: &impl ConnectionTrait,
    tenant_id: &str,
    plugin_id: &str,
) -> Result<Vec<String>, StoreError> {
    Ok(waits::Entity::find()
        .select_only()
        .column(waits::Column::EventKey)
        .distinct()
        .filter(waits::Column::TenantId.eq(tenant_id))
        .filter(waits::Column::PluginId.eq(plugin_id))
        .filter(waits::Column::EventKey.is_not_null())
        .into_tuple::<Option<String>>()
        .all(db)
        .await?
        .into_iter()
        .flatten()
        .collect())
}

/// The tenant's waits for a delivery of `plugin_id` whose `event_key` expression gave `key`,
/// opened before `received_at` (a delivery never resumes a wait its own run opened after it).
///
/// # Errors
/// On a database failure.
pub async fn matching(
    db: &impl ConnectionTrait,
    tenant_id: &str,
    plugin_id: &str,
    event_key: &str,
    key: &str,
    received_at: DateTime<Utc>,
) -> Result<Vec<Wait>, StoreError> {
    Ok(waits::Entity::find()
        .filter(waits::Column::TenantId.eq(tenant_id))
        .filter(waits::Column::PluginId.eq(plugin_id))
        .filter(waits::Column::CorrelationKey.eq(key))
        .filter(waits::Column::EventKey.eq(event_key))
        .filter(waits::Column::CreatedAt.lt(received_at))
        .order_by_asc(waits::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(wait_of)
        .collect())
}

/// Ends the step's wait: `true` when this call deleted it (the caller resumes the step).
///
/// # Errors
/// On a database failure.
pub async fn close(db: &impl ConnectionTrait, step_id: &str) -> Result<bool, StoreError> {
    Ok(waits::Entity::delete_many().filter(waits::Column::Id.eq(step_id)).exec(db).await?.rows_affected == 1)
}

/// Ends every open wait of a run (it was cancelled or ended).
///
/// # Errors
/// On a database failure.
pub async fn delete_of_run(db: &impl ConnectionTrait, run_id: &str) -> Result<u64, StoreError> {
    Ok(waits::Entity::delete_many().filter(waits::Column::RunId.eq(run_id)).exec(db).await?.rows_affected)
}
