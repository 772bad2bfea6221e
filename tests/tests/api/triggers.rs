//! Triggers in the running server (issue #6): activation registers the vendor webhook, verified
//! deliveries on `/hooks/{hookId}` start exactly one run each, refused ones answer 401 and start
//! nothing, deactivation removes the vendor webhook.

use std::time::Duration;

use bacon_plugin_sdk::testing::wiremock::matchers::{header, method, path};
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
use bacon_tests::app::{Reply, read, spawn_app_with};
use bacon_tests::{TestApp, backend_test, db_test, postgres, wait};
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};

const PUBLIC_URL: &str = "https://bacon.example.com";

pub(super) fn hmac_b64<M: Mac + KeyInit>(key: &str, data: &[u8]) -> String {
    let mut mac = <M as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(data);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

pub(super) fn flow_with_trigger(trigger: Value, then: Vec<Value>) -> Value {
    let mut nodes = vec![json!({"id": "start", "type": "trigger", "config": trigger})];
    nodes.extend(then);
    nodes.push(json!({"id": "done", "type": "end", "config": {}}));
    let edges: Vec<Value> = nodes
        .windows(2)
        .enumerate()
        .map(|(i, w)| json!({"id": format!("e{i}"), "source": w[0]["id"], "target": w[1]["id"]}))
        .collect();
    json!({"nodes": nodes, "edges": edges})
}

pub(super) async fn create_flow(app: &TestApp, graph: Value) -> String {
    let flow = app.post("/v1/flows", &app.tenant_key, json!({"name": "triggered", "graph": graph})).await;
    assert_eq!(flow.status, 201, "{}", flow.text);
    flow.json["id"].as_str().unwrap().to_string()
}

/// POSTs raw bytes to a hook path (as a vendor would: no API key).
pub(super) async fn deliver(app: &TestApp, hook_path: &str, headers: &[(&str, String)], body: Vec<u8>) -> Reply {
    let mut request = app.client.post(app.url(hook_path)).body(body);
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    read(request.send().await.unwrap()).await
}

pub(super) async fn runs_of(app: &TestApp, flow: &str) -> Vec<Value> {
    app.get(&format!("/v1/runs?flowId={flow}"), &app.tenant_key).await.json["items"].as_array().unwrap().clone()
}

pub(super) async fn succeeded_runs(app: &TestApp, flow: &str, count: usize) -> Vec<Value> {
    wait::until(&format!("{count} succeeded run(s)"), Duration::from_secs(30), || async {
        let runs = runs_of(app, flow).await;
        (runs.len() == count && runs.iter().all(|r| r["status"] == "succeeded")).then_some(runs)
    })
    .await
}

fn hook_path(activation: &Reply) -> String {
    let url = activation.json["hookUrl"].as_str().unwrap();
    url.strip_prefix(PUBLIC_URL).unwrap().to_string()
}

backend_test!(
    async fn a_shopify_trigger_registers_its_webhook_and_starts_one_run_per_verified_delivery(backend) {
        let shopify = MockServer::start().await;
        let base = shopify.uri();
        let Some(app) = spawn_app_with(backend, |c| {
            c.public_url = Some(PUBLIC_URL.into());
            c.plugins.base_urls.insert("bacon-plugin-shopify".into(), base);
        })
        .await
        else {
            return postgres::print_skip(module_path!());
        };
        let key = app.tenant_key.clone();
        let (token, secret) = ("shpat_triggertest", "whsec-current-0123");
        let put = app
            .put(
                "/v1/plugins/bacon-plugin-shopify/settings",
                &key,
                json!({"shopDomain": "acme.myshopify.com", "accessToken": token, "webhookSecret": secret}),
            )
            .await;
        assert_eq!(put.status, 200, "{}", put.text);
        Mock::given(method("POST"))
            .and(path("/admin/api/2026-04/webhooks.json"))
            .and(header("x-shopify-access-token", token))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({"webhook": {
                "id": 4759306, "address": "ignored", "topic": "orders/create", "format": "json",
                "created_at": "2026-11-25T15:51:37-05:00", "updated_at": "2026-11-25T15:51:37-05:00",
                "fields": [], "metafield_namespaces": [], "api_version": "2026-04"}})))
            .expect(1)
            .mount(&shopify)
            .await;
        Mock::given(method("DELETE"))
            .and(path("/admin/api/2026-04/webhooks/4759306.json"))
            .and(header("x-shopify-access-token", token))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
            .expect(1)
            .mount(&shopify)
            .await;

        let trigger = json!({"kind": "plugin", "pluginId": "bacon-plugin-shopify", "triggerKey": "order_created"});
        let flow = create_flow(&app, flow_with_trigger(trigger, vec![])).await;
        let activated = app.post(&format!("/v1/flows/{flow}/activate"), &key, json!({})).await;
        assert_eq!(activated.status, 200, "{}", activated.text);
        assert_eq!(activated.json["externalId"], "4759306");
        let hook_url = activated.json["hookUrl"].as_str().unwrap().to_string();
        assert!(hook_url.starts_with(&format!("{PUBLIC_URL}/hooks/hk_")), "{hook_url}");
        let registration: Value = serde_json::from_slice(&shopify.received_requests().await.unwrap()[0].body).unwrap();
        assert_eq!(registration, json!({"webhook": {"topic": "orders/create", "address": hook_url, "format": "json"}}));
        let again = app.post(&format!("/v1/flows/{flow}/activate"), &key, json!({})).await;
        assert_eq!(again.json["hookUrl"], hook_url.as_str(), "activating an active flow changes nothing");
        let other_tenant = app.create_tenant("other").await;
        let stranger = app.issue_key(&other_tenant, "editor").await;
        app.post(&format!("/v1/flows/{flow}/deactivate"), &stranger, json!({})).await.assert_problem(404, "not_found");
        assert_eq!(app.get(&format!("/v1/flows/{flow}"), &key).await.json["active"], true);

        let hook = hook_path(&activated);
        let order = serde_json::to_vec(&json!({"id": 450789469, "name": "#1001", "email": "bob@example.com"})).unwrap();
        let headers = |signature: String, webhook_id: &str| {
            vec![
                ("content-type", "application/json".to_string()),
                ("x-shopify-topic", "orders/create".to_string()),
                ("x-shopify-shop-domain", "acme.myshopify.com".to_string()),
                ("x-shopify-api-version", "2026-04".to_string()),
                ("x-shopify-webhook-id", webhook_id.to_string()),
                ("x-shopify-hmac-sha256", signature),
            ]
        };
        let signature = hmac_b64::<Hmac<sha2::Sha256>>(secret, &order);
        let first = deliver(&app, &hook, &headers(signature.clone(), "wh-1"), order.clone()).await;
        assert_eq!(first.status, 200, "{}", first.text);
        assert_eq!(first.json["status"], "accepted");
        let runs = succeeded_runs(&app, &flow, 1).await;
        let run = app.get(&format!("/v1/runs/{}", runs[0]["id"].as_str().unwrap()), &key).await;
        assert_eq!(run.json["trigger"]["order"]["name"], "#1001", "{}", run.text);

        let duplicate = deliver(&app, &hook, &headers(signature, "wh-1"), order.clone()).await;
        assert_eq!(duplicate.json["status"], "duplicate", "{}", duplicate.text);
        let forged = hmac_b64::<Hmac<sha2::Sha256>>("not-the-secret", &order);
        deliver(&app, &hook, &headers(forged, "wh-2"), order.clone()).await.assert_problem(401, "delivery_refused");
        let mut tampered = order.clone();
        tampered[10] ^= 1;
        let signed_original = hmac_b64::<Hmac<sha2::Sha256>>(secret, &order);
        deliver(&app, &hook, &headers(signed_original, "wh-3"), tampered).await.assert_problem(401, "delivery_refused");
        assert_eq!(runs_of(&app, &flow).await.len(), 1, "a duplicate or refused delivery starts no run");
        let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(
            metrics.contains(r#"bacon_inbound_deliveries_total{plugin="bacon-plugin-shopify",outcome="refused"} 2"#),
            "{metrics}"
        );

        let deactivated = app.post(&format!("/v1/flows/{flow}/deactivate"), &key, json!({})).await;
        assert_eq!(deactivated.status, 200, "{}", deactivated.text);
        assert_eq!(deactivated.json["active"], false);
        let after = deliver(&app, &hook, &headers("x".into(), "wh-9"), order).await;
        after.assert_problem(404, "not_found");
        // The mocks' `expect(1)`s (one registration, one delete) are checked when they drop.
    }
);

