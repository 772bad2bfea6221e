//! [`HubSpotApi`]: authenticated calls to HubSpot's CRM API through the host's allow-listed
//! client, with HubSpot's errors mapped by [`crate::vendor_error`].

use bacon_plugin_sdk::http::HttpClient;
use bacon_plugin_sdk::{ActionContext, ActionError, Secret};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{ACCEPT, HeaderMap};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::settings::HubSpotSettings;
use crate::vendor_error::{VendorError, api_error};

/// What a path segment keeps unescaped: RFC 3986 unreserved characters and `@`, so an email
/// address reads as itself in `/contacts/ada@example.com`.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~').remove(b'@');

/// Escapes one path segment (an email address, an id). `.` and `..` are escaped too, so a
/// segment can never climb out of its path.
pub fn segment(value: &str) -> String {
    match value {
        "." => "%2E".into(),
        ".." => "%2E%2E".into(),
        _ => utf8_percent_encode(value, SEGMENT).to_string(),
    }
}

/// One HubSpot account's API, as the tenant's token sees it.
pub struct HubSpotApi {
    http: HttpClient,
    /// `https://api.hubapi.com`, or the operator's base URL.
    base: String,
    token: Secret<String>,
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

    /// A response header's value, when present and text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// HubSpot's error body.
    pub fn vendor_error(&self) -> VendorError {
        VendorError::parse(&self.body)
    }

    /// The mapped error for a failed status.
    pub fn into_error(self) -> ActionError {
        api_error(self.status, &self.headers, &self.body)
    }

    /// The body as `T` when the status is a success.
    ///
    /// # Errors
    /// The mapped error for a failed status; `Permanent` when the body has another shape.
    pub fn parse<T: DeserializeOwned>(self) -> Result<T, ActionError> {
        if !self.status.is_success() {
            return Err(self.into_error());
        }
        serde_json::from_str(&self.body)
            .map_err(|e| ActionError::permanent(format!("HubSpot's answer does not have the expected shape: {e}")))
    }
}

impl HubSpotApi {
    /// The API for `settings`; `ctx.base_url`, when the operator set one, wins over `baseUrl`.
    ///
    /// # Errors
    /// `Unauthorized` when no access token is set.
    pub fn new(ctx: &ActionContext, settings: &HubSpotSettings) -> Result<Self, ActionError> {
        if settings.access_token.expose().trim().is_empty() {
            return Err(ActionError::unauthorized("set `accessToken` (a HubSpot private app token) in the settings"));
        }
        Ok(Self {
            http: ctx.http.clone(),
            base: ctx.base_url_or(&settings.base_url),
            token: settings.access_token.clone(),
        })
    }

    /// Sends one request to `{base}{path}` with the bearer token.
    ///
    /// # Errors
    /// `Permanent` for a host outside the allow-list, `Retryable` for transport failures; error
    /// statuses are returned in the [`Reply`].
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Reply, ActionError> {
        let url = format!("{}{path}", self.base);
        let mut request =
            self.http.request(method, &url)?.bearer_auth(self.token.expose().trim()).header(ACCEPT, "application/json");
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
            .map_err(|e| ActionError::retryable(format!("reading HubSpot's answer failed: {e}")))?;
        Ok(Reply { status, headers, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_keep_emails_readable_and_escape_the_rest() {
        assert_eq!(segment("ada.l-o_v~e@example.com"), "ada.l-o_v~e@example.com");
        assert_eq!(segment("a+b@x.com"), "a%2Bb@x.com");
        assert_eq!(segment("../x?y#z"), "..%2Fx%3Fy%23z");
        assert_eq!(segment(".."), "%2E%2E");
    }
}
