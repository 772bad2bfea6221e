//! Shopify's error answers mapped into [`ActionError`]s: REST statuses with their `errors`
//! bodies, and GraphQL `errors` arrays (which arrive with status 200).

use std::time::Duration;

use bacon_plugin_sdk::ActionError;
use bacon_plugin_sdk::http::{error_for_status, parse_retry_after};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// The longest wait derived from a GraphQL throttle status; Shopify refills in seconds.
const MAX_THROTTLE_WAIT: Duration = Duration::from_secs(60);

/// Maps a REST (or GraphQL transport) error status to an [`ActionError`] whose message carries
/// Shopify's own `errors` text: 429 -> `RateLimited` (honouring `Retry-After`, float seconds),
/// 401/403 -> `Unauthorized`, 402/404/423 -> `Permanent`, 400/422 -> `InvalidInput`,
/// 5xx -> `Retryable`.
pub fn rest_error(status: StatusCode, headers: &HeaderMap, body: &str) -> ActionError {
    let detail = vendor_detail(body);
    let code = status.as_u16();
    match code {
        429 => ActionError::RateLimited {
            message: format!("Shopify rate limit reached (429): {detail}"),
            retry_after: parse_retry_after(headers),
        },
        401 => ActionError::unauthorized(format!("Shopify rejected the credentials (401): {detail}")),
        403 => ActionError::unauthorized(format!(
            "the app lacks an access scope this request needs, or the shop refused it (403): {detail}"
        )),
        402 => ActionError::permanent(format!("the shop is frozen until its bill is paid (402): {detail}")),
        423 => ActionError::permanent(format!("the shop is locked (423): {detail}")),
        404 => ActionError::permanent(format!("Shopify found no such resource (404): {detail}")),
        400 | 422 => ActionError::invalid_input(format!("Shopify refused the request ({code}): {detail}")),
        _ => error_for_status(status, headers, body).map_message(|_| format!("Shopify answered {status}: {detail}")),
    }
}

/// Maps a non-empty GraphQL `errors` array: `THROTTLED` -> `RateLimited` (the wait derived from
/// `extensions.cost`), `ACCESS_DENIED` -> `Unauthorized`, `INTERNAL_SERVER_ERROR` -> `Retryable`,
/// anything else -> `Permanent`.
pub fn graphql_error(errors: &[Value], extensions: &Value) -> ActionError {
    let codes: Vec<&str> = errors.iter().filter_map(|e| e["extensions"]["code"].as_str()).collect();
    let messages = errors
        .iter()
        .map(|e| e["message"].as_str().map(str::to_string).unwrap_or_else(|| e.to_string()))
        .collect::<Vec<_>>()
        .join("; ");
    if codes.contains(&"THROTTLED") {
        return ActionError::RateLimited {
            message: format!("Shopify throttled the GraphQL query: {messages}"),
            retry_after: throttle_wait(extensions),
        };
    }
    if codes.contains(&"ACCESS_DENIED") {
        return ActionError::unauthorized(format!("the app lacks an access scope this query needs: {messages}"));
    }
    if codes.contains(&"INTERNAL_SERVER_ERROR") {
        return ActionError::retryable(format!("Shopify failed to run the GraphQL query: {messages}"));
    }
    ActionError::permanent(format!("Shopify refused the GraphQL query: {messages}"))
}

/// How long until the bucket holds the cost the throttled query asked for:
/// `(requestedQueryCost - currentlyAvailable) / restoreRate` seconds, at least one second.
fn throttle_wait(extensions: &Value) -> Option<Duration> {
    let cost = &extensions["cost"];
    let requested = cost["requestedQueryCost"].as_f64()?;
    let available = cost["throttleStatus"]["currentlyAvailable"].as_f64()?;
    let rate = cost["throttleStatus"]["restoreRate"].as_f64().filter(|r| *r > 0.0)?;
    let seconds = ((requested - available) / rate).max(1.0);
    Some(Duration::from_secs_f64(seconds).min(MAX_THROTTLE_WAIT))
}

