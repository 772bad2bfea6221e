//! The `test_connection` action: the cheapest authenticated read, chosen by credential kind.
//!
//! An Auth Token (or a Main API key) may read the Account resource; a Standard API key may not,
//! so with an API key the check lists one message of the account instead.

use bacon_plugin_sdk::action::{ConnectionStatus, NoInput};
use bacon_plugin_sdk::{ActionContext, ActionError};
use serde::Deserialize;
use serde_json::json;

use crate::client::TwilioClient;
use crate::settings::{Credential, TwilioSettings};

/// The parts of Twilio's Account resource worth showing.
#[derive(Debug, Deserialize)]
struct Account {
    sid: String,
    friendly_name: Option<String>,
    status: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

/// A page of Twilio's Message list (only its size matters here).
#[derive(Debug, Deserialize)]
struct MessagePage {
    #[serde(default)]
    messages: Vec<serde_json::Value>,
}

fn refused(message: String, kind: &str) -> ConnectionStatus {
    ConnectionStatus { ok: false, message, details: json!({"errorKind": kind}) }
}

pub(crate) async fn test_connection(
    ctx: ActionContext,
    settings: TwilioSettings,
    _: NoInput,
) -> Result<ConnectionStatus, ActionError> {
    let client = match TwilioClient::new(&ctx, &settings) {
        Ok(client) => client,
        Err(e) => return Ok(refused(e.message().to_string(), e.kind())),
    };
    let outcome = match client.credential() {
        Credential::AuthToken { .. } => check_account(&client).await,
        Credential::ApiKey { sid, .. } => check_api_key(&client, sid).await,
    };
    Ok(outcome.unwrap_or_else(|e| refused(e.message().to_string(), e.kind())))
}

async fn check_account(client: &TwilioClient) -> Result<ConnectionStatus, ActionError> {
    let account: Account = client.get(&client.account_url(".json"), &[]).await?;
    let status = account.status.clone().unwrap_or_else(|| "unknown".into());
    let details = json!({
        "credential": "authToken",
        "accountSid": account.sid,
        "friendlyName": account.friendly_name,
        "status": status,
        "type": account.kind,
    });
    let name = account.friendly_name.as_deref().unwrap_or(&account.sid);
    if status == "active" {
        Ok(ConnectionStatus { ok: true, message: format!("connected to Twilio account \"{name}\""), details })
    } else {
        Ok(ConnectionStatus {
            ok: false,
            message: format!("the Twilio account \"{name}\" is {status}, not active"),
            details,
        })
    }
}

async fn check_api_key(client: &TwilioClient, key_sid: &str) -> Result<ConnectionStatus, ActionError> {
    let page: MessagePage = client.get(&client.account_url("/Messages.json"), &[("PageSize", "1")]).await?;
    Ok(ConnectionStatus {
        ok: true,
        message: format!("API key {key_sid} can read the messages of account {}", client.account_sid()),
        details: json!({
            "credential": "apiKey",
            "keySid": key_sid,
            "accountSid": client.account_sid(),
            "messagesSeen": page.messages.len(),
        }),
    })
}
