//! AI context: who the conversation's customer is in the shop, and their most recent orders,
//! as one short snippet each. No email, or no customer with it, gives no snippets.

use bacon_plugin_sdk::enrich::{ContextEnricher, ContextSnippet, Conversation};
use bacon_plugin_sdk::{ActionContext, ActionError, BoxFuture};

use crate::client::AdminApi;
use crate::customer::{Customer, find_by_email, is_searchable_email, orders_of};
use crate::order::Order;
use crate::settings::ShopifySettings;

/// The customer summary's weight.
const CUSTOMER_WEIGHT: f32 = 0.8;

/// Adds the customer's recent orders (`recentOrdersLimit` of them) to the AI context.
pub struct RecentOrders;

impl ContextEnricher for RecentOrders {
    fn enrich_context(
        &self,
        ctx: ActionContext,
        conversation: Conversation,
    ) -> BoxFuture<'static, Result<Vec<ContextSnippet>, ActionError>> {
        Box::pin(async move {
            let Some(email) = conversation.email.as_deref().map(str::trim).filter(|e| is_searchable_email(e)) else {
                return Ok(Vec::new());
            };
            let settings: ShopifySettings = ctx.settings()?;
            let api = AdminApi::new(&ctx, &settings)?;
            let Some(customer) = find_by_email(&api, email).await? else {
                return Ok(Vec::new());
            };
            let orders = orders_of(&api, customer.id, settings.recent_orders_limit, "any").await?.unwrap_or_default();
            let mut snippets = vec![customer_snippet(&customer)];
            snippets.extend(orders.iter().enumerate().map(|(age, order)| order_snippet(order, age)));
            Ok(snippets)
        })
    }
}

fn customer_snippet(customer: &Customer) -> ContextSnippet {
    let mut content = String::from("Shopify customer");
    if let Some(name) = customer.full_name() {
        content.push_str(&format!(" {name}"));
    }
    if let Some(email) = &customer.email {
        content.push_str(&format!(" <{email}>"));
    }
    let mut facts = Vec::new();
    if let Some(count) = customer.orders_count {
        facts.push(format!("{count} {}", if count == 1 { "order" } else { "orders" }));
    }
    if let Some(spent) = &customer.total_spent {
        facts.push(match &customer.currency {
            Some(currency) => format!("{spent} {currency} spent"),
            None => format!("{spent} spent"),
        });
    }
    if let Some(since) = customer.created_at.as_deref().and_then(|d| d.get(..10)) {
        facts.push(format!("customer since {since}"));
    }
    if !facts.is_empty() {
        content.push_str(&format!(": {}", facts.join(", ")));
    }
    ContextSnippet { source: format!("shopify:customer:{}", customer.id), content, weight: CUSTOMER_WEIGHT }
}

/// "Order #1001 placed 2026-11-20, 2 items, 59.00 EUR, payment: paid, fulfillment: fulfilled, …"
fn order_snippet(order: &Order, age: usize) -> ContextSnippet {
    let placed = order.created_at.get(..10).unwrap_or(&order.created_at);
    let items = if order.item_count == 1 { "1 item".to_string() } else { format!("{} items", order.item_count) };
    let mut content =
        format!("Order {} placed {placed}, {items}, {} {}", order.name, order.total_price, order.currency);
    if let Some(payment) = &order.financial_status {
        content.push_str(&format!(", payment: {}", payment.replace('_', " ")));
    }
    content.push_str(&format!(", fulfillment: {}", order.fulfillment_status.replace('_', " ")));
    if let Some(cancelled) = &order.cancelled_at {
        content.push_str(&format!(", cancelled {}", cancelled.get(..10).unwrap_or(cancelled)));
    }
    if let Some(shipment) = order.fulfillments.iter().rev().find(|f| f.tracking_number.is_some()) {
        let carrier = shipment.tracking_company.as_deref().map(|c| format!("{c} ")).unwrap_or_default();
        content.push_str(&format!(", tracking: {carrier}{}", shipment.tracking_number.as_deref().unwrap_or_default()));
    }
    // The newest order weighs 1.0, each older one 0.1 less, never below 0.1.
    let weight = (10 - age.min(9)) as f32 / 10.0;
    ContextSnippet { source: format!("shopify:order:{}", order.name.trim_start_matches('#')), content, weight }
}
