//! [`PluginRegistry`]: the only way an action runs.
//!
//! For each call: resolve the tenant's (and bot's) settings with defaults and secrets, validate
//! the input against the action's schema, run the handler in its own task under a timeout (a
//! panic, a timeout or an oversized output becomes an error, never a crash), classify the error,
//! retry in-process with backon when asked (synchronous calls), write exactly one audit row per
//! attempt, and scrub every secret value of the tenant's settings from errors and outputs.
//!
//! [`PluginRegistry::enrich`] runs the tenant's context enrichers the same guarded way, all at
//! once (see [`crate::enrich`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use backon::{BackoffBuilder, Retryable};
use bacon_plugin_sdk::context::ContextParts;
use bacon_plugin_sdk::{ActionContext, ActionError, RetryPolicy};
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};
use tracing::Instrument as _;

use super::loaded::LoadedPlugin;
use super::settings::{self, FieldProblem, ResolvedSettings, SettingsError};
use crate::StoreError;
use crate::ids::{BotId, TenantId};
use crate::metrics::WorkMetrics;
use crate::secrets::manager::Secrets;
use crate::store::audit::{self, NewAuditEntry};

mod channels;
mod enrichment;

/// Bounds on what an action may return.
#[derive(Debug, Clone, Copy)]
pub struct RegistryLimits {
    /// Largest serialised output accepted from an action.
    pub max_output_bytes: usize,
    /// The longest `Retry-After` an in-process retry waits for; longer ones fail the call.
    pub max_in_process_wait: Duration,
}

impl Default for RegistryLimits {
    fn default() -> Self {
        Self { max_output_bytes: 4 * 1024 * 1024, max_in_process_wait: Duration::from_secs(30) }
    }
}

/// How a call is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryMode {
    /// Retry inside this call per the action's policy (synchronous API calls).
    InProcess,
    /// Run one attempt with this number; the caller reschedules (durable jobs).
    SingleAttempt { attempt: u32 },
}

/// One call of one action.
#[derive(Debug, Clone)]
pub struct InvokeRequest {
    pub tenant_id: TenantId,
    pub bot_id: Option<BotId>,
    pub plugin_id: String,
    pub action: String,
    pub input: Value,
    pub run_id: Option<String>,
    pub step_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub retry: RetryMode,
    /// Overrides the action's own timeout.
    pub timeout: Option<Duration>,
    /// For in-process retries: the time every attempt and wait together may take (a synchronous
    /// API call must answer before its request times out). Attempts are cut to fit.
    pub deadline: Option<Duration>,
    /// The audit row's `kind`: `invoke`, `test_connection`, `flow_step`.
    pub kind: &'static str,
    /// Return the audit rows in [`InvokeOutcome::deferred_audit`] instead of writing them, so the
    /// caller writes them in the transaction that records the outcome (durable flow steps).
    pub defer_audit: bool,
}

impl InvokeRequest {
    /// A synchronous API call with in-process retries.
    pub fn synchronous(
        tenant_id: TenantId,
        bot_id: Option<BotId>,
        plugin_id: &str,
        action: &str,
        input: Value,
    ) -> Self {
        Self {
            tenant_id,
            bot_id,
            plugin_id: plugin_id.to_string(),
            action: action.to_string(),
            input,
            run_id: None,
            step_id: None,
            idempotency_key: None,
            retry: RetryMode::InProcess,
            timeout: None,
            deadline: None,
            kind: "invoke",
            defer_audit: false,
        }
    }
}

