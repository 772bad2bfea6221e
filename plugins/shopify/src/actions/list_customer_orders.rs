//! `list_customer_orders`: a customer's most recent orders, the customer given by id or email.

use bacon_plugin_sdk::schemars::{self, JsonSchema};
use bacon_plugin_sdk::{ActionContext, ActionError};
use serde::{Deserialize, Serialize};

use crate::client::AdminApi;
use crate::customer::{find_by_email, orders_of};
use crate::order::Order;
use crate::resource_id::ResourceId;
use crate::settings::ShopifySettings;

fn default_limit() -> u8 {
    10
}

/// Which orders a listing includes.
#[derive(Debug, Clone, Copy, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Open orders only.
    Open,
    /// Closed (archived) orders only.
    Closed,
    /// Cancelled orders only.
    Cancelled,
    /// Every order.
    #[default]
    Any,
}

impl OrderStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Closed => "closed",
            Self::Cancelled => "cancelled",
            Self::Any => "any",
        }
    }
}

/// Whose orders: give `customerId` or `email`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListCustomerOrdersInput {
    /// The customer's id: `207119551` or `gid://shopify/Customer/207119551`.
    pub customer_id: Option<ResourceId>,
    /// The customer's email address (looked up first).
    #[schemars(email)]
    pub email: Option<String>,
    #[serde(default)]
    pub status: OrderStatus,
    /// How many orders, newest first.
    #[serde(default = "default_limit")]
    #[schemars(range(min = 1, max = 250))]
    pub limit: u8,
}

/// The customer's orders; `customerId` is empty when no customer has the email.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListCustomerOrdersOutput {
    pub customer_id: Option<u64>,
    pub orders: Vec<Order>,
}

/// Lists the orders.
///
/// # Errors
/// `InvalidInput` unless exactly one of `customerId` and `email` is given, or for a limit out of
/// range; `Permanent` when the customer id is unknown; vendor errors.
pub async fn run(
    ctx: ActionContext,
    settings: ShopifySettings,
    input: ListCustomerOrdersInput,
) -> Result<ListCustomerOrdersOutput, ActionError> {
    if !(1..=250).contains(&input.limit) {
        return Err(ActionError::InvalidInput {
            message: "`limit` must be between 1 and 250".into(),
            pointer: Some("/limit".into()),
        });
    }
    let status = input.status.as_str();
    match (input.customer_id, input.email) {
        (Some(id), None) => {
            let id = id.numeric("Customer", "/customerId")?;
            let api = AdminApi::new(&ctx, &settings)?;
            match orders_of(&api, id, input.limit, status).await? {
                Some(orders) => Ok(ListCustomerOrdersOutput { customer_id: Some(id), orders }),
                None => Err(ActionError::permanent(format!("customer {id} not found in {}", api.shop()))),
            }
        }
        (None, Some(email)) => {
            let api = AdminApi::new(&ctx, &settings)?;
            let Some(customer) = find_by_email(&api, &email).await? else {
                return Ok(ListCustomerOrdersOutput { customer_id: None, orders: Vec::new() });
            };
            let orders = orders_of(&api, customer.id, input.limit, status).await?.unwrap_or_default();
            Ok(ListCustomerOrdersOutput { customer_id: Some(customer.id), orders })
        }
        _ => Err(ActionError::invalid_input("give exactly one of `customerId` and `email`")),
    }
}
