//! Each action and `test_connection`: the exact request Shopify receives, the parsed answer, and
//! Shopify's failures mapped.

use std::time::Duration;

use bacon_plugin_sdk::testing::run_action;
use bacon_plugin_sdk::testing::wiremock::matchers::{body_json, header, method, path, query_param};
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
use bacon_plugin_shopify::{ORDER_BY_NAME_QUERY, definition};
use serde_json::{Value, json};

use crate::fixtures::{
    API, TOKEN, bob, bobby, invalid_token, order_1001, order_1001_parsed, order_1002, settings, shop,
};

const ORDER_FIELDS: &str = "id,name,email,created_at,cancelled_at,financial_status,fulfillment_status,total_price,\
                            currency,customer,line_items,fulfillments";

async fn run(server: &MockServer, action: &str, input: Value) -> Result<Value, bacon_plugin_sdk::ActionError> {
    run_action(&definition(), action, settings(), &server.uri(), input).await
}

#[tokio::test]
async fn test_connection_reads_the_shop() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/shop.json")))
        .and(header("x-shopify-access-token", TOKEN))
        .and(header("accept", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(shop()))
        .expect(1)
        .mount(&server)
        .await;
    let status = run(&server, "test_connection", json!({})).await.unwrap();
    assert_eq!(status["ok"], true);
    assert_eq!(status["message"], "connected to Acme Outfitters (acme.myshopify.com)");
    assert_eq!(
        status["details"],
        json!({"name": "Acme Outfitters", "myshopifyDomain": "acme.myshopify.com", "currency": "USD",
               "ianaTimezone": "America/New_York", "planName": "basic"})
    );
}

#[tokio::test]
async fn test_connection_reports_a_wrong_token_with_shopifys_reason() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/shop.json")))
        .respond_with(ResponseTemplate::new(401).set_body_json(invalid_token()))
        .expect(1)
        .mount(&server)
        .await;
    let status = run(&server, "test_connection", json!({})).await.unwrap();
    assert_eq!(status["ok"], false);
    assert_eq!(
        status["message"],
        "Shopify rejected the credentials (401): [API] Invalid API key or access token (unrecognized login or wrong \
         password)"
    );
    assert!(!status.to_string().contains(TOKEN));
}

#[tokio::test]
async fn test_connection_without_credentials_says_what_to_set() {
    let server = MockServer::start().await;
    let status = run_action(&definition(), "test_connection", json!({"shopDomain": "acme"}), &server.uri(), json!({}))
        .await
        .unwrap();
    assert_eq!(status["ok"], false);
    assert!(status["message"].as_str().unwrap().contains("set `accessToken`"), "{status}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn get_order_by_id_reads_the_rest_order() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/orders/450789469.json")))
        .and(query_param("fields", ORDER_FIELDS))
        .and(header("x-shopify-access-token", TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"order": order_1001()})))
        .expect(2)
        .mount(&server)
        .await;
    let order = run(&server, "get_order", json!({"id": 450789469})).await.unwrap();
    assert_eq!(order, order_1001_parsed());
    let by_gid = run(&server, "get_order", json!({"id": "gid://shopify/Order/450789469"})).await.unwrap();
    assert_eq!(by_gid, order_1001_parsed());
}

#[tokio::test]
async fn get_order_by_id_says_when_the_order_does_not_exist() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/orders/999.json")))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"errors": "Not Found"})))
        .expect(1)
        .mount(&server)
        .await;
    let err = run(&server, "get_order", json!({"id": "999"})).await.unwrap_err();
    assert_eq!(err.kind(), "permanent");
    assert_eq!(err.message(), "order 999 not found in acme.myshopify.com");
}

#[tokio::test]
async fn get_order_honours_a_429_and_its_float_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/orders/450789469.json")))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "2.0").set_body_json(json!({
            "errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
        })))
        .expect(1)
        .mount(&server)
        .await;
    let err = run(&server, "get_order", json!({"id": 450789469})).await.unwrap_err();
    assert_eq!(err.kind(), "rate_limited");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(2)));
    assert!(err.message().contains("Exceeded 2 calls per second for api client"), "{err}");
}

#[tokio::test]
async fn get_order_needs_exactly_one_of_id_and_name() {
    let server = MockServer::start().await;
    for input in [json!({}), json!({"id": 1, "name": "#1001"})] {
        let err = run(&server, "get_order", input).await.unwrap_err();
        assert_eq!(err.kind(), "invalid_input");
    }
    let err = run(&server, "get_order", json!({"id": "../shop"})).await.unwrap_err();
    assert_eq!(err.kind(), "invalid_input");
    assert!(server.received_requests().await.unwrap().is_empty());
}

