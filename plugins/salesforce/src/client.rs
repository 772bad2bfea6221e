//! Authorised calls to the REST API: the cached token as `Authorization: Bearer`, one
//! re-authentication and one retry on 401, and Salesforce's error bodies mapped to
//! [`ActionError`].
//!
//! Calls go to the token's `instance_url`, unless the operator configured a base URL for the
//! plugin, which then serves both the token endpoint and the REST API.

use bacon_plugin_sdk::http::HttpClient;
use bacon_plugin_sdk::{ActionContext, ActionError};
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::auth::{Credentials, Token};
use crate::errors::{Idempotency, rest_error};
use crate::settings::SalesforceSettings;

/// A client for one org, built per call from the context and the settings.
pub(crate) struct SalesforceClient {
    http: HttpClient,
    credentials: Credentials,
    base_override: Option<String>,
    version: String,
}

/// One page of a SOQL query result.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct QueryPage {
    pub total_size: u64,
    pub done: bool,
    #[serde(default)]
    pub records: Vec<Value>,
    pub next_records_url: Option<String>,
}

/// What a request sends besides its method and path.
enum Payload<'a> {
    None,
    Query(&'a [(&'a str, &'a str)]),
    Json(&'a Value),
}

impl SalesforceClient {
    /// A client for the org of `settings`, or of the operator's base URL when one is set.
    ///
    /// # Errors
    /// `InvalidInput` when the login URL is not `https` (the client secret would travel in clear);
    /// plain `http` is accepted for a loopback host only.
    pub fn new(ctx: &ActionContext, settings: &SalesforceSettings) -> Result<Self, ActionError> {
        let base_override = ctx.base_url.as_ref().map(|b| b.trim_end_matches('/').to_string());
        if base_override.is_none() && !is_safe_login_url(&settings.login_url) {
            return Err(ActionError::InvalidInput {
                message: format!("`loginUrl` must be an https URL, not `{}`", settings.login_url),
                pointer: Some("/loginUrl".into()),
            });
        }
        Ok(Self {
            http: ctx.http.clone(),
            credentials: Credentials {
                login_url: ctx.base_url_or(settings.login_url.trim()),
                client_id: settings.client_id.clone(),
                client_secret: settings.client_secret.clone(),
            },
            base_override,
            version: settings.version_segment(),
        })
    }

    /// `/services/data/v62.0/<rest>`.
    pub fn api_path(&self, rest: &str) -> String {
        format!("/services/data/{}/{}", self.version, rest.trim_start_matches('/'))
    }

    /// The API version segment in use (`v62.0`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// Fetches a new token, ignoring the cache (test_connection checks the credentials now),
    /// and returns the instance URL Salesforce gave with it.
    ///
    /// # Errors
    /// As [`Credentials::fetch_token`].
    pub async fn authenticate(&self) -> Result<String, ActionError> {
        Ok(self.credentials.fetch_token(&self.http).await?.instance_url)
    }

    /// `GET` a path of the API with query parameters.
    ///
    /// # Errors
    /// Salesforce's refusal, mapped by [`rest_error`].
    pub async fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, &str)]) -> Result<T, ActionError> {
        let payload = if query.is_empty() { Payload::None } else { Payload::Query(query) };
        self.call(Method::GET, path, payload, Idempotency::Idempotent).await
    }

    /// `POST` a JSON body to a path of the API.
    ///
    /// # Errors
    /// Salesforce's refusal, mapped by [`rest_error`] (a 500 is not retried).
    pub async fn post<T: DeserializeOwned>(&self, path: &str, body: &Value) -> Result<T, ActionError> {
        self.call(Method::POST, path, Payload::Json(body), Idempotency::NotIdempotent).await
    }

    /// Runs one SOQL query and returns its first page.
    ///
    /// # Errors
    /// As [`SalesforceClient::get`]; a bad query is `InvalidInput` with Salesforce's message.
    pub async fn query(&self, soql: &str) -> Result<QueryPage, ActionError> {
        self.get(&self.api_path("query"), &[("q", soql)]).await
    }

    /// The page at a `nextRecordsUrl`.
    ///
    /// # Errors
    /// `Permanent` when the URL is not a path of the REST API; otherwise as [`SalesforceClient::get`].
    pub async fn next_page(&self, next_records_url: &str) -> Result<QueryPage, ActionError> {
        if !next_records_url.starts_with("/services/data/") {
            return Err(ActionError::permanent(format!(
                "Salesforce returned an unexpected nextRecordsUrl `{next_records_url}`"
            )));
        }
        self.get(next_records_url, &[]).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        payload: Payload<'_>,
        idempotency: Idempotency,
    ) -> Result<T, ActionError> {
        let token = match self.credentials.cached_token() {
            Some(token) => token,
            None => self.credentials.fetch_token(&self.http).await?,
        };
        let (status, headers, body) = self.send(&method, path, &payload, &token).await?;
        let (status, headers, body) = if status == StatusCode::UNAUTHORIZED {
            // The token expired or was revoked: one new token, one more try.
            self.credentials.forget(&token);
            let fresh = self.credentials.fetch_token(&self.http).await?;
            self.send(&method, path, &payload, &fresh).await?
        } else {
            (status, headers, body)
        };
        if !status.is_success() {
            return Err(rest_error(status, &headers, &body, idempotency));
        }
        let value = if body.trim().is_empty() { Value::Null } else { parse_json(&body)? };
        serde_json::from_value(value)
            .map_err(|e| ActionError::permanent(format!("Salesforce answered in an unexpected shape: {e}")))
    }

    async fn send(
        &self,
        method: &Method,
        path: &str,
        payload: &Payload<'_>,
        token: &Token,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, String), ActionError> {
        let url = format!("{}{path}", self.base_url(token));
        let mut request = self
            .http
            .request(method.clone(), &url)?
            .bearer_auth(token.access_token.expose())
            .header("accept", "application/json");
        match payload {
            Payload::None => {}
            Payload::Query(query) => request = request.query(query),
            Payload::Json(body) => request = request.json(body),
        }
        let response = self.http.send_any(request).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .text()
            .await
            .map_err(|e| ActionError::retryable(format!("reading Salesforce's answer failed: {e}")))?;
        Ok((status, headers, body))
    }

    fn base_url(&self, token: &Token) -> String {
        self.base_override.clone().unwrap_or_else(|| token.instance_url.clone())
    }
}

/// `https`, or `http` to a loopback host (a local mock or tunnel).
fn is_safe_login_url(url: &str) -> bool {
    match reqwest::Url::parse(url.trim()) {
        Ok(url) if url.scheme() == "https" => true,
        Ok(url) if url.scheme() == "http" => {
            let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']);
            host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
        _ => false,
    }
}

fn parse_json(body: &str) -> Result<Value, ActionError> {
    serde_json::from_str(body)
        .map_err(|e| ActionError::permanent(format!("Salesforce answered with invalid JSON: {e}")))
}
