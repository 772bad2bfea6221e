//! The `deliver_rest_hook` action: POST one event to a subscription's target URL.
//!
//! 2xx -> delivered; 410 -> `Permanent` with a message starting `gone:` ([`is_gone`]), after which
//! the host deletes the subscription; 429 -> `RateLimited` (honouring `Retry-After`); 5xx ->
//! `Retryable`. Redeliveries are safe: the payload keeps its `id`, on which Zapier de-duplicates.

use bacon_plugin_sdk::schemars::{self, JsonSchema};
use bacon_plugin_sdk::{ActionContext, ActionError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::client::{error_for_response, post_json, to_json};
use crate::hook_url::RestHookTarget;
use crate::rest_hooks::events::payload_id;
use crate::settings::ZapierSettings;

/// The prefix of the message of the error a 410 from Zapier becomes.
pub const GONE_PREFIX: &str = "gone:";

/// Zapier refuses REST hook payloads over 10 MB.
pub const MAX_PAYLOAD_BYTES: usize = 10 * 1024 * 1024;

/// One event for one subscription.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeliverRestHookInput {
    /// The subscription's `target_url`, exactly as Zapier sent it on subscribe (https on
    /// `hooks.zapier.com`).
    pub target_url: String,
    /// The event (usually a `RestHookPayload`: `id`, `event`, `occurredAt`, `data`). It must
    /// have an `id`, a non-empty string or a number, unique per event: Zapier de-duplicates on it.
    pub payload: Map<String, Value>,
}

/// A delivered event.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliverRestHookOutput {
    /// Always `true`: a delivery that Zapier did not accept is an error.
    pub delivered: bool,
    /// Zapier's HTTP status (2xx).
    pub status: u16,
    /// The delivered payload's `id`.
    pub event_id: String,
    /// Zapier's `request_id`, when it sent one.
    pub request_id: Option<String>,
}

/// Whether `error` means Zapier answered 410 Gone: the Zap was turned off or deleted, and the
/// host must delete the subscription instead of retrying.
pub fn is_gone(error: &ActionError) -> bool {
    matches!(error, ActionError::Permanent { message } if message.starts_with(GONE_PREFIX))
}

pub(crate) async fn run(
    ctx: ActionContext,
    _: ZapierSettings,
    input: DeliverRestHookInput,
) -> Result<DeliverRestHookOutput, ActionError> {
    let target = RestHookTarget::parse(&input.target_url).map_err(|e| ActionError::InvalidInput {
        message: format!("`targetUrl` is not a Zapier hook URL: {e}"),
        pointer: Some("/targetUrl".into()),
    })?;
    let payload = Value::Object(input.payload);
    let event_id = payload_id(&payload).ok_or_else(|| ActionError::InvalidInput {
        message: "`payload` needs an `id` (a non-empty string or a number): Zapier de-duplicates events on it".into(),
        pointer: Some("/payload/id".into()),
    })?;
    let json = to_json(&payload)?;
    if json.len() > MAX_PAYLOAD_BYTES {
        return Err(ActionError::InvalidInput {
            message: format!("`payload` is {} bytes; Zapier accepts at most {MAX_PAYLOAD_BYTES}", json.len()),
            pointer: Some("/payload".into()),
        });
    }
    let response = post_json(&ctx, &target.address(&ctx), json, true).await.map_err(|e| target.scrub(e))?;
    if !response.status.is_success() {
        let gone = || {
            format!(
                "{GONE_PREFIX} Zapier answered 410 Gone for {}: the Zap was turned off or deleted, so the \
                 subscription must be removed",
                target.redacted()
            )
        };
        return Err(target.scrub(error_for_response(&response, gone)));
    }
    let request_id = response.answer().and_then(|a| a.request_id);
    Ok(DeliverRestHookOutput { delivered: true, status: response.status.as_u16(), event_id, request_id })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_permanent_gone_errors_are_gone() {
        assert!(is_gone(&ActionError::permanent("gone: Zapier answered 410 Gone")));
        assert!(!is_gone(&ActionError::permanent("Zapier answered 404 Not Found")));
        assert!(!is_gone(&ActionError::retryable("gone: not really")));
    }
}
