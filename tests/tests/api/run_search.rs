//! Run search (issue #19): by flow, status, creation time, trigger kind and error text, newest first by
//! default, with cursors that do not shift when runs are added.

use std::time::Duration;

use bacon_tests::{TestApp, db_test, wait};
use serde_json::{Value, json};

async fn flow(app: &TestApp, name: &str, last: Value) -> String {
    let graph = json!({"nodes": [{"id": "t", "type": "trigger", "config": {}}, last],
        "edges": [{"id": "e", "source": "t", "target": "x"}]});
    let reply = app.post("/v1/flows", &app.tenant_key, json!({"name": name, "graph": graph})).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.json["id"].as_str().unwrap().to_string()
}

async fn start(app: &TestApp, flow: &str) -> String {
    let reply = app.post(&format!("/v1/flows/{flow}/runs"), &app.tenant_key, json!({"input": {}})).await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    reply.json["id"].as_str().unwrap().to_string()
}

async fn ids(app: &TestApp, query: &str) -> (Vec<String>, Option<String>) {
    let reply = app.get(&format!("/v1/runs?{query}"), &app.tenant_key).await;
    assert_eq!(reply.status, 200, "{query}: {}", reply.text);
    let ids = reply.json["items"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_string()).collect();
    (ids, reply.json["nextCursor"].as_str().map(str::to_string))
}

db_test!(
    async fn runs_are_found_by_flow_status_time_and_error_newest_first(app) {
        let put = app.put("/v1/plugins/bacon-plugin-testkit/settings", &app.tenant_key, json!({"apiToken": "token-AAAA"})).await;
        assert_eq!(put.status, 200, "{}", put.text);
        let ok = flow(&app, "ok", json!({"id": "x", "type": "end", "config": {}})).await;
        let failing = flow(&app, "failing", json!({"id": "x", "type": "plugin_action",
            "config": {"pluginId": "bacon-plugin-testkit", "actionName": "fail_permanently", "retry": {"kind": "none"}}})).await;
        let mut oks = Vec::new();
        for _ in 0..3 {
            oks.push(start(&app, &ok).await);
        }
        let middle = chrono::Utc::now();
        // The next run must be created in a later millisecond than `middle` (ids carry milliseconds).
        wait::until("the clock to move on", Duration::from_secs(1), || async {
            (chrono::Utc::now() - middle >= chrono::Duration::milliseconds(2)).then_some(())
        })
        .await;
        let fails = vec![start(&app, &failing).await, start(&app, &failing).await];
        wait::until("every run to end", Duration::from_secs(30), || async {
            (ids(&app, "status=running").await.0.is_empty()).then_some(())
        })
        .await;

        let newest_first: Vec<String> = oks.iter().chain(&fails).rev().cloned().collect();
        assert_eq!(ids(&app, "").await.0, newest_first, "newest first by default");
        let oldest_first: Vec<String> = oks.iter().chain(&fails).cloned().collect();
        assert_eq!(ids(&app, "order=oldest").await.0, oldest_first);
        let failed: Vec<String> = fails.iter().rev().cloned().collect();
        assert_eq!(ids(&app, "status=failed&error=NEVER%20WORKS").await.0, failed, "error text, any case");
        assert!(ids(&app, "error=no%25such_thing").await.0.is_empty(), "% and _ are literal");
        let since = middle.to_rfc3339_opts(chrono::SecondsFormat::Millis, true).replace('+', "%2B");
        assert_eq!(ids(&app, &format!("since={since}")).await.0, failed, "created at or after");
        let before: Vec<String> = oks.iter().rev().cloned().collect();
        assert_eq!(ids(&app, &format!("until={since}&flowId={ok}")).await.0, before, "created before");

        // Pages do not shift when runs are added.
        let (first, cursor) = ids(&app, &format!("flowId={ok}&limit=2")).await;
        assert_eq!(first, before[..2]);
        let cursor = cursor.expect("a second page");
        start(&app, &ok).await;
        let (second, last) = ids(&app, &format!("flowId={ok}&limit=2&cursor={cursor}")).await;
        assert_eq!(second, before[2..], "the page after the cursor is unchanged by a new run");
        assert_eq!(last, None);

        // By how they were started: every run above came through the API; a plain webhook's
        // delivery starts one of its own.
        let hooked = flow(&app, "hooked", json!({"id": "x", "type": "end", "config": {}})).await;
        let graph = json!({"nodes": [{"id": "t", "type": "trigger", "config": {"kind": "webhook"}},
            {"id": "x", "type": "end", "config": {}}], "edges": [{"id": "e", "source": "t", "target": "x"}]});
        let put = app.put(&format!("/v1/flows/{hooked}"), &app.tenant_key, json!({"name": "hooked", "graph": graph})).await;
        assert_eq!(put.status, 200, "{}", put.text);
        let activated = app.post(&format!("/v1/flows/{hooked}/activate"), &app.tenant_key, json!({})).await;
        assert_eq!(activated.status, 200, "{}", activated.text);
        let url = activated.json["hookUrl"].as_str().unwrap();
        let delivered = app.client.post(app.url(&url[url.find("/hooks/").unwrap()..])).body("{}").send().await.unwrap();
        assert!(delivered.status().is_success(), "{}", delivered.status());
        let by_webhook = wait::until("the delivery's run", Duration::from_secs(30), || async {
            let (found, _) = ids(&app, "triggerKind=webhook").await;
            (!found.is_empty()).then_some(found)
        })
        .await;
        assert_eq!(by_webhook.len(), 1);
        let run = app.get(&format!("/v1/runs/{}", by_webhook[0]), &app.tenant_key).await;
        assert_eq!((run.json["triggerKind"].as_str(), run.json["flowId"].as_str()), (Some("webhook"), Some(hooked.as_str())));
        let manual = ids(&app, "triggerKind=manual&limit=200").await.0;
        assert_eq!(manual.len(), oks.len() + fails.len() + 1, "every run started through the API");
        assert!(!manual.contains(&by_webhook[0]));
        assert!(ids(&app, "triggerKind=schedule").await.0.is_empty());
        app.get("/v1/runs?triggerKind=carrier-pigeon", &app.tenant_key).await.assert_problem(400, "invalid_query");

        app.get("/v1/runs?order=sideways", &app.tenant_key).await.assert_problem(400, "invalid_query");
        app.get("/v1/runs?since=yesterday", &app.tenant_key).await.assert_problem(400, "invalid_query");
    }
);
