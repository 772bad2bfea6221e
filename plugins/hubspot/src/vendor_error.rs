//! HubSpot's error bodies, `{status, message, correlationId, category, subCategory?, errors?}`,
//! turned into [`ActionError`]s whose messages carry HubSpot's own words.
//!
//! Every field is optional: a proxy in front of HubSpot may answer with HTML or nothing.

use std::time::Duration;

use bacon_plugin_sdk::ActionError;
use bacon_plugin_sdk::http::parse_retry_after;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// The wait after a 429 of the ten-second rolling limit when HubSpot names none.
pub const TEN_SECONDLY_WAIT: Duration = Duration::from_secs(10);
/// The wait after a 429 of the search API's per-second limit.
pub const SECONDLY_WAIT: Duration = Duration::from_secs(1);

/// The fields of an error body the plugin reads.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct VendorError {
    pub message: Option<String>,
    pub category: Option<String>,
    pub correlation_id: Option<String>,
    /// The rate-limit policy of a 429 (`TEN_SECONDLY_ROLLING`, `SECONDLY`, `DAILY`).
    pub policy_name: Option<String>,
    /// `errors[].message`, in order.
    pub details: Vec<String>,
    /// `errors[].context.requiredGranularScopes` of a `MISSING_SCOPES` 403.
    pub required_scopes: Vec<String>,
    /// The body itself, shortened, when it is not a HubSpot error object.
    pub raw: Option<String>,
}

impl VendorError {
    /// Reads an error body; never fails.
    pub fn parse(body: &str) -> Self {
        let Ok(Value::Object(object)) = serde_json::from_str::<Value>(body) else {
            let raw: String = body.trim().chars().take(300).collect();
            return Self { raw: (!raw.is_empty()).then_some(raw), ..Self::default() };
        };
        let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::trim).map(str::to_string);
        let errors = object.get("errors").and_then(Value::as_array).cloned().unwrap_or_default();
        let details =
            errors.iter().filter_map(|e| e.get("message").and_then(Value::as_str)).map(str::to_string).collect();
        let required_scopes = errors
            .iter()
            .filter_map(|e| e.pointer("/context/requiredGranularScopes").and_then(Value::as_array))
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect();
        Self {
            message: text("message").filter(|m| !m.is_empty()),
            category: text("category").or_else(|| text("errorType")),
            correlation_id: text("correlationId"),
            policy_name: text("policyName"),
            details,
            required_scopes,
            raw: None,
        }
    }

    /// HubSpot's explanation in one line: message, category, missing scopes, correlation id.
    pub fn describe(&self) -> String {
        let mut text = self.message.clone().or_else(|| self.raw.clone()).unwrap_or_default();
        let extra: Vec<&str> = self.details.iter().map(String::as_str).filter(|d| !text.contains(d)).take(3).collect();
        if !extra.is_empty() {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&extra.join("; "));
        }
        if let Some(category) = &self.category {
            text.push_str(&format!(" [{category}]"));
        }
        if !self.required_scopes.is_empty() {
            text.push_str(&format!(" (required scopes: {})", self.required_scopes.join(", ")));
        }
        if let Some(id) = &self.correlation_id {
            text.push_str(&format!(" (correlationId {id})"));
        }
        text.trim().to_string()
    }
}

/// "HubSpot answered 401 Unauthorized: <HubSpot's explanation>".
pub fn status_message(status: StatusCode, vendor: &VendorError) -> String {
    let detail = vendor.describe();
    if detail.is_empty() {
        format!("HubSpot answered {status}")
    } else {
        format!("HubSpot answered {status}: {detail}")
    }
}

/// Maps a failed HubSpot response: 429 -> `RateLimited` (waiting `Retry-After`, else the
/// policy's window; the daily limit is `Permanent`), 401/403 -> `Unauthorized`, 400/422 ->
/// `InvalidInput`, 408/425/5xx -> `Retryable`, other 4xx (404, 409) -> `Permanent`.
pub fn api_error(status: StatusCode, headers: &HeaderMap, body: &str) -> ActionError {
    let vendor = VendorError::parse(body);
    let message = status_message(status, &vendor);
    match status.as_u16() {
        429 => rate_limited(headers, &vendor, message),
        401 | 403 => ActionError::Unauthorized { message },
        400 | 422 => ActionError::InvalidInput { message, pointer: None },
        408 | 425 | 500..=599 => ActionError::Retryable { message, retry_after: parse_retry_after(headers) },
        _ => ActionError::Permanent { message },
    }
}

