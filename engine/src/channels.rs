//! Sending through channels as durable work: `POST /v1/channels/{pluginId}/messages` stores a
//! message in `channel_messages` and enqueues its work item in the same transaction
//! ([`ChannelOutbox::queue_message`]); a worker sends it through the plugin's channel adapter
//! ([`ChannelOutbox::send`]), one audited attempt per job, retrying retryable failures with the
//! shared backoff ([`crate::work::retry`], honouring `Retry-After`) up to the message's attempts.

use std::sync::Arc;
use std::time::Duration;

use bacon_plugin_sdk::channel::OutboundMessage;
use serde_json::{Value, json};

use crate::StoreError;
use crate::database::begin_write;
use crate::ids::{BotId, TenantId};
use crate::plugins::registry::PluginRegistry;
use crate::runs::engine::RunError;
use crate::store::audit::{self, NewAuditEntry};
use crate::store::channels::{self, ChannelMessage};
use crate::work::queue::commit;
use crate::work::retry::{backoff, due_after};
use crate::work::{Job, JobQueue, MessageStatus, WorkItem, WorkKind, outcome};

/// Attempts per message unless the request says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 5;

/// Queues and sends channel messages. Cheap to clone.
#[derive(Clone)]
pub struct ChannelOutbox {
    registry: PluginRegistry,
    queue: Arc<dyn JobQueue>,
    lease: Duration,
}

/// A message to queue.
#[derive(Debug, Clone)]
pub struct NewChannelMessage {
    pub tenant: TenantId,
    pub bot_id: Option<String>,
    pub plugin_id: String,
    pub conversation_id: Option<String>,
    /// An `OutboundMessage` as JSON.
    pub message: Value,
    pub max_attempts: i32,
}

impl ChannelOutbox {
    /// `lease`: how long one send may take before the reconciler hands it to another worker.
    pub fn new(registry: PluginRegistry, queue: Arc<dyn JobQueue>, lease: Duration) -> Self {
        Self { registry, queue, lease }
    }

    /// Stores the message and its work item in one transaction.
    ///
    /// # Errors
    /// On a database or queue failure (nothing is stored then).
    pub async fn queue_message(&self, new: NewChannelMessage) -> Result<ChannelMessage, RunError> {
        let txn = begin_write(self.registry.db()).await.map_err(StoreError::from)?;
        let row = channels::enqueue(
            &txn,
            new.tenant,
            new.bot_id,
            &new.plugin_id,
            new.conversation_id,
            new.message,
            new.max_attempts,
        )
        .await?;
        commit(self.queue.as_ref(), txn, vec![Job::now(WorkItem::channel_message(&row.id)?)]).await?;
        Ok(row)
    }

    /// One send attempt of message `id` (a worker's job). A message already sent, given up or
    /// being sent elsewhere is left alone; one not due yet gets a job for the rest of its wait.
    ///
    /// # Errors
    /// On a database or queue failure (the job is delivered again).
    pub async fn send(&self, id: &str) -> Result<(), RunError> {
        let db = self.registry.db();
        let lease = chrono::Duration::milliseconds(self.lease.as_millis() as i64);
        let Some(row) = channels::claim(db, id, lease).await? else {
            if let Some(due) = channels::due_at(db, id).await? {
                self.queue
                    .enqueue(vec![Job::for_the_rest(WorkItem::channel_message(id)?, due)])
                    .await
                    .map_err(RunError::Queue)?;
            }
            return Ok(());
        };
        let (status, external_id, error, retry) = self.attempt(&row).await;
        outcome::record("channel message", &row.id, || async {
            let txn = begin_write(db).await.map_err(StoreError::from)?;
            let next = retry.map(due_after);
            if !channels::finish(&txn, &row, status, external_id.clone(), error.clone(), next).await? {
                txn.rollback().await.map_err(StoreError::from)?;
                return Ok(());
            }
            let jobs = match retry {
                Some(wait) => vec![Job::after(WorkItem::channel_message(&row.id)?, wait)],
                None => Vec::new(),
            };
            Ok(commit(self.queue.as_ref(), txn, jobs).await?)
        })
        .await
    }

