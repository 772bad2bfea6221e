//! Prometheus metrics, served at `GET /metrics` in the OpenMetrics text format: the HTTP layer's
//! here, background work's from the engine (`bacon_engine::metrics`), the queue's depth read at
//! each scrape. Every family is listed in `docs/operations.md`.
//!
//! One registry per server (not a global), so several servers in one test process stay apart.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use sea_orm::DatabaseConnection;

use bacon_engine::metrics::{KindLabels, WorkMetrics};

use crate::state::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub method: String,
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub method: String,
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct InboundLabels {
    /// The plugin, or `webhook` for a plain webhook trigger.
    pub plugin: String,
    /// `accepted`, `duplicate`, `refused`.
    pub outcome: String,
}

pub struct Metrics {
    pub registry: Registry,
    pub requests: Family<RequestLabels, Counter>,
    pub durations: Family<RouteLabels, Histogram>,
    /// Webhook deliveries on `/hooks/{hookId}` by plugin and outcome (a refused one stores nothing else).
    pub inbound: Family<InboundLabels, Counter>,
    pub work: Arc<WorkMetrics>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(Arc::default())
    }
}

impl Metrics {
    /// The HTTP layer's families and `work`'s (the engines' recorder) in one registry.
    pub fn new(work: Arc<WorkMetrics>) -> Self {
        let mut registry = Registry::with_prefix("bacon");
        let requests = Family::<RequestLabels, Counter>::default();
        let durations = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.0005, 2.0, 16))
        });
        registry.register("http_requests", "HTTP requests answered", requests.clone());
        registry.register("http_request_duration_seconds", "Time to answer HTTP requests", durations.clone());
        let inbound = Family::<InboundLabels, Counter>::default();
        registry.register("inbound_deliveries", "Webhook deliveries by plugin and outcome", inbound.clone());
        work.register(&mut registry);
        Self { registry, requests, durations, inbound, work }
    }

    /// Reads the queue's depth and the runs not ended into their gauges; on a slow or failing
    /// database the gauges keep their last values (a scrape never fails for them).
    pub async fn refresh(&self, db: &DatabaseConnection) {
        let read = tokio::time::timeout(Duration::from_secs(2), bacon_engine::work::depth::read(db)).await;
        let Ok(Ok((depths, running))) = read else {
            tracing::debug!("The queue depth could not be read for /metrics; its gauges keep their last values.");
            return;
        };
        let now = chrono::Utc::now();
        for depth in depths {
            let labels = KindLabels { kind: depth.kind.to_string() };
            self.work.queue_depth.get_or_create(&labels).set(depth.due as i64);
            let age = depth.oldest_due_at.map_or(0.0, |due| (now - due).num_milliseconds().max(0) as f64 / 1000.0);
            self.work.oldest_due_age.get_or_create(&labels).set(age);
        }
        self.work.runs_running.set(running as i64);
    }

    /// A scrape: the gauges read from `db`, then the registry as an OpenMetrics response.
    pub async fn scrape(&self, db: &DatabaseConnection) -> impl axum::response::IntoResponse + use<> {
        self.refresh(db).await;
        let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
        ([(axum::http::header::CONTENT_TYPE, content_type)], self.render())
    }

    /// The registry in OpenMetrics text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Encoding into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Counts and times every request by its route template (never the raw path, to bound cardinality).
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route =
        request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    state.metrics.requests.get_or_create(&RequestLabels { method: method.clone(), route: route.clone(), status }).inc();
    state.metrics.durations.get_or_create(&RouteLabels { method, route }).observe(started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// Every family with a sample in it: an empty labelled family is not rendered at all.
    fn every_family_recorded(per_tenant: bool) -> String {
        let work = Arc::new(WorkMetrics::default());
        work.count_per_tenant(per_tenant);
        let metrics = Metrics::new(work.clone());
        let route = RouteLabels { method: "GET".into(), route: "/v1/runs".into() };
        metrics
            .requests
            .get_or_create(&RequestLabels { method: "GET".into(), route: "/v1/runs".into(), status: 200 })
            .inc();
        metrics.durations.get_or_create(&route).observe(0.01);
        metrics.inbound.get_or_create(&InboundLabels { plugin: "webhook".into(), outcome: "accepted".into() }).inc();
        work.run_started("ten_1");
        work.run_finished("ten_1", "succeeded");
        work.attempt("ten_1", "flow_step", "bacon-plugin-http", "request", "rate_limited", Duration::from_millis(5));
        work.waited("step", Duration::from_millis(5));
        work.took_over("step");
        let kind = KindLabels { kind: "step".into() };
        work.queue_depth.get_or_create(&kind).set(1);
        work.oldest_due_age.get_or_create(&kind).set(1.0);
        metrics.render()
    }

    /// The families a dashboard's queries read: metric names without the `_bucket`, `_sum`,
    /// `_count` and `_total` suffixes of their samples.
    fn families_queried(dashboard: &serde_json::Value) -> BTreeSet<String> {
        let exprs = dashboard["panels"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|panel| panel["targets"].as_array().into_iter().flatten().filter_map(|t| t["expr"].as_str()));
        let names = exprs.flat_map(|expr| {
            expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|token| token.starts_with("bacon_"))
                .map(str::to_string)
                .collect::<Vec<_>>()
        });
        names
            .map(|name| {
                ["_bucket", "_sum", "_count", "_total"]
                    .iter()
                    .find_map(|suffix| name.strip_suffix(suffix))
                    .map_or(name.clone(), str::to_string)
            })
            .collect()
    }

    #[test]
    fn the_grafana_dashboard_queries_only_families_the_server_serves() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/grafana/bacon.json");
        let dashboard: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).expect("docs/grafana/bacon.json")).expect("JSON");
        let served = every_family_recorded(false);
        let families = families_queried(&dashboard);
        assert!(families.len() >= 10, "{families:?}");
        for family in families {
            assert!(
                served.contains(&format!("# TYPE {family} ")),
                "the dashboard queries {family}, not served:\n{served}"
            );
        }
    }

    #[test]
    fn per_tenant_families_exist_only_when_asked() {
        assert!(!every_family_recorded(false).contains("bacon_tenant_"));
        let on = every_family_recorded(true);
        for family in ["bacon_tenant_runs_started", "bacon_tenant_runs_finished", "bacon_tenant_plugin_attempts"] {
            assert!(on.contains(&format!("# TYPE {family} counter")), "{family}:\n{on}");
        }
    }
}
