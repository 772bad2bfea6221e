//! Prometheus families of background work: runs, plugin attempts, queue waits, reconciler
//! takeovers, and the queue's depth. The engine records; the API registers the families in its
//! registry and serves them at `/metrics` (`docs/operations.md` lists every one).
//!
//! One [`WorkMetrics`] per server, shared by its registry and engines (not a global, so servers
//! in one test process stay apart). Labels are bounded: statuses, plugin and action names (a
//! server's installed plugins), outcome and work-kind names; never a run or step id. A tenant id
//! is a label only in the `tenant_*` families, which exist only when the operator opts in
//! ([`WorkMetrics::count_per_tenant`], `metrics.per_tenant`): one series per tenant and status
//! is fine for tens or hundreds of tenants, not for a hundred thousand.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabels {
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AttemptLabels {
    /// What made the call: `flow_step`, `invoke`, `send_message`, `rest_hook`, …
    pub kind: String,
    pub plugin: String,
    pub action: String,
    /// The audit row's outcome: `success`, `retryable`, `rate_limited`, `permanent`, `lost`, …
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ActionLabels {
    pub plugin: String,
    pub action: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PluginLabels {
    pub plugin: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    /// `step`, `channel_message`, `rest_hook_delivery`, `inbound_delivery`.
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TenantLabels {
    pub tenant: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TenantStatusLabels {
    pub tenant: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TenantOutcomeLabels {
    pub tenant: String,
    pub outcome: String,
}

/// Every family of background work.
pub struct WorkMetrics {
    pub runs_started: Counter,
    pub runs_finished: Family<StatusLabels, Counter>,
    pub runs_running: Gauge,
    pub plugin_attempts: Family<AttemptLabels, Counter>,
    pub plugin_attempt_duration: Family<ActionLabels, Histogram>,
    pub vendor_rate_limited: Family<PluginLabels, Counter>,
    pub queue_wait: Family<KindLabels, Histogram>,
    pub queue_depth: Family<KindLabels, Gauge>,
    pub oldest_due_age: Family<KindLabels, Gauge<f64, AtomicU64>>,
    pub takeovers: Family<KindLabels, Counter>,
    /// Whether the `tenant_*` families count (off by default: a label per tenant).
    per_tenant: AtomicBool,
    pub tenant_runs_started: Family<TenantLabels, Counter>,
    pub tenant_runs_finished: Family<TenantStatusLabels, Counter>,
    pub tenant_plugin_attempts: Family<TenantOutcomeLabels, Counter>,
}

fn seconds_buckets() -> Histogram {
    // 1 ms to ~65 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

impl Default for WorkMetrics {
    fn default() -> Self {
        Self {
            runs_started: Counter::default(),
            runs_finished: Family::default(),
            runs_running: Gauge::default(),
            plugin_attempts: Family::default(),
            plugin_attempt_duration: Family::new_with_constructor(seconds_buckets),
            vendor_rate_limited: Family::default(),
            queue_wait: Family::new_with_constructor(seconds_buckets),
            queue_depth: Family::default(),
            oldest_due_age: Family::default(),
            takeovers: Family::default(),
            per_tenant: AtomicBool::new(false),
            tenant_runs_started: Family::default(),
            tenant_runs_finished: Family::default(),
            tenant_plugin_attempts: Family::default(),
        }
    }
}

impl WorkMetrics {
    /// Also counts runs and attempts per tenant, in the `tenant_*` families (before [`register`]).
    ///
    /// [`register`]: WorkMetrics::register
    pub fn count_per_tenant(&self, on: bool) {
        self.per_tenant.store(on, Ordering::Relaxed);
    }

    fn per_tenant(&self) -> bool {
        self.per_tenant.load(Ordering::Relaxed)
    }

    /// Registers every family (names get the registry's prefix, `bacon_`).
    pub fn register(&self, registry: &mut Registry) {
        if self.per_tenant() {
            registry.register("tenant_runs_started", "Runs started, by tenant", self.tenant_runs_started.clone());
            registry.register(
                "tenant_runs_finished",
                "Runs ended, by tenant and final status",
                self.tenant_runs_finished.clone(),
            );
            registry.register(
                "tenant_plugin_attempts",
                "Plugin action attempts, by tenant and audited outcome",
                self.tenant_plugin_attempts.clone(),
            );
        }
        registry.register("runs_started", "Runs started", self.runs_started.clone());
        registry.register("runs_finished", "Runs ended, by final status", self.runs_finished.clone());
        registry.register("runs_running", "Runs not ended yet (read at scrape)", self.runs_running.clone());
        registry.register(
            "plugin_attempts",
            "Plugin action attempts, by caller kind, plugin, action and audited outcome",
            self.plugin_attempts.clone(),
        );
        registry.register_with_unit(
            "plugin_attempt_duration",
            "Time one plugin action attempt took",
            Unit::Seconds,
            self.plugin_attempt_duration.clone(),
        );
        registry.register(
            "vendor_rate_limited",
            "Attempts a vendor answered with a rate limit",
            self.vendor_rate_limited.clone(),
        );
        registry.register_with_unit(
            "work_queue_wait",
            "Time from an item being due to a worker claiming it",
            Unit::Seconds,
            self.queue_wait.clone(),
        );
        registry.register(
            "work_queue_depth",
            "Items due and not claimed yet (read at scrape)",
            self.queue_depth.clone(),
        );
        registry.register_with_unit(
            "work_oldest_due_age",
            "How long the oldest due, unclaimed item has waited (read at scrape)",
            Unit::Seconds,
            self.oldest_due_age.clone(),
        );
        registry.register(
            "reconciler_takeovers",
            "Items the reconciler took from a worker whose lease ran out",
            self.takeovers.clone(),
        );
    }

    /// Records one plugin action attempt of `tenant`, as its audit row says.
    pub fn attempt(&self, tenant: &str, kind: &str, plugin: &str, action: &str, outcome: &str, took: Duration) {
        if self.per_tenant() {
            let labels = TenantOutcomeLabels { tenant: tenant.to_string(), outcome: outcome.to_string() };
            self.tenant_plugin_attempts.get_or_create(&labels).inc();
        }
        let labels = AttemptLabels {
            kind: kind.to_string(),
            plugin: plugin.to_string(),
            action: action.to_string(),
            outcome: outcome.to_string(),
        };
        self.plugin_attempts.get_or_create(&labels).inc();
        self.plugin_attempt_duration
            .get_or_create(&ActionLabels { plugin: plugin.to_string(), action: action.to_string() })
            .observe(took.as_secs_f64());
        if outcome == "rate_limited" {
            self.vendor_rate_limited.get_or_create(&PluginLabels { plugin: plugin.to_string() }).inc();
        }
    }

    pub fn run_started(&self, tenant: &str) {
        self.runs_started.inc();
        if self.per_tenant() {
            self.tenant_runs_started.get_or_create(&TenantLabels { tenant: tenant.to_string() }).inc();
        }
    }

    pub fn run_finished(&self, tenant: &str, status: &str) {
        self.runs_finished.get_or_create(&StatusLabels { status: status.to_string() }).inc();
        if self.per_tenant() {
            let labels = TenantStatusLabels { tenant: tenant.to_string(), status: status.to_string() };
            self.tenant_runs_finished.get_or_create(&labels).inc();
        }
    }

    pub fn waited(&self, kind: &str, waited: Duration) {
        self.queue_wait.get_or_create(&KindLabels { kind: kind.to_string() }).observe(waited.as_secs_f64());
    }

    pub fn took_over(&self, kind: &str) {
        self.takeovers.get_or_create(&KindLabels { kind: kind.to_string() }).inc();
    }
}
