//! Delivering published events to REST-hook subscribers (Zapier's REST hooks).
//!
//! Events are written to `rest_hook_deliveries` in the transaction that produced them, with one
//! work item per delivery (see [`crate::store::rest_hooks::publish`] and the run engine); a worker
//! runs [`HookDispatcher::deliver`] per job. Each attempt runs the subscription plugin's
//! `deliver_rest_hook` action through the registry (guarded, audited as `rest_hook`). A `gone:`
//! error (the subscriber answered 410) removes the subscription; a retryable error is tried again
//! with the shared backoff ([`crate::work::retry`], honouring `Retry-After`) up to
//! [`MAX_ATTEMPTS`]; anything else fails the delivery.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::StoreError;
use crate::database::begin_write;
use crate::ids::TenantId;
use crate::plugins::registry::{InvokeError, InvokeRequest, PluginRegistry, RetryMode};
use crate::runs::engine::RunError;
use crate::secrets::cipher::Binding;
use crate::store::audit::{self, NewAuditEntry};
use crate::store::rest_hooks::{self, Delivery, target_field};
use crate::work::queue::commit;
use crate::work::retry::{backoff, due_after};
use crate::work::{DeliveryStatus, Job, JobQueue, WorkItem, WorkKind, outcome};

/// Attempts per delivery before it is marked `failed`.
pub const MAX_ATTEMPTS: u32 = 8;

/// The action a REST-hook plugin delivers with.
pub const DELIVER_ACTION: &str = "deliver_rest_hook";

/// The message prefix of the `Permanent` error a plugin returns when the subscriber answered 410.
pub const GONE_PREFIX: &str = "gone:";

/// Delivers REST-hook events. Cheap to clone.
#[derive(Clone)]
pub struct HookDispatcher {
    registry: PluginRegistry,
    queue: Arc<dyn JobQueue>,
    lease: Duration,
}

/// What an attempt leads to.
struct Attempted {
    status: DeliveryStatus,
    error: Option<String>,
    retry: Option<Duration>,
    /// The subscriber answered 410: remove its subscription.
    gone: Option<String>,
}

impl Attempted {
    fn done(status: DeliveryStatus, error: Option<String>) -> Self {
        Self { status, error, retry: None, gone: None }
    }
}

impl HookDispatcher {
    /// `lease`: how long one delivery may take before the reconciler hands it to another worker.
    pub fn new(registry: PluginRegistry, queue: Arc<dyn JobQueue>, lease: Duration) -> Self {
        Self { registry, queue, lease }
    }

    /// One attempt of delivery `id` (a worker's job). A delivery already done or being
    /// attempted elsewhere is left alone; one not due yet gets a job for the rest of its wait.
    ///
    /// # Errors
    /// On a database or queue failure (the job is delivered again).
    pub async fn deliver(&self, id: &str) -> Result<(), RunError> {
        let db = self.registry.db();
        let lease = chrono::Duration::milliseconds(self.lease.as_millis() as i64);
        let Some(delivery) = rest_hooks::claim(db, id, lease).await? else {
            if let Some(due) = rest_hooks::due_at(db, id).await? {
                self.queue
                    .enqueue(vec![Job::for_the_rest(WorkItem::rest_hook_delivery(id)?, due)])
                    .await
                    .map_err(RunError::Queue)?;
            }
            return Ok(());
        };
        let attempted = self.attempt(&delivery).await?;
        outcome::record("REST-hook delivery", &delivery.id, || async {
            let txn = begin_write(db).await.map_err(StoreError::from)?;
            let next = attempted.retry.map(due_after);
            if !rest_hooks::finish(&txn, &delivery, attempted.status, attempted.error.clone(), next).await? {
                txn.rollback().await.map_err(StoreError::from)?;
                return Ok(());
            }
            if let Some(subscription) = &attempted.gone {
                rest_hooks::remove_gone(&txn, subscription).await?;
            }
            let jobs = match attempted.retry {
                Some(wait) => vec![Job::after(WorkItem::rest_hook_delivery(&delivery.id)?, wait)],
                None => Vec::new(),
            };
            Ok(commit(self.queue.as_ref(), txn, jobs).await?)
        })
        .await
    }

