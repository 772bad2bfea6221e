//! The plugin's settings, and the credential they hold.
//!
//! Twilio accepts two credentials for its REST API: the account's Auth Token, or an API key
//! (`SK…` SID + secret). Webhooks from Twilio are always signed with the Auth Token, so a tenant
//! that uses an API key and receives messages sets both.

use bacon_plugin_sdk::schemars::{self, JsonSchema};
use bacon_plugin_sdk::{ActionError, Secret};
use serde::Deserialize;

/// Where Twilio's REST API lives.
pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";

fn default_base_url() -> String {
    DEFAULT_BASE_URL.into()
}

/// Settings of the Twilio WhatsApp plugin for a tenant (or one bot).
///
/// Credentials: the Auth Token, or an API key (`keySid` + `keySecret`), or both. With an API key
/// the REST calls use the key; the Auth Token is still needed to verify inbound webhooks.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend(
    "anyOf" = [{"required": ["authToken"]}, {"required": ["keySid", "keySecret"]}],
    "dependentRequired" = {"keySid": ["keySecret"], "keySecret": ["keySid"]}
))]
pub struct TwilioSettings {
    /// Account SID (`AC…`), shown under "Account Info" in the Twilio Console.
    #[schemars(regex(pattern = r"^AC[0-9a-fA-F]{32}$"))]
    pub account_sid: String,
    /// The account's Auth Token. Twilio signs every webhook with it, so inbound messages need it;
    /// it also authenticates REST calls when no API key is set.
    pub auth_token: Option<Secret<String>>,
    /// SID of an API key (`SK…`). With `keySecret`, REST calls use this key instead of the Auth Token.
    #[schemars(regex(pattern = r"^SK[0-9a-fA-F]{32}$"))]
    pub key_sid: Option<String>,
    /// Secret of the API key `keySid` (shown once, when the key is created).
    pub key_secret: Option<Secret<String>>,
    /// Default sender: a WhatsApp-enabled number, `whatsapp:+14155238886` (the `whatsapp:` prefix
    /// is added when missing).
    #[schemars(regex(pattern = r"^(whatsapp:)?\+[1-9][0-9]{6,14}$"))]
    pub from: Option<String>,
    /// Default sender as a Messaging Service SID (`MG…`) holding WhatsApp senders; used instead of
    /// `from` when both are set.
    #[schemars(regex(pattern = r"^MG[0-9a-fA-F]{32}$"))]
    pub messaging_service_sid: Option<String>,
    /// URL Twilio posts delivery status updates to (`StatusCallback`) for each message sent.
    #[schemars(url)]
    pub status_callback_url: Option<String>,
    /// Twilio REST API base URL.
    #[serde(default = "default_base_url")]
    #[schemars(url)]
    pub base_url: String,
}

/// The credential REST calls authenticate with (HTTP Basic).
#[derive(Debug, Clone)]
pub(crate) enum Credential {
    /// `AccountSid:AuthToken`.
    AuthToken { account_sid: String, token: Secret<String> },
    /// `ApiKeySid:ApiKeySecret`.
    ApiKey { sid: String, secret: Secret<String> },
}

impl Credential {
    /// The Basic-auth user name (a SID, never secret).
    pub(crate) fn username(&self) -> &str {
        match self {
            Self::AuthToken { account_sid, .. } => account_sid,
            Self::ApiKey { sid, .. } => sid,
        }
    }

    /// The Basic-auth password.
    pub(crate) fn password(&self) -> &Secret<String> {
        match self {
            Self::AuthToken { token, .. } => token,
            Self::ApiKey { secret, .. } => secret,
        }
    }
}

impl TwilioSettings {
    /// The Account SID, checked to be a SID (it goes into URL paths).
    ///
    /// # Errors
    /// `Permanent` when it is not `AC` followed by letters and digits.
    pub(crate) fn account_sid(&self) -> Result<&str, ActionError> {
        let sid = self.account_sid.trim();
        if is_sid(sid, "AC") {
            Ok(sid)
        } else {
            Err(ActionError::permanent("the plugin setting `accountSid` must be an Account SID (`AC…`)"))
        }
    }

    /// The credential REST calls use: the API key when one is set, else the Auth Token.
    ///
    /// # Errors
    /// `Permanent` when neither is complete, or only half of an API key is set.
    pub(crate) fn credential(&self) -> Result<Credential, ActionError> {
        let key_sid = self.key_sid.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let key_secret = self.key_secret.as_ref().filter(|s| !s.expose().is_empty());
        match (key_sid, key_secret) {
            (Some(sid), Some(secret)) if is_sid(sid, "SK") => {
                return Ok(Credential::ApiKey { sid: sid.to_string(), secret: secret.clone() });
            }
            (Some(_), Some(_)) => {
                return Err(ActionError::permanent("the plugin setting `keySid` must be an API key SID (`SK…`)"));
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(ActionError::permanent(
                    "the plugin settings hold half an API key: set both `keySid` and `keySecret`, or neither",
                ));
            }
            (None, None) => {}
        }
        match self.auth_token.as_ref().filter(|t| !t.expose().is_empty()) {
            Some(token) => {
                Ok(Credential::AuthToken { account_sid: self.account_sid()?.to_string(), token: token.clone() })
            }
            None => Err(ActionError::permanent(
                "the plugin settings hold no credential: set `authToken`, or `keySid` and `keySecret`",
            )),
        }
    }
}

/// Whether `text` is a Twilio SID with this two-letter prefix (`AC`, `SK`, `SM`, …).
pub(crate) fn is_sid(text: &str, prefix: &str) -> bool {
    text.len() == 34 && text.starts_with(prefix) && text[2..].bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(json: serde_json::Value) -> TwilioSettings {
        serde_json::from_value(json).unwrap()
    }

    const AC: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const SK: &str = "SKbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn an_api_key_wins_over_the_auth_token() {
        let s = settings(serde_json::json!({"accountSid": AC, "authToken": "t", "keySid": SK, "keySecret": "k"}));
        let credential = s.credential().unwrap();
        assert!(matches!(credential, Credential::ApiKey { .. }));
        assert_eq!((credential.username(), credential.password().expose().as_str()), (SK, "k"));
        let s = settings(serde_json::json!({"accountSid": AC, "authToken": "t"}));
        assert_eq!(s.credential().unwrap().username(), AC);
    }

    #[test]
    fn incomplete_credentials_are_refused_without_echoing_secrets() {
        let half = settings(serde_json::json!({"accountSid": AC, "authToken": "t", "keySecret": "hunter2"}));
        let err = half.credential().unwrap_err();
        assert!(err.message().contains("half an API key") && !err.message().contains("hunter2"), "{err}");
        let none = settings(serde_json::json!({"accountSid": AC}));
        assert!(none.credential().unwrap_err().message().contains("no credential"));
        let bad_sid = settings(serde_json::json!({"accountSid": "AC/../x", "authToken": "t"}));
        assert!(bad_sid.credential().unwrap_err().message().contains("accountSid"));
    }
}
