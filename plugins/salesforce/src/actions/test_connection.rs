//! `test_connection`: a new token, then `GET /limits` (the cheapest authenticated call, which
//! also reports the daily API allowance). A user without "View Setup" cannot read `/limits`;
//! then a `SELECT Id FROM Contact LIMIT 1` proves the token works instead.

use bacon_plugin_sdk::action::{ConnectionStatus, NoInput};
use bacon_plugin_sdk::{ActionContext, ActionError};
use serde_json::{Value, json};

use crate::client::SalesforceClient;
use crate::settings::SalesforceSettings;

pub(crate) async fn run(
    ctx: ActionContext,
    settings: SalesforceSettings,
    _: NoInput,
) -> Result<ConnectionStatus, ActionError> {
    let client = match SalesforceClient::new(&ctx, &settings) {
        Ok(client) => client,
        Err(e) => return Ok(failed(&e)),
    };
    let instance_url = match client.authenticate().await {
        Ok(url) => url,
        Err(e) => return Ok(failed(&e)),
    };
    let mut details = json!({"instanceUrl": instance_url, "apiVersion": client.version()});
    match client.get::<Value>(&client.api_path("limits"), &[]).await {
        Ok(limits) => {
            let daily = &limits["DailyApiRequests"];
            details["dailyApiRequests"] = json!({"max": daily["Max"], "remaining": daily["Remaining"]});
            let message = match (daily["Remaining"].as_u64(), daily["Max"].as_u64()) {
                (Some(remaining), Some(max)) => {
                    format!("connected to {instance_url}; {remaining} of {max} daily API requests remain")
                }
                _ => format!("connected to {instance_url}"),
            };
            Ok(ConnectionStatus { ok: true, message, details })
        }
        Err(ActionError::Unauthorized { .. }) => match client.query("SELECT Id FROM Contact LIMIT 1").await {
            Ok(_) => Ok(ConnectionStatus {
                ok: true,
                message: format!(
                    "connected to {instance_url} (API usage unknown: reading /limits needs the \"View Setup\" permission)"
                ),
                details,
            }),
            Err(e) => Ok(failed(&e)),
        },
        Err(e) => Ok(failed(&e)),
    }
}

fn failed(error: &ActionError) -> ConnectionStatus {
    ConnectionStatus { ok: false, message: error.message().to_string(), details: json!({}) }
}