backend_test!(
    async fn a_signed_whatsapp_message_starts_the_flow_whose_reply_reaches_the_same_number(backend) {
        let twilio = MockServer::start().await;
        let base = twilio.uri();
        let Some(app) = spawn_app_with(backend, |c| {
            c.public_url = Some(PUBLIC_URL.into());
            c.plugins.base_urls.insert("bacon-plugin-twilio-whatsapp".into(), base);
        })
        .await
        else {
            return postgres::print_skip(module_path!());
        };
        let key = app.tenant_key.clone();
        let (account, token) = ("AC0123456789abcdef0123456789abcdef", "twilio-token-0123456789abcdef01");
        let put = app
            .put(
                "/v1/plugins/bacon-plugin-twilio-whatsapp/settings",
                &key,
                json!({"accountSid": account, "authToken": token, "from": "+14155238886"}),
            )
            .await;
        assert_eq!(put.status, 200, "{}", put.text);
        Mock::given(method("POST"))
            .and(path(format!("/2010-04-01/Accounts/{account}/Messages.json")))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({
                "sid": "SM11111111111111111111111111111111", "account_sid": account, "from": "whatsapp:+14155238886",
                "to": "whatsapp:+15558675310", "body": "", "status": "queued", "direction": "outbound-api",
                "num_media": "0", "num_segments": "1", "error_code": null, "error_message": null})))
            .expect(1)
            .mount(&twilio)
            .await;
        let trigger = json!({"kind": "plugin", "pluginId": "bacon-plugin-twilio-whatsapp", "triggerKey": "message_received"});
        let reply = json!({"id": "reply", "type": "plugin_action", "config": {"pluginId": "bacon-plugin-twilio-whatsapp",
            "actionName": "send_message", "payload": {"to": "{{ trigger.from }}", "body": "We got: {{ trigger.text }}"}}});
        let flow = create_flow(&app, flow_with_trigger(trigger, vec![reply])).await;
        let activated = app.post(&format!("/v1/flows/{flow}/activate"), &key, json!({})).await;
        assert_eq!(activated.status, 200, "{}", activated.text);
        let hook_url = activated.json["hookUrl"].as_str().unwrap().to_string();

        let form = [
            ("AccountSid", account),
            ("Body", "Where is my order?"),
            ("From", "whatsapp:+15558675310"),
            ("MessageSid", "SM22222222222222222222222222222222"),
            ("NumMedia", "0"),
            ("ProfileName", "Ada"),
            ("To", "whatsapp:+14155238886"),
            ("WaId", "15558675310"),
        ];
        let (headers, body) = bacon_tests::twilio::signed_form(&hook_url, token, &form);
        let answer = deliver(&app, &hook_path(&activated), &headers, body).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        assert_eq!(answer.content_type, "text/xml");
        assert_eq!(answer.text, r#"<?xml version="1.0" encoding="UTF-8"?><Response></Response>"#);

        succeeded_runs(&app, &flow, 1).await;
        let sent = twilio.received_requests().await.unwrap();
        let fields: Vec<(String, String)> = url::form_urlencoded::parse(&sent[0].body).into_owned().collect();
        assert!(fields.contains(&("To".into(), "whatsapp:+15558675310".into())), "{fields:?}");
        assert!(fields.contains(&("Body".into(), "We got: Where is my order?".into())), "{fields:?}");
    }
);

