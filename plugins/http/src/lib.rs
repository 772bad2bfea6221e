//! `bacon-plugin-http`: call any HTTP API a tenant allows, from a flow or directly.
//!
//! The operator's allow-list for this plugin is `*`; each tenant narrows it with
//! `allowedHosts` in the plugin settings (empty by default, so nothing is reachable until a
//! tenant says so). The host checks that list when it is saved and narrows the client with it;
//! internal addresses stay unreachable whatever a tenant lists (the host's egress policy).
//! Requests carry `Idempotency-Key: <runId>:<stepId>` inside flows.

mod request;
mod settings;

use bacon_plugin_sdk::action::{ConnectionStatus, NoInput};
use bacon_plugin_sdk::{ActionContext, ActionError, PluginDefinition, RetryPolicy, action};
use serde_json::json;

pub use request::{HttpMethod, RequestInput, RequestOutput};
pub use settings::HttpSettings;

pub const PLUGIN_ID: &str = "bacon-plugin-http";

/// The plugin's declaration.
pub fn definition() -> PluginDefinition {
    PluginDefinition::new::<HttpSettings>(
        PLUGIN_ID,
        "HTTP",
        env!("CARGO_PKG_VERSION"),
        "Call any HTTP API the tenant allows: JSON or form bodies, query strings, expected statuses.",
    )
    .settings_default(json!({"allowedHosts": [], "defaultHeaders": {}, "healthPath": "/", "timeoutMs": 10000}))
    .allowed_hosts(&["*"])
    .tenant_allowed_hosts("allowedHosts")
    .action(
        action("request", "Send one HTTP request and return its status, headers and body.", request::run)
            .with_retry(RetryPolicy::default()),
    )
    .action(
        action(
            "test_connection",
            "GET `baseUrl` + `healthPath` and report whether it answers with a success status.",
            test_connection,
        )
        .with_retry(RetryPolicy::None),
    )
}

async fn test_connection(
    ctx: ActionContext,
    settings: HttpSettings,
    _: NoInput,
) -> Result<ConnectionStatus, ActionError> {
    let Some(base) = settings.base_url.clone().or_else(|| ctx.base_url.clone()) else {
        return Ok(ConnectionStatus {
            ok: false,
            message: "set `baseUrl` in the plugin settings to test a connection".into(),
            details: json!({}),
        });
    };
    let url = format!("{}{}", base.trim_end_matches('/'), settings.health_path);
    let client = settings.client(&ctx);
    let request = match client.request(reqwest::Method::GET, &url) {
        Ok(r) => settings.apply_defaults(r),
        Err(e) => return Ok(ConnectionStatus { ok: false, message: e.to_string(), details: json!({}) }),
    };
    match client.send_any(request).await {
        Ok(response) if response.status().is_success() => Ok(ConnectionStatus {
            ok: true,
            message: format!("{url} answered {}", response.status()),
            details: json!({"status": response.status().as_u16()}),
        }),
        Ok(response) => {
            let status = response.status();
            let body: String = response.text().await.unwrap_or_default().chars().take(300).collect();
            Ok(ConnectionStatus {
                ok: false,
                message: format!("{url} answered {status}: {body}"),
                details: json!({"status": status.as_u16()}),
            })
        }
        Err(e) => Ok(ConnectionStatus { ok: false, message: e.to_string(), details: json!({}) }),
    }
}
