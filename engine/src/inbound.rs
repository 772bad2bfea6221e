//! Triggers in the running server: activating a flow (a hook id, and the vendor-side webhook
//! registered through the plugin's `subscribe`), receiving deliveries on `POST /hooks/{hookId}`
//! (verified by the plugin before anything else, stored in the inbox once per delivery id,
//! acknowledged at once), and starting the flow's run from the inbox.
//!
//! A delivery is stored, with its work item, before it is acknowledged; a worker starts its run
//! ([`Inbound::process`]) with the idempotency key `inbound:<inboxId>`, so a job delivered twice
//! (or re-enqueued by [`Inbound::reconcile`] after a crash) never starts two runs for one delivery.
//!
//! A delivery first resumes the tenant's `wait` nodes whose correlation key it matches; one
//! that resumes a run of the hook's own flow is that run's event and starts no new run.
//!
//! Plain webhooks have no plugin to verify them: a signed one is checked by [`signature`]
//! (timestamp and body under the secret issued on activation), and its signature is its delivery id.

use bacon_plugin_sdk::trigger::{InboundRequest, VerifyError};
use base64::Engine;
use chrono::Duration as ChronoDuration;
use serde_json::{Value, json};
use sha2::Digest;

use crate::StoreError;
use crate::database::begin_write;
use crate::flows::graph::{FlowGraph, NodeKind, TriggerKind};
use crate::ids::{BotId, FlowId, InboundEventId, TenantId, TriggerSubscriptionId};
use crate::plugins::registry::PluginRegistry;
use crate::plugins::triggers::TriggerError;
use crate::runs::engine::{RunEngine, RunError, Started};
use crate::runs::status::RunTrigger;
use crate::schedules;
use crate::secrets::cipher::{Binding, Keyring};
use crate::store::inbound::{self, NewInboundEvent};
use crate::store::rest_hooks;
use crate::store::triggers::{self, NewTriggerSubscription, TriggerSubscription};
use crate::store::{self};
use crate::work::queue::{CommitError, QueueError, commit};
use crate::work::{Job, WorkItem, WorkKind};

pub mod signature;
mod sync;

pub use sync::SyncAnswer;

/// The inbox's plugin id for plain webhook triggers (no plugin verifies them).
pub const PLAIN_WEBHOOK: &str = "webhook";

/// The REST-hook event published when a channel message arrives.
pub const MESSAGE_RECEIVED: &str = "message.received";

/// Why a flow cannot be activated or deactivated.
#[derive(Debug, thiserror::Error)]
pub enum ActivationError {
    #[error("{0}")]
    NotActivatable(String),
    #[error(transparent)]
    Trigger(#[from] TriggerError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a delivery was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    #[error("no active trigger has hook id `{hook_id}`")]
    UnknownHook { hook_id: String },
    #[error("the delivery was refused: {reason}")]
    Refused { plugin_id: String, reason: VerifyError },
    #[error("the trigger cannot verify deliveries: {0}")]
    NotConfigured(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("could not enqueue the delivery: {0}")]
    Queue(QueueError),
}

/// An activated flow's trigger.
#[derive(Debug, Clone)]
pub struct Activation {
    pub subscription: TriggerSubscription,
    /// Whether this call activated it (else it was active already).
    pub created: bool,
    /// A signed webhook's signing secret, shown once: when this call created it.
    pub signing_secret: Option<String>,
}

/// What became of an authentic delivery (each is acknowledged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// New: stored in the inbox (this id) with the work item that starts its run.
    Accepted(String),
    /// A delivery id seen before: nothing stored or started.
    Duplicate,
    /// Holds no event for this trigger (say, only other HubSpot subscription types): nothing
    /// stored or started, and the vendor stops retrying it.
    Ignored,
}

impl Disposition {
    /// `accepted`, `duplicate` or `ignored`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Accepted(_) => "accepted",
            Self::Duplicate => "duplicate",
            Self::Ignored => "ignored",
        }
    }
}

