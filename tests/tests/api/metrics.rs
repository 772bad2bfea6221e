//! `/metrics` after a scenario (issue #19, acceptance 1): a success, a retry, a rate limit, a
//! permanent failure and a lost worker, each a run of one HTTP action, then one scrape parsed
//! with a Prometheus text-format parser. Every family of background work has the value the
//! scenario implies.

use std::time::Duration;

use bacon_plugin_sdk::testing::wiremock::matchers::path;
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
use bacon_tests::{TestApp, wait};
use prometheus_parse::{Sample, Scrape, Value as Metric};
use serde_json::{Value, json};

/// The value of the sample named `name` whose labels include `labels`; 0 when there is none.
fn value(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let matching: Vec<&Sample> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .collect();
    matching
        .iter()
        .map(|s| match &s.value {
            Metric::Counter(v) | Metric::Gauge(v) | Metric::Untyped(v) => *v,
            Metric::Histogram(_) | Metric::Summary(_) => panic!("{name} is a histogram"),
        })
        .sum()
}

/// The number of observations of histogram `name` with `labels`.
fn observations(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    value(scrape, &format!("{name}_count"), labels)
}

async fn run_action(app: &TestApp, url: String, retry: Value) -> String {
    let graph = json!({
        "nodes": [
            {"id": "t", "type": "trigger", "config": {}},
            {"id": "a", "type": "plugin_action", "config": {"pluginId": "bacon-plugin-http", "actionName": "request",
                "payload": {"method": "GET", "url": url}, "retry": retry}}
        ],
        "edges": [{"id": "e", "source": "t", "target": "a"}]
    });
    let flow = app.post("/v1/flows", &app.tenant_key, json!({"name": "metered", "graph": graph})).await;
    assert_eq!(flow.status, 201, "{}", flow.text);
    let run =
        app.post(&format!("/v1/flows/{}/runs", flow.json["id"].as_str().unwrap()), &app.tenant_key, json!({})).await;
    assert_eq!(run.status, 202, "{}", run.text);
    run.json["id"].as_str().unwrap().to_string()
}

