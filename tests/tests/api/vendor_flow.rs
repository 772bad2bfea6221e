//! A flow across two official plugins through the durable engine (issue #5, acceptance 4):
//! Shopify `get_order`, then Twilio WhatsApp `send_message` with the order's status, both vendors
//! being loopback mocks that check the exact requests they would receive.

use std::time::Duration;

use bacon_plugin_sdk::testing::wiremock::matchers::{header, method, path, query_param};
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, Request, ResponseTemplate};
use bacon_tests::app::spawn_app_with;
use bacon_tests::{backend_test, logs, postgres, wait};
use base64::Engine;
use serde_json::json;

const SHOPIFY_TOKEN: &str = "shpat_flowtest0123456789";
const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const TWILIO_TOKEN: &str = "twilio-auth-token-0123456789abcd";

fn form(request: &Request) -> Vec<(String, String)> {
    url::form_urlencoded::parse(&request.body).into_owned().collect()
}

backend_test!(
    async fn an_order_status_reaches_whatsapp_through_shopify_and_twilio(backend) {
        let shopify = MockServer::start().await;
        let twilio = MockServer::start().await;
        let (shopify_url, twilio_url) = (shopify.uri(), twilio.uri());
        let Some(app) = spawn_app_with(backend, |c| {
            c.plugins.base_urls.insert("bacon-plugin-shopify".into(), shopify_url);
            c.plugins.base_urls.insert("bacon-plugin-twilio-whatsapp".into(), twilio_url);
        })
        .await
        else {
            return postgres::print_skip(module_path!());
        };
        let key = app.tenant_key.clone();

        Mock::given(method("GET"))
            .and(path("/admin/api/2026-04/orders/450789469.json"))
            .and(query_param("fields", "id,name,email,created_at,cancelled_at,financial_status,fulfillment_status,total_price,currency,customer,line_items,fulfillments"))
            .and(header("x-shopify-access-token", SHOPIFY_TOKEN))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({"order": {
                "id": 450789469, "name": "#1001", "email": "bob@example.com",
                "created_at": "2026-11-20T11:00:00-05:00", "cancelled_at": null,
                "financial_status": "paid", "fulfillment_status": "fulfilled",
                "total_price": "59.00", "currency": "EUR",
                "customer": {"id": 207119551, "email": "bob@example.com"},
                "line_items": [{"id": 1, "title": "Mug", "sku": "MUG", "quantity": 2, "price": "29.50"}],
                "fulfillments": []
            }})))
            .expect(1)
            .mount(&shopify)
            .await;
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{ACCOUNT}:{TWILIO_TOKEN}"))
        );
        Mock::given(method("POST"))
            .and(path(format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json")))
            .and(header("authorization", basic.as_str()))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({
                "sid": "SM0123456789abcdef0123456789abcdef", "account_sid": ACCOUNT, "from": "whatsapp:+14155238886",
                "to": "whatsapp:+15558675310", "body": "", "status": "queued", "direction": "outbound-api",
                "num_media": "0", "num_segments": "1", "error_code": null, "error_message": null,
                "date_created": "Wed, 25 Nov 2026 20:00:00 +0000", "api_version": "2010-04-01"
            })))
            .expect(1)
            .mount(&twilio)
            .await;

        let put = app
            .put("/v1/plugins/bacon-plugin-shopify/settings", &key, json!({"shopDomain": "acme.myshopify.com", "accessToken": SHOPIFY_TOKEN}))
            .await;
        assert_eq!(put.status, 200, "{}", put.text);
        let put = app
            .put(
                "/v1/plugins/bacon-plugin-twilio-whatsapp/settings",
                &key,
                json!({"accountSid": ACCOUNT, "authToken": TWILIO_TOKEN, "from": "+14155238886"}),
            )
            .await;
        assert_eq!(put.status, 200, "{}", put.text);

        let graph = json!({
            "nodes": [
                {"id": "start", "type": "trigger", "config": {}},
                {"id": "order", "type": "plugin_action", "config": {"pluginId": "bacon-plugin-shopify",
                    "actionName": "get_order", "payload": {"id": "{{ input.orderId }}"}}},
                {"id": "notify", "type": "plugin_action", "config": {"pluginId": "bacon-plugin-twilio-whatsapp",
                    "actionName": "send_message", "payload": {"to": "{{ input.phone }}",
                    "body": "Order {{ nodes.order.output.name }} is {{ nodes.order.output.fulfillmentStatus }}."}}},
                {"id": "done", "type": "end", "config": {}}
            ],
            "edges": [
                {"id": "e1", "source": "start", "target": "order"},
                {"id": "e2", "source": "order", "target": "notify"},
                {"id": "e3", "source": "notify", "target": "done"}
            ]
        });
        let flow = app.post("/v1/flows", &key, json!({"name": "order status", "graph": graph})).await;
        assert_eq!(flow.status, 201, "{}", flow.text);
        let flow = flow.json["id"].as_str().unwrap().to_string();
        let started = app
            .post(&format!("/v1/flows/{flow}/runs"), &key, json!({"input": {"orderId": 450789469, "phone": "+15558675310"}}))
            .await;
        assert_eq!(started.status, 202, "{}", started.text);
        let run = started.json["id"].as_str().unwrap().to_string();
        let done = wait::until("the run to finish", Duration::from_secs(60), || async {
            let r = app.get(&format!("/v1/runs/{run}"), &key).await;
            (r.json["status"] != "running").then_some(r.json)
        })
        .await;
        assert_eq!(done["status"], "succeeded", "{done}");

        let sent = twilio.received_requests().await.unwrap();
        assert_eq!(sent.len(), 1);
        let fields = form(&sent[0]);
        assert_eq!(
            fields,
            [
                ("To".to_string(), "whatsapp:+15558675310".to_string()),
                ("From".to_string(), "whatsapp:+14155238886".to_string()),
                ("Body".to_string(), "Order #1001 is fulfilled.".to_string()),
            ]
        );
        let audit = app.get(&format!("/v1/audit?runId={run}"), &key).await;
        let rows: Vec<(String, String)> = audit.json["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["pluginId"].as_str().unwrap().to_string(), r["outcome"].as_str().unwrap().to_string()))
            .collect();
        assert_eq!(
            rows,
            [
                ("bacon-plugin-shopify".to_string(), "success".to_string()),
                ("bacon-plugin-twilio-whatsapp".to_string(), "success".to_string())
            ]
        );
        let captured = logs::captured();
        for secret in [SHOPIFY_TOKEN, TWILIO_TOKEN] {
            assert!(!audit.text.contains(secret) && !done.to_string().contains(secret) && !captured.contains(secret));
        }
    }
);