    /// Runs the attempt; returns the message's next status, the channel's id, the error, and
    /// the wait before another attempt when it is retried.
    async fn attempt(&self, row: &ChannelMessage) -> (MessageStatus, Option<String>, Option<String>, Option<Duration>) {
        let outbound: OutboundMessage = match serde_json::from_value(row.message.clone()) {
            Ok(m) => m,
            Err(e) => return (MessageStatus::Failed, None, Some(e.to_string()), None),
        };
        let Ok(tenant) = row.tenant_id.parse::<TenantId>() else {
            return (MessageStatus::Failed, None, Some("unknown tenant".into()), None);
        };
        let bot: Option<BotId> = row.bot_id.as_deref().and_then(|b| b.parse().ok());
        let attempt = row.attempts.max(1) as u32;
        let result = self
            .registry
            .send_channel_message(tenant, bot, &row.plugin_id, outbound, attempt, Some(row.id.clone()))
            .await;
        match result {
            Ok(sent) => {
                tracing::info!(message.id = %row.id, plugin.id = %row.plugin_id, attempt, "Channel message sent.");
                (MessageStatus::Sent, Some(sent.external_id), None, None)
            }
            Err(e) if e.is_retryable() && row.attempts < row.max_attempts => {
                (MessageStatus::Queued, None, Some(e.to_string()), Some(backoff(attempt, e.retry_after())))
            }
            Err(e) => {
                tracing::warn!(message.id = %row.id, plugin.id = %row.plugin_id, attempt, error = %e, "Channel message failed.");
                (MessageStatus::Failed, None, Some(e.to_string()), None)
            }
        }
    }

    /// Takes over messages whose sender died (lease over: the lost attempt is audited and the
    /// message queued again) and re-enqueues queued messages whose job is gone. Returns how many.
    ///
    /// # Errors
    /// On a database or queue failure.
    pub async fn reconcile(&self) -> Result<usize, RunError> {
        let db = self.registry.db();
        let overdue = channels::overdue(db, chrono::Duration::seconds(10), 500).await?;
        let waiting: Vec<String> =
            overdue.iter().filter(|m| m.status == MessageStatus::Queued).map(|m| m.id.clone()).collect();
        let queued = self.queue.queued(WorkKind::ChannelMessage, waiting).await.unwrap_or_default();
        let mut count = 0;
        for message in overdue {
            let job = Job::now(WorkItem::channel_message(&message.id)?);
            if message.status == MessageStatus::Queued {
                if !queued.contains(&message.id) {
                    self.queue.enqueue(vec![job]).await.map_err(RunError::Queue)?;
                    count += 1;
                }
                continue;
            }
            let txn = begin_write(db).await.map_err(StoreError::from)?;
            if !channels::release_expired(&txn, &message.id).await? {
                txn.rollback().await.map_err(StoreError::from)?;
                continue;
            }
            if let Ok(tenant) = message.tenant_id.parse::<TenantId>() {
                audit::append(&txn, lost_attempt(tenant, &message)).await?;
            }
            tracing::warn!(message.id = %message.id, attempt = message.attempts, "A channel send's worker was lost; the message is sent again.");
            commit(self.queue.as_ref(), txn, vec![job]).await?;
            self.registry.metrics().took_over("channel_message");
            count += 1;
        }
        Ok(count)
    }
}

fn lost_attempt(tenant: TenantId, message: &ChannelMessage) -> NewAuditEntry {
    NewAuditEntry {
        tenant_id: tenant,
        kind: "channel_send".into(),
        plugin_id: Some(message.plugin_id.clone()),
        action: Some("send_message".into()),
        run_id: None,
        step_id: None,
        attempt: message.attempts.max(1) as u32,
        outcome: audit::LOST.into(),
        duration_ms: (chrono::Utc::now() - message.updated_at).num_milliseconds().max(0) as u64,
        error: Some("the worker sending this message stopped before recording the outcome (its lease ran out); it is sent again".into()),
        details: Some(json!({"messageId": message.id})),
    }
}
