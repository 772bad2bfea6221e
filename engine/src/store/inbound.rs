//! The webhook inbox: verified deliveries, unique per (tenant, plugin, delivery id), stored before
//! they are acknowledged and processed (a run started) after.
//!
//! What is kept at rest: the body's SHA-256 and the header names, never the body or header
//! values; the event sealed by the caller until its run starts ([`finish`] clears it); and
//! nothing at all once the retention has passed (`crate::retention`).

use bacon_entities::inbound_events as events;
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use serde_json::Value;

use crate::StoreError;

/// A delivery to store.
pub struct NewInboundEvent {
    pub id: String,
    pub tenant_id: String,
    /// The plugin, or `webhook` for a plain webhook trigger.
    pub plugin_id: String,
    pub hook_id: String,
    pub flow_id: String,
    pub delivery_id: String,
    /// The delivery's header names.
    pub header_names: Vec<String>,
    /// The SHA-256 of the delivered body.
    pub body_sha256: Vec<u8>,
    /// The event, sealed (a JSON string holding the ciphertext).
    pub sealed_event: String,
}

/// A stored delivery not processed yet.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingInboundEvent {
    pub id: String,
    pub tenant_id: String,
    pub plugin_id: String,
    pub flow_id: String,
    /// Sealed (a JSON string), or plain JSON in rows stored before sealing.
    pub event: Value,
    pub received_at: DateTime<Utc>,
}

/// Stores a delivery; `false` when its delivery id was seen before (a duplicate: ignore it).
///
/// # Errors
/// On a database failure.
pub async fn record(db: &impl ConnectionTrait, new: NewInboundEvent) -> Result<bool, StoreError> {
    let inserted = events::Entity::insert(events::ActiveModel {
        id: Set(new.id),
        tenant_id: Set(new.tenant_id),
        plugin_id: Set(new.plugin_id),
        hook_id: Set(new.hook_id),
        delivery_id: Set(new.delivery_id),
        headers: Set(Value::from(new.header_names)),
        body_sha256: Set(new.body_sha256),
        status: Set("received".into()),
        received_at: Set(Utc::now()),
        processed_at: Set(None),
        event: Set(Some(Value::String(new.sealed_event))),
        flow_id: Set(Some(new.flow_id)),
    })
    .on_conflict(
        OnConflict::columns([events::Column::TenantId, events::Column::PluginId, events::Column::DeliveryId])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(inserted == 1)
}

/// The inbox id of the delivery `delivery_id` of `plugin_id`, if it was stored.
///
/// # Errors
/// On a database failure.
pub async fn id_of_delivery(
    db: &impl ConnectionTrait,
    tenant_id: &str,
    plugin_id: &str,
    delivery_id: &str,
) -> Result<Option<String>, StoreError> {
    Ok(events::Entity::find()
        .select_only()
        .column(events::Column::Id)
        .filter(events::Column::TenantId.eq(tenant_id))
        .filter(events::Column::PluginId.eq(plugin_id))
        .filter(events::Column::DeliveryId.eq(delivery_id))
        .into_tuple::<String>()
        .one(db)
        .await?)
}

/// A stored delivery by id, while it is unprocessed.
///
/// # Errors
/// On a database failure.
pub async fn pending(db: &impl ConnectionTrait, id: &str) -> Result<Option<PendingInboundEvent>, StoreError> {
    Ok(events::Entity::find_by_id(id.to_string())
        .filter(events::Column::Status.eq("received"))
        .one(db)
        .await?
        .and_then(pending_of))
}

fn pending_of(m: events::Model) -> Option<PendingInboundEvent> {
    Some(PendingInboundEvent {
        id: m.id,
        tenant_id: m.tenant_id,
        plugin_id: m.plugin_id,
        flow_id: m.flow_id?,
        event: m.event?,
        received_at: m.received_at,
    })
}

/// Deliveries received more than `older_than` ago and still unprocessed (their process died).
///
/// # Errors
/// On a database failure.
pub async fn stale(
    db: &impl ConnectionTrait,
    older_than: ChronoDuration,
    limit: u64,
) -> Result<Vec<PendingInboundEvent>, StoreError> {
    Ok(events::Entity::find()
        .filter(events::Column::Status.eq("received"))
        .filter(events::Column::ReceivedAt.lt(Utc::now() - older_than))
        .order_by_asc(events::Column::ReceivedAt)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .filter_map(pending_of)
        .collect())
}

/// Marks a delivery processed (`processed`, or `failed` when its flow could not start) and
/// clears its event: the run holds what it needs.
///
/// # Errors
/// On a database failure.
pub async fn finish(db: &impl ConnectionTrait, id: &str, status: &str) -> Result<(), StoreError> {
    events::Entity::update_many()
        .col_expr(events::Column::Status, Expr::value(status))
        .col_expr(events::Column::ProcessedAt, Expr::value(Some(Utc::now())))
        .col_expr(events::Column::Event, Expr::value(Option::<Value>::None))
        .filter(events::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// How many deliveries a hook stored (tests and diagnostics).
///
/// # Errors
/// On a database failure.
pub async fn count_for_hook(db: &impl ConnectionTrait, hook_id: &str) -> Result<u64, StoreError> {
    use sea_orm::PaginatorTrait;
    Ok(events::Entity::find().filter(events::Column::HookId.eq(hook_id)).count(db).await?)
}
