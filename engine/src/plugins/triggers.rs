//! Webhook triggers through the registry: verifying a delivery with the tenant's settings, and
//! registering / removing the vendor-side webhook (`subscribe` / `unsubscribe`).
//!
//! Verification runs before any other plugin logic, with the settings resolved for the tenant (and
//! the flow's bot); its errors never carry a secret or an expected signature.

use std::sync::Arc;

use bacon_plugin_sdk::context::ContextParts;
use bacon_plugin_sdk::trigger::{
    InboundRequest, Subscription, TriggerKind, VerifiedDelivery, VerifyError, WebhookTrigger,
};
use bacon_plugin_sdk::{ActionContext, ActionError};

use super::registry::PluginRegistry;
use super::settings::{self, ResolvedSettings, SettingsError};
use crate::StoreError;
use crate::ids::{BotId, TenantId};

/// Why a trigger operation could not run.
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    #[error("plugin `{plugin}` has no webhook trigger `{trigger}`")]
    UnknownTrigger { plugin: String, trigger: String },
    #[error("the plugin settings of this tenant are incomplete or invalid: {0}")]
    NotConfigured(String),
    #[error("the delivery was refused: {0}")]
    Refused(#[from] VerifyError),
    #[error("the vendor refused: {0}")]
    Vendor(ActionError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A verified delivery and the acknowledgement the vendor expects (TwiML, a SOAP ack, …).
#[derive(Debug, Clone)]
pub struct AcceptedDelivery {
    /// `None` when the delivery is authentic but holds no event for this trigger
    /// ([`VerifyError::NoEvent`]): acknowledge it, start nothing.
    pub delivery: Option<VerifiedDelivery>,
    pub acknowledgement: Option<(String, Vec<u8>)>,
}

impl PluginRegistry {
    fn webhook_trigger(&self, plugin_id: &str, key: &str) -> Result<Arc<dyn WebhookTrigger>, TriggerError> {
        let unknown = || TriggerError::UnknownTrigger { plugin: plugin_id.to_string(), trigger: key.to_string() };
        let plugin = self.get(plugin_id).ok_or_else(unknown)?;
        match plugin.definition.triggers.iter().find(|t| t.key == key).map(|t| &t.kind) {
            Some(TriggerKind::Webhook(trigger)) => Ok(trigger.clone()),
            _ => Err(unknown()),
        }
    }

    async fn trigger_settings(
        &self,
        plugin_id: &str,
        tenant: TenantId,
        bot: Option<BotId>,
    ) -> Result<ResolvedSettings, TriggerError> {
        let plugin = self
            .get(plugin_id)
            .ok_or_else(|| TriggerError::UnknownTrigger { plugin: plugin_id.to_string(), trigger: String::new() })?;
        settings::resolve(self.db(), self.secrets(), plugin, tenant, bot).await.map_err(|e| match e {
            SettingsError::Invalid(problems) => TriggerError::NotConfigured(
                problems.iter().map(|p| format!("{}: {}", p.pointer, p.message)).collect::<Vec<_>>().join("; "),
            ),
            SettingsError::Secret { field, .. } => {
                TriggerError::NotConfigured(format!("the secret `{field}` cannot be read"))
            }
            SettingsError::Store(s) => TriggerError::Store(s),
        })
    }

    /// Verifies an inbound delivery for trigger `key` of `plugin_id` with the tenant's settings.
    ///
    /// # Errors
    /// `Refused` when the plugin refuses it (never for [`VerifyError::NoEvent`], which is an
    /// accepted delivery without a `delivery`); `UnknownTrigger`, `NotConfigured`, `Store`.
    pub async fn verify_delivery(
        &self,
        plugin_id: &str,
        key: &str,
        tenant: TenantId,
        bot: Option<BotId>,
        request: &InboundRequest,
    ) -> Result<AcceptedDelivery, TriggerError> {
        let trigger = self.webhook_trigger(plugin_id, key)?;
        let settings = self.trigger_settings(plugin_id, tenant, bot).await?;
        let delivery = match trigger.verify(&settings.values, request) {
            Ok(delivery) => Some(VerifiedDelivery {
                delivery_id: delivery.delivery_id,
                event: settings.redactor.json(delivery.event),
            }),
            Err(VerifyError::NoEvent(reason)) => {
                tracing::info!(plugin.id = %plugin_id, trigger = %key, reason = %reason, "An authentic delivery holds no event for this trigger; it is acknowledged and ignored.");
                None
            }
            Err(refused) => return Err(refused.into()),
        };
        Ok(AcceptedDelivery { delivery, acknowledgement: trigger.acknowledgement() })
    }

    /// Registers `hook_url` with the vendor for trigger `key` (flow activation).
    ///
    /// # Errors
    /// `Vendor` with the vendor's reason (secrets scrubbed); `UnknownTrigger`, `NotConfigured`.
    pub async fn subscribe_trigger(
        &self,
        plugin_id: &str,
        key: &str,
        tenant: TenantId,
        bot: Option<BotId>,
        hook_url: String,
    ) -> Result<Subscription, TriggerError> {
        let trigger = self.webhook_trigger(plugin_id, key)?;
        let settings = self.trigger_settings(plugin_id, tenant, bot).await?;
        let ctx = self.trigger_context(plugin_id, "subscribe", tenant, bot, &settings);
        trigger
            .subscribe(ctx, hook_url)
            .await
            .map_err(|e| TriggerError::Vendor(e.map_message(|m| settings.redactor.text(m))))
    }

    /// Removes the vendor-side webhook `external_id` (flow deactivation).
    ///
    /// # Errors
    /// As [`PluginRegistry::subscribe_trigger`].
    pub async fn unsubscribe_trigger(
        &self,
        plugin_id: &str,
        key: &str,
        tenant: TenantId,
        bot: Option<BotId>,
        external_id: String,
    ) -> Result<(), TriggerError> {
        let trigger = self.webhook_trigger(plugin_id, key)?;
        let settings = self.trigger_settings(plugin_id, tenant, bot).await?;
        let ctx = self.trigger_context(plugin_id, "unsubscribe", tenant, bot, &settings);
        trigger
            .unsubscribe(ctx, external_id)
            .await
            .map_err(|e| TriggerError::Vendor(e.map_message(|m| settings.redactor.text(m))))
    }

    fn trigger_context(
        &self,
        plugin_id: &str,
        action: &str,
        tenant: TenantId,
        bot: Option<BotId>,
        settings: &ResolvedSettings,
    ) -> ActionContext {
        let plugin = self.get(plugin_id);
        ActionContext::new(ContextParts {
            tenant_id: tenant.to_string(),
            bot_id: bot.map(|b| b.to_string()),
            plugin_id: plugin_id.to_string(),
            action: action.to_string(),
            attempt: 1,
            idempotency_key: None,
            run_id: None,
            step_id: None,
            base_url: plugin.and_then(|p| p.base_url.clone()),
            http: plugin
                .map(|p| p.client_for(&settings.values))
                .unwrap_or_else(|| bacon_plugin_sdk::http::HttpClient::new(&[], std::time::Duration::from_secs(10))),
            settings: settings.values.clone(),
        })
    }
}
