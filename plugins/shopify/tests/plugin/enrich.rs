//! The context enricher: a customer summary and their recent orders, or nothing.

use bacon_plugin_sdk::enrich::{ContextSnippet, Conversation};
use bacon_plugin_sdk::testing::context_for;
use bacon_plugin_sdk::testing::wiremock::matchers::{header, method, path, query_param};
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
use bacon_plugin_shopify::definition;
use serde_json::{Value, json};

use crate::fixtures::{API, TOKEN, bob, bobby, order_1001, order_1002};

fn settings() -> Value {
    json!({"shopDomain": "acme.myshopify.com", "accessToken": TOKEN, "recentOrdersLimit": 2})
}

async fn enrich(server: &MockServer, email: Option<&str>) -> Vec<ContextSnippet> {
    let def = definition();
    let enricher = def.enricher.clone().unwrap();
    let ctx = context_for(&def, "enrich_context", settings(), &server.uri());
    let conversation = Conversation { email: email.map(str::to_string), ..Conversation::default() };
    enricher.enrich_context(ctx, conversation).await.unwrap()
}

#[tokio::test]
async fn the_customers_recent_orders_become_snippets() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/customers/search.json")))
        .and(query_param("query", "email:bob.norman@mail.example.com"))
        .and(header("x-shopify-access-token", TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"customers": [bob()]})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/customers/207119551/orders.json")))
        .and(query_param("status", "any"))
        .and(query_param("limit", "2"))
        .and(header("x-shopify-access-token", TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"orders": [order_1002(), order_1001()]})))
        .expect(1)
        .mount(&server)
        .await;
    let snippets = enrich(&server, Some(" bob.norman@mail.example.com ")).await;
    assert_eq!(
        snippets,
        [
            ContextSnippet {
                source: "shopify:customer:207119551".into(),
                content: "Shopify customer Bob Norman <bob.norman@mail.example.com>: 2 orders, 657.94 USD spent, \
                          customer since 2024-10-02"
                    .into(),
                weight: 0.8,
            },
            ContextSnippet {
                source: "shopify:order:1002".into(),
                content: "Order #1002 placed 2026-11-20, 2 items, 59.00 EUR, payment: paid, fulfillment: fulfilled, \
                          tracking: DHL Express 00340434161094042557"
                    .into(),
                weight: 1.0,
            },
            ContextSnippet {
                source: "shopify:order:1001".into(),
                content: "Order #1001 placed 2008-01-10, 3 items, 598.94 USD, payment: partially refunded, \
                          fulfillment: unfulfilled, tracking: USPS 1Z2345"
                    .into(),
                weight: 0.9,
            },
        ]
    );
}

#[tokio::test]
async fn no_matching_customer_gives_no_snippets() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/customers/search.json")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"customers": [bobby()]})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/customers/1073339482/orders.json")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"orders": []})))
        .expect(0)
        .mount(&server)
        .await;
    assert!(enrich(&server, Some("bob.norman@mail.example.com")).await.is_empty());
}

#[tokio::test]
async fn a_conversation_without_a_usable_email_asks_shopify_nothing() {
    let server = MockServer::start().await;
    assert!(enrich(&server, None).await.is_empty());
    assert!(enrich(&server, Some("   ")).await.is_empty());
    assert!(enrich(&server, Some("bob OR state:enabled")).await.is_empty());
    assert!(server.received_requests().await.unwrap().is_empty());
}
