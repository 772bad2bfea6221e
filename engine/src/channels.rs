//! Sending through channels as durable work: `POST /v1/channels/{pluginId}/messages` queues a
//! message in the `channel_messages` outbox; the workers send it through the plugin's channel
//! adapter ([`ChannelOutbox::deliver_due`]), one audited attempt at a time, retrying retryable
//! failures with exponential backoff (honouring `Retry-After`) up to the message's attempts.

use std::time::Duration;

use bacon_plugin_sdk::RetryPolicy;
use bacon_plugin_sdk::channel::OutboundMessage;
use chrono::Utc;

use crate::StoreError;
use crate::ids::{BotId, TenantId};
use crate::plugins::registry::PluginRegistry;
use crate::store::channels::{self, ChannelMessage};

/// Attempts per message unless the request says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: i32 = 5;

/// Sends queued channel messages. Cheap to clone.
#[derive(Clone)]
pub struct ChannelOutbox {
    registry: PluginRegistry,
}

impl ChannelOutbox {
    pub fn new(registry: PluginRegistry) -> Self {
        Self { registry }
    }

    /// Attempts due messages once each (at most 10 per call, under a lease longer than 10 sends
    /// can take, so no other worker takes one over mid-batch). Returns how many were attempted.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn deliver_due(&self) -> Result<usize, StoreError> {
        let due = channels::claim_due(self.registry.db(), 10, chrono::Duration::seconds(600)).await?;
        let count = due.len();
        for message in due {
            self.send(message).await?;
        }
        Ok(count)
    }

    async fn send(&self, row: ChannelMessage) -> Result<(), StoreError> {
        let db = self.registry.db();
        let outbound: OutboundMessage = match serde_json::from_value(row.message.clone()) {
            Ok(m) => m,
            Err(e) => return channels::finish(db, &row.id, "failed", None, Some(e.to_string()), None).await,
        };
        let Ok(tenant) = row.tenant_id.parse::<TenantId>() else {
            return channels::finish(db, &row.id, "failed", None, Some("unknown tenant".into()), None).await;
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
                channels::finish(db, &row.id, "sent", Some(sent.external_id), None, None).await
            }
            Err(e) if e.is_retryable() && row.attempts < row.max_attempts => {
                let wait = RetryPolicy::default().delay(attempt, e.retry_after()).max(Duration::from_millis(500));
                let next = Utc::now() + chrono::Duration::milliseconds(wait.as_millis() as i64);
                channels::finish(db, &row.id, "queued", None, Some(e.to_string()), Some(next)).await
            }
            Err(e) => {
                tracing::warn!(message.id = %row.id, plugin.id = %row.plugin_id, attempt, error = %e, "Channel message failed.");
                channels::finish(db, &row.id, "failed", None, Some(e.to_string()), None).await
            }
        }
    }
}