/// What the vendor gets back for an accepted delivery.
#[derive(Debug, Clone)]
pub struct Receipt {
    /// The plugin that verified it, or `webhook`.
    pub plugin_id: String,
    pub disposition: Disposition,
    /// Content type and body the vendor expects (TwiML, a SOAP ack), if any.
    pub acknowledgement: Option<(String, Vec<u8>)>,
    /// For a `respond: "sync"` webhook: the delivery's inbox id (new or seen before) and how
    /// long its caller waits for the run's answer (see [`Inbound::answer`]).
    pub sync: Option<SyncDelivery>,
}

/// A synchronous webhook delivery, to answer with its run's response.
#[derive(Debug, Clone)]
pub struct SyncDelivery {
    pub tenant_id: TenantId,
    pub flow_id: FlowId,
    pub inbox_id: String,
    pub timeout: std::time::Duration,
}

/// Triggers and the webhook inbox. Cheap to clone.
#[derive(Clone)]
pub struct Inbound {
    registry: PluginRegistry,
    runs: RunEngine,
}

fn new_signing_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("whsec_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The field a signed webhook's secret is sealed under (binds the ciphertext to the subscription).
pub fn signing_field(subscription_id: &str) -> String {
    format!("trigger:{subscription_id}")
}

fn new_hook_id() -> String {
    let bytes: [u8; 24] = rand::random();
    format!("hk_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The URL a vendor calls for a hook id.
pub fn hook_url(public_url: &str, hook_id: &str) -> String {
    format!("{}/hooks/{hook_id}", public_url.trim_end_matches('/'))
}

impl Inbound {
    pub fn new(registry: PluginRegistry, runs: RunEngine) -> Self {
        Self { registry, runs }
    }

    /// Activates the flow's trigger: issues its hook id and, for a plugin trigger, registers the
    /// hook URL with the vendor. Returns the subscription and whether this call created it (an
    /// active flow is returned as it is).
    ///
    /// # Errors
    /// `NotActivatable` for manual triggers and invalid schedules; `Trigger` with the vendor's reason when
    /// the registration fails (the flow stays inactive).
    pub async fn activate(
        &self,
        tenant: TenantId,
        flow_id: FlowId,
        public_url: &str,
    ) -> Result<Activation, ActivationError> {
        let db = self.registry.db();
        let flow = store::flows::get(db, tenant, flow_id).await?;
        if let Some(active) = triggers::for_flow(db, tenant, flow_id).await? {
            return Ok(Activation { subscription: active, created: false, signing_secret: None });
        }
        let graph: FlowGraph = serde_json::from_value(flow.graph.clone())
            .map_err(|e| ActivationError::NotActivatable(format!("the flow's graph is not valid: {e}")))?;
        let Some(NodeKind::Trigger(config)) = graph.trigger().map(|n| &n.kind) else {
            return Err(ActivationError::NotActivatable("the flow has no single trigger node".into()));
        };
        let bot: Option<BotId> = flow.bot_id.as_deref().and_then(|b| b.parse().ok());
        let hook_id = new_hook_id();
        let subscription_id = TriggerSubscriptionId::generate().to_string();
        let mut trigger_config = None;
        let mut signing_secret = None;
        let (plugin_id, trigger_key, external_id) = match config.kind {
            TriggerKind::Manual => {
                return Err(ActivationError::NotActivatable(
                    "a manual trigger starts runs through the API (POST /v1/flows/{flowId}/runs); there is nothing to activate"
                        .into(),
                ));
            }
            TriggerKind::Schedule => {
                let cron = config.cron.clone().unwrap_or_default();
                schedules::parse_cron(&cron).map_err(ActivationError::NotActivatable)?;
                let tz =
                    schedules::parse_timezone(config.timezone.as_deref()).map_err(ActivationError::NotActivatable)?;
                trigger_config = Some(json!({"cron": cron, "timezone": tz.name()}));
                (None, schedules::SCHEDULE.to_string(), None)
            }
            TriggerKind::Webhook => {
                if config.signed == Some(true) {
                    let secret = new_signing_secret();
                    let field = signing_field(&subscription_id);
                    let tenant_text = tenant.to_string();
                    let binding = Binding::tenant(&tenant_text, PLAIN_WEBHOOK, &field);
                    trigger_config =
                        Some(json!({"signingSecret": self.registry.secrets().keyring().encrypt(&secret, &binding)}));
                    signing_secret = Some(secret);
                }
                (None, PLAIN_WEBHOOK.to_string(), None)
            }
            TriggerKind::Plugin => {
                let (Some(plugin), Some(key)) = (config.plugin_id.clone(), config.trigger_key.clone()) else {
                    return Err(ActivationError::NotActivatable(
                        "a plugin trigger needs `pluginId` and `triggerKey`".into(),
                    ));
                };
                let url = hook_url(public_url, &hook_id);
                let subscription = self.registry.subscribe_trigger(&plugin, &key, tenant, bot, url).await?;
                (Some(plugin), key, subscription.external_id)
            }
        };
        let stored = triggers::insert(
            db,
            NewTriggerSubscription {
                id: subscription_id.clone(),
                tenant_id: tenant,
                flow_id,
                plugin_id: plugin_id.clone(),
                trigger_key: trigger_key.clone(),
                hook_id,
                external_id: external_id.clone(),
                config: trigger_config.unwrap_or_else(|| json!({"version": flow.version})),
            },
        )
        .await;
        let stored = match stored {
            Ok(s) => s,
            Err(e) => {
                let winner = match &e {
                    // A concurrent activation won: keep its trigger, undo ours below.
                    StoreError::Conflict { .. } => triggers::for_flow(db, tenant, flow_id).await?,
                    _ => None,
                };
                // Do not leave a vendor webhook pointing at a hook id nobody stored.
                if let (Some(plugin), Some(external)) = (plugin_id, external_id)
                    && let Err(undo) =
                        self.registry.unsubscribe_trigger(&plugin, &trigger_key, tenant, bot, external).await
                {
                    tracing::warn!(flow.id = %flow_id, error = %undo, "Could not remove the vendor webhook after a failed activation.");
                }
                if let Some(winner) = winner {
                    return Ok(Activation { subscription: winner, created: false, signing_secret: None });
                }
                return Err(e.into());
            }
        };
        store::flows::set_active(db, tenant, flow_id, true).await?;
        tracing::info!(tenant.id = %tenant, flow.id = %flow_id, trigger = %stored.trigger_key, "Flow activated.");
        Ok(Activation { subscription: stored, created: true, signing_secret })
    }

    /// Deactivates the flow: removes the vendor-side webhook, then the hook id. `false` when the
    /// flow was not active. With `force` (the flow is being deleted) a vendor refusal is logged and
    /// the trigger removed anyway.
    ///
    /// # Errors
    /// `Trigger` when the vendor refuses to remove its webhook (the flow stays active; try again).
    pub async fn deactivate(&self, tenant: TenantId, flow_id: FlowId, force: bool) -> Result<bool, ActivationError> {
        let db = self.registry.db();
        let flow = store::flows::get(db, tenant, flow_id).await?;
        let Some(active) = triggers::for_flow(db, tenant, flow_id).await? else {
            return Ok(false);
        };
        if let (Some(plugin), Some(external)) = (&active.plugin_id, &active.external_id) {
            let bot: Option<BotId> = flow.bot_id.as_deref().and_then(|b| b.parse().ok());
            match self.registry.unsubscribe_trigger(plugin, &active.trigger_key, tenant, bot, external.clone()).await {
                Ok(()) => {}
                // The vendor said no: keep the flow active so the user can try again.
                Err(e @ TriggerError::Vendor(_)) if !force => return Err(e.into()),
                // Without settings or the plugin, the vendor cannot be reached at all: the hook goes
                // anyway (deliveries to it are refused from now on), and the log says so.
                Err(e) => {
                    tracing::warn!(flow.id = %flow_id, error = %e, "The vendor webhook could not be removed; remove it by hand.")
                }
            }
        }
        triggers::remove(db, &active.id).await?;
        store::flows::set_active(db, tenant, flow_id, false).await?;
        tracing::info!(tenant.id = %tenant, flow.id = %flow_id, "Flow deactivated.");
        Ok(true)
    }

    /// Verifies and stores a delivery on `hook_id`. The caller acknowledges it, then calls
    /// [`Inbound::process`] with the inbox id.
    ///
    /// # Errors
    /// `UnknownHook`, `Refused` (nothing is stored), `NotConfigured`, `Store`.
    pub async fn receive(&self, hook_id: &str, request: InboundRequest) -> Result<Receipt, ReceiveError> {
        let db = self.registry.db();
        let unknown = || ReceiveError::UnknownHook { hook_id: hook_id.to_string() };
        let subscription = triggers::by_hook(db, hook_id)
            .await?
            .filter(|s| s.trigger_key != schedules::SCHEDULE)
            .ok_or_else(unknown)?;
        let tenant: TenantId = subscription.tenant_id.parse().map_err(|_| unknown())?;
        let flow_id: FlowId = subscription.flow_id.parse().map_err(|_| unknown())?;
        // `message.received` for REST-hook subscribers, published with a new channel message.
        let mut message_received = None;
        // How long the caller of a `respond: "sync"` webhook waits for its run's answer.
        let mut sync_timeout = None;
        let (plugin_id, delivery_id, event, acknowledgement) = match &subscription.plugin_id {
            Some(plugin) => {
                let bot_id = match store::flows::get(db, tenant, flow_id).await {
                    Ok(flow) => flow.bot_id,
                    Err(StoreError::NotFound { .. }) => return Err(unknown()),
                    Err(e) => return Err(e.into()),
                };
                let bot = bot_id.as_deref().and_then(|b| b.parse::<BotId>().ok());
                let accepted = self
                    .registry
                    .verify_delivery(plugin, &subscription.trigger_key, tenant, bot, &request)
                    .await
                    .map_err(|e| match e {
                        TriggerError::Refused(reason) => ReceiveError::Refused { plugin_id: plugin.clone(), reason },
                        TriggerError::Store(s) => ReceiveError::Store(s),
                        other => ReceiveError::NotConfigured(other.to_string()),
                    })?;
                let Some(delivery) = accepted.delivery else {
                    return Ok(Receipt {
                        plugin_id: plugin.clone(),
                        disposition: Disposition::Ignored,
                        acknowledgement: accepted.acknowledgement,
                        sync: None,
                    });
                };
                let mut event = delivery.event;
                // A channel message belongs to a conversation (the user and the bot), so replies
                // reach the same conversation: `trigger.conversationId`.
                if let Some(message) = self.registry.normalise_channel_message(plugin, tenant, bot, &request).await
                    && let Some(fields) = event.as_object_mut()
                {
                    let conversation = store::channels::conversation_for(
                        db,
                        tenant,
                        bot_id.as_deref(),
                        plugin,
                        &message.channel,
                        &message.external_user_id,
                    )
                    .await?;
                    fields.insert("conversationId".into(), Value::String(conversation.id.clone()));
                    message_received = Some(json!({
                        "conversationId": conversation.id,
                        "messageId": message.delivery_id,
                        "botId": bot_id,
                        "channel": message.channel,
                        "from": message.external_user_id,
                        "text": message.text,
                        "media": message.media_urls,
                    }));
                }
                (plugin.clone(), delivery.delivery_id, event, accepted.acknowledgement)
            }
            None => {
                sync_timeout = sync::respond_timeout(db, tenant, flow_id).await?;
                let delivery_id = match subscription.config.get("signingSecret").and_then(Value::as_str) {
                    Some(sealed) => {
                        let field = signing_field(&subscription.id);
                        let binding = Binding::tenant(&subscription.tenant_id, PLAIN_WEBHOOK, &field);
                        let secret = self.registry.secrets().resolve(sealed, &binding).map_err(|e| {
                            ReceiveError::NotConfigured(format!("the signing secret cannot be read: {e}"))
                        })?;
                        // The signature is the delivery's identity: headers it does not cover
                        // (`Idempotency-Key`) cannot turn a replay into a new delivery.
                        signature::verify(secret.expose(), &request, chrono::Utc::now().timestamp())
                            .map_err(|reason| ReceiveError::Refused { plugin_id: PLAIN_WEBHOOK.into(), reason })?
                    }
                    None => plain_webhook_delivery_id(&request),
                };
                // Delivery ids are the caller's: scope them to this hook.
                (PLAIN_WEBHOOK.to_string(), format!("{hook_id}:{delivery_id}"), plain_webhook_event(&request), None)
            }
        };
        let id = InboundEventId::generate().to_string();
        // At rest: the body's digest and the header names, never their contents; the event is
        // sealed until its run starts.
        let sealed_event = self
            .registry
            .secrets()
            .keyring()
            .encrypt(&event.to_string(), &Binding::tenant(&subscription.tenant_id, &plugin_id, &event_field(&id)));
        // The inbox row and its work item commit together: acknowledged means it will run.
        let txn = begin_write(db).await.map_err(StoreError::from)?;
        let stored = inbound::record(
            &txn,
            NewInboundEvent {
                id: id.clone(),
                tenant_id: subscription.tenant_id.clone(),
                plugin_id: plugin_id.clone(),
                hook_id: hook_id.to_string(),
                flow_id: subscription.flow_id.clone(),
                delivery_id: delivery_id.clone(),
                header_names: request.headers.iter().map(|(name, _)| name.clone()).collect(),
                body_sha256: sha2::Sha256::digest(&request.body).to_vec(),
                sealed_event,
            },
        )
        .await?;
        let mut jobs = Vec::new();
        if stored {
            jobs.push(Job::now(WorkItem::inbound_delivery(&id)?));
            // Once per message, like its run: a vendor's retry is a duplicate and publishes nothing.
            if let Some(data) = message_received {
                let deliveries = rest_hooks::publish(&txn, &subscription.tenant_id, MESSAGE_RECEIVED, data).await?;
                for delivery in deliveries {
                    jobs.push(Job::now(WorkItem::rest_hook_delivery(&delivery)?));
                }
            }
        }
        commit(self.runs.queue().as_ref(), txn, jobs).await.map_err(|e| match e {
            CommitError::Store(s) => ReceiveError::Store(s),
            CommitError::Queue(q) => ReceiveError::Queue(q),
        })?;
        let sync = match sync_timeout {
            None => None,
            Some(timeout) => {
                let inbox_id = if stored {
                    Some(id.clone())
                } else {
                    inbound::id_of_delivery(db, &subscription.tenant_id, &plugin_id, &delivery_id).await?
                };
                inbox_id.map(|inbox_id| SyncDelivery { tenant_id: tenant, flow_id, inbox_id, timeout })
            }
        };
        let disposition = if stored { Disposition::Accepted(id) } else { Disposition::Duplicate };
        Ok(Receipt { plugin_id, disposition, acknowledgement, sync })
    }

    /// Starts the run of a stored delivery (once: the run's idempotency key is the inbox id).
    /// Returns the run id.
    ///
    /// # Errors
    /// On store, graph or queue failures (the delivery stays in the inbox and is retried).
    pub async fn process(&self, inbound_id: &str) -> Result<Option<String>, RunError> {
        let db = self.registry.db();
        let Some(pending) = inbound::pending(db, inbound_id).await? else {
            return Ok(None);
        };
        let (Ok(tenant), Ok(flow)) = (pending.tenant_id.parse::<TenantId>(), pending.flow_id.parse::<FlowId>()) else {
            inbound::finish(db, inbound_id, "failed").await?;
            return Ok(None);
        };
        let event = match self.unseal(&pending) {
            Ok(event) => event,
            Err(e) => {
                tracing::error!(inbound.id = %inbound_id, error = %e, "A stored delivery cannot be read; it is dropped.");
                inbound::finish(db, inbound_id, "failed").await?;
                return Ok(None);
            }
        };
        // Waits for this delivery (a reply in the same conversation) resume first; one in a run
        // of this hook's own flow takes the delivery, which then starts no run of that flow.
        let resumed = self
            .runs
            .resume_matching(
                &pending.tenant_id,
                &pending.plugin_id,
                &event,
                (inbound_id, pending.received_at),
                &pending.flow_id,
            )
            .await?;
        if let Some(run) = resumed.iter().find(|r| r.flow_id == pending.flow_id) {
            tracing::info!(flow.id = %flow, run.id = %run.id, inbound.id = %inbound_id, "A delivery resumed a waiting run.");
            return Ok(Some(run.id.clone()));
        }
        let key = format!("inbound:{inbound_id}");
        let started_by = if pending.plugin_id == PLAIN_WEBHOOK { RunTrigger::Webhook } else { RunTrigger::Plugin };
        match self.runs.start(tenant, flow, None, json!({}), Started::by(started_by, event), Some(key)).await {
            Ok((run, _)) => {
                inbound::finish(db, inbound_id, "processed").await?;
                tracing::info!(flow.id = %flow, run.id = %run.id, inbound.id = %inbound_id, "A delivery started a run.");
                Ok(Some(run.id))
            }
            // The tenant starts runs faster than its limit: the delivery waits its turn, spread
            // over a second so a backlog does not wake at once, behind every other tenant's work.
            Err(RunError::TooManyStarts { retry_after }) => {
                let item = WorkItem::inbound_delivery(inbound_id)?;
                let wait = retry_after + std::time::Duration::from_millis(rand::random_range(0..1_000));
                let job = Job::after(item, wait).with_priority(0);
                self.runs.queue().enqueue(vec![job]).await.map_err(RunError::Queue)?;
                tracing::debug!(inbound.id = %inbound_id, wait_ms = wait.as_millis() as u64, "A delivery waits for its tenant's run start rate.");
                Ok(None)
            }
            Err(RunError::Store(StoreError::NotFound { .. })) => {
                tracing::warn!(flow.id = %flow, inbound.id = %inbound_id, "A delivery's flow no longer exists.");
                inbound::finish(db, inbound_id, "failed").await?;
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// A stored delivery's event: decrypted, or as it is in a row stored before sealing.
    fn unseal(&self, pending: &inbound::PendingInboundEvent) -> Result<Value, String> {
        let sealed = match &pending.event {
            Value::String(text) if Keyring::is_sealed(text) => text,
            plain => return Ok(plain.clone()),
        };
        let field = event_field(&pending.id);
        let binding = Binding::tenant(&pending.tenant_id, &pending.plugin_id, &field);
        let plain = self.registry.secrets().keyring().decrypt(sealed, &binding).map_err(|e| e.to_string())?;
        serde_json::from_str(plain.expose()).map_err(|e| e.to_string())
    }

    /// Re-enqueues deliveries left unprocessed for more than 10 seconds whose job is gone (a
    /// queue that cannot push in a transaction, a job given up on). Returns how many.
    ///
    /// # Errors
    /// On a database or queue failure.
    pub async fn reconcile(&self) -> Result<usize, RunError> {
        let stale = inbound::stale(self.registry.db(), ChronoDuration::seconds(10), 500).await?;
        let ids: Vec<String> = stale.into_iter().map(|p| p.id).collect();
        let queue = self.runs.queue();
        let queued = queue.queued(WorkKind::InboundDelivery, ids.clone()).await.unwrap_or_default();
        let jobs = ids
            .iter()
            .filter(|id| !queued.contains(*id))
            .map(|id| WorkItem::inbound_delivery(id).map(Job::now))
            .collect::<Result<Vec<_>, _>>()?;
        let count = jobs.len();
        if count > 0 {
            tracing::info!(deliveries = count, "Reconciler re-enqueued stored deliveries.");
            queue.enqueue(jobs).await.map_err(RunError::Queue)?;
        }
        Ok(count)
    }
}

/// The binding field of a stored delivery's sealed event: the row's own id, so a sealed event
/// cannot be moved to another row.
fn event_field(inbound_id: &str) -> String {
    format!("inbound:{inbound_id}")
}

/// An unsigned plain webhook's delivery id: `Idempotency-Key` or `X-Request-Id`, else a new id.
fn plain_webhook_delivery_id(request: &InboundRequest) -> String {
    request
        .header("idempotency-key")
        .or_else(|| request.header("x-request-id"))
        .map(str::to_string)
        .unwrap_or_else(|| InboundEventId::generate().to_string())
}

/// A plain webhook's event: `{headers, body}`, the body parsed as JSON when it is JSON.
fn plain_webhook_event(request: &InboundRequest) -> Value {
    let body = if request.body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&request.body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&request.body).into()))
    };
    let headers: serde_json::Map<String, Value> = request
        .headers
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "authorization" | "cookie"))
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    json!({"headers": headers, "body": body})
}
