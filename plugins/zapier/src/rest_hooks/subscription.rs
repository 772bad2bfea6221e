//! The subscribe request Zapier sends when a user turns a Zap on, and Bacon's answer.

use bacon_plugin_sdk::Secret;
use bacon_plugin_sdk::schemars::{self, JsonSchema};
use serde::{Deserialize, Serialize};

use crate::hook_url::{HookUrlError, RestHookTarget};
use crate::rest_hooks::events::{event_names, find_event};

/// `POST /v1/plugins/bacon-plugin-zapier/hooks` body:
/// `{"target_url": "https://hooks.zapier.com/hooks/standard/…", "event": "message.received"}`.
/// Other fields (added by a Zapier `pre_subscribe`) are ignored.
#[derive(Clone, Serialize, Deserialize, JsonSchema)]
pub struct SubscribeRequest {
    /// The URL Zapier generated for this Zap; events are POSTed there.
    pub target_url: String,
    /// One of the plugin's events ([`crate::rest_hooks::events::events`]).
    pub event: String,
}

impl std::fmt::Debug for SubscribeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SubscribeRequest").field("target_url", &"[REDACTED]").field("event", &self.event).finish()
    }
}

/// `201` body of a subscribe: `{"id": "sub_…"}`; Zapier sends the id back on unsubscribe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SubscribeResponse {
    /// The subscription's id, as the host stored it.
    pub id: String,
}

/// A subscribe request that passed validation: what the host stores.
#[derive(Debug, Clone)]
pub struct RestHookSubscription {
    /// The parsed target (print it: it is redacted).
    pub target: RestHookTarget,
    /// The exact target URL to store and later pass to `deliver_rest_hook` as `targetUrl`.
    pub target_url: Secret<String>,
    /// The event's name, one of the declared events.
    pub event: &'static str,
}

/// Why a subscribe request was refused (the host answers 422 with [`SubscribeError::pointer`]).
/// The message never contains the target URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscribeError {
    /// `target_url` is not an https URL on `hooks.zapier.com`.
    InvalidTargetUrl(HookUrlError),
    /// `event` is not one this plugin declares.
    UnknownEvent { event: String },
}

impl SubscribeError {
    /// The JSON pointer of the offending field in the request body.
    pub fn pointer(&self) -> &'static str {
        match self {
            Self::InvalidTargetUrl(_) => "/target_url",
            Self::UnknownEvent { .. } => "/event",
        }
    }
}

impl std::fmt::Display for SubscribeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::InvalidTargetUrl(e) => write!(f, "`target_url` is not a Zapier hook URL: {e}"),
            Self::UnknownEvent { event } => {
                let shown: String = event.chars().take(100).collect();
                write!(f, "`event` `{shown}` is not one of: {}", event_names().join(", "))
            }
        }
    }
}

impl std::error::Error for SubscribeError {}

impl SubscribeRequest {
    /// Validates the request: `target_url` is https on `hooks.zapier.com` with a
    /// `/hooks/{kind}/{account}/{hook}/` path, and `event` is a declared event.
    ///
    /// # Errors
    /// [`SubscribeError`] for the first field that is wrong, `event` first.
    pub fn parse(&self) -> Result<RestHookSubscription, SubscribeError> {
        let event =
            find_event(self.event.trim()).ok_or_else(|| SubscribeError::UnknownEvent { event: self.event.clone() })?;
        let target = RestHookTarget::parse(&self.target_url).map_err(SubscribeError::InvalidTargetUrl)?;
        Ok(RestHookSubscription {
            target,
            target_url: Secret::new(self.target_url.trim().to_string()),
            event: event.name,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(body: serde_json::Value) -> SubscribeRequest {
        serde_json::from_value(body).unwrap()
    }

    #[test]
    fn a_valid_request_parses() {
        let sub = request(json!({
            "target_url": "https://hooks.zapier.com/hooks/standard/123/abc/",
            "event": "message.received",
            "extra": "ignored",
        }))
        .parse()
        .unwrap();
        assert_eq!(sub.event, "message.received");
        assert_eq!(sub.target_url.expose(), "https://hooks.zapier.com/hooks/standard/123/abc/");
        assert_eq!(format!("{:?}", sub.target), "https://hooks.zapier.com/hooks/standard/123/***/");
        assert!(!format!("{sub:?}").contains("abc"));
    }

    #[test]
    fn an_unknown_event_is_refused_with_the_known_ones() {
        let err = request(
            json!({"target_url": "https://hooks.zapier.com/hooks/standard/123/abc/", "event": "order.created"}),
        )
        .parse()
        .unwrap_err();
        assert_eq!(err.pointer(), "/event");
        assert_eq!(
            err.to_string(),
            "`event` `order.created` is not one of: message.received, run.succeeded, run.failed, run.cancelled"
        );
    }

    #[test]
    fn a_target_off_zapier_or_without_https_is_refused_without_echoing_it() {
        for url in [
            "http://hooks.zapier.com/hooks/standard/123/abcdef/",
            "https://attacker.example/hooks/standard/123/abcdef/",
            "https://hooks.zapier.com.attacker.example/hooks/standard/123/abcdef/",
            "not a url abcdef",
        ] {
            let err = request(json!({"target_url": url, "event": "run.failed"})).parse().unwrap_err();
            assert_eq!(err.pointer(), "/target_url", "{url}");
            assert!(!err.to_string().contains("abcdef"), "{err}");
        }
    }

    #[test]
    fn the_response_is_an_id() {
        let body = serde_json::to_value(SubscribeResponse { id: "sub_123".into() }).unwrap();
        assert_eq!(body, json!({"id": "sub_123"}));
        assert!(serde_json::from_value::<SubscribeRequest>(json!({"event": "run.failed"})).is_err());
    }
}
