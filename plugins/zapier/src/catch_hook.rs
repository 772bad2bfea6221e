//! The `send_to_catch_hook` action: POST a JSON object to the tenant's catch hook.

use bacon_plugin_sdk::schemars::{self, JsonSchema};
use bacon_plugin_sdk::{ActionContext, ActionError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::client::{error_for_response, post_json, to_json};
use crate::settings::ZapierSettings;

/// What to send to the Zap.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendToCatchHookInput {
    /// The JSON object the Zap receives; its keys become the trigger's fields (nested objects are
    /// flattened unless `recurseParse` is off in the settings).
    pub payload: Map<String, Value>,
}

/// Zapier's answer.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SendToCatchHookOutput {
    /// Zapier's `status`: `success` when the hook accepted the request.
    pub status: String,
    /// Zapier's id of the accepted request.
    pub id: Option<String>,
    /// Zapier's `request_id`, to quote to Zapier support.
    pub request_id: Option<String>,
    /// Zapier's `attempt` id, when it sends one.
    pub attempt: Option<String>,
}

/// The message of the `Permanent` error a 410 from a catch hook becomes.
pub(crate) fn hook_deleted() -> String {
    "the hook was deleted in Zapier (410 Gone): turn the Zap's Catch Hook trigger back on or copy its new URL \
     into `catchHookUrl`"
        .into()
}

pub(crate) async fn run(
    ctx: ActionContext,
    settings: ZapierSettings,
    input: SendToCatchHookInput,
) -> Result<SendToCatchHookOutput, ActionError> {
    let hook = settings.catch_hook()?;
    let response = post_json(&ctx, &hook.address(&ctx), to_json(&input.payload)?, settings.recurse_parse)
        .await
        .map_err(|e| hook.scrub(e))?;
    if !response.status.is_success() {
        return Err(hook.scrub(error_for_response(&response, hook_deleted)));
    }
    let answer = response.answer().filter(|a| a.status.is_some()).ok_or_else(|| {
        let excerpt: String = response.body.trim().chars().take(200).collect();
        hook.scrub(ActionError::permanent(format!(
            "{} answered {} but not with Zapier's usual {{\"status\": …}} JSON (the request may have been \
             accepted; not retrying): {excerpt}",
            hook.redacted(),
            response.status
        )))
    })?;
    Ok(SendToCatchHookOutput {
        status: answer.status.unwrap_or_default(),
        id: answer.id,
        request_id: answer.request_id,
        attempt: answer.attempt,
    })
}
