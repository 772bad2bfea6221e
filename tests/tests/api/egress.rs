//! The egress policy through the API (issue #18): a tenant's `allowedHosts` cannot turn the HTTP
//! plugin inward. These servers start with loopback closed (the harness opens it for the vendor
//! mocks of every other test); an "internal admin endpoint" on loopback counts the connections
//! it accepts and must see none.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bacon_tests::app::spawn_app_with;
use bacon_tests::{TestApp, backend_test, wait};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const HTTP: &str = "/v1/plugins/bacon-plugin-http";

/// A loopback "admin endpoint" answering 200 `{"admin": true}`; counts accepted connections.
struct InternalService {
    port: u16,
    accepted: Arc<AtomicUsize>,
}

impl InternalService {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        let port = listener.local_addr().expect("bound").port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = socket.read(&mut buf).await;
                    let body = r#"{"admin": true}"#;
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = socket.write_all(format!("{head}{body}").as_bytes()).await;
                });
            }
        });
        Self { port, accepted }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

async fn put_hosts(app: &TestApp, settings: Value) -> bacon_tests::app::Reply {
    app.put(&format!("{HTTP}/settings"), &app.tenant_key, settings).await
}

async fn request(app: &TestApp, url: &str) -> bacon_tests::app::Reply {
    let input = json!({"method": "GET", "url": url});
    app.post(&format!("{HTTP}/actions/request/invoke"), &app.tenant_key, json!({ "input": input })).await
}

fn pointers(reply: &bacon_tests::app::Reply) -> Vec<String> {
    reply.json["errors"].as_array().unwrap().iter().map(|e| e["pointer"].as_str().unwrap().to_string()).collect()
}

