//! [`Order`]: an order as actions return it, built from the REST `Order` resource or from the
//! GraphQL `Order` object, so lookups by id and by name give flows the same shape.

use bacon_plugin_sdk::ActionError;
use bacon_plugin_sdk::schemars::{self, JsonSchema};
use serde::{Deserialize, Serialize};

/// The REST fields an [`Order`] is built from (`?fields=` keeps responses small).
pub const REST_FIELDS: &str = "id,name,email,created_at,cancelled_at,financial_status,fulfillment_status,\
                               total_price,currency,customer,line_items,fulfillments";

/// The GraphQL Admin API query behind `get_order` by name. `$query` is Shopify search syntax,
/// `name:"#1001"`; a few candidates come back and the exact name is picked from them.
pub const ORDER_BY_NAME_QUERY: &str = "query OrderByName($query: String!) {
  orders(first: 3, query: $query) {
    nodes {
      legacyResourceId
      name
      email
      createdAt
      cancelledAt
      displayFinancialStatus
      displayFulfillmentStatus
      totalPriceSet { shopMoney { amount currencyCode } }
      customer { legacyResourceId }
      lineItems(first: 20) { nodes { title sku quantity originalUnitPriceSet { shopMoney { amount } } } }
      fulfillments(first: 5) { status trackingInfo(first: 3) { company number url } }
    }
  }
}";

/// An order.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Order {
    /// The numeric id, as in the admin URL (`450789469`).
    pub id: u64,
    /// The name customers see (`#1001`).
    pub name: String,
    pub email: Option<String>,
    /// When it was placed (ISO 8601, in the shop's time zone).
    pub created_at: String,
    pub cancelled_at: Option<String>,
    /// `pending`, `authorized`, `paid`, `partially_paid`, `partially_refunded`, `refunded`, `voided`, ….
    pub financial_status: Option<String>,
    /// `unfulfilled`, `partially_fulfilled`, `fulfilled`, `in_progress`, `on_hold`, `restocked`, ….
    pub fulfillment_status: String,
    /// The total in the shop's currency, as a decimal string (`598.94`).
    pub total_price: String,
    /// ISO 4217 code of the shop's currency.
    pub currency: String,
    pub customer_id: Option<u64>,
    /// The sum of the line items' quantities.
    pub item_count: u64,
    pub line_items: Vec<LineItem>,
    pub fulfillments: Vec<Fulfillment>,
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LineItem {
    pub title: String,
    pub sku: Option<String>,
    pub quantity: u64,
    /// The unit price as a decimal string.
    pub price: Option<String>,
}

/// One shipment of an order.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Fulfillment {
    /// `pending`, `open`, `success`, `cancelled`, `error`, `failure`.
    pub status: Option<String>,
    pub tracking_company: Option<String>,
    pub tracking_number: Option<String>,
    pub tracking_url: Option<String>,
}

/// `{"order": {…}}` from `GET orders/{id}.json`.
#[derive(Deserialize)]
pub(crate) struct RestOrderEnvelope {
    pub(crate) order: RestOrder,
}

/// `{"orders": […]}` from the order lists.
#[derive(Deserialize)]
pub(crate) struct RestOrdersEnvelope {
    pub(crate) orders: Vec<RestOrder>,
}

/// The REST `Order` resource, the fields in [`REST_FIELDS`].
#[derive(Deserialize)]
pub(crate) struct RestOrder {
    id: u64,
    name: String,
    email: Option<String>,
    created_at: String,
    cancelled_at: Option<String>,
    financial_status: Option<String>,
    fulfillment_status: Option<String>,
    total_price: String,
    currency: String,
    customer: Option<RestCustomerRef>,
    #[serde(default)]
    line_items: Vec<RestLineItem>,
    #[serde(default)]
    fulfillments: Vec<RestFulfillment>,
}

#[derive(Deserialize)]
struct RestCustomerRef {
    id: u64,
}

#[derive(Deserialize)]
struct RestLineItem {
    title: String,
    sku: Option<String>,
    quantity: u64,
    price: Option<String>,
}

#[derive(Deserialize)]
struct RestFulfillment {
    status: Option<String>,
    tracking_company: Option<String>,
    tracking_number: Option<String>,
    tracking_url: Option<String>,
}