fn rate_limited(headers: &HeaderMap, vendor: &VendorError, message: String) -> ActionError {
    let policy = vendor.policy_name.as_deref().unwrap_or_default();
    if policy.eq_ignore_ascii_case("DAILY") {
        // Retrying cannot help before the daily quota resets (midnight in the account's time zone).
        return ActionError::permanent(format!("{message}; HubSpot's daily API limit is used up"));
    }
    let window = if policy.eq_ignore_ascii_case("SECONDLY") {
        SECONDLY_WAIT
    } else {
        header_millis(headers, "x-hubspot-ratelimit-interval-milliseconds").unwrap_or(TEN_SECONDLY_WAIT)
    };
    ActionError::RateLimited { message, retry_after: Some(parse_retry_after(headers).unwrap_or(window)) }
}

fn header_millis(headers: &HeaderMap, name: &str) -> Option<Duration> {
    let ms: u64 = headers.get(name)?.to_str().ok()?.trim().parse().ok()?;
    (1..=86_400_000).contains(&ms).then(|| Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_a_missing_scope() {
        let body = r#"{"status":"error","message":"This app hasn't been granted all required scopes to make this call.",
            "correlationId":"c-1","category":"MISSING_SCOPES",
            "errors":[{"message":"One or more of the following scopes are required.",
                       "context":{"requiredGranularScopes":["crm.objects.contacts.write"]}}]}"#;
        let text = VendorError::parse(body).describe();
        assert!(text.starts_with("This app hasn't been granted all required scopes"), "{text}");
        assert!(text.contains("[MISSING_SCOPES]"), "{text}");
        assert!(text.contains("required scopes: crm.objects.contacts.write"), "{text}");
        assert!(text.ends_with("(correlationId c-1)"), "{text}");
    }

    #[test]
    fn keeps_a_short_excerpt_of_a_body_that_is_not_json() {
        let vendor = VendorError::parse("<html>Bad gateway</html>");
        assert_eq!(vendor.describe(), "<html>Bad gateway</html>");
        assert_eq!(VendorError::parse("").describe(), "");
    }

    #[test]
    fn the_rate_limit_wait_follows_the_policy() {
        let none = HeaderMap::new();
        let ten = api_error(StatusCode::TOO_MANY_REQUESTS, &none, r#"{"policyName":"TEN_SECONDLY_ROLLING"}"#);
        assert_eq!((ten.kind(), ten.retry_after()), ("rate_limited", Some(TEN_SECONDLY_WAIT)));
        let search = api_error(StatusCode::TOO_MANY_REQUESTS, &none, r#"{"policyName":"SECONDLY"}"#);
        assert_eq!(search.retry_after(), Some(SECONDLY_WAIT));
        let daily = api_error(StatusCode::TOO_MANY_REQUESTS, &none, r#"{"policyName":"DAILY"}"#);
        assert_eq!(daily.kind(), "permanent");
        let mut headers = HeaderMap::new();
        headers.insert("x-hubspot-ratelimit-interval-milliseconds", "2000".parse().unwrap());
        let interval = api_error(StatusCode::TOO_MANY_REQUESTS, &headers, "");
        assert_eq!(interval.retry_after(), Some(Duration::from_secs(2)));
    }

    #[test]
    fn statuses_map_to_kinds() {
        let none = HeaderMap::new();
        assert_eq!(api_error(StatusCode::FORBIDDEN, &none, "").kind(), "unauthorized");
        assert_eq!(api_error(StatusCode::BAD_REQUEST, &none, "").kind(), "invalid_input");
        assert_eq!(api_error(StatusCode::CONFLICT, &none, "").kind(), "permanent");
        assert_eq!(api_error(StatusCode::NOT_FOUND, &none, "").kind(), "permanent");
        assert_eq!(api_error(StatusCode::BAD_GATEWAY, &none, "").kind(), "retryable");
    }
}