backend_test!(
    async fn tenant_ssrf_probes_are_refused_and_nothing_reaches_loopback(backend) {
        let admin = InternalService::start().await;
        let Some(app) = spawn_app_with(backend, |c| c.egress.allow_internal.clear()).await else {
            eprintln!("skipped: BACON_TEST_POSTGRES_URL is not set");
            return;
        };
        let port = admin.port;

        // At save time: `*`, loopback and metadata literals are 422s pointing at the entry.
        for (hosts, pointer, says) in [
            (json!(["*"]), "/allowedHosts/0", "`*` is not accepted"),
            (json!([format!("127.0.0.1:{port}")]), "/allowedHosts/0", "loopback"),
            (json!(["api.example.com", "169.254.169.254"]), "/allowedHosts/1", "link-local"),
            (json!([format!("http://[::1]:{port}")]), "/allowedHosts/0", "loopback"),
            (json!(["10.0.0.7"]), "/allowedHosts/0", "private"),
        ] {
            let reply = put_hosts(&app, json!({ "allowedHosts": hosts })).await;
            reply.assert_problem(422, "validation_failed");
            assert_eq!(pointers(&reply), [pointer], "{}", reply.text);
            assert!(reply.text.contains(says), "{}", reply.text);
        }
        let view = app.get(&format!("{HTTP}/settings"), &app.tenant_key).await;
        assert_eq!(view.json["values"]["allowedHosts"], json!([]), "nothing was stored: {}", view.text);

        // A name is judged by what it resolves to, at call time: `localhost` is saved, and refused
        // on every call (a synchronous invoke, a connection test, a durable flow step).
        let base = format!("http://localhost:{port}");
        let put = put_hosts(&app, json!({"allowedHosts": [format!("localhost:{port}")], "baseUrl": base, "bearerToken": "egress-canary-7f3"})).await;
        assert_eq!(put.status, 200, "{}", put.text);
        let refused = request(&app, &format!("{base}/admin?token=abc")).await;
        assert_eq!((refused.json["status"].as_str(), refused.json["attempts"].as_u64()), (Some("failed"), Some(1)), "{}", refused.text);
        assert_eq!(refused.json["error"]["kind"], "egress_refused", "{}", refused.text);
        let message = refused.json["error"]["message"].as_str().unwrap();
        assert!(message.contains("host `localhost` resolves only to addresses") && message.contains("loopback"), "{message}");
        assert!(message.contains("egress.allow_internal"), "the fix is named: {message}");
        assert!(!message.contains("token=abc") && !message.contains("egress-canary"), "{message}");
        let test = app.post(&format!("{HTTP}/test-connection"), &app.tenant_key, json!({})).await;
        assert_eq!(test.json["ok"], false, "{}", test.text);
        assert!(test.json["message"].as_str().unwrap().contains("egress refused"), "{}", test.text);

        let graph = json!({"nodes": [
            {"id": "t", "type": "trigger", "config": {}},
            {"id": "a", "type": "plugin_action", "config": {"pluginId": "bacon-plugin-http", "actionName": "request",
                "payload": {"method": "GET", "url": format!("{base}/admin")}}}
        ], "edges": [{"id": "e", "source": "t", "target": "a"}]});
        let flow = app.post("/v1/flows", &app.tenant_key, json!({"name": "probe", "graph": graph})).await;
        assert_eq!(flow.status, 201, "{}", flow.text);
        let run = app.post(&format!("/v1/flows/{}/runs", flow.json["id"].as_str().unwrap()), &app.tenant_key, json!({"input": {}})).await;
        assert_eq!(run.status, 202, "{}", run.text);
        let run_id = run.json["id"].as_str().unwrap().to_string();
        let done = wait::until("the probe run to finish", Duration::from_secs(60), || async {
            let reply = app.get(&format!("/v1/runs/{run_id}"), &app.tenant_key).await;
            (reply.json["status"] != "running").then_some(reply.json)
        })
        .await;
        assert_eq!(done["status"], "failed", "{done}");
        assert_eq!(done["steps"][0]["attempts"], 1, "an egress refusal is not retried: {done}");

        let audit = app.get("/v1/audit?pluginId=bacon-plugin-http", &app.tenant_key).await;
        let outcomes: Vec<(&str, &str)> = audit.json["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["action"].as_str().unwrap(), r["outcome"].as_str().unwrap()))
            .collect();
        assert!(outcomes.contains(&("request", "egress_refused")), "{outcomes:?}");
        assert_eq!(outcomes.iter().filter(|(_, o)| *o == "egress_refused").count(), 2, "the invoke and the flow step: {outcomes:?}");
        assert!(outcomes.contains(&("test_connection", "connection_failed")), "{outcomes:?}");
        assert!(!audit.text.contains("egress-canary"), "{}", audit.text);
        assert_eq!(admin.accepted(), 0, "a connection reached the internal service");
    }
);

backend_test!(
    async fn every_plugin_gets_the_policy_even_at_an_operator_base_url(backend) {
        // The operator points the testkit plugin at loopback but opens no range: the plugin's
        // client, built by the host, refuses the IP literal before connecting.
        let admin = InternalService::start().await;
        let base = format!("http://127.0.0.1:{}", admin.port);
        let Some(app) = spawn_app_with(backend, |c| {
            c.egress.allow_internal.clear();
            c.plugins.base_urls.insert("bacon-plugin-testkit".into(), base.clone());
        })
        .await
        else {
            eprintln!("skipped: BACON_TEST_POSTGRES_URL is not set");
            return;
        };
        let reply = app.post("/v1/plugins/bacon-plugin-testkit/actions/call_vendor/invoke", &app.tenant_key, json!({"input": {}})).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!((reply.json["status"].as_str(), reply.json["attempts"].as_u64()), (Some("failed"), Some(1)), "{}", reply.text);
        assert_eq!(reply.json["error"]["kind"], "egress_refused", "{}", reply.text);
        assert!(reply.json["error"]["message"].as_str().unwrap().contains("host `127.0.0.1` is"), "{}", reply.text);
        let audit = app.get("/v1/audit?pluginId=bacon-plugin-testkit&action=call_vendor", &app.tenant_key).await;
        assert_eq!(audit.json["items"][0]["outcome"], "egress_refused", "{}", audit.text);
        assert_eq!(admin.accepted(), 0, "a connection reached the internal service");
    }
);

backend_test!(
    async fn an_operator_setting_opens_a_named_range_and_only_that(backend) {
        let admin = InternalService::start().await;
        let Some(app) = spawn_app_with(backend, |c| c.egress.allow_internal = vec!["127.0.0.1/32".into()]).await else {
            eprintln!("skipped: BACON_TEST_POSTGRES_URL is not set");
            return;
        };
        let port = admin.port;
        let put = put_hosts(&app, json!({"allowedHosts": [format!("127.0.0.1:{port}"), "localhost"]})).await;
        assert_eq!(put.status, 200, "the opened range may be listed: {}", put.text);
        let reply = request(&app, &format!("http://127.0.0.1:{port}/admin")).await;
        assert_eq!(reply.json["status"], "succeeded", "{}", reply.text);
        assert_eq!(reply.json["output"]["body"], json!({"admin": true}));
        assert_eq!(admin.accepted(), 1);

        // Other internal ranges stay closed: the metadata address, and loopback beyond /32.
        let metadata = put_hosts(&app, json!({"allowedHosts": ["169.254.169.254"]})).await;
        metadata.assert_problem(422, "validation_failed");
        assert_eq!(pointers(&metadata), ["/allowedHosts/0"]);
        let other = put_hosts(&app, json!({"allowedHosts": [format!("127.0.0.2:{port}")]})).await;
        other.assert_problem(422, "validation_failed");
        assert_eq!(admin.accepted(), 1);
    }
);
