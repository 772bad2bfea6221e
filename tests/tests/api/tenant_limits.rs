//! Per-tenant limits set by the server admin (issue #19): a tenant's own request rate and run
//! start rate win over the server's; a start over the rate gets 429 `rate_limited` with
//! `Retry-After` and creates nothing, while webhook deliveries over it are accepted and their
//! runs start later, none lost; a cap on steps running at once holds and every run still ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bacon_tests::rows::count;
use bacon_tests::{TestApp, db_test, wait};
use serde_json::json;

use super::triggers::{create_flow, deliver, flow_with_trigger, succeeded_runs};

async fn set_limits(app: &TestApp, key: &str, limits: serde_json::Value) -> bacon_tests::app::Reply {
    app.put(&format!("/v1/tenants/{}/limits", app.tenant_id), key, limits).await
}

db_test!(
    async fn the_server_admin_sets_a_tenants_own_request_rate(app) {
        let tenant = app.get(&format!("/v1/tenants/{}", app.tenant_id), &app.admin_key).await;
        assert_eq!(tenant.json["limits"], json!({"requestsPerSecond": null, "runsPerSecond": null, "concurrentSteps": null}));

        // Only the server admin sets limits, and bad values change nothing.
        set_limits(&app, &app.tenant_key, json!({"requestsPerSecond": 1})).await.assert_problem(403, "server_admin_required");
        let too_high = set_limits(&app, &app.admin_key, json!({"requestsPerSecond": 2_000_000})).await;
        too_high.assert_problem(422, "validation_failed");
        assert_eq!(too_high.json["errors"][0]["pointer"], "/requestsPerSecond", "{}", too_high.text);
        set_limits(&app, &app.admin_key, json!({"requestsPerSecond": -1})).await.assert_problem(422, "validation_failed");
        set_limits(&app, &app.admin_key, json!({"burst": 1})).await.assert_problem(422, "validation_failed");
        let unchanged = app.get(&format!("/v1/tenants/{}", app.tenant_id), &app.admin_key).await;
        assert_eq!(unchanged.json["limits"]["requestsPerSecond"], json!(null));
        for _ in 0..10 {
            assert_eq!(app.get("/v1/flows", &app.tenant_key).await.status, 200, "no limit by default");
        }

        let set = set_limits(&app, &app.admin_key, json!({"requestsPerSecond": 1})).await;
        assert_eq!(set.status, 200, "{}", set.text);
        assert_eq!(set.json["limits"], json!({"requestsPerSecond": 1, "runsPerSecond": null, "concurrentSteps": null}));
        let statuses: Vec<u16> = {
            let mut s = Vec::new();
            for _ in 0..5 {
                s.push(app.get("/v1/flows", &app.tenant_key).await.status);
            }
            s
        };
        assert_eq!(&statuses[..2], [200, 200], "twice the rate at once: {statuses:?}");
        assert!(statuses.contains(&429), "{statuses:?}");
        let refused = app.get("/v1/flows", &app.tenant_key).await;
        refused.assert_problem(429, "rate_limited");
        assert!(refused.json["detail"].as_str().unwrap().contains("requests"), "{}", refused.text);
        assert_eq!(refused.retry_after.as_deref(), Some("1"));

        // `null` gives the tenant the server's setting back (here: none).
        let lifted = set_limits(&app, &app.admin_key, json!({"requestsPerSecond": null})).await;
        assert_eq!(lifted.status, 200, "{}", lifted.text);
        for _ in 0..10 {
            assert_eq!(app.get("/v1/flows", &app.tenant_key).await.status, 200);
        }
    }
);

