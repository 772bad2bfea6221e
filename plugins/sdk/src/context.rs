//! [`ActionContext`]: what the host hands an action for one attempt.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ActionError;
use crate::http::HttpClient;

/// One attempt of one action for one tenant. The resolved settings (defaults applied, secrets
/// decrypted) are private: a handler reads them typed, through [`ActionContext::settings`], so
/// secret fields arrive as [`crate::Secret`] and never print.
#[derive(Clone)]
pub struct ActionContext {
    pub tenant_id: String,
    pub bot_id: Option<String>,
    pub plugin_id: String,
    pub action: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Stable across retries of the same step (`<runId>:<stepId>`); pass it to vendors that
    /// accept an idempotency key.
    pub idempotency_key: Option<String>,
    pub run_id: Option<String>,
    pub step_id: Option<String>,
    /// The base URL the operator configured for this plugin, if any (tests point it at mocks).
    pub base_url: Option<String>,
    /// The outbound HTTP client, restricted to the plugin's allowed hosts.
    pub http: HttpClient,
    settings: Value,
}

impl std::fmt::Debug for ActionContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionContext")
            .field("tenant_id", &self.tenant_id)
            .field("bot_id", &self.bot_id)
            .field("plugin_id", &self.plugin_id)
            .field("action", &self.action)
            .field("attempt", &self.attempt)
            .field("settings", &"[REDACTED]")
            .finish()
    }
}

/// The parts of a context that the host fills in.
pub struct ContextParts {
    pub tenant_id: String,
    pub bot_id: Option<String>,
    pub plugin_id: String,
    pub action: String,
    pub attempt: u32,
    pub idempotency_key: Option<String>,
    pub run_id: Option<String>,
    pub step_id: Option<String>,
    pub base_url: Option<String>,
    pub http: HttpClient,
    pub settings: Value,
}

impl ActionContext {
    /// Built by the host (or by `testing` helpers).
    pub fn new(parts: ContextParts) -> Self {
        Self {
            tenant_id: parts.tenant_id,
            bot_id: parts.bot_id,
            plugin_id: parts.plugin_id,
            action: parts.action,
            attempt: parts.attempt,
            idempotency_key: parts.idempotency_key,
            run_id: parts.run_id,
            step_id: parts.step_id,
            base_url: parts.base_url,
            http: parts.http,
            settings: parts.settings,
        }
    }

    /// The resolved settings as the plugin's settings type.
    ///
    /// # Errors
    /// `Permanent` when the stored settings do not match the type (the plugin is misconfigured).
    pub fn settings<S: DeserializeOwned>(&self) -> Result<S, ActionError> {
        serde_json::from_value(self.settings.clone()).map_err(|e| {
            ActionError::permanent(format!("the plugin settings of this tenant are incomplete or invalid: {e}"))
        })
    }

    /// `base_url` when configured, else `default`; without a trailing slash.
    pub fn base_url_or(&self, default: &str) -> String {
        self.base_url.as_deref().unwrap_or(default).trim_end_matches('/').to_string()
    }
}
