//! Access tokens: a custom app's fixed token, or one obtained with the client credentials grant
//! (`POST /admin/oauth/access_token`) and cached until shortly before `expires_in`, or until
//! Shopify answers 401 to it.
//!
//! The cache is process-wide and keyed by shop, client id and a fingerprint of the client secret,
//! so a rotated secret never reuses a token obtained with the old one.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use bacon_plugin_sdk::http::HttpClient;
use bacon_plugin_sdk::signature::{base64, hmac_sha256};
use bacon_plugin_sdk::{ActionError, Secret};
use reqwest::Method;
use reqwest::header::ACCEPT;
use serde::Deserialize;

use crate::settings::ShopifySettings;
use crate::vendor_error::{rest_error, vendor_detail};

/// A token is renewed this long before Shopify says it expires.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);
/// How long a token is kept when Shopify does not say (it documents 24 hours).
const UNKNOWN_LIFETIME: Duration = Duration::from_secs(3600);

struct CachedToken {
    token: Secret<String>,
    expires_at: Instant,
}

static TOKENS: LazyLock<Mutex<HashMap<String, CachedToken>>> = LazyLock::new(|| Mutex::new(HashMap::new()));

/// How this tenant authenticates to the Admin API.
#[derive(Clone)]
pub enum Credentials {
    /// A custom app's Admin API access token (`shpat_…`).
    Fixed(Secret<String>),
    /// A Dev Dashboard app's client id and secret, exchanged for expiring tokens.
    Grant { client_id: String, client_secret: Secret<String> },
}

#[derive(Deserialize)]
struct GrantResponse {
    access_token: Secret<String>,
    expires_in: Option<u64>,
}

impl Credentials {
    /// The credentials the settings hold; `accessToken` wins when both forms are given.
    ///
    /// # Errors
    /// `Unauthorized` when neither form is complete.
    pub fn from_settings(settings: &ShopifySettings) -> Result<Self, ActionError> {
        if let Some(token) = settings.access_token.as_ref().filter(|t| !t.expose().trim().is_empty()) {
            return Ok(Self::Fixed(token.clone()));
        }
        match (&settings.client_id, &settings.client_secret) {
            (Some(id), Some(secret)) if !id.trim().is_empty() && !secret.expose().is_empty() => {
                Ok(Self::Grant { client_id: id.trim().to_string(), client_secret: secret.clone() })
            }
            _ => Err(ActionError::unauthorized(
                "no Shopify credentials: set `accessToken` (a custom app created in the Shopify admin) or \
                 `clientId` and `clientSecret` (a Dev Dashboard app installed on the shop)",
            )),
        }
    }

    /// Whether a refused token can be replaced by a fresh one.
    pub fn renewable(&self) -> bool {
        matches!(self, Self::Grant { .. })
    }

    /// The token to send to the shop at `origin` (`https://acme.myshopify.com`).
    ///
    /// # Errors
    /// `Unauthorized` when Shopify refuses the client credentials; transport and other vendor
    /// errors as mapped by [`rest_error`].
    pub async fn token(&self, http: &HttpClient, origin: &str) -> Result<Secret<String>, ActionError> {
        let (client_id, client_secret) = match self {
            Self::Fixed(token) => return Ok(token.clone()),
            Self::Grant { client_id, client_secret } => (client_id, client_secret),
        };
        let key = cache_key(origin, client_id, client_secret);
        if let Some(token) = cached(&key) {
            return Ok(token);
        }
        let url = format!("{origin}/admin/oauth/access_token");
        let request = http.request(Method::POST, &url)?.header(ACCEPT, "application/json").form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_secret", client_secret.expose().as_str()),
        ]);
        let response = http.send_any(request).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.text().await.unwrap_or_default();
        if matches!(status.as_u16(), 400 | 401 | 403) {
            return Err(ActionError::unauthorized(format!(
                "Shopify refused the client credentials ({}): {}",
                status.as_u16(),
                vendor_detail(&body)
            )));
        }
        if !status.is_success() {
            return Err(rest_error(status, &headers, &body));
        }
        let grant: GrantResponse = serde_json::from_str(&body)
            .map_err(|e| ActionError::permanent(format!("Shopify's token answer has no usable `access_token`: {e}")))?;
        let lifetime = grant.expires_in.map_or(UNKNOWN_LIFETIME, Duration::from_secs);
        let expires_at = Instant::now() + lifetime.saturating_sub(EXPIRY_MARGIN);
        let mut tokens = TOKENS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        tokens.retain(|_, t| t.expires_at > now);
        tokens.insert(key, CachedToken { token: grant.access_token.clone(), expires_at });
        Ok(grant.access_token)
    }

    /// Drops the cached token for `origin`, after Shopify refused it.
    pub fn forget(&self, origin: &str) {
        if let Self::Grant { client_id, client_secret } = self {
            let key = cache_key(origin, client_id, client_secret);
            TOKENS.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).remove(&key);
        }
    }
}

fn cached(key: &str) -> Option<Secret<String>> {
    let tokens = TOKENS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    tokens.get(key).filter(|t| t.expires_at > Instant::now()).map(|t| t.token.clone())
}

/// Shop, client id and an HMAC of the secret (never the secret itself).
fn cache_key(origin: &str, client_id: &str, client_secret: &Secret<String>) -> String {
    let fingerprint = base64(&hmac_sha256(client_secret.expose().as_bytes(), b"bacon-plugin-shopify token cache"));
    format!("{origin}\n{client_id}\n{fingerprint}")
}
