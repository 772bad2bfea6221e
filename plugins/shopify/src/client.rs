//! [`AdminApi`]: authenticated calls to one shop's Admin API, REST and GraphQL, through the
//! host's allow-listed client, with Shopify's errors mapped into [`ActionError`]s.

use bacon_plugin_sdk::http::HttpClient;
use bacon_plugin_sdk::{ActionContext, ActionError, Secret};
use reqwest::header::{ACCEPT, HeaderMap};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::auth::Credentials;
use crate::settings::ShopifySettings;
use crate::vendor_error::{graphql_error, rest_error, vendor_detail};

/// One shop's Admin API at one version.
pub struct AdminApi {
    http: HttpClient,
    /// `https://acme.myshopify.com`, or the operator's base URL.
    origin: String,
    /// `{origin}/admin/api/{version}`.
    api_root: String,
    shop: String,
    credentials: Credentials,
}

/// A response, read whole, whatever its status.
pub struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Shopify's explanation, when the status is an error.
    pub fn detail(&self) -> String {
        vendor_detail(&self.body)
    }

    /// The mapped error for a failed status.
    pub fn into_error(self) -> ActionError {
        rest_error(self.status, &self.headers, &self.body)
    }

    /// The body as `T` when the status is a success.
    ///
    /// # Errors
    /// The mapped error for a failed status; `Permanent` when the body has another shape.
    pub fn parse<T: DeserializeOwned>(self) -> Result<T, ActionError> {
        if !self.status.is_success() {
            return Err(self.into_error());
        }
        serde_json::from_str(&self.body).map_err(|e| unexpected_shape(&e))
    }
}

fn unexpected_shape(e: &serde_json::Error) -> ActionError {
    ActionError::permanent(format!("Shopify's answer does not have the expected shape: {e}"))
}

impl AdminApi {
    /// The Admin API of the shop in `settings`; `ctx.base_url`, when the operator set one, wins
    /// over `https://{shopDomain}`.
    ///
    /// # Errors
    /// `Permanent` for a bad shop domain, `Unauthorized` when no credentials are set.
    pub fn new(ctx: &ActionContext, settings: &ShopifySettings) -> Result<Self, ActionError> {
        let shop = settings.shop_host()?;
        let credentials = Credentials::from_settings(settings)?;
        let origin = ctx.base_url_or(&format!("https://{shop}"));
        let api_root = format!("{origin}/admin/api/{}", settings.api_version);
        Ok(Self { http: ctx.http.clone(), origin, api_root, shop, credentials })
    }

    /// The shop's `*.myshopify.com` host.
    pub fn shop(&self) -> &str {
        &self.shop
    }

    /// Sends one request to `{api_root}{path}`. With client-credentials tokens, a 401 drops the
    /// cached token and the request is sent once more with a fresh one.
    ///
    /// # Errors
    /// Transport failures (`Retryable`) and credential failures; error statuses are returned in
    /// the [`Reply`].
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Reply, ActionError> {
        let token = self.credentials.token(&self.http, &self.origin).await?;
        let reply = self.send_once(&token, method.clone(), path, query, body).await?;
        if reply.status == StatusCode::UNAUTHORIZED && self.credentials.renewable() {
            self.credentials.forget(&self.origin);
            let token = self.credentials.token(&self.http, &self.origin).await?;
            return self.send_once(&token, method, path, query, body).await;
        }
        Ok(reply)
    }

    async fn send_once(
        &self,
        token: &Secret<String>,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Reply, ActionError> {
        let url = format!("{}{path}", self.api_root);
        let mut request = self
            .http
            .request(method, &url)?
            .header("X-Shopify-Access-Token", token.expose())
            .header(ACCEPT, "application/json");
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = self.http.send_any(request).await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response
            .text()
            .await
            .map_err(|e| ActionError::retryable(format!("reading Shopify's answer failed: {e}")))?;
        Ok(Reply { status, headers, body })
    }

    /// `GET {path}` parsed as `T`.
    ///
    /// # Errors
    /// As [`AdminApi::call`] and [`Reply::parse`].
    pub async fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, &str)]) -> Result<T, ActionError> {
        self.call(Method::GET, path, query, None).await?.parse()
    }

    /// `GET {path}` parsed as `T`, or `None` when Shopify answers 404.
    ///
    /// # Errors
    /// As [`AdminApi::get`].
    pub async fn get_optional<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Option<T>, ActionError> {
        let reply = self.call(Method::GET, path, query, None).await?;
        if reply.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        reply.parse().map(Some)
    }

    /// Runs a GraphQL Admin API query and returns its `data` as `T`. GraphQL reports errors,
    /// throttling included, in a 200 body; they are mapped by [`graphql_error`].
    ///
    /// # Errors
    /// As [`AdminApi::call`], plus the mapped GraphQL errors.
    pub async fn graphql<T: DeserializeOwned>(&self, query: &str, variables: Value) -> Result<T, ActionError> {
        let body = json!({"query": query, "variables": variables});
        let reply: Value = self.call(Method::POST, "/graphql.json", &[], Some(&body)).await?.parse()?;
        if let Some(errors) = reply["errors"].as_array().filter(|errors| !errors.is_empty()) {
            return Err(graphql_error(errors, &reply["extensions"]));
        }
        serde_json::from_value(reply["data"].clone()).map_err(|e| unexpected_shape(&e))
    }
}
