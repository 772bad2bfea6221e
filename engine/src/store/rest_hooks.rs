//! REST-hook subscriptions and their delivery outbox.
//!
//! A delivery row is written in the same transaction as the event it carries (a run's end), one
//! per subscription, and moves `pending -> delivering -> delivered | failed | gone` through guarded
//! UPDATEs; a `delivering` row whose lease ran out (its worker died) is due again.

use bacon_entities::{rest_hook_deliveries as deliveries, rest_hook_subscriptions as subscriptions};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use serde_json::{Value, json};

use crate::StoreError;
use crate::ids::{EventId, HookDeliveryId, HookSubscriptionId, TenantId};
use crate::work::DeliveryStatus;

/// A stored subscription; `sealed_target_url` is ciphertext.
#[derive(Debug, Clone, PartialEq)]
pub struct Subscription {
    pub id: String,
    pub tenant_id: String,
    pub plugin_id: String,
    pub event: String,
    pub sealed_target_url: String,
    pub created_at: DateTime<Utc>,
}

/// A delivery to attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub id: String,
    pub tenant_id: String,
    pub subscription_id: String,
    pub event: String,
    pub payload: Value,
    /// This attempt's number (attempts are counted when claimed).
    pub attempts: i32,
}

fn subscription_of(m: subscriptions::Model) -> Subscription {
    Subscription {
        id: m.id,
        tenant_id: m.tenant_id,
        plugin_id: m.plugin_id,
        event: m.event,
        sealed_target_url: m.target_url,
        created_at: m.created_at,
    }
}

/// The field name a subscription's target URL is sealed under (binds the ciphertext to the row).
pub fn target_field(subscription_id: &str) -> String {
    format!("rest_hook:{subscription_id}")
}

