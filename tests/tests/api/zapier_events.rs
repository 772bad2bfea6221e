//! Zapier events beyond a run's end (issue #18): a WhatsApp message publishes `message.received`
//! once per message, a cancelled run publishes `run.cancelled`, and `conversation.closed`, which
//! nothing in Bacon makes happen, can no longer be subscribed to.

use std::time::Duration;

use bacon_plugin_sdk::testing::wiremock::matchers::{method, path};
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
use bacon_tests::app::spawn_app_with;
use bacon_tests::{Backend, TestApp, backend_test, postgres, wait};
use serde_json::{Value, json};

use super::rest_hooks::{HOOKS, TARGET_PATH, received};
use super::triggers::{create_flow, deliver, flow_with_trigger, succeeded_runs};

const PUBLIC_URL: &str = "https://bacon.example.com";
const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-token-0123456789abcdef01";

/// An app whose Zapier deliveries reach `zapier`, with a subscription to `event` answered 200.
async fn app_subscribed_to(backend: Backend, zapier: &MockServer, event: &str) -> Option<TestApp> {
    let base = zapier.uri();
    let app = spawn_app_with(backend, |c| {
        c.public_url = Some(PUBLIC_URL.into());
        c.plugins.base_urls.insert("bacon-plugin-zapier".into(), base);
    })
    .await?;
    Mock::given(method("POST"))
        .and(path(TARGET_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "success", "id": "zap-req"})))
        .mount(zapier)
        .await;
    let target = format!("https://hooks.zapier.com{TARGET_PATH}");
    let subscribed = app.post(HOOKS, &app.tenant_key, json!({"target_url": target, "event": event})).await;
    assert_eq!(subscribed.status, 201, "{}", subscribed.text);
    Some(app)
}

async fn events_received(zapier: &MockServer, count: usize) -> Vec<Value> {
    wait::until(&format!("Zapier to receive {count} event(s)"), Duration::from_secs(30), || async {
        let bodies = received(zapier).await;
        (bodies.len() >= count).then_some(bodies)
    })
    .await
}

