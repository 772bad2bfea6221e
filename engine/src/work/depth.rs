//! How much work is waiting, read from the items' own tables (so it is right whichever process
//! runs the workers): per kind, the items due and not claimed yet, and the oldest one's due time.

use bacon_entities::{channel_messages as messages, inbound_events, rest_hook_deliveries as deliveries, runs, steps};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, EntityTrait, Order, PaginatorTrait, QueryFilter, QueryOrder};

use super::status::{DeliveryStatus, MessageStatus};
use crate::StoreError;
use crate::runs::status::{RunStatus, StepStatus};

/// Waiting work of one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Depth {
    /// `step`, `channel_message`, `rest_hook_delivery`, `inbound_delivery`.
    pub kind: &'static str,
    /// Items due and not claimed by a worker.
    pub due: u64,
    /// When the oldest of them fell due.
    pub oldest_due_at: Option<DateTime<Utc>>,
}

/// The waiting work of every kind, and how many runs have not ended.
///
/// # Errors
/// On a database failure.
pub async fn read(db: &impl ConnectionTrait) -> Result<(Vec<Depth>, u64), StoreError> {
    let now = Utc::now();
    let due_steps = Condition::all()
        .add(steps::Column::Status.is_in([StepStatus::Pending.as_str(), StepStatus::Retrying.as_str()]))
        .add(Condition::any().add(steps::Column::NextAttemptAt.is_null()).add(steps::Column::NextAttemptAt.lte(now)));
    let oldest_step = steps::Entity::find()
        .filter(due_steps.clone())
        .order_by(Expr::cust("COALESCE(next_attempt_at, created_at)"), Order::Asc)
        .one(db)
        .await?
        .map(|s| s.next_attempt_at.unwrap_or(s.created_at));
    let due_messages = Condition::all()
        .add(messages::Column::Status.eq(MessageStatus::Queued.as_str()))
        .add(messages::Column::NextAttemptAt.lte(now));
    let due_deliveries = Condition::all()
        .add(deliveries::Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .add(deliveries::Column::NextAttemptAt.lte(now));
    let received = inbound_events::Column::Status.eq("received");
    let depths = vec![
        Depth {
            kind: "step",
            due: steps::Entity::find().filter(due_steps).count(db).await?,
            oldest_due_at: oldest_step,
        },
        Depth {
            kind: "channel_message",
            due: messages::Entity::find().filter(due_messages.clone()).count(db).await?,
            oldest_due_at: messages::Entity::find()
                .filter(due_messages)
                .order_by_asc(messages::Column::NextAttemptAt)
                .one(db)
                .await?
                .map(|m| m.next_attempt_at),
        },
        Depth {
            kind: "rest_hook_delivery",
            due: deliveries::Entity::find().filter(due_deliveries.clone()).count(db).await?,
            oldest_due_at: deliveries::Entity::find()
                .filter(due_deliveries)
                .order_by_asc(deliveries::Column::NextAttemptAt)
                .one(db)
                .await?
                .map(|d| d.next_attempt_at),
        },
        Depth {
            kind: "inbound_delivery",
            due: inbound_events::Entity::find().filter(received.clone()).count(db).await?,
            oldest_due_at: inbound_events::Entity::find()
                .filter(received)
                .order_by_asc(inbound_events::Column::ReceivedAt)
                .one(db)
                .await?
                .map(|e| e.received_at),
        },
    ];
    let running = runs::Entity::find().filter(runs::Column::Status.eq(RunStatus::Running.as_str())).count(db).await?;
    Ok((depths, running))
}
