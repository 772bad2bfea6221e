//! `test_connection`: reads one contact (`GET /crm/v3/objects/contacts?limit=1`), the cheapest
//! call that proves the token works and holds `crm.objects.contacts.read`.

use bacon_plugin_sdk::action::{ConnectionStatus, NoInput};
use bacon_plugin_sdk::{ActionContext, ActionError};
use reqwest::Method;
use serde_json::{Map, Value, json};

use crate::client::HubSpotApi;
use crate::settings::HubSpotSettings;
use crate::vendor_error::status_message;

pub(crate) async fn run(
    ctx: ActionContext,
    settings: HubSpotSettings,
    _: NoInput,
) -> Result<ConnectionStatus, ActionError> {
    let failed = |message: String| ConnectionStatus { ok: false, message, details: json!({}) };
    let api = match HubSpotApi::new(&ctx, &settings) {
        Ok(api) => api,
        Err(e) => return Ok(failed(e.to_string())),
    };
    let reply = match api.call(Method::GET, "/crm/v3/objects/contacts", &[("limit", "1")], None).await {
        Ok(reply) => reply,
        Err(e) => return Ok(failed(e.to_string())),
    };
    if !reply.status().is_success() {
        return Ok(failed(status_message(reply.status(), &reply.vendor_error())));
    }
    let mut details = Map::new();
    for (key, header) in
        [("dailyLimit", "x-hubspot-ratelimit-daily"), ("dailyRemaining", "x-hubspot-ratelimit-daily-remaining")]
    {
        if let Some(n) = reply.header(header).and_then(|v| v.trim().parse::<u64>().ok()) {
            details.insert(key.into(), json!(n));
        }
    }
    if let Some(portal) = settings.portal_id {
        details.insert("portalId".into(), json!(portal));
    }
    Ok(ConnectionStatus {
        ok: true,
        message: "Connected to HubSpot: the token can read contacts.".into(),
        details: Value::Object(details),
    })
}
