//! The Salesforce plugin's settings: where to log in, the connected app's credentials, the API
//! version, and the organization whose outbound messages are accepted.

use bacon_plugin_sdk::Secret;
use bacon_plugin_sdk::schemars::{self, JsonSchema};
use serde::Deserialize;

/// The REST API version used when the settings do not name one.
pub const DEFAULT_API_VERSION: &str = "62.0";

fn default_api_version() -> String {
    DEFAULT_API_VERSION.into()
}

/// Settings of the Salesforce plugin for a tenant (or one bot).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SalesforceSettings {
    /// The org's My Domain login URL, e.g. `https://acme.my.salesforce.com` (a sandbox:
    /// `https://acme--dev.sandbox.my.salesforce.com`). The client-credentials flow only works on
    /// the My Domain host, not on `login.salesforce.com`.
    #[schemars(url)]
    pub login_url: String,
    /// The connected app's (or external client app's) consumer key.
    #[schemars(length(min = 1))]
    pub client_id: String,
    /// The connected app's consumer secret.
    pub client_secret: Secret<String>,
    /// The REST API version, e.g. `62.0`.
    #[serde(default = "default_api_version")]
    #[schemars(regex(pattern = r"^v?[0-9]{2,3}\.0$"))]
    pub api_version: String,
    /// The 18-character id of the org (Setup > Company Information) whose outbound messages
    /// are accepted; messages from any other org are refused. Required for the
    /// `outbound_message` trigger only.
    #[schemars(regex(pattern = r"^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$"))]
    pub organization_id: Option<String>,
}

impl SalesforceSettings {
    /// The API version as it appears in paths: `v62.0`.
    pub fn version_segment(&self) -> String {
        format!("v{}", self.api_version.trim().trim_start_matches(['v', 'V']))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_segment_accepts_with_or_without_v() {
        let mut settings = SalesforceSettings {
            login_url: "https://acme.my.salesforce.com".into(),
            client_id: "id".into(),
            client_secret: Secret::new("s".into()),
            api_version: "62.0".into(),
            organization_id: None,
        };
        assert_eq!(settings.version_segment(), "v62.0");
        settings.api_version = "v63.0".into();
        assert_eq!(settings.version_segment(), "v63.0");
    }
}