/// A WhatsApp message from Twilio to `hook_url`, signed as Twilio signs it: headers and body.
fn whatsapp_message(hook_url: &str, sid: &str, text: &str) -> (Vec<(&'static str, String)>, Vec<u8>) {
    let form = [
        ("AccountSid", ACCOUNT),
        ("Body", text),
        ("From", "whatsapp:+15558675310"),
        ("MessageSid", sid),
        ("NumMedia", "0"),
        ("To", "whatsapp:+14155238886"),
    ];
    bacon_tests::twilio::signed_form(hook_url, TOKEN, &form)
}

backend_test!(
    async fn a_whatsapp_message_is_published_to_zapier_once_as_message_received(backend) {
        let zapier = MockServer::start().await;
        let Some(app) = app_subscribed_to(backend, &zapier, "message.received").await else {
            return postgres::print_skip(module_path!());
        };
        let key = app.tenant_key.clone();
        let settings = json!({"accountSid": ACCOUNT, "authToken": TOKEN, "from": "+14155238886"});
        let put = app.put("/v1/plugins/bacon-plugin-twilio-whatsapp/settings", &key, settings).await;
        assert_eq!(put.status, 200, "{}", put.text);
        let trigger = json!({"kind": "plugin", "pluginId": "bacon-plugin-twilio-whatsapp", "triggerKey": "message_received"});
        let flow = create_flow(&app, flow_with_trigger(trigger, vec![])).await;
        let activated = app.post(&format!("/v1/flows/{flow}/activate"), &key, json!({})).await;
        assert_eq!(activated.status, 200, "{}", activated.text);
        let hook_url = activated.json["hookUrl"].as_str().unwrap().to_string();
        let hook = &hook_url[hook_url.find("/hooks/").unwrap()..];

        let (headers, body) = whatsapp_message(&hook_url, "SM22222222222222222222222222222222", "Where is my order?");
        assert_eq!(deliver(&app, hook, &headers, body.clone()).await.status, 200);
        // Twilio retrying the same message: acknowledged, no second run, no second event.
        assert_eq!(deliver(&app, hook, &headers, body).await.status, 200);
        let (headers, body) = whatsapp_message(&hook_url, "SM33333333333333333333333333333333", "Thanks!");
        assert_eq!(deliver(&app, hook, &headers, body).await.status, 200);
        // Published with the message, before the answer: the retry added no event.
        let samples = app.get("/v1/plugins/bacon-plugin-zapier/samples?event=message.received", &key).await;
        let mut texts: Vec<&str> =
            samples.json.as_array().unwrap().iter().map(|e| e["data"]["text"].as_str().unwrap()).collect();
        texts.sort_unstable();
        assert_eq!(texts, ["Thanks!", "Where is my order?"], "{}", samples.text);

        let runs = succeeded_runs(&app, &flow, 2).await;
        let run = app.get(&format!("/v1/runs/{}", runs[0]["id"].as_str().unwrap()), &key).await;
        let conversation = run.json["trigger"]["conversationId"].clone();
        assert!(conversation.as_str().is_some_and(|c| c.starts_with("conv_")), "{}", run.text);
        let mut events = events_received(&zapier, 2).await;
        events.sort_by_key(|e| e["data"]["messageId"].as_str().unwrap().to_string());
        assert_eq!(events.len(), 2, "one event per message, the retry publishes nothing: {events:?}");
        assert_eq!(events[0]["event"], "message.received");
        assert!(events[0]["id"].as_str().unwrap().starts_with("evt_"));
        assert_eq!(
            events[0]["data"],
            json!({"conversationId": conversation, "messageId": "SM22222222222222222222222222222222", "botId": null,
                   "channel": "whatsapp", "from": "whatsapp:+15558675310", "text": "Where is my order?", "media": []})
        );
        assert_eq!(events[1]["data"]["text"], "Thanks!");
        assert_eq!(events[1]["data"]["conversationId"], conversation, "the same user, the same conversation");
    }
);

backend_test!(
    async fn a_cancelled_run_is_published_to_zapier_as_run_cancelled(backend) {
        let zapier = MockServer::start().await;
        let Some(app) = app_subscribed_to(backend, &zapier, "run.cancelled").await else {
            return postgres::print_skip(module_path!());
        };
        let key = app.tenant_key.clone();
        let wait_long = json!({"id": "wait", "type": "delay", "config": {"durationMs": 600_000}});
        let flow = create_flow(&app, flow_with_trigger(json!({"kind": "manual"}), vec![wait_long])).await;
        let started = app.post(&format!("/v1/flows/{flow}/runs"), &key, json!({"input": {}})).await;
        assert_eq!(started.status, 202, "{}", started.text);
        let run = started.json["id"].as_str().unwrap().to_string();
        let cancelled = app.post(&format!("/v1/runs/{run}/cancel"), &key, json!({})).await;
        assert_eq!((cancelled.status, cancelled.json["status"].as_str()), (200, Some("cancelled")), "{}", cancelled.text);

        let events = events_received(&zapier, 1).await;
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0]["event"], "run.cancelled");
        assert_eq!(events[0]["data"]["runId"], run.as_str());
        assert_eq!(events[0]["data"]["flowId"], flow.as_str());
        assert_eq!(events[0]["data"]["status"], "cancelled");
        // A run cancelled twice is refused the second time and publishes nothing more.
        app.post(&format!("/v1/runs/{run}/cancel"), &key, json!({})).await.assert_problem(409, "invalid_run_state");
        let samples = app.get("/v1/plugins/bacon-plugin-zapier/samples?event=run.cancelled", &key).await;
        assert_eq!(samples.json[0]["id"], events[0]["id"], "the sample list holds the real event");
        assert_eq!(received(&zapier).await.len(), 1);

        // Nothing closes a conversation in Bacon, so a Zap cannot wait for one.
        let target = format!("https://hooks.zapier.com{TARGET_PATH}");
        let closed = app.post(HOOKS, &key, json!({"target_url": target, "event": "conversation.closed"})).await;
        closed.assert_problem(422, "validation_failed");
        assert_eq!(closed.json["errors"][0]["pointer"], "/event");
    }
);
