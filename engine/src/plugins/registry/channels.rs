//! [`PluginRegistry::send_channel_message`]: one attempt of a channel adapter's `send_message`,
//! guarded like an action attempt (own task, timeout, panic caught, secrets scrubbed) and audited
//! (`kind` `channel_send`, action `send_message`); and [`PluginRegistry::normalise_channel_message`]
//! for inbound deliveries.

use std::time::{Duration, Instant};

use bacon_plugin_sdk::ActionContext;
use bacon_plugin_sdk::channel::{InboundMessage, OutboundMessage, SentMessage};
use bacon_plugin_sdk::context::ContextParts;
use bacon_plugin_sdk::trigger::InboundRequest;
use serde_json::Value;

use super::{AbortOnDrop, Deferred, InvokeError, InvokeRequest, PluginRegistry, RetryMode, panic_message};
use crate::ids::{BotId, TenantId};
use crate::plugins::settings::{self, SettingsError};

/// How long one send may take.
pub const CHANNEL_SEND_TIMEOUT: Duration = Duration::from_secs(30);

impl PluginRegistry {
    /// Sends `message` through `plugin_id`'s channel adapter (attempt `attempt`).
    ///
    /// # Errors
    /// As an action attempt: unknown plugin (or no channel), settings, the adapter's error, a
    /// panic or a timeout.
    pub async fn send_channel_message(
        &self,
        tenant: TenantId,
        bot: Option<BotId>,
        plugin_id: &str,
        message: OutboundMessage,
        attempt: u32,
        idempotency_key: Option<String>,
    ) -> Result<SentMessage, InvokeError> {
        let started = Instant::now();
        let deferred = Deferred::default();
        let request = InvokeRequest {
            retry: RetryMode::SingleAttempt { attempt },
            kind: "channel_send",
            idempotency_key: idempotency_key.clone(),
            ..InvokeRequest::synchronous(tenant, bot, plugin_id, "send_message", Value::Null)
        };
        let Some((plugin, adapter)) =
            self.get(plugin_id).and_then(|p| p.definition.channel.clone().map(|a| (p.clone(), a)))
        else {
            return Err(InvokeError::UnknownAction { plugin: plugin_id.to_string(), action: "send_message".into() });
        };
        let resolved = match settings::resolve(self.db(), self.secrets(), &plugin, tenant, bot).await {
            Ok(s) => s,
            Err(e) => {
                let err = match e {
                    SettingsError::Invalid(problems) => InvokeError::NotConfigured(problems),
                    SettingsError::Secret { field, .. } => InvokeError::Secret(field),
                    SettingsError::Store(s) => InvokeError::Store(s),
                };
                self.audit(&request, attempt, started, Err(&err), &deferred).await;
                return Err(err);
            }
        };
        let ctx = ActionContext::new(ContextParts {
            tenant_id: tenant.to_string(),
            bot_id: bot.map(|b| b.to_string()),
            plugin_id: plugin_id.to_string(),
            action: "send_message".into(),
            attempt,
            idempotency_key,
            run_id: None,
            step_id: None,
            base_url: plugin.base_url.clone(),
            http: plugin.client_for(&resolved.values),
            settings: resolved.values.clone(),
        });
        let task = tokio::spawn(async move { adapter.send_message(ctx, message).await });
        let _abort = AbortOnDrop(task.abort_handle());
        let result = match tokio::time::timeout(CHANNEL_SEND_TIMEOUT, task).await {
            Err(_) => Err(InvokeError::TimedOut(CHANNEL_SEND_TIMEOUT)),
            Ok(Err(join)) if join.is_panic() => {
                Err(InvokeError::Panicked(resolved.redactor.text(&panic_message(join.into_panic()))))
            }
            Ok(Err(_)) => Err(InvokeError::Panicked("the send task was cancelled".into())),
            Ok(Ok(Err(e))) => Err(InvokeError::Action(e.map_message(|m| resolved.redactor.text(m)))),
            Ok(Ok(Ok(sent))) => Ok(sent),
        };
        self.audit(&request, attempt, started, result.as_ref().map(|_| &Value::Null), &deferred).await;
        result
    }

    /// Verifies and normalises an inbound channel message with `plugin_id`'s channel adapter;
    /// `None` when the plugin has no channel or refuses the request.
    pub async fn normalise_channel_message(
        &self,
        plugin_id: &str,
        tenant: TenantId,
        bot: Option<BotId>,
        request: &InboundRequest,
    ) -> Option<InboundMessage> {
        let plugin = self.get(plugin_id)?;
        let adapter = plugin.definition.channel.clone()?;
        let resolved = settings::resolve(self.db(), self.secrets(), plugin, tenant, bot).await.ok()?;
        adapter.validate_payload(&resolved.values, request).ok()
    }
}
