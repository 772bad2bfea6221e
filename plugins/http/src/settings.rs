//! The HTTP plugin's settings.

use std::collections::BTreeMap;
use std::time::Duration;

use bacon_plugin_sdk::http::HttpClient;
use bacon_plugin_sdk::schemars::{self, JsonSchema};
use bacon_plugin_sdk::{ActionContext, Secret};
use serde::Deserialize;

fn default_health_path() -> String {
    "/".into()
}

fn default_timeout_ms() -> u64 {
    10_000
}

/// Settings of the HTTP plugin for a tenant (or one bot).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpSettings {
    /// Hosts requests may go to: `api.example.com`, `*.example.com` (subdomains),
    /// `api.example.com:8443` (that port only). Nothing is reachable until a host is listed
    /// here. `*` is not accepted, and internal addresses (loopback, private, link-local) are
    /// reachable only in ranges the server's operator opened.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Prefix for relative request URLs (`/orders`), and the address `test_connection` checks.
    #[schemars(url)]
    pub base_url: Option<String>,
    /// Headers sent with every request (a request's own headers win).
    #[serde(default)]
    pub default_headers: BTreeMap<String, String>,
    /// Sent as `Authorization: Bearer <token>` with every request when set.
    pub bearer_token: Option<Secret<String>>,
    /// Path `test_connection` sends a GET to.
    #[serde(default = "default_health_path")]
    pub health_path: String,
    /// Time one request may take, in milliseconds.
    #[serde(default = "default_timeout_ms")]
    #[schemars(range(min = 100, max = 120000))]
    pub timeout_ms: u64,
}

impl HttpSettings {
    /// The host's client narrowed to this tenant's allowed hosts (the host narrows it too; this
    /// keeps the plugin correct when called directly, as in its own tests).
    pub fn client(&self, ctx: &ActionContext) -> HttpClient {
        ctx.http.narrowed_to(&self.allowed_hosts)
    }

    /// Adds default headers, the bearer token and the timeout to a request.
    pub fn apply_defaults(&self, mut request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        for (name, value) in &self.default_headers {
            request = request.header(name, value);
        }
        if let Some(token) = &self.bearer_token {
            request = request.bearer_auth(token.expose());
        }
        request.timeout(Duration::from_millis(self.timeout_ms))
    }
}