fn graphql_order_1001() -> Value {
    json!({
        "legacyResourceId": "450789469", "name": "#1001", "email": "bob.norman@mail.example.com",
        "createdAt": "2008-01-10T16:00:00Z", "cancelledAt": null,
        "displayFinancialStatus": "PARTIALLY_REFUNDED", "displayFulfillmentStatus": "UNFULFILLED",
        "totalPriceSet": {"shopMoney": {"amount": "598.94", "currencyCode": "USD"}},
        "customer": {"legacyResourceId": "207119551"},
        "lineItems": {"nodes": [
            {"title": "IPod Nano - 8gb", "sku": "IPOD2008GREEN", "quantity": 1,
             "originalUnitPriceSet": {"shopMoney": {"amount": "199.0"}}}
        ]},
        "fulfillments": [{"status": "FAILURE", "trackingInfo": [{"company": "USPS", "number": "1Z2345", "url": null}]}]
    })
}

fn cost(available: f64) -> Value {
    json!({"cost": {"requestedQueryCost": 112, "actualQueryCost": 7,
        "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": available, "restoreRate": 100.0}}})
}

#[tokio::test]
async fn get_order_by_name_queries_graphql_with_an_escaped_search_term() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/graphql.json")))
        .and(header("x-shopify-access-token", TOKEN))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({"query": ORDER_BY_NAME_QUERY, "variables": {"query": "name:\"#1001\""}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": {"orders": {"nodes": [graphql_order_1001()]}}, "extensions": cost(1993.0)
        })))
        .expect(2)
        .mount(&server)
        .await;
    let order = run(&server, "get_order", json!({"name": "#1001"})).await.unwrap();
    assert_eq!(
        order,
        json!({
            "id": 450789469, "name": "#1001", "email": "bob.norman@mail.example.com",
            "createdAt": "2008-01-10T16:00:00Z", "cancelledAt": null,
            "financialStatus": "partially_refunded", "fulfillmentStatus": "unfulfilled",
            "totalPrice": "598.94", "currency": "USD", "customerId": 207119551, "itemCount": 1,
            "lineItems": [{"title": "IPod Nano - 8gb", "sku": "IPOD2008GREEN", "quantity": 1, "price": "199.0"}],
            "fulfillments": [{"status": "failure", "trackingCompany": "USPS", "trackingNumber": "1Z2345",
                              "trackingUrl": null}]
        })
    );
    // Plain digits are read as the default `#` name.
    assert_eq!(run(&server, "get_order", json!({"name": "1001"})).await.unwrap()["id"], 450789469);
}

#[tokio::test]
async fn get_order_by_name_cannot_widen_the_search() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/graphql.json")))
        .and(body_json(json!({"query": ORDER_BY_NAME_QUERY, "variables": {"query": r##"name:"#1\" OR name:\\*""##}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": {"orders": {"nodes": [graphql_order_1001()]}}, "extensions": cost(1993.0)
        })))
        .expect(1)
        .mount(&server)
        .await;
    // Even if the search matched other orders, only the exact name is accepted.
    let err = run(&server, "get_order", json!({"name": r#"#1" OR name:\*"#})).await.unwrap_err();
    assert_eq!(err.kind(), "permanent");
    assert!(err.message().starts_with(r#"no order named `#1" OR name:\*` in acme.myshopify.com"#), "{err}");
}

#[tokio::test]
async fn get_order_by_name_maps_graphql_throttling_in_a_200_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/graphql.json")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED",
                        "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
            "extensions": {"cost": {"requestedQueryCost": 752, "actualQueryCost": null,
                "throttleStatus": {"maximumAvailable": 1000.0, "currentlyAvailable": 666, "restoreRate": 50.0}}}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let err = run(&server, "get_order", json!({"name": "#1001"})).await.unwrap_err();
    assert_eq!(err.kind(), "rate_limited");
    assert_eq!(err.retry_after(), Some(Duration::from_secs_f64(1.72)));
    assert_eq!(err.message(), "Shopify throttled the GraphQL query: Throttled");
}

#[tokio::test]
async fn find_customer_searches_by_email_and_keeps_only_the_exact_match() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/customers/search.json")))
        .and(query_param("query", "email:bob.norman@mail.example.com"))
        .and(query_param("limit", "10"))
        .and(header("x-shopify-access-token", TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"customers": [bobby(), bob()]})))
        .expect(1)
        .mount(&server)
        .await;
    let out = run(&server, "find_customer", json!({"email": "bob.norman@mail.example.com"})).await.unwrap();
    assert_eq!(
        out,
        json!({"found": true, "customer": {
            "id": 207119551, "email": "bob.norman@mail.example.com", "firstName": "Bob", "lastName": "Norman",
            "phone": "+16136120707", "state": "disabled", "tags": ["Léon", "Noël"], "ordersCount": 2,
            "totalSpent": "657.94", "currency": "USD", "lastOrderId": 1073459962, "lastOrderName": "#1002",
            "createdAt": "2024-10-02T09:21:37-05:00"
        }})
    );
}

#[tokio::test]
async fn find_customer_reports_no_match_and_refuses_search_syntax() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/customers/search.json")))
        .and(query_param("query", "email:nobody@example.com"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"customers": [bobby()]})))
        .expect(1)
        .mount(&server)
        .await;
    let out = run(&server, "find_customer", json!({"email": "nobody@example.com"})).await.unwrap();
    assert_eq!(out, json!({"found": false, "customer": null}));
    let err = run(&server, "find_customer", json!({"email": "x@example.com OR state:enabled"})).await.unwrap_err();
    assert_eq!(err.kind(), "invalid_input");
}