    async fn attempt(&self, delivery: &Delivery) -> Result<Attempted, StoreError> {
        let db = self.registry.db();
        let Some(subscription) = rest_hooks::get(db, &delivery.subscription_id).await? else {
            return Ok(Attempted::done(DeliveryStatus::Gone, None));
        };
        let field = target_field(&subscription.id);
        let binding = Binding::tenant(&subscription.tenant_id, &subscription.plugin_id, &field);
        let target = match self.registry.secrets().resolve(&subscription.sealed_target_url, &binding) {
            Ok(t) => t,
            Err(e) => {
                let error = format!("the subscription's target URL cannot be decrypted: {e}");
                return Ok(Attempted::done(DeliveryStatus::Failed, Some(error)));
            }
        };
        let Ok(tenant) = delivery.tenant_id.parse::<TenantId>() else {
            return Ok(Attempted::done(DeliveryStatus::Failed, Some("unknown tenant".into())));
        };
        let attempt = delivery.attempts.max(1) as u32;
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
        Ok(match outcome.result {
            Ok(_) => {
                tracing::info!(subscription.id = %subscription.id, event = %delivery.event, attempt, "REST hook delivered.");
                Attempted::done(DeliveryStatus::Delivered, None)
            }
            Err(InvokeError::Action(e)) if e.message().starts_with(GONE_PREFIX) => {
                tracing::info!(subscription.id = %subscription.id, "The subscriber is gone (410): subscription removed.");
                Attempted {
                    gone: Some(subscription.id.clone()),
                    ..Attempted::done(DeliveryStatus::Gone, Some(e.to_string()))
                }
            }
            Err(e) if e.is_retryable() && attempt < MAX_ATTEMPTS => Attempted {
                retry: Some(backoff(attempt, e.retry_after())),
                ..Attempted::done(DeliveryStatus::Pending, Some(e.to_string()))
            },
            Err(e) => {
                tracing::warn!(subscription.id = %subscription.id, attempt, error = %e, "REST hook delivery failed.");
                Attempted::done(DeliveryStatus::Failed, Some(e.to_string()))
            }
        })
    }

    /// Takes over deliveries whose worker died (lease over: the lost attempt is audited and the
    /// delivery made due again) and re-enqueues pending ones whose job is gone. Returns how many.
    ///
    /// # Errors
    /// On a database or queue failure.
    pub async fn reconcile(&self) -> Result<usize, RunError> {
        let db = self.registry.db();
        let overdue = rest_hooks::overdue(db, chrono::Duration::seconds(10), 500).await?;
        let waiting: Vec<String> = overdue.iter().filter(|d| !d.lost).map(|d| d.id.clone()).collect();
        let queued = self.queue.queued(WorkKind::RestHookDelivery, waiting).await.unwrap_or_default();
        let mut count = 0;
        for delivery in overdue {
            let job = Job::now(WorkItem::rest_hook_delivery(&delivery.id)?);
            if !delivery.lost {
                if !queued.contains(&delivery.id) {
                    self.queue.enqueue(vec![job]).await.map_err(RunError::Queue)?;
                    count += 1;
                }
                continue;
            }
            let txn = begin_write(db).await.map_err(StoreError::from)?;
            if !rest_hooks::release_expired(&txn, &delivery.id).await? {
                txn.rollback().await.map_err(StoreError::from)?;
                continue;
            }
            let plugin_id = rest_hooks::get(&txn, &delivery.subscription_id).await?.map(|s| s.plugin_id);
            if let Ok(tenant) = delivery.tenant_id.parse::<TenantId>() {
                audit::append(&txn, lost_attempt(tenant, plugin_id, &delivery)).await?;
            }
            tracing::warn!(delivery.id = %delivery.id, attempt = delivery.attempts, "A REST-hook delivery's worker was lost; it is attempted again.");
            commit(self.queue.as_ref(), txn, vec![job]).await?;
            self.registry.metrics().took_over("rest_hook_delivery");
            count += 1;
        }
        Ok(count)
    }
}

fn lost_attempt(tenant: TenantId, plugin_id: Option<String>, delivery: &rest_hooks::Overdue) -> NewAuditEntry {
    NewAuditEntry {
        tenant_id: tenant,
        kind: "rest_hook".into(),
        plugin_id,
        action: Some(DELIVER_ACTION.into()),
        run_id: None,
        step_id: None,
        attempt: delivery.attempts.max(1) as u32,
        outcome: audit::LOST.into(),
        duration_ms: (chrono::Utc::now() - delivery.claimed_at).num_milliseconds().max(0) as u64,
        error: Some("the worker delivering this event stopped before recording the outcome (its lease ran out); it is delivered again".into()),
        details: Some(json!({"deliveryId": delivery.id})),
    }
}
