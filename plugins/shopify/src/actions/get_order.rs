//! `get_order`: one order, by id (REST `orders/{id}.json`) or by name (GraphQL Admin API
//! `orders(query: "name:…")`, since REST has no documented name filter).

use bacon_plugin_sdk::schemars::{self, JsonSchema};
use bacon_plugin_sdk::{ActionContext, ActionError};
use serde::Deserialize;
use serde_json::json;

use crate::client::AdminApi;
use crate::order::{ORDER_BY_NAME_QUERY, Order, OrdersByName, REST_FIELDS, RestOrderEnvelope};
use crate::resource_id::ResourceId;
use crate::settings::ShopifySettings;

/// Which order: give `id` or `name`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetOrderInput {
    /// The order's id: `450789469` or `gid://shopify/Order/450789469`.
    pub id: Option<ResourceId>,
    /// The order's name as the customer sees it: `#1001` (plain digits are read as `#1001`).
    pub name: Option<String>,
}

/// Looks the order up.
///
/// # Errors
/// `InvalidInput` unless exactly one of `id` and `name` is given; `Permanent` when no such
/// order exists; vendor errors.
pub async fn run(ctx: ActionContext, settings: ShopifySettings, input: GetOrderInput) -> Result<Order, ActionError> {
    match (input.id, input.name) {
        (Some(id), None) => {
            let id = id.numeric("Order", "/id")?;
            by_id(&AdminApi::new(&ctx, &settings)?, id).await
        }
        (None, Some(name)) => {
            let name = order_name(&name)?;
            by_name(&AdminApi::new(&ctx, &settings)?, &name).await
        }
        _ => Err(ActionError::invalid_input("give exactly one of `id` and `name`")),
    }
}

async fn by_id(api: &AdminApi, id: u64) -> Result<Order, ActionError> {
    let path = format!("/orders/{id}.json");
    match api.get_optional::<RestOrderEnvelope>(&path, &[("fields", REST_FIELDS)]).await? {
        Some(found) => Ok(found.order.into()),
        None => Err(ActionError::permanent(format!("order {id} not found in {}", api.shop()))),
    }
}

async fn by_name(api: &AdminApi, name: &str) -> Result<Order, ActionError> {
    let query = format!("name:\"{}\"", search_escape(name));
    let data: OrdersByName = api.graphql(ORDER_BY_NAME_QUERY, json!({"query": query})).await?;
    // The search may return near matches; only the exact name counts.
    match data.orders.nodes.into_iter().find(|o| o.name.eq_ignore_ascii_case(name)) {
        Some(order) => order.try_into(),
        None => Err(ActionError::permanent(format!(
            "no order named `{name}` in {}; without the read_all_orders scope only the last 60 days of orders \
             are visible",
            api.shop()
        ))),
    }
}

/// The name as typed, `#` added to plain digits.
fn order_name(raw: &str) -> Result<String, ActionError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(ActionError::InvalidInput {
            message: "`name` is empty; give an order name such as `#1001`".into(),
            pointer: Some("/name".into()),
        });
    }
    Ok(if name.bytes().all(|b| b.is_ascii_digit()) { format!("#{name}") } else { name.to_string() })
}

/// Escapes a value for a double-quoted term of Shopify's search syntax, so no input can end
/// the term and add conditions.
fn search_escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalised_and_escaped() {
        assert_eq!(order_name(" 1001 ").unwrap(), "#1001");
        assert_eq!(order_name("EU1001").unwrap(), "EU1001");
        assert_eq!(order_name("  ").unwrap_err().kind(), "invalid_input");
        assert_eq!(search_escape(r#"#1" OR name:\x"#), r#"#1\" OR name:\\x"#);
    }
}