#[tokio::test]
async fn find_customer_passes_shopifys_validation_errors_on() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/customers/search.json")))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({"errors": {"query": ["is invalid"]}})))
        .expect(1)
        .mount(&server)
        .await;
    let err = run(&server, "find_customer", json!({"email": "bob@example.com"})).await.unwrap_err();
    assert_eq!(err.kind(), "invalid_input");
    assert_eq!(err.message(), "Shopify refused the request (422): query is invalid");
}

#[tokio::test]
async fn list_customer_orders_by_id_reads_newest_first() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/customers/207119551/orders.json")))
        .and(query_param("status", "any"))
        .and(query_param("limit", "5"))
        .and(query_param("fields", ORDER_FIELDS))
        .and(header("x-shopify-access-token", TOKEN))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"orders": [order_1001(), order_1002()]})))
        .expect(1)
        .mount(&server)
        .await;
    let out = run(&server, "list_customer_orders", json!({"customerId": 207119551, "limit": 5})).await.unwrap();
    assert_eq!(out["customerId"], 207119551);
    let names: Vec<&str> = out["orders"].as_array().unwrap().iter().map(|o| o["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["#1002", "#1001"]);
    assert_eq!(out["orders"][0]["fulfillmentStatus"], "fulfilled");
    assert_eq!(out["orders"][0]["itemCount"], 2);
    assert_eq!(out["orders"][1], order_1001_parsed());
}

#[tokio::test]
async fn list_customer_orders_by_email_finds_the_customer_first() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/customers/search.json")))
        .and(query_param("query", "email:bob.norman@mail.example.com"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"customers": [bob()]})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/customers/207119551/orders.json")))
        .and(query_param("status", "open"))
        .and(query_param("limit", "10"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"orders": [order_1002()]})))
        .expect(1)
        .mount(&server)
        .await;
    let out = run(&server, "list_customer_orders", json!({"email": "bob.norman@mail.example.com", "status": "open"}))
        .await
        .unwrap();
    assert_eq!(out["customerId"], 207119551);
    assert_eq!(out["orders"][0]["name"], "#1002");
}

#[tokio::test]
async fn list_customer_orders_maps_a_missing_scope_and_an_unknown_customer() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/customers/207119551/orders.json")))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({
            "errors": "[API] This action requires merchant approval for read_orders scope."
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{API}/customers/42/orders.json")))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"errors": "Not Found"})))
        .expect(1)
        .mount(&server)
        .await;
    let err = run(&server, "list_customer_orders", json!({"customerId": "207119551"})).await.unwrap_err();
    assert_eq!(err.kind(), "unauthorized");
    assert!(err.message().contains("requires merchant approval for read_orders scope"), "{err}");
    assert!(!err.message().contains(TOKEN));
    let err = run(&server, "list_customer_orders", json!({"customerId": 42})).await.unwrap_err();
    assert_eq!(err.kind(), "permanent");
    assert_eq!(err.message(), "customer 42 not found in acme.myshopify.com");
}
