//! A REST-hook subscriber that takes 30 s to answer delays neither crash recovery nor channel
//! sends (issue #13, acceptance 6): the delivery holds one worker slot; the reconciler runs on
//! its own task and takes the delivery over when its (short) lease runs out, auditing the lost
//! attempt; a channel message sent meanwhile goes out at once.

use std::time::Duration;

use bacon_plugin_sdk::testing::wiremock::matchers::{method, path, path_regex};
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
use bacon_tests::app::spawn_app_with;
use bacon_tests::{backend_test, postgres, wait};
use serde_json::json;

const TARGET_PATH: &str = "/hooks/standard/123456/slowslow/";
const ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const TOKEN: &str = "twilio-token-0123456789abcdef01";

backend_test!(
    async fn a_subscriber_sleeping_30_s_delays_neither_the_reconciler_nor_channel_sends(backend) {
        let zapier = MockServer::start().await;
        let twilio = MockServer::start().await;
        let (zapier_base, twilio_base) = (zapier.uri(), twilio.uri());
        let Some(app) = spawn_app_with(backend, |c| {
            c.plugins.base_urls.insert("bacon-plugin-zapier".into(), zapier_base);
            c.plugins.base_urls.insert("bacon-plugin-twilio-whatsapp".into(), twilio_base);
            // Short, so the reconciler's take-over of the sleeping delivery shows within seconds.
            c.workers.lease_secs = 2;
        })
        .await
        else {
            return postgres::print_skip(module_path!());
        };
        let key = app.tenant_key.clone();
        Mock::given(method("POST"))
            .and(path(TARGET_PATH))
            .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
            .mount(&zapier)
            .await;
        Mock::given(method("POST"))
            .and(path_regex("/Messages.json$"))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({
                "sid": "SM55555555555555555555555555555555", "account_sid": ACCOUNT, "status": "queued",
                "from": "whatsapp:+14155238886", "to": "whatsapp:+15558675310", "body": "hi"})))
            .mount(&twilio)
            .await;
        let put = app
            .put(
                "/v1/plugins/bacon-plugin-twilio-whatsapp/settings",
                &key,
                json!({"accountSid": ACCOUNT, "authToken": TOKEN, "from": "+14155238886"}),
            )
            .await;
        assert_eq!(put.status, 200, "{}", put.text);
        let target = format!("https://hooks.zapier.com{TARGET_PATH}");
        let subscribed = app
            .post("/v1/plugins/bacon-plugin-zapier/hooks", &key, json!({"target_url": target, "event": "run.succeeded"}))
            .await;
        assert_eq!(subscribed.status, 201, "{}", subscribed.text);

        // A run's end is delivered to the sleeping subscriber.
        let graph = json!({"nodes": [{"id": "t", "type": "trigger", "config": {}}, {"id": "end", "type": "end", "config": {}}],
            "edges": [{"id": "e", "source": "t", "target": "end"}]});
        let flow = app.post("/v1/flows", &key, json!({"name": "quick", "graph": graph})).await;
        let started =
            app.post(&format!("/v1/flows/{}/runs", flow.json["id"].as_str().unwrap()), &key, json!({"input": {}})).await;
        assert_eq!(started.status, 202, "{}", started.text);
        let deliveries = || async { zapier.received_requests().await.unwrap_or_default().len() };
        wait::until("the subscriber to get the event", Duration::from_secs(30), || async {
            (deliveries().await >= 1).then_some(())
        })
        .await;

        // While it sleeps, a channel message is sent at once.
        let channel = "/v1/channels/bacon-plugin-twilio-whatsapp/messages";
        let queued = app.post(channel, &key, json!({"to": "+15558675310", "text": "hi"})).await;
        assert_eq!(queued.status, 202, "{}", queued.text);
        let id = queued.json["id"].as_str().unwrap().to_string();
        wait::until("the message to be sent while the subscriber sleeps", Duration::from_secs(15), || async {
            let m = app.get(&format!("{channel}/{id}"), &key).await;
            (m.json["status"] == "sent").then_some(())
        })
        .await;

        // And the reconciler is not stuck behind it: the delivery's lease runs out, its attempt is
        // audited as lost and it is made again, long before the subscriber answers.
        let lost = wait::until("the lost delivery attempt to be audited", Duration::from_secs(20), || async {
            let audit = app.get("/v1/audit?pluginId=bacon-plugin-zapier&outcome=lost", &key).await;
            audit.json["items"].as_array().filter(|items| !items.is_empty()).cloned()
        })
        .await;
        assert_eq!(lost[0]["kind"], "rest_hook", "{lost:?}");
        assert_eq!(lost[0]["attempt"], 1, "{lost:?}");
        wait::until("the delivery to be made again", Duration::from_secs(20), || async {
            (deliveries().await >= 2).then_some(())
        })
        .await;
    }
);
