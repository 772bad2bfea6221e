//! The `order_created` trigger: Shopify's `orders/create` webhook.
//!
//! Verification comes first, over the raw body: `X-Shopify-Hmac-Sha256` must be the base64
//! HMAC-SHA256 of the body under one of the tenant's active secrets (compared in constant time).
//! Then the topic and shop are checked and the delivery is keyed by `X-Shopify-Webhook-Id`, which
//! Shopify keeps across its retries. `subscribe` registers the webhook with
//! `POST /admin/api/{v}/webhooks.json`; `unsubscribe` deletes it.

use bacon_plugin_sdk::schemars::{self, JsonSchema};
use bacon_plugin_sdk::signature::verify_hmac_sha256_base64;
use bacon_plugin_sdk::trigger::{InboundRequest, Subscription, VerifiedDelivery, VerifyError, WebhookTrigger};
use bacon_plugin_sdk::{ActionContext, ActionError, BoxFuture, Secret};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::client::AdminApi;
use crate::resource_id::ResourceId;
use crate::settings::{ShopifySettings, shop_host};

/// The Shopify topic behind `order_created`.
pub const TOPIC: &str = "orders/create";

/// What a flow receives when an order is created.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrderCreatedEvent {
    /// `orders/create`.
    pub topic: String,
    /// The shop the order belongs to (`acme.myshopify.com`).
    pub shop_domain: String,
    /// The Admin API version the payload is shaped by.
    pub api_version: Option<String>,
    /// Shopify's delivery id, the same on each retry.
    pub webhook_id: String,
    pub event_id: Option<String>,
    pub triggered_at: Option<String>,
    /// The order exactly as Shopify sent it (the REST `Order` resource: `id`, `name`, `email`,
    /// `line_items`, `total_price`, `customer`, …).
    pub order: Value,
}

/// The settings verification reads; lenient, so a delivery can be checked even when other
/// settings are incomplete.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VerificationSettings {
    shop_domain: Option<String>,
    client_secret: Option<Secret<String>>,
    webhook_secret: Option<Secret<String>>,
    previous_webhook_secret: Option<Secret<String>>,
}

/// `orders/create` deliveries.
pub struct OrderCreated;

impl WebhookTrigger for OrderCreated {
    fn verify(&self, settings: &Value, request: &InboundRequest) -> Result<VerifiedDelivery, VerifyError> {
        let settings: VerificationSettings = serde_json::from_value(settings.clone()).unwrap_or_default();
        let secrets: Vec<&[u8]> =
            [&settings.webhook_secret, &settings.client_secret, &settings.previous_webhook_secret]
                .into_iter()
                .flatten()
                .map(|s| s.expose().as_bytes())
                .filter(|s| !s.is_empty())
                .collect();
        if secrets.is_empty() {
            return Err(VerifyError::Malformed(
                "no webhook secret is configured (set `clientSecret` or `webhookSecret`), so no delivery can be \
                 verified"
                    .into(),
            ));
        }
        let signature = header(request, "x-shopify-hmac-sha256").ok_or(VerifyError::MissingSignature)?;
        if !verify_hmac_sha256_base64(&secrets, &request.body, signature) {
            return Err(VerifyError::BadSignature);
        }
        let topic = required(request, "x-shopify-topic")?;
        if topic != TOPIC {
            return Err(VerifyError::Malformed(format!("the topic is `{topic}`, not `{TOPIC}`")));
        }
        let shop = required(request, "x-shopify-shop-domain")?;
        if let Some(configured) = settings.shop_domain.as_deref().and_then(|d| shop_host(d).ok())
            && !configured.eq_ignore_ascii_case(shop)
        {
            return Err(VerifyError::Malformed(format!("the delivery is for `{shop}`, not `{configured}`")));
        }
        // Older deliveries documented only the event id; the webhook id is the delivery's own.
        let webhook_id = header(request, "x-shopify-webhook-id")
            .or_else(|| header(request, "x-shopify-event-id"))
            .ok_or_else(|| VerifyError::Malformed("the X-Shopify-Webhook-Id header is missing".into()))?;
        let order: Value = serde_json::from_slice(&request.body)
            .map_err(|e| VerifyError::Malformed(format!("the body is not JSON: {e}")))?;
        if !order.is_object() {
            return Err(VerifyError::Malformed("the body is not a JSON object".into()));
        }
        let event = OrderCreatedEvent {
            topic: topic.to_string(),
            shop_domain: shop.to_ascii_lowercase(),
            api_version: header(request, "x-shopify-api-version").map(str::to_string),
            webhook_id: webhook_id.to_string(),
            event_id: header(request, "x-shopify-event-id").map(str::to_string),
            triggered_at: header(request, "x-shopify-triggered-at").map(str::to_string),
            order,
        };
        let event = serde_json::to_value(event).map_err(|e| VerifyError::Malformed(e.to_string()))?;
        Ok(VerifiedDelivery { delivery_id: webhook_id.to_string(), event })
    }

