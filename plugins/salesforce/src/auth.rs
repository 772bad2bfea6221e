//! OAuth 2.0 client credentials against the org's My Domain, and the process-wide token cache.
//!
//! Salesforce issues no refresh token and no expiry for this flow: a token is used until a call
//! answers 401, then a new one is fetched (see [`crate::client`]). Tokens are cached per
//! (login URL, client id, client secret), keyed by a randomly seeded hash so the cache holds no
//! credential in its keys. Nothing here logs or prints a token.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Mutex, OnceLock};

use bacon_plugin_sdk::http::HttpClient;
use bacon_plugin_sdk::{ActionError, Secret};
use reqwest::Method;
use serde::Deserialize;

use crate::errors::token_error;

/// An access token and the instance it is valid for.
#[derive(Clone, PartialEq)]
pub(crate) struct Token {
    pub access_token: Secret<String>,
    /// `https://acme.my.salesforce.com`, without a trailing slash.
    pub instance_url: String,
}

/// The token endpoint's success body (other fields are ignored).
#[derive(Deserialize)]
struct TokenResponse {
    access_token: Secret<String>,
    instance_url: String,
}

/// Who asks for tokens: the login URL and the connected app's credentials.
pub(crate) struct Credentials {
    pub login_url: String,
    pub client_id: String,
    pub client_secret: Secret<String>,
}

impl Credentials {
    /// The cache key of these credentials.
    pub fn cache_key(&self) -> u64 {
        static SEED: OnceLock<RandomState> = OnceLock::new();
        SEED.get_or_init(RandomState::new).hash_one((&self.login_url, &self.client_id, self.client_secret.expose()))
    }

    /// Asks the token endpoint for a new token (client-credentials grant) and caches it.
    ///
    /// # Errors
    /// `Unauthorized` with Salesforce's `error_description` when the credentials are refused;
    /// transport failures and outages as `Retryable`.
    pub async fn fetch_token(&self, http: &HttpClient) -> Result<Token, ActionError> {
        let url = format!("{}/services/oauth2/token", self.login_url);
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose().as_str()),
        ];
        let request = http.request(Method::POST, &url)?.header("accept", "application/json").form(&form);
        let response = http.send_any(request).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body =
            response.text().await.map_err(|e| ActionError::retryable(format!("reading the token failed: {e}")))?;
        if !status.is_success() {
            return Err(token_error(status, &headers, &body));
        }
        let parsed: TokenResponse = serde_json::from_str(&body).map_err(|_| {
            ActionError::permanent("the Salesforce token endpoint answered without `access_token` and `instance_url`")
        })?;
        let token = Token {
            access_token: parsed.access_token,
            instance_url: parsed.instance_url.trim_end_matches('/').to_string(),
        };
        cache().lock().unwrap_or_else(|p| p.into_inner()).insert(self.cache_key(), token.clone());
        Ok(token)
    }

    /// The cached token of these credentials, if any.
    pub fn cached_token(&self) -> Option<Token> {
        cache().lock().unwrap_or_else(|p| p.into_inner()).get(&self.cache_key()).cloned()
    }

    /// Drops `rejected` from the cache, unless another call has already replaced it.
    pub fn forget(&self, rejected: &Token) {
        let mut tokens = cache().lock().unwrap_or_else(|p| p.into_inner());
        let key = self.cache_key();
        if tokens.get(&key) == Some(rejected) {
            tokens.remove(&key);
        }
    }
}

fn cache() -> &'static Mutex<HashMap<u64, Token>> {
    static TOKENS: OnceLock<Mutex<HashMap<u64, Token>>> = OnceLock::new();
    TOKENS.get_or_init(|| Mutex::new(HashMap::new()))
}
