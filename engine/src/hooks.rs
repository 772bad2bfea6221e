//! Delivering published events to REST-hook subscribers (Zapier's REST hooks).
//!
//! Events are written to the `rest_hook_deliveries` outbox in the transaction that produced them
//! (see [`crate::store::rest_hooks::publish`]); the workers call [`HookDispatcher::deliver_due`]
//! every second. Each attempt runs the subscription plugin's `deliver_rest_hook` action through
//! the registry (guarded, audited as `rest_hook`). A `gone:` error (the subscriber answered 410)
//! removes the subscription; a retryable error is tried again with exponential backoff (honouring
//! `Retry-After`) up to [`MAX_ATTEMPTS`]; anything else fails the delivery.

use std::time::Duration;

use bacon_plugin_sdk::RetryPolicy;
use chrono::Utc;
use serde_json::json;

use crate::StoreError;
use crate::ids::TenantId;
use crate::plugins::registry::{InvokeError, InvokeRequest, PluginRegistry, RetryMode};
use crate::secrets::cipher::Binding;
use crate::store::rest_hooks::{self, Delivery, target_field};

/// Attempts per delivery before it is marked `failed`.
pub const MAX_ATTEMPTS: u32 = 8;

/// The action a REST-hook plugin delivers with.
pub const DELIVER_ACTION: &str = "deliver_rest_hook";

/// The message prefix of the `Permanent` error a plugin returns when the subscriber answered 410.
pub const GONE_PREFIX: &str = "gone:";

/// Delivers due REST-hook events. Cheap to clone.
#[derive(Clone)]
pub struct HookDispatcher {
    registry: PluginRegistry,
    lease: chrono::Duration,
}

impl HookDispatcher {
    pub fn new(registry: PluginRegistry) -> Self {
        // Ten deliveries per batch, each bounded by the action's timeout: the lease outlasts a batch.
        Self { registry, lease: chrono::Duration::seconds(600) }
    }

    /// Attempts due deliveries once each (at most 10 per call, under a lease longer than the batch
    /// can take). Returns how many were attempted.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn deliver_due(&self) -> Result<usize, StoreError> {
        let due = rest_hooks::claim_due(self.registry.db(), 10, self.lease).await?;
        let count = due.len();
        for delivery in due {
            self.deliver(delivery).await?;
        }
        Ok(count)
    }

    async fn deliver(&self, delivery: Delivery) -> Result<(), StoreError> {
        let db = self.registry.db();
        let Some(subscription) = rest_hooks::get(db, &delivery.subscription_id).await? else {
            return rest_hooks::finish(db, &delivery.id, "gone", None, None).await;
        };
        let field = target_field(&subscription.id);
        let binding = Binding { tenant_id: &subscription.tenant_id, plugin_id: &subscription.plugin_id, field: &field };
        let target = match self.registry.secrets().resolve(&subscription.sealed_target_url, &binding) {
            Ok(t) => t,
            Err(e) => {
                let error = format!("the subscription's target URL cannot be decrypted: {e}");
                return rest_hooks::finish(db, &delivery.id, "failed", Some(error), None).await;
            }
        };
        let Ok(tenant) = delivery.tenant_id.parse::<TenantId>() else {
            return rest_hooks::finish(db, &delivery.id, "failed", Some("unknown tenant".into()), None).await;
        };
        let attempt = delivery.attempts.max(0) as u32 + 1;
        let mut request = InvokeRequest::synchronous(
            tenant,
            None,
            &subscription.plugin_id,
            DELIVER_ACTION,
            json!({"targetUrl": target.expose(), "payload": delivery.payload}),
        );
        request.retry = RetryMode::SingleAttempt { attempt };
        request.kind = "rest_hook";
        request.idempotency_key = delivery.payload.get("id").and_then(|v| v.as_str()).map(str::to_string);
        let outcome = self.registry.invoke(request).await;
        match outcome.result {
            Ok(_) => {
                tracing::info!(subscription.id = %subscription.id, event = %delivery.event, attempt, "REST hook delivered.");
                rest_hooks::finish(db, &delivery.id, "delivered", None, None).await
            }
            Err(InvokeError::Action(e)) if e.message().starts_with(GONE_PREFIX) => {
                tracing::info!(subscription.id = %subscription.id, "The subscriber is gone (410): subscription removed.");
                rest_hooks::finish(db, &delivery.id, "gone", Some(e.to_string()), None).await?;
                rest_hooks::remove_gone(db, &subscription.id).await
            }
            Err(e) if e.is_retryable() && attempt < MAX_ATTEMPTS => {
                let wait = RetryPolicy::default().delay(attempt, e.retry_after()).max(Duration::from_secs(1));
                let next = Utc::now() + chrono::Duration::milliseconds(wait.as_millis() as i64);
                rest_hooks::finish(db, &delivery.id, "pending", Some(e.to_string()), Some(next)).await
            }
            Err(e) => {
                tracing::warn!(subscription.id = %subscription.id, attempt, error = %e, "REST hook delivery failed.");
                rest_hooks::finish(db, &delivery.id, "failed", Some(e.to_string()), None).await
            }
        }
    }
}
