//! Posting JSON to a Zapier hook and reading Zapier's answer: the one place where statuses
//! become [`ActionError`]s.
//!
//! Zapier's hooks carry no auth header (the URL is the credential). They answer 2xx with
//! `{"status":"success","id":…,"request_id":…}`, 429 with `Retry-After` when throttled (about 30
//! requests a second per hook, 10,000 per 5 minutes in all), and 410 once the hook is gone.

use bacon_plugin_sdk::http::error_for_status;
use bacon_plugin_sdk::{ActionContext, ActionError, Secret};
use reqwest::header::{CONTENT_TYPE, HeaderMap};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};

use serde_json::Value;

/// Zapier's usual answer to a hook POST.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct ZapierAnswer {
    pub status: Option<String>,
    pub id: Option<String>,
    pub request_id: Option<String>,
    pub attempt: Option<String>,
}

/// A response from Zapier, read whole.
pub(crate) struct HookResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl HookResponse {
    /// The body as Zapier's usual answer, if it is one.
    pub fn answer(&self) -> Option<ZapierAnswer> {
        serde_json::from_str(&self.body).ok()
    }
}

/// POSTs `json` (serialised JSON) to `address`, through the allow-listed client, and reads the
/// response whatever its status. `recurse_parse: false` adds `X-Recurse-Parse: false`.
///
/// # Errors
/// A host outside the allow-list (`Permanent`, nothing sent); transport failures (`Retryable`).
/// Messages may contain the address: callers scrub them.
pub(crate) async fn post_json(
    ctx: &ActionContext,
    address: &Secret<String>,
    json: Vec<u8>,
    recurse_parse: bool,
) -> Result<HookResponse, ActionError> {
    let mut request =
        ctx.http.request(Method::POST, address.expose())?.header(CONTENT_TYPE, "application/json").body(json);
    if !recurse_parse {
        request = request.header("X-Recurse-Parse", "false");
    }
    let response = ctx.http.send_any(request).await?;
    let status = response.status();
    let headers = response.headers().clone();
    let body =
        response.text().await.map_err(|e| ActionError::retryable(format!("reading Zapier's answer failed: {e}")))?;
    Ok(HookResponse { status, headers, body })
}

/// `value` as JSON bytes.
///
/// # Errors
/// `InvalidInput` when it does not serialise (a map with non-string keys; not reachable from JSON input).
pub(crate) fn to_json(value: &impl Serialize) -> Result<Vec<u8>, ActionError> {
    serde_json::to_vec(value).map_err(|e| ActionError::invalid_input(format!("the payload is not JSON: {e}")))
}

/// Maps an error status from Zapier: 410 -> `Permanent` with `gone_message`; 429 -> `RateLimited`
/// (honouring `Retry-After`); 5xx -> `Retryable`; the rest as [`error_for_status`] does, with
/// Zapier's reason in the message.
pub(crate) fn error_for_response(response: &HookResponse, gone_message: impl FnOnce() -> String) -> ActionError {
    let status = response.status;
    let reason = reason(&response.body);
    let said = if reason.is_empty() { String::new() } else { format!(": {reason}") };
    match status.as_u16() {
        410 => ActionError::permanent(gone_message()),
        429 => {
            let error = error_for_status(status, &response.headers, &response.body);
            let wait =
                error.retry_after().map(|d| format!(" (retry after {:.1} s)", d.as_secs_f64())).unwrap_or_default();
            error.map_message(|_| format!("Zapier is throttling this hook (429 Too Many Requests){said}{wait}"))
        }
        _ => error_for_status(status, &response.headers, &response.body)
            .map_message(|_| format!("Zapier answered {status}{said}")),
    }
}

/// Zapier's reason for an error: `message`, or the `errors` list, of a JSON body; else a short
/// excerpt of the body.
fn reason(body: &str) -> String {
    if let Ok(json) = serde_json::from_str::<Value>(body) {
        if let Some(message) = json.get("message").and_then(Value::as_str) {
            return message.to_string();
        }
        if let Some(errors) = json.get("errors").and_then(Value::as_array) {
            let errors: Vec<String> =
                errors.iter().map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_string)).collect();
            return errors.join("; ");
        }
    }
    body.trim().chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> HookResponse {
        HookResponse { status: StatusCode::from_u16(status).unwrap(), headers: HeaderMap::new(), body: body.into() }
    }

    #[test]
    fn reasons_come_from_zapier_bodies() {
        let e = error_for_response(&response(400, r#"{"status":"error","message":"Bad JSON"}"#), String::new);
        assert_eq!(e.kind(), "invalid_input");
        assert_eq!(e.message(), "Zapier answered 400 Bad Request: Bad JSON");
        let e = error_for_response(&response(404, r#"{"errors":["Malformed request"]}"#), String::new);
        assert_eq!(e.kind(), "permanent");
        assert_eq!(e.message(), "Zapier answered 404 Not Found: Malformed request");
        let e = error_for_response(&response(503, ""), String::new);
        assert_eq!(e.kind(), "retryable");
        assert_eq!(e.message(), "Zapier answered 503 Service Unavailable");
        let e = error_for_response(&response(410, ""), || "gone".into());
        assert_eq!(e, ActionError::permanent("gone"));
    }
}
