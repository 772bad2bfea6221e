//! Traces across the queue (issue #19): with an OTLP collector stub on loopback, one run makes
//! one trace whose spans include the API request, the step's job, the plugin call and the vendor
//! request, each parented on the one before, also when the job runs in another process (an API
//! process and a `worker` process sharing PostgreSQL, which serves its own `/metrics`).

#![allow(clippy::unwrap_used)] // Test code: a panic is the failure report.

use std::collections::HashMap;
use std::time::Duration;

use bacon_plugin_sdk::testing::wiremock::matchers::{method, path};
use bacon_plugin_sdk::testing::wiremock::{Mock, MockServer, ResponseTemplate};
use bacon_tests::process::ServerProcess;
use bacon_tests::wait;
use serde_json::{Value, json};

/// The test's own span, the parent the API request continues (`traceparent` header).
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN_ID: &str = "00f067aa0ba902b7";

/// One exported span, with the `service.name` of the process that exported it.
#[derive(Debug, Clone)]
struct Span {
    service: String,
    name: String,
    kind: i64,
    span_id: String,
    parent: String,
    attributes: HashMap<String, Value>,
}

/// The spans of the test's trace the collector stub received so far (OTLP/JSON bodies).
async fn spans_of_trace(collector: &MockServer) -> Vec<Span> {
    let mut spans = Vec::new();
    for request in collector.received_requests().await.unwrap_or_default() {
        let body: Value = serde_json::from_slice(&request.body).expect("OTLP/JSON");
        for resource in body["resourceSpans"].as_array().into_iter().flatten() {
            let service = resource["resource"]["attributes"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|a| a["key"] == "service.name")
                .and_then(|a| a["value"]["stringValue"].as_str())
                .unwrap_or_default()
                .to_string();
            for scope in resource["scopeSpans"].as_array().into_iter().flatten() {
                for span in scope["spans"].as_array().into_iter().flatten() {
                    if span["traceId"].as_str().unwrap_or_default().to_lowercase() != TRACE_ID {
                        continue;
                    }
                    let attributes = span["attributes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|a| (a["key"].as_str().unwrap().to_string(), a["value"].clone()))
                        .collect();
                    spans.push(Span {
                        service: service.clone(),
                        name: span["name"].as_str().unwrap().to_string(),
                        kind: span["kind"].as_i64().unwrap_or_default(),
                        span_id: span["spanId"].as_str().unwrap().to_lowercase(),
                        parent: span["parentSpanId"].as_str().unwrap_or_default().to_lowercase(),
                        attributes,
                    });
                }
            }
        }
    }
    spans
}

/// Whether `ancestor` is `span` or one of its ancestors.
fn descends_from(spans: &[Span], span: &Span, ancestor: &Span) -> bool {
    let by_id: HashMap<&str, &Span> = spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    let mut current = Some(span);
    while let Some(s) = current {
        if s.span_id == ancestor.span_id {
            return true;
        }
        current = by_id.get(s.parent.as_str()).copied();
    }
    false
}

fn find<'a>(spans: &'a [Span], what: &str, matches: impl Fn(&Span) -> bool) -> &'a Span {
    spans.iter().find(|s| matches(s)).unwrap_or_else(|| panic!("no {what} span in {spans:#?}"))
}

