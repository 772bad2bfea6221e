//! Calling Twilio's REST API: HTTP Basic auth, the account's URLs, and Twilio's error bodies
//! mapped into [`ActionError`].
//!
//! Every request goes through the host's allow-listed client (`ctx.http`). The base URL is the
//! operator's (`ctx.base_url`) when set, else the tenant's `baseUrl` setting.

use bacon_plugin_sdk::http::{HttpClient, error_for_status, parse_retry_after};
use bacon_plugin_sdk::{ActionContext, ActionError};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::settings::{Credential, TwilioSettings};

/// The API version every Programmable Messaging path starts with.
const API_VERSION: &str = "2010-04-01";

/// A Twilio REST client for one account and one credential.
pub(crate) struct TwilioClient {
    http: HttpClient,
    base_url: String,
    account_sid: String,
    credential: Credential,
}

impl TwilioClient {
    /// A client for the tenant's account.
    ///
    /// # Errors
    /// `Permanent` when the settings hold no usable credential or Account SID.
    pub(crate) fn new(ctx: &ActionContext, settings: &TwilioSettings) -> Result<Self, ActionError> {
        Ok(Self {
            http: ctx.http.clone(),
            base_url: ctx.base_url_or(&settings.base_url),
            account_sid: settings.account_sid()?.to_string(),
            credential: settings.credential()?,
        })
    }

    pub(crate) fn credential(&self) -> &Credential {
        &self.credential
    }

    pub(crate) fn account_sid(&self) -> &str {
        &self.account_sid
    }

    /// `<base>/2010-04-01/Accounts/<AccountSid><suffix>`, e.g. suffix `/Messages.json`.
    pub(crate) fn account_url(&self, suffix: &str) -> String {
        format!("{}/{API_VERSION}/Accounts/{}{suffix}", self.base_url, self.account_sid)
    }

    /// GETs `url` with `query` and parses the JSON answer.
    ///
    /// # Errors
    /// Twilio's error mapped by [`twilio_error`]; transport failures as `Retryable`.
    pub(crate) async fn get<T: DeserializeOwned>(&self, url: &str, query: &[(&str, &str)]) -> Result<T, ActionError> {
        let mut request = self.authorized(Method::GET, url)?;
        if !query.is_empty() {
            request = request.query(query);
        }
        self.execute(request).await
    }

    /// POSTs `form` (`application/x-www-form-urlencoded`; a name may repeat) and parses the JSON answer.
    ///
    /// # Errors
    /// As [`TwilioClient::get`].
    pub(crate) async fn post_form<T: DeserializeOwned>(
        &self,
        url: &str,
        form: &[(&str, String)],
    ) -> Result<T, ActionError> {
        let request = self.authorized(Method::POST, url)?.form(form);
        self.execute(request).await
    }

    fn authorized(&self, method: Method, url: &str) -> Result<reqwest::RequestBuilder, ActionError> {
        let request = self.http.request(method, url)?.header(reqwest::header::ACCEPT, "application/json");
        Ok(request.basic_auth(self.credential.username(), Some(self.credential.password().expose())))
    }

    async fn execute<T: DeserializeOwned>(&self, request: reqwest::RequestBuilder) -> Result<T, ActionError> {
        let response = self.http.send_any(request).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .text()
            .await
            .map_err(|e| ActionError::retryable(format!("reading Twilio's answer failed: {e}")))?;
        if !status.is_success() {
            return Err(twilio_error(status, &headers, &body));
        }
        // A success whose body we cannot read must not be retried: the message may have been sent.
        serde_json::from_str(&body).map_err(|e| {
            let excerpt: String = body.chars().take(200).collect();
            ActionError::permanent(format!("Twilio answered {status} with an unexpected body ({e}): {excerpt}"))
        })
    }
}

/// Twilio's error body: `{"code","message","more_info","status"}`; newer APIs answer RFC 9457
/// problem details (`title`, `detail`), read too.
#[derive(Debug, Default, Deserialize)]
struct TwilioErrorBody {
    code: Option<i64>,
    message: Option<String>,
    more_info: Option<String>,
    title: Option<String>,
    detail: Option<String>,
}