    fn subscribe(&self, ctx: ActionContext, hook_url: String) -> BoxFuture<'static, Result<Subscription, ActionError>> {
        Box::pin(async move {
            let settings: ShopifySettings = ctx.settings()?;
            let api = AdminApi::new(&ctx, &settings)?;
            let body = json!({"webhook": {"topic": TOPIC, "address": hook_url, "format": "json"}});
            let reply = api.call(Method::POST, "/webhooks.json", &[], Some(&body)).await?;
            // A retried activation finds its own webhook already there: adopt it.
            if reply.status() == StatusCode::UNPROCESSABLE_ENTITY && reply.detail().contains("already been taken") {
                return existing(&api, &hook_url).await;
            }
            let created: WebhookEnvelope = reply.parse()?;
            Ok(Subscription { external_id: Some(created.webhook.id.to_string()) })
        })
    }

    fn unsubscribe(&self, ctx: ActionContext, external_id: String) -> BoxFuture<'static, Result<(), ActionError>> {
        Box::pin(async move {
            let id = ResourceId::Text(external_id).numeric("WebhookSubscription", "/externalId")?;
            let settings: ShopifySettings = ctx.settings()?;
            let api = AdminApi::new(&ctx, &settings)?;
            let reply = api.call(Method::DELETE, &format!("/webhooks/{id}.json"), &[], None).await?;
            // Already gone (deleted in Shopify, or the app reinstalled) is what we wanted.
            if reply.status().is_success() || reply.status() == StatusCode::NOT_FOUND {
                Ok(())
            } else {
                Err(reply.into_error())
            }
        })
    }
}

#[derive(Deserialize)]
struct WebhookEnvelope {
    webhook: Webhook,
}

#[derive(Deserialize)]
struct WebhooksEnvelope {
    webhooks: Vec<Webhook>,
}

#[derive(Deserialize)]
struct Webhook {
    id: u64,
    address: String,
}

async fn existing(api: &AdminApi, hook_url: &str) -> Result<Subscription, ActionError> {
    let found: WebhooksEnvelope = api.get("/webhooks.json", &[("topic", TOPIC), ("address", hook_url)]).await?;
    match found.webhooks.into_iter().find(|w| w.address == hook_url) {
        Some(webhook) => Ok(Subscription { external_id: Some(webhook.id.to_string()) }),
        None => Err(ActionError::permanent(format!(
            "Shopify says an `{TOPIC}` webhook for {hook_url} exists, but this app cannot see it (was it created in \
             the Shopify admin?)"
        ))),
    }
}

fn header<'a>(request: &'a InboundRequest, name: &str) -> Option<&'a str> {
    request.header(name).map(str::trim).filter(|v| !v.is_empty())
}

fn required<'a>(request: &'a InboundRequest, name: &str) -> Result<&'a str, VerifyError> {
    header(request, name).ok_or_else(|| VerifyError::Malformed(format!("the {name} header is missing")))
}
