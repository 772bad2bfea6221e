//! `test_connection`: `GET shop.json`, the cheapest authenticated call (it needs no scope).

use bacon_plugin_sdk::action::{ConnectionStatus, NoInput};
use bacon_plugin_sdk::{ActionContext, ActionError};
use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use crate::client::AdminApi;
use crate::settings::ShopifySettings;

#[derive(Deserialize)]
struct ShopEnvelope {
    shop: Shop,
}

#[derive(Deserialize)]
struct Shop {
    name: String,
    myshopify_domain: Option<String>,
    currency: Option<String>,
    iana_timezone: Option<String>,
    plan_name: Option<String>,
}

/// Reports whether the credentials reach the shop; a refusal is `ok: false` with Shopify's reason.
///
/// # Errors
/// None: every failure is reported in the status.
pub async fn run(ctx: ActionContext, settings: ShopifySettings, _: NoInput) -> Result<ConnectionStatus, ActionError> {
    Ok(match check(&ctx, &settings).await {
        Ok(status) => status,
        Err(e) => ConnectionStatus { ok: false, message: e.message().to_string(), details: json!({}) },
    })
}

async fn check(ctx: &ActionContext, settings: &ShopifySettings) -> Result<ConnectionStatus, ActionError> {
    let api = AdminApi::new(ctx, settings)?;
    let ShopEnvelope { shop } = api.call(Method::GET, "/shop.json", &[], None).await?.parse()?;
    let domain = shop.myshopify_domain.clone().unwrap_or_else(|| api.shop().to_string());
    Ok(ConnectionStatus {
        ok: true,
        message: format!("connected to {} ({domain})", shop.name),
        details: json!({
            "name": shop.name,
            "myshopifyDomain": domain,
            "currency": shop.currency,
            "ianaTimezone": shop.iana_timezone,
            "planName": shop.plan_name,
        }),
    })
}