db_test!(
    async fn a_plain_webhook_trigger_starts_a_run_with_the_body_once_per_idempotency_key(app) {
        let key = app.tenant_key.clone();
        let flow = create_flow(&app, flow_with_trigger(json!({"kind": "webhook"}), vec![])).await;
        let activated = app.post(&format!("/v1/flows/{flow}/activate"), &key, json!({})).await;
        assert_eq!(activated.status, 200, "{}", activated.text);
        let url = activated.json["hookUrl"].as_str().unwrap();
        let hook = &url[url.find("/hooks/").unwrap()..];
        let headers = vec![("content-type", "application/json".to_string()), ("idempotency-key", "order-7".to_string())];
        let first = deliver(&app, hook, &headers, br#"{"orderId": 7}"#.to_vec()).await;
        assert_eq!(first.json["status"], "accepted", "{}", first.text);
        let again = deliver(&app, hook, &headers, br#"{"orderId": 7}"#.to_vec()).await;
        assert_eq!(again.json["status"], "duplicate");
        let runs = succeeded_runs(&app, &flow, 1).await;
        let run = app.get(&format!("/v1/runs/{}", runs[0]["id"].as_str().unwrap()), &key).await;
        assert_eq!(run.json["trigger"]["body"], json!({"orderId": 7}));

        // Delivery ids are scoped to their hook: another flow's hook takes the same key.
        let other = create_flow(&app, flow_with_trigger(json!({"kind": "webhook"}), vec![])).await;
        let other_url = app.post(&format!("/v1/flows/{other}/activate"), &key, json!({})).await.json["hookUrl"]
            .as_str()
            .unwrap()
            .to_string();
        let other_hook = &other_url[other_url.find("/hooks/").unwrap()..];
        let elsewhere = deliver(&app, other_hook, &headers, br#"{"orderId": 7}"#.to_vec()).await;
        assert_eq!(elsewhere.json["status"], "accepted", "{}", elsewhere.text);
        // Deleting an active flow deactivates it: its hook stops answering.
        let deleted = app.delete(&format!("/v1/flows/{other}"), &key).await;
        assert_eq!(deleted.status, 204, "{}", deleted.text);
        deliver(&app, other_hook, &headers, b"{}".to_vec()).await.assert_problem(404, "not_found");

        deliver(&app, "/hooks/hk_unknown", &headers, b"{}".to_vec()).await.assert_problem(404, "not_found");
        let unknown_trigger =
            json!({"kind": "plugin", "pluginId": "bacon-plugin-shopify", "triggerKey": "order_eaten"});
        let invalid =
            app.post("/v1/flows", &key, json!({"name": "bad", "graph": flow_with_trigger(unknown_trigger, vec![])})).await;
        invalid.assert_problem(422, "validation_failed");
        assert_eq!(invalid.json["errors"][0]["pointer"], "/graph/nodes/0/config/triggerKey", "{}", invalid.text);
        let bad_cron = json!({"kind": "schedule", "cron": "every day", "timezone": "Mars/Olympus"});
        let invalid =
            app.post("/v1/flows", &key, json!({"name": "bad", "graph": flow_with_trigger(bad_cron, vec![])})).await;
        invalid.assert_problem(422, "validation_failed");
        let pointers: Vec<&str> =
            invalid.json["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap()).collect();
        assert_eq!(pointers, ["/graph/nodes/0/config/cron", "/graph/nodes/0/config/timezone"], "{}", invalid.text);
        let manual = create_flow(&app, flow_with_trigger(json!({"kind": "manual"}), vec![])).await;
        let refused = app.post(&format!("/v1/flows/{manual}/activate"), &key, json!({})).await;
        refused.assert_problem(422, "validation_failed");
    }
);

/// A HubSpot delivery of `events` signed (v3) with `secret` at `sent`, as HubSpot signs it.
fn hubspot_delivery(
    secret: &str,
    hook_url: &str,
    events: Value,
    sent: std::time::SystemTime,
) -> (Vec<(&'static str, String)>, Vec<u8>) {
    let body = serde_json::to_vec(&events).unwrap();
    let timestamp = sent.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis().to_string();
    let mut message = b"POST".to_vec();
    message.extend_from_slice(hook_url.as_bytes());
    message.extend_from_slice(&body);
    message.extend_from_slice(timestamp.as_bytes());
    let signature = hmac_b64::<Hmac<sha2::Sha256>>(secret, &message);
    let headers = vec![
        ("content-type", "application/json".to_string()),
        ("x-hubspot-request-timestamp", timestamp),
        ("x-hubspot-signature-v3", signature),
    ];
    (headers, body)
}

fn hubspot_event(event_id: u64, subscription_type: &str) -> Value {
    json!({"eventId": event_id, "subscriptionId": 1, "portalId": 62515, "occurredAt": 1_736_585_999_000u64,
        "subscriptionType": subscription_type, "attemptNumber": 0, "objectId": 123, "changeSource": "CRM"})
}

/// A flow started by HubSpot's `contact_created`, activated: its id and hook URL.
async fn hubspot_flow(app: &TestApp, secret: &str) -> (String, String) {
    let key = &app.tenant_key;
    let put = app
        .put(
            "/v1/plugins/bacon-plugin-hubspot/settings",
            key,
            json!({"accessToken": "pat-na1-x", "clientSecret": secret}),
        )
        .await;
    assert_eq!(put.status, 200, "{}", put.text);
    let trigger = json!({"kind": "plugin", "pluginId": "bacon-plugin-hubspot", "triggerKey": "contact_created"});
    let flow = create_flow(app, flow_with_trigger(trigger, vec![])).await;
    let activated = app.post(&format!("/v1/flows/{flow}/activate"), key, json!({})).await;
    assert_eq!(activated.status, 200, "{}", activated.text);
    (flow, activated.json["hookUrl"].as_str().unwrap().to_string())
}

db_test!(
    async fn a_hubspot_delivery_older_than_five_minutes_is_refused(app) {
        let key = app.tenant_key.clone();
        let secret = "5d8e2b1c-0a7f-4c3e-9b6d-1f2e3a4b5c6d";
        let (flow, hook_url) = hubspot_flow(&app, secret).await;
        let hook = &hook_url[hook_url.find("/hooks/").unwrap()..];
        let now = std::time::SystemTime::now();
        let stale = json!([hubspot_event(1, "contact.creation")]);
        let (headers, body) = hubspot_delivery(secret, &hook_url, stale, now - Duration::from_secs(6 * 60));
        deliver(&app, hook, &headers, body).await.assert_problem(401, "delivery_expired");
        let (headers, body) = hubspot_delivery(secret, &hook_url, json!([hubspot_event(2, "contact.creation")]), now);
        let fresh = deliver(&app, hook, &headers, body).await;
        assert_eq!(fresh.json["status"], "accepted", "{}", fresh.text);
        let runs = succeeded_runs(&app, &flow, 1).await;
        let run = app.get(&format!("/v1/runs/{}", runs[0]["id"].as_str().unwrap()), &key).await;
        assert_eq!(run.json["trigger"]["contactId"], "123", "{}", run.text);
    }
);

db_test!(
    async fn a_signed_hubspot_batch_of_other_subscription_types_is_acknowledged_and_starts_nothing(app) {
        let secret = "5d8e2b1c-0a7f-4c3e-9b6d-1f2e3a4b5c6d";
        let (flow, hook_url) = hubspot_flow(&app, secret).await;
        let hook = &hook_url[hook_url.find("/hooks/").unwrap()..];
        let now = std::time::SystemTime::now();
        // The app's one target URL also gets its other subscriptions: HubSpot must not retry them.
        let others = json!([hubspot_event(3, "contact.propertyChange"), hubspot_event(4, "contact.deletion")]);
        let (headers, body) = hubspot_delivery(secret, &hook_url, others.clone(), now);
        let ignored = deliver(&app, hook, &headers, body).await;
        assert_eq!((ignored.status, ignored.json["status"].as_str()), (200, Some("ignored")), "{}", ignored.text);
        // Only an authentic one is acknowledged: the same batch under a guessed secret is a forgery.
        let (headers, body) = hubspot_delivery("guessed", &hook_url, others, now);
        deliver(&app, hook, &headers, body).await.assert_problem(401, "delivery_refused");
        let (headers, body) = hubspot_delivery(secret, &hook_url, json!([hubspot_event(5, "contact.creation")]), now);
        let created = deliver(&app, hook, &headers, body).await;
        assert_eq!(created.json["status"], "accepted", "{}", created.text);
        let runs = succeeded_runs(&app, &flow, 1).await;
        let run = app.get(&format!("/v1/runs/{}", runs[0]["id"].as_str().unwrap()), &app.tenant_key).await;
        assert_eq!(run.json["trigger"]["eventIds"], json!(["5"]), "{}", run.text);
        let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(
            metrics.contains(r#"bacon_inbound_deliveries_total{plugin="bacon-plugin-hubspot",outcome="ignored"} 1"#),
            "{metrics}"
        );
    }
);