impl From<RestOrder> for Order {
    fn from(o: RestOrder) -> Self {
        let line_items: Vec<LineItem> = o
            .line_items
            .into_iter()
            .map(|l| LineItem { title: l.title, sku: non_empty(l.sku), quantity: l.quantity, price: l.price })
            .collect();
        // REST says `null` for unfulfilled and `partial`; GraphQL's names are clearer.
        let fulfillment_status = match o.fulfillment_status.as_deref() {
            None => "unfulfilled".to_string(),
            Some("partial") => "partially_fulfilled".to_string(),
            Some(other) => other.to_ascii_lowercase(),
        };
        Self {
            id: o.id,
            name: o.name,
            email: non_empty(o.email),
            created_at: o.created_at,
            cancelled_at: o.cancelled_at,
            financial_status: o.financial_status,
            fulfillment_status,
            total_price: o.total_price,
            currency: o.currency,
            customer_id: o.customer.map(|c| c.id),
            item_count: line_items.iter().map(|l| l.quantity).sum(),
            line_items,
            fulfillments: o
                .fulfillments
                .into_iter()
                .map(|f| Fulfillment {
                    status: f.status,
                    tracking_company: non_empty(f.tracking_company),
                    tracking_number: non_empty(f.tracking_number),
                    tracking_url: non_empty(f.tracking_url),
                })
                .collect(),
        }
    }
}

/// `data` of [`ORDER_BY_NAME_QUERY`].
#[derive(Deserialize)]
pub(crate) struct OrdersByName {
    pub(crate) orders: Nodes<GqlOrder>,
}

/// A GraphQL connection read through its `nodes`.
#[derive(Deserialize)]
pub(crate) struct Nodes<T> {
    pub(crate) nodes: Vec<T>,
}

/// The GraphQL `Order` fields in [`ORDER_BY_NAME_QUERY`].
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GqlOrder {
    legacy_resource_id: String,
    pub(crate) name: String,
    email: Option<String>,
    created_at: String,
    cancelled_at: Option<String>,
    display_financial_status: Option<String>,
    display_fulfillment_status: String,
    total_price_set: MoneyBag,
    customer: Option<GqlCustomerRef>,
    line_items: Nodes<GqlLineItem>,
    #[serde(default)]
    fulfillments: Vec<GqlFulfillment>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MoneyBag {
    shop_money: Money,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Money {
    amount: String,
    currency_code: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GqlCustomerRef {
    legacy_resource_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GqlLineItem {
    title: String,
    sku: Option<String>,
    quantity: u64,
    original_unit_price_set: Option<MoneyBag>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GqlFulfillment {
    status: Option<String>,
    #[serde(default)]
    tracking_info: Vec<GqlTracking>,
}

#[derive(Deserialize)]
struct GqlTracking {
    company: Option<String>,
    number: Option<String>,
    url: Option<String>,
}

impl TryFrom<GqlOrder> for Order {
    type Error = ActionError;

    fn try_from(o: GqlOrder) -> Result<Self, ActionError> {
        let line_items: Vec<LineItem> = o
            .line_items
            .nodes
            .into_iter()
            .map(|l| LineItem {
                title: l.title,
                sku: non_empty(l.sku),
                quantity: l.quantity,
                price: l.original_unit_price_set.map(|p| p.shop_money.amount),
            })
            .collect();
        let customer_id = match o.customer {
            Some(c) => Some(legacy_id(&c.legacy_resource_id)?),
            None => None,
        };
        Ok(Self {
            id: legacy_id(&o.legacy_resource_id)?,
            name: o.name,
            email: non_empty(o.email),
            created_at: o.created_at,
            cancelled_at: o.cancelled_at,
            financial_status: o.display_financial_status.map(|s| s.to_ascii_lowercase()),
            fulfillment_status: o.display_fulfillment_status.to_ascii_lowercase(),
            total_price: o.total_price_set.shop_money.amount,
            currency: o.total_price_set.shop_money.currency_code.unwrap_or_default(),
            customer_id,
            item_count: line_items.iter().map(|l| l.quantity).sum(),
            line_items,
            fulfillments: o
                .fulfillments
                .into_iter()
                .map(|f| {
                    let tracking = f.tracking_info.into_iter().next();
                    Fulfillment {
                        status: f.status.map(|s| s.to_ascii_lowercase()),
                        tracking_company: tracking.as_ref().and_then(|t| non_empty(t.company.clone())),
                        tracking_number: tracking.as_ref().and_then(|t| non_empty(t.number.clone())),
                        tracking_url: tracking.and_then(|t| non_empty(t.url)),
                    }
                })
                .collect(),
        })
    }
}

fn legacy_id(text: &str) -> Result<u64, ActionError> {
    text.parse().map_err(|_| ActionError::permanent(format!("Shopify returned `{text}` where a numeric id belongs")))
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}