/// Why a call failed. Messages are already scrubbed of the tenant's secrets.
#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    #[error("plugin `{0}` is not loaded")]
    UnknownPlugin(String),
    #[error("plugin `{plugin}` has no action `{action}`")]
    UnknownAction { plugin: String, action: String },
    #[error("the plugin is not configured for this tenant: {}", join(.0))]
    NotConfigured(Vec<FieldProblem>),
    #[error("the input is not valid: {}", join(.0))]
    InvalidInput(Vec<FieldProblem>),
    #[error("{0}")]
    Action(ActionError),
    #[error("the action panicked: {0}")]
    Panicked(String),
    #[error("the action did not finish within {} ms", .0.as_millis())]
    TimedOut(Duration),
    #[error("the action returned {bytes} bytes, over the limit of {limit}")]
    OutputTooLarge { bytes: usize, limit: usize },
    #[error("a stored secret could not be resolved for field `{0}`")]
    Secret(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<SettingsError> for InvokeError {
    fn from(e: SettingsError) -> Self {
        match e {
            SettingsError::Invalid(problems) => Self::NotConfigured(problems),
            SettingsError::Secret { field, .. } => Self::Secret(field),
            SettingsError::Store(s) => Self::Store(s),
        }
    }
}

fn join(problems: &[FieldProblem]) -> String {
    problems
        .iter()
        .map(|p| format!("{} {}", if p.pointer.is_empty() { "/" } else { &p.pointer }, p.message))
        .collect::<Vec<_>>()
        .join("; ")
}

impl InvokeError {
    /// The audit `outcome` of this failure.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::UnknownPlugin(_) | Self::UnknownAction { .. } => "unknown_action",
            Self::NotConfigured(_) => "not_configured",
            Self::InvalidInput(_) => "invalid_input",
            Self::Action(e) => e.kind(),
            Self::Panicked(_) => "panicked",
            Self::TimedOut(_) => "timed_out",
            Self::OutputTooLarge { .. } => "output_too_large",
            Self::Secret(_) => "secret_unavailable",
            Self::Store(_) => "store_error",
        }
    }

    /// Whether trying again may help: retryable action errors, timeouts, and a database that was
    /// down or busy while settings were read. Panics are not retried, nor is a secret that could
    /// not be resolved (a missing variable or a key that does not decrypt stays so until fixed).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Action(e) => e.is_retryable(),
            Self::TimedOut(_) => true,
            Self::Store(s) => s.is_unavailable(),
            _ => false,
        }
    }

    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Action(e) => e.retry_after(),
            _ => None,
        }
    }
}

/// The result of a call and how many attempts it took.
#[derive(Debug)]
pub struct InvokeOutcome {
    pub result: Result<Value, InvokeError>,
    pub attempts: u32,
    /// The audit rows of this call when the request deferred them (else empty).
    pub deferred_audit: Vec<NewAuditEntry>,
}

impl InvokeOutcome {
    fn new(result: Result<Value, InvokeError>, attempts: u32, deferred: &Deferred) -> Self {
        let deferred_audit = std::mem::take(&mut *deferred.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        Self { result, attempts, deferred_audit }
    }
}

/// Audit rows held back for the caller (see [`InvokeRequest::defer_audit`]).
type Deferred = std::sync::Mutex<Vec<NewAuditEntry>>;

/// The catalog of loaded plugins and everything needed to run their actions.
#[derive(Clone)]
pub struct PluginRegistry {
    plugins: Arc<BTreeMap<String, Arc<LoadedPlugin>>>,
    db: DatabaseConnection,
    secrets: Secrets,
    limits: RegistryLimits,
    metrics: Arc<WorkMetrics>,
}

/// backon's view of a [`RetryPolicy`]: the waits after attempts 1, 2, … up to `max_attempts`.
struct PolicyBackoff {
    policy: RetryPolicy,
}

struct PolicyDelays {
    policy: RetryPolicy,
    failed: u32,
}

impl Iterator for PolicyDelays {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        self.failed += 1;
        (self.failed < self.policy.max_attempts()).then(|| self.policy.delay(self.failed, None))
    }
}

impl BackoffBuilder for PolicyBackoff {
    type Backoff = PolicyDelays;

    fn build(self) -> Self::Backoff {
        PolicyDelays { policy: self.policy, failed: 0 }
    }
}

/// Aborts a spawned action when the attempt that owns it ends or is dropped.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text panic payload".into())
}

impl PluginRegistry {
    pub fn new(
        loaded: Vec<Arc<LoadedPlugin>>,
        db: DatabaseConnection,
        secrets: Secrets,
        limits: RegistryLimits,
    ) -> Self {
        let plugins = loaded.into_iter().map(|p| (p.id().to_string(), p)).collect();
        Self { plugins: Arc::new(plugins), db, secrets, limits, metrics: Arc::default() }
    }