/// Starts one run of a one-step HTTP flow calling `vendor`, as the caller of `TRACE_ID`.
async fn start_a_traced_run(base: &str, key: &str, vendor: &MockServer) -> String {
    let client = bacon_tests::http_client();
    let settings = json!({"allowedHosts": [vendor.uri()]});
    let put = client.put(format!("{base}/v1/plugins/bacon-plugin-http/settings")).bearer_auth(key).json(&settings);
    assert_eq!(put.send().await.unwrap().status(), 200);
    let graph = json!({
        "nodes": [{"id": "t", "type": "trigger", "config": {}},
            {"id": "call", "type": "plugin_action", "config": {"pluginId": "bacon-plugin-http", "actionName": "request",
                "payload": {"method": "POST", "url": format!("{}/orders", vendor.uri()), "body": {"n": 1}}}}],
        "edges": [{"id": "1", "source": "t", "target": "call"}]
    });
    let flow: Value = client
        .post(format!("{base}/v1/flows"))
        .bearer_auth(key)
        .json(&json!({"name": "traced", "graph": graph}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let flow = flow["id"].as_str().unwrap();
    let started = client
        .post(format!("{base}/v1/flows/{flow}/runs"))
        .bearer_auth(key)
        .header("traceparent", format!("00-{TRACE_ID}-{CALLER_SPAN_ID}-01"))
        .json(&json!({"input": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 202);
    let run: Value = started.json().await.unwrap();
    let run = run["id"].as_str().unwrap().to_string();
    wait::until("the run to succeed", Duration::from_secs(60), || async {
        let run: Value =
            client.get(format!("{base}/v1/runs/{run}")).bearer_auth(key).send().await.ok()?.json().await.ok()?;
        (run["status"] == "succeeded").then_some(())
    })
    .await;
    run
}

/// Waits for the spans of the whole run and checks their parentage; returns the step job's span.
async fn assert_one_trace_through_the_queue(collector: &MockServer) -> (Span, Vec<Span>) {
    let spans = wait::until("the run's spans to reach the collector", Duration::from_secs(60), || async {
        let spans = spans_of_trace(collector).await;
        let has = |name: &str| spans.iter().any(|s| s.name.starts_with(name));
        (has("POST /v1/flows/{flowId}/runs")
            && has("step job")
            && has("bacon-plugin-http request")
            && has("POST 127.0.0.1"))
        .then_some(spans)
    })
    .await;
    // OTLP span kinds: 2 server, 3 client.
    let request = find(&spans, "API request", |s| s.name == "POST /v1/flows/{flowId}/runs");
    assert_eq!(request.kind, 2, "{request:?}");
    assert_eq!(request.parent, CALLER_SPAN_ID, "the API request continues the caller's trace");
    // An OTLP/JSON attribute value: `{"intValue": "202"}` (int64 as a string) or `{"stringValue": "202"}`.
    let status =
        request.attributes.get("http.response.status_code").and_then(|v| v.as_object()?.values().next()?.as_str());
    assert_eq!(status, Some("202"), "{request:?}");
    let job = find(&spans, "step job", |s| s.name == "step job");
    assert!(descends_from(&spans, job, request), "the step's job continues the request's trace: {spans:#?}");
    let call = find(&spans, "plugin call", |s| s.name == "bacon-plugin-http request");
    assert!(descends_from(&spans, call, job), "the plugin call runs in the step's job: {spans:#?}");
    let vendor = find(&spans, "vendor request", |s| s.name == "POST 127.0.0.1");
    assert_eq!(vendor.kind, 3, "{vendor:?}");
    assert!(descends_from(&spans, vendor, call), "the vendor request is the plugin's: {spans:#?}");
    assert_eq!(vendor.service, job.service);
    (job.clone(), spans)
}

async fn collector_and_vendor() -> (MockServer, MockServer) {
    let collector = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/traces"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&collector)
        .await;
    let vendor = MockServer::start().await;
    Mock::given(method("POST")).and(path("/orders")).respond_with(ResponseTemplate::new(200)).mount(&vendor).await;
    (collector, vendor)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_is_one_trace_from_the_api_request_to_the_vendor_call() {
    let (collector, vendor) = collector_and_vendor().await;
    let cwd = tempfile::tempdir().unwrap();
    let endpoint = collector.uri();
    let env = [
        ("BACON_HTTP__BIND", "127.0.0.1:0"),
        ("BACON_TRACES__OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ];
    let mut server = ServerProcess::start(cwd.path(), &["serve"], &env);
    let base = server.wait_for_listening().await;
    let key = server.first_tenant_key();
    start_a_traced_run(&base, &key, &vendor).await;
    let (job, _) = assert_one_trace_through_the_queue(&collector).await;
    assert_eq!(job.service, "bacon");
    server.terminate(Duration::from_secs(30)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trace_crosses_from_the_api_process_to_a_worker_process_on_postgres() {
    let Some(url) = bacon_tests::postgres::fresh_database().await else {
        return bacon_tests::postgres::print_skip(
            "the_trace_crosses_from_the_api_process_to_a_worker_process_on_postgres",
        );
    };
    let (collector, vendor) = collector_and_vendor().await;
    let cwd = tempfile::tempdir().unwrap();
    let endpoint = collector.uri();
    let common = [
        ("BACON_DATABASE_URL", url.as_str()),
        ("BACON_TRACES__OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
    ];
    let api_env = [&common[..], &[("BACON_HTTP__BIND", "127.0.0.1:0"), ("OTEL_SERVICE_NAME", "bacon-api")]].concat();
    let mut api = ServerProcess::start(cwd.path(), &["serve", "--no-workers"], &api_env);
    let base = api.wait_for_listening().await;
    let key = api.first_tenant_key();
    let worker_env =
        [&common[..], &[("OTEL_SERVICE_NAME", "bacon-worker"), ("BACON_WORKERS__METRICS_BIND", "127.0.0.1:0")]]
            .concat();
    let mut worker = ServerProcess::start(cwd.path(), &["worker"], &worker_env);
    let line = worker.wait_for_line("Worker metrics on http://", Duration::from_secs(60)).await;
    let worker_metrics = line[line.find("http://").unwrap()..].trim().to_string();
    worker.wait_for_line("Bacon workers are running", Duration::from_secs(60)).await;
    start_a_traced_run(&base, &key, &vendor).await;
    let (job, spans) = assert_one_trace_through_the_queue(&collector).await;
    assert_eq!(job.service, "bacon-worker", "the step ran in the worker process");
    let request = find(&spans, "API request", |s| s.name == "POST /v1/flows/{flowId}/runs");
    assert_eq!(request.service, "bacon-api");
    // The worker process counts the attempt it made, on its own /metrics.
    let attempts = |text: String| {
        let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
        scrape
            .samples
            .iter()
            .filter(|s| s.metric == "bacon_plugin_attempts_total" && s.labels.get("outcome") == Some("success"))
            .map(|s| match s.value {
                prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v) => v,
                _ => 0.0,
            })
            .sum::<f64>()
    };
    let client = bacon_tests::http_client();
    let scrape = |url: String| {
        let client = client.clone();
        async move { client.get(url).send().await.unwrap().text().await.unwrap() }
    };
    assert_eq!(attempts(scrape(worker_metrics).await), 1.0, "the worker's /metrics");
    assert_eq!(attempts(scrape(format!("{base}/metrics")).await), 0.0, "the API process ran no attempt");
    // Log lines name the trace they belong to, in both processes.
    let logged = |lines: Vec<String>, message: &str| lines.iter().any(|l| l.contains(message) && l.contains(TRACE_ID));
    assert!(logged(api.stdout(), "Run started."), "{:#?}", api.stdout());
    assert!(logged(worker.stdout(), "Step succeeded."), "{:#?}", worker.stdout());
    worker.terminate(Duration::from_secs(30)).await;
    api.terminate(Duration::from_secs(30)).await;
}
