//! Channels (issue #6): an inbound WhatsApp message gets a conversation id; a message sent to
//! that conversation through `POST /v1/channels/{pluginId}/messages` is queued, sent by the
//! workers through the channel adapter (retried on a 503, each attempt audited) and reaches the
//! same number.

use std::time::Duration;

use bacon_plugin_sdk::testing::wiremock::matchers::{method, path};
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
use bacon_tests::app::{read, spawn_app_with};
use bacon_tests::{backend_test, postgres, wait};
use serde_json::{Value, json};

const PUBLIC_URL: &str = "https://bacon.example.com";
const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-token-0123456789abcdef01";

fn twilio_message(sid: &str) -> Value {
    json!({"sid": sid, "account_sid": ACCOUNT, "from": "whatsapp:+14155238886", "to": "whatsapp:+15558675310",
        "body": "", "status": "queued", "direction": "outbound-api", "num_media": "0", "num_segments": "1",
        "error_code": null, "error_message": null})
}

backend_test!(
    async fn a_reply_to_a_conversation_is_sent_durably_to_the_same_number(backend) {
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
        let put = app
            .put(
                "/v1/plugins/bacon-plugin-twilio-whatsapp/settings",
                &key,
                json!({"accountSid": ACCOUNT, "authToken": TOKEN, "from": "+14155238886"}),
            )
            .await;
        assert_eq!(put.status, 200, "{}", put.text);
        let messages = format!("/2010-04-01/Accounts/{ACCOUNT}/Messages.json");
        Mock::given(method("POST"))
            .and(path(messages.as_str()))
            .respond_with(ResponseTemplate::new(503).set_body_json(json!({"code": 20500, "message": "Internal Server Error", "status": 503})))
            .up_to_n_times(1)
            .mount(&twilio)
            .await;
        Mock::given(method("POST"))
            .and(path(messages.as_str()))
            .respond_with(ResponseTemplate::new(201).set_body_json(twilio_message("SM33333333333333333333333333333333")))
            .mount(&twilio)
            .await;

        // An inbound message starts the flow, with a conversation id in its trigger.
        let graph = json!({
            "nodes": [{"id": "in", "type": "trigger", "config": {"kind": "plugin", "pluginId": "bacon-plugin-twilio-whatsapp", "triggerKey": "message_received"}},
                      {"id": "done", "type": "end", "config": {}}],
            "edges": [{"id": "e1", "source": "in", "target": "done"}]});
        let flow = app.post("/v1/flows", &key, json!({"name": "inbox", "graph": graph})).await;
        let flow = flow.json["id"].as_str().unwrap().to_string();
        let activated = app.post(&format!("/v1/flows/{flow}/activate"), &key, json!({})).await;
        let hook_url = activated.json["hookUrl"].as_str().unwrap().to_string();
        let form = [
            ("AccountSid", ACCOUNT),
            ("Body", "Hello"),
            ("From", "whatsapp:+15558675310"),
            ("MessageSid", "SM44444444444444444444444444444444"),
            ("To", "whatsapp:+14155238886"),
        ];
        let (headers, body) = bacon_tests::twilio::signed_form(&hook_url, TOKEN, &form);
        let mut request = app.client.post(app.url(hook_url.strip_prefix(PUBLIC_URL).unwrap())).body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let answer = read(request.send().await.unwrap()).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        let conversation = wait::until("the inbound run", Duration::from_secs(30), || async {
            let runs = app.get(&format!("/v1/runs?flowId={flow}"), &key).await;
            runs.json["items"][0]["trigger"]["conversationId"].as_str().map(str::to_string)
        })
        .await;
        assert!(conversation.starts_with("conv_"), "{conversation}");

        // Bad requests change nothing.
        let channel = "/v1/channels/bacon-plugin-twilio-whatsapp/messages";
        let neither = app.post(channel, &key, json!({"text": "hi"})).await;
        neither.assert_problem(422, "validation_failed");
        assert_eq!(neither.json["errors"][0]["pointer"], "/to");
        app.post("/v1/channels/bacon-plugin-http/messages", &key, json!({"to": "x", "text": "hi"}))
            .await
            .assert_problem(404, "not_found");

        let queued = app.post(channel, &key, json!({"conversationId": conversation, "text": "Thanks, on it!"})).await;
        assert_eq!(queued.status, 202, "{}", queued.text);
        assert_eq!(queued.json["status"], "queued");
        let id = queued.json["id"].as_str().unwrap().to_string();
        let sent = wait::until("the message to be sent", Duration::from_secs(30), || async {
            let m = app.get(&format!("{channel}/{id}"), &key).await;
            (m.json["status"] == "sent").then_some(m.json)
        })
        .await;
        assert_eq!(sent["externalId"], "SM33333333333333333333333333333333");
        assert_eq!(sent["attempts"], 2, "the 503 was retried: {sent}");

        let requests = twilio.received_requests().await.unwrap();
        assert_eq!(requests.len(), 2);
        let fields: Vec<(String, String)> = url::form_urlencoded::parse(&requests[1].body).into_owned().collect();
        assert!(fields.contains(&("To".into(), "whatsapp:+15558675310".into())), "{fields:?}");
        assert!(fields.contains(&("Body".into(), "Thanks, on it!".into())), "{fields:?}");
        let audit = app.get("/v1/audit?pluginId=bacon-plugin-twilio-whatsapp&action=send_message", &key).await;
        let outcomes: Vec<&str> =
            audit.json["items"].as_array().unwrap().iter().map(|r| r["outcome"].as_str().unwrap()).collect();
        assert_eq!(outcomes, ["retryable", "success"], "{}", audit.text);
        assert!(!audit.text.contains(TOKEN));
    }
);

bacon_tests::db_test!(
    async fn a_message_to_a_channel_without_settings_is_refused_and_nothing_is_queued(app) {
        let key = app.tenant_key.clone();
        let channel = "/v1/channels/bacon-plugin-twilio-whatsapp/messages";
        let refused = app.post(channel, &key, json!({"to": "whatsapp:+15558675310", "text": "hi"})).await;
        refused.assert_problem(409, "plugin_not_configured");
        assert!(refused.json["detail"].as_str().unwrap().contains("settings"), "{}", refused.text);

        let db = sea_orm::Database::connect(&app.database_url).await.unwrap();
        assert_eq!(bacon_tests::rows::count(&db, "channel_messages").await, 0, "nothing was queued");

        // Once configured, the same request is accepted.
        let put = app
            .put(
                "/v1/plugins/bacon-plugin-twilio-whatsapp/settings",
                &key,
                json!({"accountSid": ACCOUNT, "authToken": TOKEN, "from": "+14155238886"}),
            )
            .await;
        assert_eq!(put.status, 200, "{}", put.text);
        let queued = app.post(channel, &key, json!({"to": "whatsapp:+15558675310", "text": "hi"})).await;
        assert_eq!(queued.status, 202, "{}", queued.text);
    }
);