/// Stores a subscription whose id the caller generated (the seal is bound to it).
///
/// # Errors
/// On a database failure.
pub async fn subscribe(
    db: &impl ConnectionTrait,
    id: HookSubscriptionId,
    tenant: TenantId,
    plugin_id: &str,
    event: &str,
    sealed_target_url: String,
) -> Result<Subscription, StoreError> {
    let model = subscriptions::ActiveModel {
        id: Set(id.to_string()),
        tenant_id: Set(tenant.to_string()),
        plugin_id: Set(plugin_id.to_string()),
        event: Set(event.to_string()),
        target_url: Set(sealed_target_url),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await
    .map_err(|e| StoreError::from_db("subscription", e))?;
    Ok(subscription_of(model))
}

/// Removes a subscription of this tenant and plugin and drops its undelivered events; `false`
/// when there is none.
///
/// # Errors
/// On a database failure.
pub async fn unsubscribe(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    plugin_id: &str,
    id: &str,
) -> Result<bool, StoreError> {
    let deleted = subscriptions::Entity::delete_many()
        .filter(subscriptions::Column::Id.eq(id))
        .filter(subscriptions::Column::TenantId.eq(tenant.to_string()))
        .filter(subscriptions::Column::PluginId.eq(plugin_id))
        .exec(db)
        .await?;
    if deleted.rows_affected == 0 {
        return Ok(false);
    }
    drop_pending(db, id).await?;
    Ok(true)
}

/// Removes a subscription the subscriber said is gone (HTTP 410).
///
/// # Errors
/// On a database failure.
pub async fn remove_gone(db: &impl ConnectionTrait, id: &str) -> Result<(), StoreError> {
    subscriptions::Entity::delete_by_id(id.to_string()).exec(db).await?;
    drop_pending(db, id).await
}

async fn drop_pending(db: &impl ConnectionTrait, subscription_id: &str) -> Result<(), StoreError> {
    deliveries::Entity::update_many()
        .col_expr(deliveries::Column::Status, Expr::value(DeliveryStatus::Gone.as_str()))
        .col_expr(deliveries::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(deliveries::Column::SubscriptionId.eq(subscription_id))
        .filter(
            deliveries::Column::Status.is_in([DeliveryStatus::Pending.as_str(), DeliveryStatus::Delivering.as_str()]),
        )
        .exec(db)
        .await?;
    Ok(())
}

/// A subscription by id, whatever its tenant (workers only).
///
/// # Errors
/// On a database failure.
pub async fn get(db: &impl ConnectionTrait, id: &str) -> Result<Option<Subscription>, StoreError> {
    Ok(subscriptions::Entity::find_by_id(id.to_string()).one(db).await?.map(subscription_of))
}

/// The tenant's subscriptions to a plugin, oldest first.
///
/// # Errors
/// On a database failure.
pub async fn list(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    plugin_id: &str,
) -> Result<Vec<Subscription>, StoreError> {
    Ok(subscriptions::Entity::find()
        .filter(subscriptions::Column::TenantId.eq(tenant.to_string()))
        .filter(subscriptions::Column::PluginId.eq(plugin_id))
        .order_by_asc(subscriptions::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(subscription_of)
        .collect())
}

/// Every subscription (key rotation).
///
/// # Errors
/// On a database failure.
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<Subscription>, StoreError> {
    Ok(subscriptions::Entity::find().all(db).await?.into_iter().map(subscription_of).collect())
}

/// Replaces a target URL's ciphertext if it is still `old` (key rotation).
///
/// # Errors
/// On a database failure.
pub async fn replace_target(db: &impl ConnectionTrait, id: &str, old: &str, new: String) -> Result<bool, StoreError> {
    let result = subscriptions::Entity::update_many()
        .col_expr(subscriptions::Column::TargetUrl, Expr::value(new))
        .filter(subscriptions::Column::Id.eq(id))
        .filter(subscriptions::Column::TargetUrl.eq(old))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Records `event` for every subscription of the tenant to it, in the caller's transaction.
/// Returns the new deliveries' ids (the caller enqueues their work items in the same transaction).
///
/// # Errors
/// On a database failure.
pub async fn publish(
    db: &impl ConnectionTrait,
    tenant_id: &str,
    event: &str,
    data: Value,
) -> Result<Vec<String>, StoreError> {
    let subscribers = subscriptions::Entity::find()
        .filter(subscriptions::Column::TenantId.eq(tenant_id))
        .filter(subscriptions::Column::Event.eq(event))
        .all(db)
        .await?;
    if subscribers.is_empty() {
        return Ok(Vec::new());
    }
    let now = Utc::now();
    let event_id = EventId::generate().to_string();
    let payload = json!({"id": event_id, "event": event, "occurredAt": now.to_rfc3339(), "data": data});
    let mut ids = Vec::with_capacity(subscribers.len());
    for subscriber in subscribers {
        let id = HookDeliveryId::generate().to_string();
        ids.push(id.clone());
        deliveries::ActiveModel {
            id: Set(id),
            tenant_id: Set(tenant_id.to_string()),
            subscription_id: Set(subscriber.id),
            event: Set(event.to_string()),
            event_id: Set(event_id.clone()),
            payload: Set(payload.clone()),
            status: Set(DeliveryStatus::Pending.as_str().into()),
            attempts: Set(0),
            next_attempt_at: Set(now),
            lease_until: Set(None),
            last_error: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(db)
        .await?;
    }
    Ok(ids)
}

/// Claims a due delivery for one attempt (`pending -> delivering`, attempts + 1, with a lease).
/// `None` when it is not claimable: delivered, given up, taken by another worker, or not due yet.
///
/// # Errors
/// On a database failure.
pub async fn claim(db: &impl ConnectionTrait, id: &str, lease: ChronoDuration) -> Result<Option<Delivery>, StoreError> {
    let now = Utc::now();
    let claimed = deliveries::Entity::update_many()
        .col_expr(deliveries::Column::Status, Expr::value(DeliveryStatus::Delivering.as_str()))
        .col_expr(deliveries::Column::Attempts, Expr::col(deliveries::Column::Attempts).add(1))
        .col_expr(deliveries::Column::LeaseUntil, Expr::value(Some(now + lease)))
        .col_expr(deliveries::Column::UpdatedAt, Expr::value(now))
        .filter(deliveries::Column::Id.eq(id))
        .filter(deliveries::Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .filter(deliveries::Column::NextAttemptAt.lte(now))
        .exec_with_returning(db)
        .await?;
    Ok(claimed.into_iter().next().map(|row| Delivery {
        id: row.id,
        tenant_id: row.tenant_id,
        subscription_id: row.subscription_id,
        event: row.event,
        payload: row.payload,
        attempts: row.attempts,
    }))
}

/// When a `pending` delivery is due, if it is (a job that came early waits for the rest).
///
/// # Errors
/// On a database failure.
pub async fn due_at(db: &impl ConnectionTrait, id: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(deliveries::Entity::find_by_id(id.to_string())
        .filter(deliveries::Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .one(db)
        .await?
        .map(|row| row.next_attempt_at))
}

/// Records an attempt: `status` is `delivered`, `failed`, `gone`, or `pending` (retry at `next`).
///
/// `false` when this attempt is no longer the one being delivered: its outcome was recorded
/// already, or its lease was taken over.
///
/// # Errors
/// On a database failure.
pub async fn finish(
    db: &impl ConnectionTrait,
    claimed: &Delivery,
    status: DeliveryStatus,
    error: Option<String>,
    next: Option<DateTime<Utc>>,
) -> Result<bool, StoreError> {
    let now = Utc::now();
    let mut update = deliveries::Entity::update_many()
        .col_expr(deliveries::Column::Status, Expr::value(status.as_str()))
        .col_expr(deliveries::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(deliveries::Column::LastError, Expr::value(error))
        .col_expr(deliveries::Column::UpdatedAt, Expr::value(now));
    if let Some(next) = next {
        update = update.col_expr(deliveries::Column::NextAttemptAt, Expr::value(next));
    }
    let result = update
        .filter(deliveries::Column::Id.eq(claimed.id.as_str()))
        .filter(deliveries::Column::Status.eq(DeliveryStatus::Delivering.as_str()))
        .filter(deliveries::Column::Attempts.eq(claimed.attempts))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Deliveries a crashed process left behind: `delivering` past their lease, or `pending` more
/// than `grace` past due (their job may be lost). Longest-waiting first.
///
/// # Errors
/// On a database failure.
pub async fn overdue(db: &impl ConnectionTrait, grace: ChronoDuration, limit: u64) -> Result<Vec<Overdue>, StoreError> {
    let now = Utc::now();
    let rows = deliveries::Entity::find()
        .filter(
            Condition::any()
                .add(
                    Condition::all()
                        .add(deliveries::Column::Status.eq(DeliveryStatus::Delivering.as_str()))
                        .add(deliveries::Column::LeaseUntil.lt(now)),
                )
                .add(
                    Condition::all()
                        .add(deliveries::Column::Status.eq(DeliveryStatus::Pending.as_str()))
                        .add(deliveries::Column::NextAttemptAt.lt(now - grace)),
                ),
        )
        .order_by_asc(deliveries::Column::UpdatedAt)
        .limit(limit)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| Overdue {
            lost: row.status == DeliveryStatus::Delivering.as_str(),
            id: row.id,
            tenant_id: row.tenant_id,
            subscription_id: row.subscription_id,
            attempts: row.attempts,
            claimed_at: row.updated_at,
        })
        .collect())
}

/// An overdue delivery (see [`overdue`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Overdue {
    pub id: String,
    pub tenant_id: String,
    pub subscription_id: String,
    pub attempts: i32,
    /// Its worker died mid-attempt (else only its job is missing).
    pub lost: bool,
    /// When it was last claimed or rescheduled.
    pub claimed_at: DateTime<Utc>,
}

/// Returns a `delivering` delivery whose lease ran out to `pending`, due now. `false` when
/// another process took it first.
///
/// # Errors
/// On a database failure.
pub async fn release_expired(db: &impl ConnectionTrait, id: &str) -> Result<bool, StoreError> {
    let now = Utc::now();
    let released = deliveries::Entity::update_many()
        .col_expr(deliveries::Column::Status, Expr::value(DeliveryStatus::Pending.as_str()))
        .col_expr(deliveries::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(deliveries::Column::NextAttemptAt, Expr::value(now))
        .col_expr(deliveries::Column::UpdatedAt, Expr::value(now))
        .filter(deliveries::Column::Id.eq(id))
        .filter(deliveries::Column::Status.eq(DeliveryStatus::Delivering.as_str()))
        .filter(deliveries::Column::LeaseUntil.lt(now))
        .exec(db)
        .await?;
    Ok(released.rows_affected == 1)
}

/// The tenant's latest payloads of `event`, newest first, one per event id (sample lists).
///
/// # Errors
/// On a database failure.
pub async fn recent_payloads(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    event: &str,
    limit: u64,
) -> Result<Vec<Value>, StoreError> {
    let rows = deliveries::Entity::find()
        .filter(deliveries::Column::TenantId.eq(tenant.to_string()))
        .filter(deliveries::Column::Event.eq(event))
        .order_by_desc(deliveries::Column::CreatedAt)
        .limit(limit * 4)
        .all(db)
        .await?;
    let mut seen = std::collections::HashSet::new();
    Ok(rows.into_iter().filter(|r| seen.insert(r.event_id.clone())).map(|r| r.payload).take(limit as usize).collect())
}

/// The deliveries of one subscription, oldest first (tests and diagnostics).
///
/// # Errors
/// On a database failure.
pub async fn deliveries_of(db: &impl ConnectionTrait, subscription_id: &str) -> Result<Vec<(String, i32)>, StoreError> {
    Ok(deliveries::Entity::find()
        .filter(deliveries::Column::SubscriptionId.eq(subscription_id))
        .order_by_asc(deliveries::Column::CreatedAt)
        .all(db)
        .await?
        .into_iter()
        .map(|r| (r.status, r.attempts))
        .collect())
}