bacon_tests::backend_test!(
    async fn metrics_count_runs_attempts_waits_and_takeovers(backend) {
        // A 2 s lease: the reconciler takes the slow attempt over within seconds.
        let Some(app) = bacon_tests::app::spawn_app_with(backend, |c| c.workers.lease_secs = 2).await else {
            return bacon_tests::postgres::print_skip("metrics::postgres");
        };
        let vendor = MockServer::start().await;
        let once = |status: u16| ResponseTemplate::new(status);
        Mock::given(path("/flaky")).respond_with(once(503)).up_to_n_times(1).with_priority(1).mount(&vendor).await;
        let limited = once(429).insert_header("retry-after", "1");
        Mock::given(path("/limited")).respond_with(limited).up_to_n_times(1).with_priority(1).mount(&vendor).await;
        let slow = once(200).set_delay(Duration::from_secs(45));
        Mock::given(path("/slow")).respond_with(slow).up_to_n_times(1).with_priority(1).mount(&vendor).await;
        Mock::given(path("/bad")).respond_with(once(404)).with_priority(1).mount(&vendor).await;
        Mock::given(bacon_plugin_sdk::testing::wiremock::matchers::any())
            .respond_with(once(200))
            .with_priority(5)
            .mount(&vendor)
            .await;
        let settings = json!({"allowedHosts": [vendor.uri()], "timeoutMs": 60000});
        let put = app.put("/v1/plugins/bacon-plugin-http/settings", &app.tenant_key, settings).await;
        assert_eq!(put.status, 200, "{}", put.text);

        let retry = json!({"kind": "fixed", "intervalMs": 100, "maxAttempts": 3});
        let mut runs = Vec::new();
        for (name, expected) in [("ok", "succeeded"), ("flaky", "succeeded"), ("limited", "succeeded"), ("bad", "failed"), ("slow", "succeeded")] {
            runs.push((run_action(&app, format!("{}/{name}", vendor.uri()), retry.clone()).await, expected));
        }
        for (run, expected) in &runs {
            let done: Value = wait::until(&format!("run {run} to end"), Duration::from_secs(60), || async {
                let reply = app.get(&format!("/v1/runs/{run}"), &app.tenant_key).await;
                (reply.json["status"] != "running").then_some(reply.json)
            })
            .await;
            assert_eq!(done["status"], *expected, "{done}");
        }

        let scraped = app.client.get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(scraped.status(), 200);
        let text = scraped.text().await.unwrap();
        let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("the exposition parses");

        assert_eq!(value(&scrape, "bacon_runs_started_total", &[]), 5.0, "{text}");
        assert_eq!(value(&scrape, "bacon_runs_finished_total", &[("status", "succeeded")]), 4.0, "{text}");
        assert_eq!(value(&scrape, "bacon_runs_finished_total", &[("status", "failed")]), 1.0, "{text}");
        let step = [("kind", "flow_step"), ("plugin", "bacon-plugin-http"), ("action", "request")];
        let attempts = |outcome: &'static str| {
            let mut labels = step.to_vec();
            labels.push(("outcome", outcome));
            value(&scrape, "bacon_plugin_attempts_total", &labels)
        };
        // ok, flaky's second, limited's second, slow's second (the first is still waiting on the
        // vendor: the reconciler took its step over).
        assert_eq!(attempts("success"), 4.0, "{text}");
        assert_eq!(attempts("retryable"), 1.0, "{text}");
        assert_eq!(attempts("rate_limited"), 1.0, "{text}");
        assert_eq!(attempts("permanent"), 1.0, "{text}");
        assert_eq!(attempts("lost"), 1.0, "{text}");
        assert_eq!(value(&scrape, "bacon_vendor_rate_limited_total", &[("plugin", "bacon-plugin-http")]), 1.0);
        assert_eq!(value(&scrape, "bacon_reconciler_takeovers_total", &[("kind", "step")]), 1.0, "{text}");
        let action = [("plugin", "bacon-plugin-http"), ("action", "request")];
        assert_eq!(observations(&scrape, "bacon_plugin_attempt_duration_seconds", &action), 8.0, "{text}");
        // Claims: ok 1, flaky 2, limited 2, bad 1, slow 2.
        assert_eq!(observations(&scrape, "bacon_work_queue_wait_seconds", &[("kind", "step")]), 8.0, "{text}");
        assert_eq!(value(&scrape, "bacon_runs_running", &[]), 0.0, "{text}");
        for kind in ["step", "channel_message", "rest_hook_delivery", "inbound_delivery"] {
            assert_eq!(value(&scrape, "bacon_work_queue_depth", &[("kind", kind)]), 0.0, "{kind}: {text}");
            assert_eq!(value(&scrape, "bacon_work_oldest_due_age_seconds", &[("kind", kind)]), 0.0, "{kind}: {text}");
        }
    }
);

bacon_tests::backend_test!(
    async fn per_tenant_counts_are_there_when_the_operator_asks(backend) {
        let Some(app) = bacon_tests::app::spawn_app_with(backend, |c| c.metrics.per_tenant = true).await else {
            return bacon_tests::postgres::print_skip("per_tenant_counts::postgres");
        };
        let vendor = MockServer::start().await;
        Mock::given(path("/ok")).respond_with(ResponseTemplate::new(200)).mount(&vendor).await;
        let settings = json!({"allowedHosts": [vendor.uri()]});
        assert_eq!(app.put("/v1/plugins/bacon-plugin-http/settings", &app.tenant_key, settings).await.status, 200);
        let run = run_action(&app, format!("{}/ok", vendor.uri()), json!({"kind": "none"})).await;
        wait::until("the run to succeed", Duration::from_secs(30), || async {
            (app.get(&format!("/v1/runs/{run}"), &app.tenant_key).await.json["status"] == "succeeded").then_some(())
        })
        .await;
        let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
        let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("the exposition parses");
        let tenant = app.tenant_id.as_str();
        assert_eq!(value(&scrape, "bacon_tenant_runs_started_total", &[("tenant", tenant)]), 1.0, "{text}");
        let finished = [("tenant", tenant), ("status", "succeeded")];
        assert_eq!(value(&scrape, "bacon_tenant_runs_finished_total", &finished), 1.0, "{text}");
        let attempts = [("tenant", tenant), ("outcome", "success")];
        assert_eq!(value(&scrape, "bacon_tenant_plugin_attempts_total", &attempts), 1.0, "{text}");
    }
);
