//! `bacon-plugin-shopify`: a Shopify shop's orders and customers for flows and the AI.
//!
//! - Actions: `get_order` (by id over REST, by name over GraphQL), `find_customer`,
//!   `list_customer_orders`, `test_connection`.
//! - Trigger `order_created`: the `orders/create` webhook, HMAC-verified against one or two
//!   active secrets, de-duplicated on `X-Shopify-Webhook-Id`, registered and removed through the
//!   Admin API.
//! - Context enricher: the conversation customer's recent orders.
//!
//! Every call goes to `https://{shopDomain}/admin/api/{apiVersion}/…` (or the operator's base
//! URL) through the host's allow-listed client, authenticated by `X-Shopify-Access-Token`.
//! See `docs/plugins/shopify.md`.

pub mod actions;
mod auth;
mod client;
pub mod customer;
pub mod enrich;
pub mod order;
pub mod resource_id;
pub mod settings;
mod vendor_error;
pub mod webhook;

use std::sync::Arc;

use bacon_plugin_sdk::schema::schema_of;
use bacon_plugin_sdk::trigger::{TriggerDefinition, TriggerKind};
use bacon_plugin_sdk::{PluginDefinition, RetryPolicy, action};
use serde_json::json;

pub use order::ORDER_BY_NAME_QUERY;
pub use settings::{DEFAULT_API_VERSION, DEFAULT_RECENT_ORDERS_LIMIT, ShopifySettings};
pub use webhook::OrderCreatedEvent;

pub const PLUGIN_ID: &str = "bacon-plugin-shopify";

/// The plugin's declaration.
pub fn definition() -> PluginDefinition {
    PluginDefinition::new::<ShopifySettings>(
        PLUGIN_ID,
        "Shopify",
        env!("CARGO_PKG_VERSION"),
        "Look up a Shopify shop's orders and customers, start flows when an order is created, and give the AI a \
         customer's recent orders.",
    )
    .settings_default(json!({"apiVersion": DEFAULT_API_VERSION, "recentOrdersLimit": DEFAULT_RECENT_ORDERS_LIMIT}))
    .allowed_hosts(&["*.myshopify.com"])
    .action(action(
        "get_order",
        "Get one order by id (`450789469`, `gid://shopify/Order/450789469`) or by name (`#1001`).",
        actions::get_order::run,
    ))
    .action(action("find_customer", "Find the customer with exactly this email address.", actions::find_customer::run))
    .action(action(
        "list_customer_orders",
        "List a customer's most recent orders, the customer given by id or email.",
        actions::list_customer_orders::run,
    ))
    .action(
        action(
            "test_connection",
            "Read the shop's name with the configured credentials (GET shop.json) and report whether it worked.",
            actions::test_connection::run,
        )
        .with_retry(RetryPolicy::None),
    )
    .trigger(TriggerDefinition {
        key: "order_created".into(),
        description: "An order was created in the shop (Shopify webhook `orders/create`).".into(),
        event_schema: schema_of::<OrderCreatedEvent>(),
        kind: TriggerKind::Webhook(Arc::new(webhook::OrderCreated)),
    })
    .enricher(Arc::new(enrich::RecentOrders))
}