db_test!(
    async fn starts_over_a_tenants_run_rate_get_429_and_webhook_runs_start_later(app) {
        let key = app.tenant_key.clone();
        let set = set_limits(&app, &app.admin_key, json!({"runsPerSecond": 1})).await;
        assert_eq!(set.status, 200, "{}", set.text);

        let manual = create_flow(&app, flow_with_trigger(json!({}), vec![])).await;
        let start = |idempotency: Option<&'static str>| {
            let app = &app;
            let key = key.clone();
            let path = format!("/v1/flows/{manual}/runs");
            async move {
                let mut request = app.client.post(app.url(&path)).bearer_auth(&key).json(&json!({"input": {}}));
                if let Some(k) = idempotency {
                    request = request.header("idempotency-key", k);
                }
                bacon_tests::app::read(request.send().await.unwrap()).await
            }
        };
        assert_eq!(start(Some("first")).await.status, 202);
        assert_eq!(start(None).await.status, 202, "twice the rate at once");
        let refused = start(None).await;
        refused.assert_problem(429, "rate_limited");
        assert!(refused.json["detail"].as_str().unwrap().contains("started more runs"), "{}", refused.text);
        assert!(refused.retry_after.is_some(), "Retry-After");
        assert_eq!(start(Some("first")).await.status, 200, "a repeat of a started run is not a new start");
        let runs = app.get(&format!("/v1/runs?flowId={manual}"), &key).await;
        assert_eq!(runs.json["items"].as_array().unwrap().len(), 2, "the refused start created nothing");

        // Deliveries are accepted whatever the rate; their runs start as it allows, none lost.
        let hooked = create_flow(&app, flow_with_trigger(json!({"kind": "webhook"}), vec![])).await;
        let activated = app.post(&format!("/v1/flows/{hooked}/activate"), &key, json!({})).await;
        assert_eq!(activated.status, 200, "{}", activated.text);
        let url = activated.json["hookUrl"].as_str().unwrap();
        let hook = &url[url.find("/hooks/").unwrap()..];
        for n in 0..4 {
            let headers = vec![("content-type", "application/json".to_string()), ("idempotency-key", format!("d{n}"))];
            let delivered = deliver(&app, hook, &headers, format!(r#"{{"n": {n}}}"#).into_bytes()).await;
            assert_eq!(delivered.json["status"], "accepted", "{}", delivered.text);
        }
        succeeded_runs(&app, &hooked, 4).await;
    }
);

/// A vendor that answers after a moment and records the most requests it had in flight at once.
struct CountingVendor {
    url: String,
    most_at_once: Arc<AtomicUsize>,
    served: Arc<AtomicUsize>,
}

type Counters = (Arc<AtomicUsize>, Arc<AtomicUsize>, Arc<AtomicUsize>);

async fn counting_vendor() -> CountingVendor {
    let (in_flight, most_at_once, served) =
        (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let state = (in_flight, most_at_once.clone(), served.clone());
    let app = axum::Router::new().route(
        "/work",
        axum::routing::post(|axum::extract::State((now, most, served)): axum::extract::State<Counters>| async move {
            let at_once = now.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(at_once, Ordering::SeqCst);
            // The vendor's own latency, so that attempts overlap when nothing holds them back.
            tokio::time::sleep(Duration::from_millis(150)).await;
            now.fetch_sub(1, Ordering::SeqCst);
            served.fetch_add(1, Ordering::SeqCst);
            axum::Json(json!({"ok": true}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app.with_state(state)).await });
    CountingVendor { url, most_at_once, served }
}

db_test!(
    async fn a_tenants_cap_on_steps_running_at_once_holds_and_every_run_ends(app) {
        let key = app.tenant_key.clone();
        let vendor = counting_vendor().await;
        let settings = app.put("/v1/plugins/bacon-plugin-http/settings", &key, json!({"allowedHosts": [vendor.url]})).await;
        assert_eq!(settings.status, 200, "{}", settings.text);
        let set = set_limits(&app, &app.admin_key, json!({"concurrentSteps": 2})).await;
        assert_eq!(set.status, 200, "{}", set.text);
        assert_eq!(set.json["limits"]["concurrentSteps"], 2);
        let call = json!({"id": "call", "type": "plugin_action", "config": {"pluginId": "bacon-plugin-http",
            "actionName": "request", "payload": {"method": "POST", "url": format!("{}/work", vendor.url), "body": {}}}});
        let flow = create_flow(&app, flow_with_trigger(json!({}), vec![call])).await;
        let mut runs = Vec::new();
        for _ in 0..11 {
            let started = app.post(&format!("/v1/flows/{flow}/runs"), &key, json!({"input": {}})).await;
            assert_eq!(started.status, 202, "{}", started.text);
            runs.push(started.json["id"].as_str().unwrap().to_string());
        }
        // A run cancelled while its step waits for a slot gives its place up.
        let cancelled = app.post(&format!("/v1/runs/{}/cancel", runs[10]), &key, json!({})).await;
        assert_eq!(cancelled.status, 200, "{}", cancelled.text);
        wait::until("10 runs to succeed", Duration::from_secs(60), || async {
            let listed = app.get(&format!("/v1/runs?flowId={flow}&limit=50"), &key).await;
            let statuses: Vec<String> = listed.json["items"].as_array()?.iter().map(|r| r["status"].to_string()).collect();
            (statuses.iter().filter(|s| s.contains("succeeded")).count() == 10).then_some(())
        })
        .await;
        let served = vendor.served.load(Ordering::SeqCst);
        assert!((10..=11).contains(&served), "each step called the vendor once (the cancelled one at most): {served}");
        // Without the cap, the 8 workers of the test server run 8 of these at once.
        let most = vendor.most_at_once.load(Ordering::SeqCst);
        assert!(most <= 2, "{most} steps of the tenant ran at once, over its cap of 2");

        let db = sea_orm::Database::connect(&app.database_url).await.unwrap();
        assert_eq!(count(&db, "steps WHERE parked_at IS NOT NULL").await, 0, "no step is left parked");
    }
);
