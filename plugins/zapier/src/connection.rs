//! The `test_connection` action. A catch hook accepts any well-formed request, so there is
//! nothing to authenticate: it checks the URL's form and, only when the tenant opted in
//! (`postTestEvent`), posts an explicit test event and reports Zapier's answer.

use bacon_plugin_sdk::action::{ConnectionStatus, NoInput};
use bacon_plugin_sdk::{ActionContext, ActionError};
use serde_json::json;

use crate::PLUGIN_ID;
use crate::catch_hook::hook_deleted;
use crate::client::{error_for_response, post_json, to_json};
use crate::settings::ZapierSettings;

/// The `message` of the test event, so a person reading the Zap history knows where it came from.
const TEST_EVENT_MESSAGE: &str =
    "A test event from Bacon's Zapier plugin (test_connection). Filter on `test` if the Zap should ignore it.";

pub(crate) async fn run(
    ctx: ActionContext,
    settings: ZapierSettings,
    _: NoInput,
) -> Result<ConnectionStatus, ActionError> {
    let hook = match settings.parse_catch_hook() {
        Ok(hook) => hook,
        Err(message) => return Ok(ConnectionStatus { ok: false, message, details: json!({}) }),
    };
    let redacted = hook.redacted();
    if !settings.post_test_event {
        return Ok(ConnectionStatus {
            ok: true,
            message: format!(
                "{redacted} is a well-formed catch hook URL; no event was sent (turn on `postTestEvent` to post a \
                 test event)"
            ),
            details: json!({"hook": redacted, "eventSent": false}),
        });
    }
    let event = json!({
        "test": true,
        "source": "bacon",
        "plugin": PLUGIN_ID,
        "message": TEST_EVENT_MESSAGE,
    });
    let response = match post_json(&ctx, &hook.address(&ctx), to_json(&event)?, settings.recurse_parse).await {
        Ok(response) => response,
        Err(e) => {
            return Ok(ConnectionStatus {
                ok: false,
                message: format!("the test event could not be sent to {redacted}: {}", hook.scrub(e).message()),
                details: json!({"hook": redacted, "eventSent": false}),
            });
        }
    };
    if !response.status.is_success() {
        let error = hook.scrub(error_for_response(&response, hook_deleted));
        return Ok(ConnectionStatus {
            ok: false,
            message: format!("{redacted} refused the test event: {}", error.message()),
            details: json!({"hook": redacted, "eventSent": true, "status": response.status.as_u16()}),
        });
    }
    let answer = response.answer().unwrap_or_default();
    let zapier_status = answer.status.clone().unwrap_or_default();
    let ok = zapier_status == "success";
    let request = answer.request_id.as_deref().map(|id| format!(" (request id {id})")).unwrap_or_default();
    let message = if ok {
        format!("Zapier accepted the test event sent to {redacted}{request}")
    } else {
        let excerpt: String = response.body.trim().chars().take(200).collect();
        hook.scrub(ActionError::permanent(format!(
            "{redacted} answered {} without Zapier's `\"status\": \"success\"`: {excerpt}",
            response.status
        )))
        .message()
        .to_string()
    };
    Ok(ConnectionStatus {
        ok,
        message,
        details: json!({
            "hook": redacted,
            "eventSent": true,
            "status": zapier_status,
            "id": answer.id,
            "requestId": answer.request_id,
        }),
    })
}
