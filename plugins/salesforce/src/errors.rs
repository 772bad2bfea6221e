//! Salesforce's error bodies mapped to [`ActionError`].
//!
//! REST errors are an array `[{"message","errorCode","fields"}]`; the token endpoint answers
//! `{"error","error_description"}`. Salesforce signals an exhausted API allowance with
//! **403** `REQUEST_LIMIT_EXCEEDED`, not 429.

use bacon_plugin_sdk::ActionError;
use bacon_plugin_sdk::http::{error_for_status, parse_retry_after};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::Deserialize;

/// One entry of a REST error body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RestError {
    #[serde(default)]
    message: String,
    #[serde(default)]
    error_code: String,
    #[serde(default)]
    fields: Vec<String>,
}

/// The token endpoint's error body.
#[derive(Debug, Deserialize)]
struct OAuthError {
    error: String,
    #[serde(default)]
    error_description: String,
}

/// Whether a failed request may be sent again without risk of doing its work twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// Reads: a 500 is retried.
    Idempotent,
    /// Creates: a 500 may have created the record, so it is not retried.
    NotIdempotent,
}

/// Maps an error response of the REST API.
pub(crate) fn rest_error(status: StatusCode, headers: &HeaderMap, body: &str, idempotency: Idempotency) -> ActionError {
    let errors: Vec<RestError> = serde_json::from_str(body).unwrap_or_default();
    let Some(first) = errors.first() else {
        return error_for_status(status, headers, body).map_message(|m| m.replacen("the vendor", "Salesforce", 1));
    };
    let code = first.error_code.as_str();
    let detail = errors
        .iter()
        .map(|e| {
            if e.fields.is_empty() {
                e.message.clone()
            } else {
                format!("{} (fields: {})", e.message, e.fields.join(", "))
            }
        })
        .collect::<Vec<_>>()
        .join("; ");
    let message = format!("Salesforce answered {} {code}: {detail}", status.as_u16());
    let retry_after = parse_retry_after(headers);
    match status.as_u16() {
        403 if code == "REQUEST_LIMIT_EXCEEDED" => ActionError::RateLimited { message, retry_after },
        429 => ActionError::RateLimited { message, retry_after },
        401 | 403 => ActionError::Unauthorized { message },
        400 | 422 => ActionError::InvalidInput { message, pointer: None },
        500 if idempotency == Idempotency::NotIdempotent => ActionError::permanent(format!(
            "{message} (not retried: the request may have been applied; check Salesforce before running it again)"
        )),
        500..=599 => ActionError::Retryable { message, retry_after },
        _ => ActionError::permanent(message),
    }
}

/// Maps an error response of the token endpoint: a refusal of the credentials is `Unauthorized`
/// with Salesforce's `error_description`; throttling and outages keep their usual meaning.
pub(crate) fn token_error(status: StatusCode, headers: &HeaderMap, body: &str) -> ActionError {
    match serde_json::from_str::<OAuthError>(body) {
        Ok(e) if matches!(status.as_u16(), 400 | 401 | 403) => {
            let reason = if e.error_description.is_empty() { e.error.clone() } else { e.error_description.clone() };
            ActionError::unauthorized(format!("Salesforce refused the client credentials: {reason} ({})", e.error))
        }
        _ => rest_error(status, headers, body, Idempotency::Idempotent),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(status: u16, body: &str) -> ActionError {
        rest_error(StatusCode::from_u16(status).unwrap(), &HeaderMap::new(), body, Idempotency::Idempotent)
    }

    #[test]
    fn request_limit_exceeded_is_rate_limited() {
        let e = map(403, r#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#);
        assert_eq!(e.kind(), "rate_limited");
        assert!(e.message().contains("TotalRequests Limit exceeded."), "{e}");
    }

    #[test]
    fn other_statuses() {
        let e = map(400, r#"[{"message":"unexpected token: 'FORM'","errorCode":"MALFORMED_QUERY"}]"#);
        assert_eq!(e.kind(), "invalid_input");
        assert_eq!(e.message(), "Salesforce answered 400 MALFORMED_QUERY: unexpected token: 'FORM'");
        let e = map(
            403,
            r#"[{"message":"API is not enabled for this Organization or Partner","errorCode":"API_DISABLED_FOR_ORG"}]"#,
        );
        assert_eq!(e.kind(), "unauthorized");
        assert_eq!(map(404, r#"[{"message":"gone","errorCode":"NOT_FOUND"}]"#).kind(), "permanent");
        assert_eq!(map(503, r#"[{"message":"down","errorCode":"SERVER_UNAVAILABLE"}]"#).kind(), "retryable");
        assert_eq!(map(503, "").kind(), "retryable");
        let create = rest_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &HeaderMap::new(),
            r#"[{"message":"boom","errorCode":"UNKNOWN_EXCEPTION"}]"#,
            Idempotency::NotIdempotent,
        );
        assert_eq!(create.kind(), "permanent");
        let e = map(
            400,
            r#"[{"message":"Required fields are missing: [Subject]","errorCode":"REQUIRED_FIELD_MISSING","fields":["Subject"]}]"#,
        );
        assert!(e.message().ends_with("Required fields are missing: [Subject] (fields: Subject)"), "{e}");
    }

    #[test]
    fn token_refusals_carry_the_description() {
        let e = token_error(
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            r#"{"error":"invalid_client","error_description":"invalid client credentials"}"#,
        );
        assert_eq!(e.kind(), "unauthorized");
        assert_eq!(
            e.message(),
            "Salesforce refused the client credentials: invalid client credentials (invalid_client)"
        );
        assert_eq!(token_error(StatusCode::SERVICE_UNAVAILABLE, &HeaderMap::new(), "").kind(), "retryable");
    }
}
