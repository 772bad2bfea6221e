//! The `request` action.

use std::collections::BTreeMap;

use bacon_plugin_sdk::http::error_for_status;
use bacon_plugin_sdk::schemars::{self, JsonSchema};
use bacon_plugin_sdk::{ActionContext, ActionError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::settings::HttpSettings;

#[derive(Debug, Clone, Copy, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum HttpMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
}

impl From<HttpMethod> for reqwest::Method {
    fn from(m: HttpMethod) -> Self {
        match m {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
            HttpMethod::Put => reqwest::Method::PUT,
            HttpMethod::Patch => reqwest::Method::PATCH,
            HttpMethod::Delete => reqwest::Method::DELETE,
            HttpMethod::Head => reqwest::Method::HEAD,
        }
    }
}

/// One HTTP request.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestInput {
    pub method: HttpMethod,
    /// An absolute URL, or a path relative to the settings' `baseUrl`.
    #[schemars(length(min = 1))]
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Query-string parameters, appended to the URL.
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// A JSON body (sent as `application/json`).
    pub body: Option<Value>,
    /// A form body (sent as `application/x-www-form-urlencoded`); not together with `body`.
    pub form: Option<BTreeMap<String, String>>,
    /// Statuses that count as success; default: any 2xx.
    pub expected_statuses: Option<Vec<u16>>,
}

/// The response.
#[derive(Debug, Serialize, JsonSchema)]
pub struct RequestOutput {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    /// The body as JSON when it parses, else as a string.
    pub body: Value,
}

pub(crate) async fn run(
    ctx: ActionContext,
    settings: HttpSettings,
    input: RequestInput,
) -> Result<RequestOutput, ActionError> {
    if input.body.is_some() && input.form.is_some() {
        return Err(ActionError::InvalidInput {
            message: "give either `body` or `form`, not both".into(),
            pointer: Some("/form".into()),
        });
    }
    let url = if input.url.starts_with('/') {
        let base =
            settings.base_url.clone().or_else(|| ctx.base_url.clone()).ok_or_else(|| ActionError::InvalidInput {
                message: "a relative `url` needs `baseUrl` in the plugin settings".into(),
                pointer: Some("/url".into()),
            })?;
        format!("{}{}", base.trim_end_matches('/'), input.url)
    } else {
        input.url.clone()
    };
    let client = settings.client(&ctx);
    let mut request = settings.apply_defaults(client.request(input.method.into(), &url)?);
    if let Some(key) = &ctx.idempotency_key {
        request = request.header("Idempotency-Key", key);
    }
    for (name, value) in &input.headers {
        request = request.header(name, value);
    }
    if !input.query.is_empty() {
        request = request.query(&input.query);
    }
    if let Some(body) = &input.body {
        request = request.json(body);
    } else if let Some(form) = &input.form {
        request = request.form(form);
    }
    let response = client.send_any(request).await?;
    let status = response.status();
    let headers: BTreeMap<String, String> = response
        .headers()
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_string(), v.to_string())))
        .collect();
    let header_map = response.headers().clone();
    let text =
        response.text().await.map_err(|e| ActionError::retryable(format!("reading the response failed: {e}")))?;
    let success = match &input.expected_statuses {
        Some(expected) => expected.contains(&status.as_u16()),
        None => status.is_success(),
    };
    if !success {
        return Err(error_for_status(status, &header_map, &text));
    }
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok(RequestOutput { status: status.as_u16(), headers, body })
}