/// Error codes of a 400 that retrying or reshaping the input will not fix.
const PERMANENT_CODES: [i64; 3] = [
    63016, // outside WhatsApp's 24-hour customer-service window
    21610, // the recipient opted out (replied STOP)
    21408, // sending to this region is not enabled on the account
];

/// The input field a 400 error code is about, as a JSON pointer into `send_message`'s input.
fn pointer_for(code: i64) -> Option<&'static str> {
    match code {
        21211 | 21604 => Some("/to"),
        21212 => Some("/from"),
        21602 => Some("/body"),
        21620 => Some("/mediaUrls"),
        21609 => Some("/statusCallback"),
        _ => None,
    }
}

/// Maps a Twilio error answer: 429 or code 20429 -> `RateLimited` (with `Retry-After`);
/// 401/403 or 20003 -> `Unauthorized`; 404 -> `Permanent`; a 400 -> `InvalidInput` (with the
/// input field when the code names one) or `Permanent` for conditions input cannot fix (63016,
/// 21610, 21408); anything else per [`error_for_status`]. The message carries Twilio's code and
/// text (never a credential).
pub(crate) fn twilio_error(status: StatusCode, headers: &HeaderMap, body: &str) -> ActionError {
    let parsed: TwilioErrorBody = serde_json::from_str(body).unwrap_or_default();
    let text = parsed
        .message
        .or(parsed.detail)
        .or(parsed.title)
        .unwrap_or_else(|| body.trim().chars().take(300).collect::<String>());
    let code = parsed.code;
    let mut message = match code {
        Some(code) => format!("Twilio error {code} (HTTP {}): {text}", status.as_u16()),
        None => format!("Twilio answered HTTP {}: {text}", status.as_u16()),
    };
    if let Some(more) = parsed.more_info.filter(|m| !m.is_empty()) {
        message.push_str(&format!(" (see {more})"));
    }
    if code == Some(63016) {
        message.push_str(". Outside the 24-hour window, send an approved template: `contentSid` + `contentVariables`");
    }
    let retry_after = parse_retry_after(headers);
    match (status.as_u16(), code) {
        (429, _) | (_, Some(20429)) => ActionError::RateLimited { message, retry_after },
        (401 | 403, _) | (_, Some(20003)) => ActionError::Unauthorized { message },
        (_, Some(code)) if PERMANENT_CODES.contains(&code) => ActionError::Permanent { message },
        (404, _) => ActionError::Permanent { message },
        (400, code) => ActionError::InvalidInput { message, pointer: code.and_then(pointer_for).map(String::from) },
        _ => error_for_status(status, headers, body).map_message(|_| message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(status: u16, body: &str) -> ActionError {
        twilio_error(StatusCode::from_u16(status).unwrap(), &HeaderMap::new(), body)
    }

    #[test]
    fn twilio_codes_decide_the_kind() {
        let body = |code: i64, status: u16| {
            format!(
                r#"{{"code":{code},"message":"m","more_info":"https://www.twilio.com/docs/errors/{code}","status":{status}}}"#
            )
        };
        assert_eq!(error(429, &body(20429, 429)).kind(), "rate_limited");
        assert_eq!(error(401, &body(20003, 401)).kind(), "unauthorized");
        assert_eq!(error(404, &body(20404, 404)).kind(), "permanent");
        assert_eq!(error(400, &body(63016, 400)).kind(), "permanent");
        assert_eq!(error(503, "").kind(), "retryable");
        let invalid = error(400, &body(21211, 400));
        assert!(matches!(&invalid, ActionError::InvalidInput { pointer: Some(p), .. } if p == "/to"), "{invalid:?}");
        assert!(invalid.message().contains("21211") && invalid.message().contains("errors/21211"));
    }

    #[test]
    fn problem_details_and_plain_bodies_are_read() {
        let e =
            error(400, r#"{"type":"about:blank","title":"Bad Request","detail":"ContentSid is invalid","status":400}"#);
        assert_eq!(e.message(), "Twilio answered HTTP 400: ContentSid is invalid");
        assert_eq!(error(502, "Bad gateway").message(), "Twilio answered HTTP 502: Bad gateway");
    }
}