/// Shopify's explanation in an error body: `errors` as a string, a list, or field -> messages
/// (422), or OAuth's `error` + `error_description`; otherwise a short excerpt of the body.
pub fn vendor_detail(body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let text = parsed.as_ref().and_then(|json| {
        let errors = &json["errors"];
        errors_text(errors).or_else(|| {
            let error = json["error"].as_str()?;
            Some(match json["error_description"].as_str() {
                Some(description) => format!("{error}: {description}"),
                None => error.to_string(),
            })
        })
    });
    match text {
        Some(text) if !text.is_empty() => text,
        _ => {
            let excerpt: String = body.trim().chars().take(300).collect();
            if excerpt.is_empty() { "no details given".into() } else { excerpt }
        }
    }
}

fn errors_text(errors: &Value) -> Option<String> {
    match errors {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => Some(items.iter().map(item_text).collect::<Vec<_>>().join("; ")),
        Value::Object(fields) => Some(
            fields
                .iter()
                .map(|(field, messages)| {
                    let messages = match messages {
                        Value::Array(items) => items.iter().map(item_text).collect::<Vec<_>>().join(", "),
                        other => item_text(other),
                    };
                    if field == "base" { messages } else { format!("{field} {messages}") }
                })
                .collect::<Vec<_>>()
                .join("; "),
        ),
        _ => None,
    }
}

fn item_text(item: &Value) -> String {
    match item {
        Value::String(s) => s.clone(),
        other => other["message"].as_str().map(str::to_string).unwrap_or_else(|| other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn error_bodies_become_sentences() {
        assert_eq!(vendor_detail(r#"{"errors":"[API] Invalid API key"}"#), "[API] Invalid API key");
        assert_eq!(
            vendor_detail(r#"{"errors":{"address":["for this topic has already been taken"],"base":["x"]}}"#),
            "address for this topic has already been taken; x"
        );
        assert_eq!(vendor_detail(r#"{"error":"invalid_client","error_description":"bad"}"#), "invalid_client: bad");
        assert_eq!(vendor_detail("<html>oops</html>"), "<html>oops</html>");
        assert_eq!(vendor_detail(""), "no details given");
    }

    #[test]
    fn graphql_throttling_waits_for_the_bucket() {
        let errors = [json!({"message": "Throttled", "extensions": {"code": "THROTTLED"}})];
        let extensions = json!({"cost": {"requestedQueryCost": 752, "actualQueryCost": null,
            "throttleStatus": {"maximumAvailable": 1000.0, "currentlyAvailable": 666, "restoreRate": 50.0}}});
        let err = graphql_error(&errors, &extensions);
        assert_eq!(err.kind(), "rate_limited");
        assert_eq!(err.retry_after(), Some(Duration::from_secs_f64(1.72)));
        let denied = [json!({"message": "Access denied for orders field.", "extensions": {"code": "ACCESS_DENIED"}})];
        assert_eq!(graphql_error(&denied, &Value::Null).kind(), "unauthorized");
    }

    #[test]
    fn statuses_map_per_shopify() {
        let none = HeaderMap::new();
        assert_eq!(rest_error(StatusCode::PAYMENT_REQUIRED, &none, "").kind(), "permanent");
        assert_eq!(rest_error(StatusCode::LOCKED, &none, "").kind(), "permanent");
        assert_eq!(rest_error(StatusCode::FORBIDDEN, &none, "").kind(), "unauthorized");
        assert_eq!(rest_error(StatusCode::UNPROCESSABLE_ENTITY, &none, "").kind(), "invalid_input");
        let e = rest_error(StatusCode::SERVICE_UNAVAILABLE, &none, r#"{"errors":"busy"}"#);
        assert_eq!(e.kind(), "retryable");
        assert_eq!(e.message(), "Shopify answered 503 Service Unavailable: busy");
    }
}
