//! Settings and Admin API bodies shaped like Shopify's (REST fixtures of Shopify/shopify-api-ruby,
//! the examples in the vendor reference).

use serde_json::{Value, json};

pub const TOKEN: &str = "shpat_0123456789abcdef";
/// The API root with the default version.
pub const API: &str = "/admin/api/2026-04";

/// Settings as a tenant stores them (defaults left out on purpose).
pub fn settings() -> Value {
    json!({"shopDomain": "acme.myshopify.com", "accessToken": TOKEN})
}

pub fn shop() -> Value {
    json!({"shop": {
        "id": 548380009, "name": "Acme Outfitters", "email": "owner@acme.example", "domain": "shop.acme.example",
        "province": "Kentucky", "country": "US", "myshopify_domain": "acme.myshopify.com", "currency": "USD",
        "iana_timezone": "America/New_York", "plan_name": "basic", "plan_display_name": "Basic"
    }})
}

pub fn invalid_token() -> Value {
    json!({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"})
}

/// Order #1001 as the REST API returns it (the fields the plugin asks for).
pub fn order_1001() -> Value {
    json!({
        "id": 450789469, "name": "#1001", "email": "bob.norman@mail.example.com",
        "created_at": "2008-01-10T11:00:00-05:00", "cancelled_at": null,
        "financial_status": "partially_refunded", "fulfillment_status": null,
        "total_price": "598.94", "currency": "USD",
        "customer": {"id": 207119551, "email": "bob.norman@mail.example.com"},
        "line_items": [
            {"id": 466157049, "title": "IPod Nano - 8gb", "sku": "IPOD2008GREEN", "quantity": 1, "price": "199.00"},
            {"id": 518995019, "title": "IPod Nano - 8gb", "sku": "", "quantity": 2, "price": "199.00"}
        ],
        "fulfillments": [{"id": 255858046, "status": "failure", "tracking_company": "USPS", "tracking_number": "1Z2345",
                          "tracking_url": "https://tools.usps.com/go/TrackConfirmAction?tLabels=1Z2345"}]
    })
}

pub fn order_1002() -> Value {
    json!({
        "id": 1073459962, "name": "#1002", "email": "bob.norman@mail.example.com",
        "created_at": "2026-11-20T09:30:00-05:00", "cancelled_at": null,
        "financial_status": "paid", "fulfillment_status": "fulfilled",
        "total_price": "59.00", "currency": "EUR",
        "customer": {"id": 207119551},
        "line_items": [{"id": 1071823180, "title": "Wool socks", "sku": "SOCK-W", "quantity": 2, "price": "29.50"}],
        "fulfillments": [{"id": 1069019880, "status": "success", "tracking_company": "DHL Express",
                          "tracking_number": "00340434161094042557", "tracking_url": null}]
    })
}

/// The parsed form of [`order_1001`].
pub fn order_1001_parsed() -> Value {
    json!({
        "id": 450789469, "name": "#1001", "email": "bob.norman@mail.example.com",
        "createdAt": "2008-01-10T11:00:00-05:00", "cancelledAt": null,
        "financialStatus": "partially_refunded", "fulfillmentStatus": "unfulfilled",
        "totalPrice": "598.94", "currency": "USD", "customerId": 207119551, "itemCount": 3,
        "lineItems": [
            {"title": "IPod Nano - 8gb", "sku": "IPOD2008GREEN", "quantity": 1, "price": "199.00"},
            {"title": "IPod Nano - 8gb", "sku": null, "quantity": 2, "price": "199.00"}
        ],
        "fulfillments": [{"status": "failure", "trackingCompany": "USPS", "trackingNumber": "1Z2345",
                          "trackingUrl": "https://tools.usps.com/go/TrackConfirmAction?tLabels=1Z2345"}]
    })
}

pub fn bob() -> Value {
    json!({
        "id": 207119551, "email": "bob.norman@mail.example.com", "created_at": "2024-10-02T09:21:37-05:00",
        "updated_at": "2024-10-02T09:21:37-05:00", "first_name": "Bob", "last_name": "Norman", "orders_count": 2,
        "state": "disabled", "total_spent": "657.94", "last_order_id": 1073459962, "note": null,
        "verified_email": true, "tax_exempt": false, "tags": "Léon, Noël", "last_order_name": "#1002",
        "currency": "USD", "phone": "+16136120707", "admin_graphql_api_id": "gid://shopify/Customer/207119551"
    })
}

/// A near match the customer search may also return.
pub fn bobby() -> Value {
    json!({"id": 1073339482, "email": "bob.norman@mail.example.com.au", "first_name": "Bobby", "last_name": "Norman",
           "orders_count": 0, "state": "disabled", "total_spent": "0.00", "tags": "", "currency": "USD"})
}