    /// Records into `metrics` (the server's, registered for `/metrics`) instead of its own.
    pub fn with_metrics(mut self, metrics: Arc<WorkMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Where this registry, and the engines built on it, record.
    pub fn metrics(&self) -> &Arc<WorkMetrics> {
        &self.metrics
    }

    pub fn plugins(&self) -> impl Iterator<Item = &Arc<LoadedPlugin>> {
        self.plugins.values()
    }

    pub fn get(&self, plugin_id: &str) -> Option<&Arc<LoadedPlugin>> {
        self.plugins.get(plugin_id)
    }

    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Runs an action per `request` (see the module docs).
    pub async fn invoke(&self, request: InvokeRequest) -> InvokeOutcome {
        let started = Instant::now();
        let deferred = Deferred::default();
        let Some(plugin) = self.plugins.get(&request.plugin_id).cloned() else {
            let err = InvokeError::UnknownPlugin(request.plugin_id.clone());
            return InvokeOutcome::new(Err(err), 0, &deferred);
        };
        if plugin.definition.find_action(&request.action).is_none() {
            let err = InvokeError::UnknownAction { plugin: request.plugin_id.clone(), action: request.action.clone() };
            return InvokeOutcome::new(Err(err), 0, &deferred);
        }
        let first_attempt = match request.retry {
            RetryMode::InProcess => 1,
            RetryMode::SingleAttempt { attempt } => attempt,
        };
        let settings =
            match settings::resolve(&self.db, &self.secrets, &plugin, request.tenant_id, request.bot_id).await {
                Ok(s) => s,
                Err(e) => {
                    let err = match e {
                        SettingsError::Invalid(problems) => InvokeError::NotConfigured(problems),
                        SettingsError::Secret { field, .. } => InvokeError::Secret(field),
                        SettingsError::Store(s) => InvokeError::Store(s),
                    };
                    self.audit(&request, first_attempt, started, Err(&err), &deferred).await;
                    return InvokeOutcome::new(Err(err), 1, &deferred);
                }
            };
        if let Some(validator) = plugin.input_validators.get(&request.action) {
            let found = settings::problems(validator, &request.input, &[]);
            if !found.is_empty() {
                let err = InvokeError::InvalidInput(
                    found
                        .into_iter()
                        .map(|p| FieldProblem { message: settings.redactor.text(&p.message), ..p })
                        .collect(),
                );
                self.audit(&request, first_attempt, started, Err(&err), &deferred).await;
                return InvokeOutcome::new(Err(err), 1, &deferred);
            }
        }
        let deadline_at = request.deadline.map(|d| started + d);
        match request.retry {
            RetryMode::SingleAttempt { attempt } => {
                let result = self.attempt(&plugin, &request, &settings, attempt, deadline_at, &deferred).await;
                InvokeOutcome::new(result, 1, &deferred)
            }
            RetryMode::InProcess => {
                let policy =
                    plugin.definition.find_action(&request.action).map(|a| a.retry.clone()).unwrap_or_default();
                let counter = AtomicU32::new(0);
                let max_wait = self.limits.max_in_process_wait;
                let result = (|| async {
                    let attempt = counter.fetch_add(1, Ordering::SeqCst) + 1;
                    self.attempt(&plugin, &request, &settings, attempt, deadline_at, &deferred).await
                })
                .retry(PolicyBackoff { policy })
                .sleep(tokio::time::sleep)
                .when(InvokeError::is_retryable)
                .adjust(move |err: &InvokeError, next: Option<Duration>| {
                    let next = next?;
                    let wait = match err.retry_after() {
                        Some(after) if after > max_wait => return None,
                        Some(after) => next.max(after),
                        None => next,
                    };
                    // No time left for the wait and a useful attempt after it: stop here.
                    match deadline_at {
                        Some(end) if Instant::now() + wait + Duration::from_millis(100) >= end => None,
                        _ => Some(wait),
                    }
                })
                .await;
                InvokeOutcome::new(result, counter.load(Ordering::SeqCst), &deferred)
            }
        }
    }

    /// One guarded attempt, with its audit row.
    async fn attempt(
        &self,
        plugin: &Arc<LoadedPlugin>,
        request: &InvokeRequest,
        settings: &ResolvedSettings,
        attempt: u32,
        deadline_at: Option<Instant>,
        deferred: &Deferred,
    ) -> Result<Value, InvokeError> {
        let started = Instant::now();
        let Some(action) = plugin.definition.find_action(&request.action) else {
            return Err(InvokeError::UnknownAction {
                plugin: request.plugin_id.clone(),
                action: request.action.clone(),
            });
        };
        let mut timeout = request.timeout.unwrap_or(action.timeout);
        if let Some(end) = deadline_at {
            timeout = timeout.min(end.saturating_duration_since(started));
        }
        let ctx = ActionContext::new(ContextParts {
            tenant_id: request.tenant_id.to_string(),
            bot_id: request.bot_id.map(|b| b.to_string()),
            plugin_id: request.plugin_id.clone(),
            action: request.action.clone(),
            attempt,
            idempotency_key: request.idempotency_key.clone(),
            run_id: request.run_id.clone(),
            step_id: request.step_id.clone(),
            base_url: plugin.base_url.clone(),
            http: plugin.client_for(&settings.values),
            settings: settings.values.clone(),
        });
        let handler = action.handler.clone();
        let input = request.input.clone();
        let span = tracing::info_span!(
            "plugin call",
            otel.name = %format_args!("{} {}", request.plugin_id, request.action),
            plugin.id = %request.plugin_id,
            plugin.action = %request.action,
            attempt,
        );
        let task = tokio::spawn(async move { handler(ctx, input).await }.instrument(span));
        // If this call is dropped (the client went away), the action's task goes with it.
        let _abort = AbortOnDrop(task.abort_handle());
        let result = match tokio::time::timeout(timeout, task).await {
            Err(_) => Err(InvokeError::TimedOut(timeout)),
            Ok(Err(join)) if join.is_panic() => Err(InvokeError::Panicked(panic_message(join.into_panic()))),
            Ok(Err(_)) => Err(InvokeError::Panicked("the action's task was cancelled".into())),
            Ok(Ok(Err(e))) => Err(InvokeError::Action(e)),
            Ok(Ok(Ok(output))) => {
                let bytes = serde_json::to_vec(&output).map(|v| v.len()).unwrap_or(usize::MAX);
                if bytes > self.limits.max_output_bytes {
                    Err(InvokeError::OutputTooLarge { bytes, limit: self.limits.max_output_bytes })
                } else {
                    Ok(settings.redactor.json(output))
                }
            }
        };
        let result = result.map_err(|e| match e {
            InvokeError::Action(a) => InvokeError::Action(a.map_message(|m| settings.redactor.text(m))),
            InvokeError::Panicked(m) => InvokeError::Panicked(settings.redactor.text(&m)),
            other => other,
        });
        self.audit(request, attempt, started, result.as_ref(), deferred).await;
        result
    }

    /// Writes the attempt's audit row, or holds it in `deferred` when the request asks.
    async fn audit(
        &self,
        request: &InvokeRequest,
        attempt: u32,
        started: Instant,
        result: Result<&Value, &InvokeError>,
        deferred: &Deferred,
    ) {
        let (outcome, error, details) = match result {
            // A connection test reports a refused connection in its output, not as an error.
            Ok(output) if request.kind == "test_connection" && output.get("ok") == Some(&Value::Bool(false)) => {
                let message = output.get("message").and_then(Value::as_str).map(str::to_string);
                (audit::CONNECTION_FAILED.to_string(), message, None)
            }
            Ok(_) => ("success".to_string(), None, None),
            Err(e) => {
                let details = e.retry_after().map(|d| json!({"retryAfterMs": d.as_millis() as u64}));
                (e.outcome().to_string(), Some(e.to_string()), details)
            }
        };
        let entry = NewAuditEntry {
            tenant_id: request.tenant_id,
            kind: request.kind.to_string(),
            plugin_id: Some(request.plugin_id.clone()),
            action: Some(request.action.clone()),
            run_id: request.run_id.clone(),
            step_id: request.step_id.clone(),
            attempt,
            outcome: outcome.clone(),
            duration_ms: started.elapsed().as_millis() as u64,
            error: error.clone(),
            details,
        };
        let tenant = request.tenant_id.to_string();
        self.metrics.attempt(&tenant, request.kind, &request.plugin_id, &request.action, &outcome, started.elapsed());
        tracing::info!(
            tenant.id = %request.tenant_id,
            plugin.id = %request.plugin_id,
            action = %request.action,
            attempt,
            outcome = %outcome,
            error = error.as_deref().unwrap_or(""),
            "Plugin action attempt finished."
        );
        if request.defer_audit {
            deferred.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(entry);
            return;
        }
        if let Err(e) = audit::append(&self.db, entry).await {
            tracing::error!(plugin.id = %request.plugin_id, action = %request.action, error = %e, "Could not write the audit row.");
        }
    }
}
