//! [`Customer`] and the two customer look-ups the actions and the enricher share: by email
//! (REST customer search) and a customer's orders.

use bacon_plugin_sdk::ActionError;
use bacon_plugin_sdk::schemars::{self, JsonSchema};
use serde::{Deserialize, Serialize};

use crate::client::AdminApi;
use crate::order::{Order, REST_FIELDS, RestOrdersEnvelope};

/// How many search hits are read; emails are unique per shop, so one exact match is expected.
const SEARCH_LIMIT: &str = "10";

/// A customer of the shop.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Customer {
    pub id: u64,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    /// Account state: `disabled`, `invited`, `enabled`, `declined`.
    pub state: Option<String>,
    pub tags: Vec<String>,
    pub orders_count: Option<u64>,
    /// Lifetime spend as a decimal string, in `currency`.
    pub total_spent: Option<String>,
    pub currency: Option<String>,
    pub last_order_id: Option<u64>,
    pub last_order_name: Option<String>,
    pub created_at: Option<String>,
}

#[derive(Deserialize)]
struct RestCustomers {
    customers: Vec<RestCustomer>,
}

#[derive(Deserialize)]
struct RestCustomer {
    id: u64,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    phone: Option<String>,
    state: Option<String>,
    tags: Option<String>,
    orders_count: Option<u64>,
    total_spent: Option<String>,
    currency: Option<String>,
    last_order_id: Option<u64>,
    last_order_name: Option<String>,
    created_at: Option<String>,
}

impl From<RestCustomer> for Customer {
    fn from(c: RestCustomer) -> Self {
        Self {
            id: c.id,
            email: c.email,
            first_name: c.first_name,
            last_name: c.last_name,
            phone: c.phone,
            state: c.state,
            tags: c
                .tags
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect(),
            orders_count: c.orders_count,
            total_spent: c.total_spent,
            currency: c.currency,
            last_order_id: c.last_order_id,
            last_order_name: c.last_order_name,
            created_at: c.created_at,
        }
    }
}

impl Customer {
    /// "Bob Norman", or `None` without a name.
    pub fn full_name(&self) -> Option<String> {
        let name = [self.first_name.as_deref(), self.last_name.as_deref()]
            .into_iter()
            .flatten()
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        (!name.is_empty()).then_some(name)
    }
}

/// Whether `email` can go into a search query as one term: one `@`, no whitespace and none of
/// the search syntax's special characters, so no input can add a condition to the search.
pub fn is_searchable_email(email: &str) -> bool {
    let special = |c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '(' | ')' | ':' | '\\' | '*');
    matches!(email.split_once('@'), Some((local, domain)) if !local.is_empty() && !domain.is_empty() && !domain.contains('@'))
        && !email.contains(special)
}

/// The customer whose email is exactly `email` (case-insensitive), if any. The search may return
/// near matches; only an exact one counts.
///
/// # Errors
/// `InvalidInput` (pointer `/email`) for an email that cannot be searched; vendor errors.
pub(crate) async fn find_by_email(api: &AdminApi, email: &str) -> Result<Option<Customer>, ActionError> {
    let email = email.trim();
    if !is_searchable_email(email) {
        return Err(ActionError::InvalidInput {
            message: format!("`{email}` is not an email address Shopify can search for"),
            pointer: Some("/email".into()),
        });
    }
    let query = format!("email:{email}");
    let found: RestCustomers =
        api.get("/customers/search.json", &[("query", query.as_str()), ("limit", SEARCH_LIMIT)]).await?;
    Ok(found
        .customers
        .into_iter()
        .find(|c| c.email.as_deref().is_some_and(|e| e.trim().eq_ignore_ascii_case(email)))
        .map(Customer::from))
}

/// Up to `limit` orders of customer `customer_id` in `status` (`open`, `closed`, `cancelled`,
/// `any`), newest first; `None` when Shopify knows no such customer.
///
/// # Errors
/// Vendor errors.
pub(crate) async fn orders_of(
    api: &AdminApi,
    customer_id: u64,
    limit: u8,
    status: &str,
) -> Result<Option<Vec<Order>>, ActionError> {
    let limit_text = limit.to_string();
    let path = format!("/customers/{customer_id}/orders.json");
    let query = [("status", status), ("limit", limit_text.as_str()), ("fields", REST_FIELDS)];
    let Some(found) = api.get_optional::<RestOrdersEnvelope>(&path, &query).await? else {
        return Ok(None);
    };
    let mut orders: Vec<Order> = found.orders.into_iter().map(Order::from).collect();
    // Timestamps carry the shop's offset, so they sort as text; Shopify already sends newest
    // first, this only guards the promise.
    orders.sort_by(|a, b| b.created_at.cmp(&a.created_at));
    orders.truncate(usize::from(limit));
    Ok(Some(orders))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_emails_are_searched() {
        assert!(is_searchable_email("bob.norman@mail.example.com"));
        assert!(is_searchable_email("bob+tag@example.com"));
        assert!(!is_searchable_email("bob@example.com OR state:enabled"));
        assert!(!is_searchable_email("\"bob\"@example.com"));
        assert!(!is_searchable_email("bob"));
        assert!(!is_searchable_email("@example.com"));
        assert!(!is_searchable_email("a@b@c"));
    }
}
