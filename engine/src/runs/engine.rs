//! [`RunEngine`]: start, advance, execute, cancel, retry, rerun, reconcile.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bacon_plugin_sdk::RetryPolicy;
use chrono::Utc;
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction};
use serde_json::{Value, json};

use super::graphs::GraphCache;
use super::plan::{self, Outcome, Plan, StepState};
use super::queue::ActionRuntime;
use super::resume::ResumeLinks;
use super::status::{RunStatus, StepStatus};
use crate::StoreError;
use crate::database::begin_write;
use crate::enrich::{self, EnrichRequest};
use crate::flows::graph::{AiContextConfig, FlowGraph, NodeKind};
use crate::flows::template::{self, TemplateLimits};
use crate::ids::{BotId, FlowId, RunId, TenantId};
use crate::limits::TenantLimiter;
use crate::metrics::WorkMetrics;
use crate::plugins::registry::{InvokeError, InvokeRequest, RetryMode};
use crate::runs::slots::{self, Claim};
use crate::runs::status::RunTrigger;
use crate::store::audit::{self, NewAuditEntry};
use crate::store::runs::{self, NewRun, Run, Step};
use crate::store::{self};
use crate::work::item::TOP_PRIORITY;
use crate::work::queue::{CommitError, QueueError, commit};
use crate::work::{Job, JobQueue, WorkItem, WorkKind, outcome};

/// How long a claimed step may run before the reconciler considers its worker dead, by default.
pub const DEFAULT_LEASE_SECS: u64 = 300;

/// Errors of run operations.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the flow version's graph is not valid: {0}")]
    BadGraph(String),
    #[error("could not enqueue step jobs: {0}")]
    Queue(QueueError),
    #[error("the run is {status}; only a {expected} run can be {action}")]
    WrongState { status: RunStatus, expected: RunStatus, action: &'static str },
    /// The run has no open wait for this event.
    #[error("the run is not waiting for the event `{0}`")]
    NotWaiting(String),
    /// The tenant starts runs faster than its limit; a start after `retry_after` is admitted.
    #[error("the tenant starts runs faster than its limit allows; try again in {} ms", retry_after.as_millis())]
    TooManyStarts { retry_after: Duration },
}

impl RunError {
    /// Whether the same call may succeed in a moment: the database was busy or unreachable, or
    /// the jobs (written to the same database) could not be pushed.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Store(e) => e.is_unavailable(),
            Self::Queue(_) => true,
            Self::BadGraph(_) | Self::WrongState { .. } | Self::NotWaiting(_) | Self::TooManyStarts { .. } => false,
        }
    }
}

impl From<CommitError> for RunError {
    fn from(e: CommitError) -> Self {
        match e {
            CommitError::Store(s) => Self::Store(s),
            CommitError::Queue(q) => Self::Queue(q),
        }
    }
}

/// The operations on runs. Cheap to clone.
#[derive(Clone)]
pub struct RunEngine {
    db: DatabaseConnection,
    runtime: Arc<dyn ActionRuntime>,
    queue: Arc<dyn JobQueue>,
    /// Must exceed the longest action timeout: a live worker's step is never taken from it.
    lease: Duration,
    /// Parsed graphs of the flow versions runs use.
    graphs: GraphCache,
    /// What templates and the values they render may hold.
    limits: TemplateLimits,
    metrics: Arc<WorkMetrics>,
    /// Runs a tenant may start a second; `None`: any number.
    tenant_limits: Option<Arc<TenantLimiter>>,
    /// Signs approval waits' resume links; `None`: no links (approval waits resume by event).
    resume_links: Option<ResumeLinks>,
}

/// What started a run: how, and the event it starts from (a delivery, a schedule tick), which
/// templates see as `trigger`.
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    pub kind: RunTrigger,
    pub event: Option<Value>,
}

impl Started {
    /// Through the API, with no event.
    pub fn manual() -> Self {
        Self { kind: RunTrigger::Manual, event: None }
    }

    /// Through the API, again from an earlier run's event (a rerun).
    pub fn manual_with(event: Option<Value>) -> Self {
        Self { kind: RunTrigger::Manual, event }
    }

    /// By a trigger's event.
    pub fn by(kind: RunTrigger, event: Value) -> Self {
        Self { kind, event: Some(event) }
    }
}

/// Replays the run's graph against its steps (linear in the graph).
fn plan_of(graph: &FlowGraph, run: &Run, steps: &[Step], limits: &TemplateLimits) -> Plan {
    let states: HashMap<String, StepState> = steps.iter().map(|s| (s.node_id.clone(), step_state(s))).collect();
    plan::plan(graph, &run.input, run.trigger.as_ref().unwrap_or(&Value::Null), &states, limits)
}

/// The context `step_node_id`'s step is rendered against (a `map` item's own, for its steps).
pub(super) fn context_of(
    graph: &FlowGraph,
    run: &Run,
    steps: &[Step],
    limits: &TemplateLimits,
    step_node_id: &str,
) -> template::Context {
    let states: HashMap<String, StepState> = steps.iter().map(|s| (s.node_id.clone(), step_state(s))).collect();
    let trigger = run.trigger.as_ref().unwrap_or(&Value::Null);
    plan::context_for(graph, &run.input, trigger, &states, limits, step_node_id)
}

/// When a run starting now must end by, if its flow has a run timeout.
pub(super) fn deadline_for(graph: &FlowGraph) -> Option<chrono::DateTime<Utc>> {
    graph.timeout_ms.map(|ms| Utc::now() + chrono::Duration::milliseconds(ms as i64))
}

/// The job of a run's deadline, when it has one and is still going.
pub(super) fn deadline_of(run: &Run) -> Result<Option<Job>, StoreError> {
    match run.deadline_at {
        Some(at) if run.status == RunStatus::Running => {
            Ok(Some(Job::for_the_rest(WorkItem::run_deadline(&run.id)?, at)))
        }
        _ => Ok(None),
    }
}

fn step_state(step: &Step) -> StepState {
    match step.status {
        StepStatus::Succeeded => StepState::Succeeded(step.output.clone().unwrap_or(Value::Null)),
        StepStatus::Failed | StepStatus::Cancelled => {
            StepState::Failed(step.error.clone().unwrap_or_else(|| json!({"message": "the step was cancelled"})))
        }
        _ => StepState::InFlight,
    }
}

/// Publishes `run.succeeded` / `run.failed` / `run.cancelled` (the run's status) to REST-hook
/// subscribers, in the run's transaction; returns the deliveries' jobs.
pub(super) async fn publish_run_end(txn: &DatabaseTransaction, run: &Run) -> Result<Vec<Job>, StoreError> {
    let data = json!({
        "runId": run.id,
        "flowId": run.flow_id,
        "flowVersion": run.flow_version,
        "status": run.status,
        "error": run.error,
        "startedAt": run.started_at,
        "finishedAt": run.finished_at,
    });
    let deliveries = store::rest_hooks::publish(txn, &run.tenant_id, &format!("run.{}", run.status), data).await?;
    deliveries.iter().map(|id| WorkItem::rest_hook_delivery(id).map(Job::now)).collect()
}

impl RunEngine {
    pub fn new(db: DatabaseConnection, runtime: Arc<dyn ActionRuntime>, queue: Arc<dyn JobQueue>) -> Self {
        Self {
            db,
            runtime,
            queue,
            lease: Duration::from_secs(DEFAULT_LEASE_SECS),
            graphs: GraphCache::default(),
            limits: TemplateLimits::default(),
            metrics: Arc::default(),
            tenant_limits: None,
            resume_links: None,
        }
    }

    /// Signs approval waits' resume links with `links`.
    pub fn with_resume_links(mut self, links: ResumeLinks) -> Self {
        self.resume_links = Some(links);
        self
    }

    pub fn resume_links(&self) -> Option<&ResumeLinks> {
        self.resume_links.as_ref()
    }

    /// Holds each tenant to its run start rate (`limits`): a start past it is
    /// [`RunError::TooManyStarts`].
    pub fn with_tenant_limits(mut self, limits: Arc<TenantLimiter>) -> Self {
        self.tenant_limits = Some(limits);
        self
    }

    /// What this engine records runs, queue waits and takeovers into.
    pub fn metrics(&self) -> &Arc<WorkMetrics> {
        &self.metrics
    }

    /// What templates and the values they render may hold.
    pub fn template_limits(&self) -> &TemplateLimits {
        &self.limits
    }

    pub fn tenant_limits(&self) -> Option<&Arc<TenantLimiter>> {
        self.tenant_limits.as_ref()
    }

    /// Records runs, queue waits and takeovers into `metrics` (the server's).
    pub fn with_metrics(mut self, metrics: Arc<WorkMetrics>) -> Self {
        self.metrics = metrics;
        self
    }

    /// Sets what templates and the values they render may hold.
    pub fn with_template_limits(mut self, limits: TemplateLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets how long a claimed step may run before the reconciler hands it to another worker.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// How long a claimed item may run before the reconciler hands it to another worker.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    /// The job queue every kind of background work goes to.
    pub fn queue(&self) -> Arc<dyn JobQueue> {
        self.queue.clone()
    }

    /// The queue's in-process "jobs pushed" signal (see [`JobQueue::pushed`]).
    pub fn jobs_pushed(&self) -> Option<Arc<tokio::sync::Notify>> {
        self.queue.pushed()
    }

    /// The graph of the run's flow version: from the cache, else read once and cached.
    pub(super) async fn graph_of(&self, db: &impl ConnectionTrait, run: &Run) -> Result<Arc<FlowGraph>, RunError> {
        if let Some(graph) = self.graphs.get(&run.flow_id, run.flow_version) {
            return Ok(graph);
        }
        let tenant: TenantId = run.tenant_id.parse().map_err(|_| StoreError::not_found("tenant", &run.tenant_id))?;
        let flow: FlowId = run.flow_id.parse().map_err(|_| StoreError::not_found("flow", &run.flow_id))?;
        self.graph_at(db, tenant, flow, run.flow_version).await
    }

    /// The graph of `flow` at `version`: from the cache, else read once, indexed and cached (so
    /// a version's [`GraphIndex`](crate::flows::graph::GraphIndex) is built once per process).
    pub(super) async fn graph_at(
        &self,
        db: &impl ConnectionTrait,
        tenant: TenantId,
        flow: FlowId,
        version: i32,
    ) -> Result<Arc<FlowGraph>, RunError> {
        let key = flow.to_string();
        if let Some(graph) = self.graphs.get(&key, version) {
            return Ok(graph);
        }
        // The pinned version, even of a flow deleted since: a run finishes on the version it
        // started on (README: "Deleting a flow").
        let stored = store::flows::pinned_version(db, tenant, flow, version).await?;
        let graph: FlowGraph = serde_json::from_value(stored.graph).map_err(|e| RunError::BadGraph(e.to_string()))?;
        graph.index();
        let graph = Arc::new(graph);
        self.graphs.insert(&key, version, graph.clone());
        Ok(graph)
    }

    /// The bot the run started with, if any (settings are resolved for it): a later change of
    /// the flow's bot does not move a running run to other credentials.
    pub(super) fn bot_of(run: &Run) -> Option<BotId> {
        run.bot_id.as_deref()?.parse().ok()
    }

    pub(super) async fn begin(&self) -> Result<DatabaseTransaction, RunError> {
        Ok(begin_write(&self.db).await.map_err(StoreError::from)?)
    }

    /// Pushes `jobs` inside `txn` (DESIGN.md §4: the next steps' jobs commit with the
    /// outcome), commits, and wakes this process's workers.
    pub(super) async fn commit_with(&self, txn: DatabaseTransaction, jobs: Vec<Job>) -> Result<(), RunError> {
        Ok(commit(self.queue.as_ref(), txn, jobs).await?)
    }

    pub(super) async fn enqueue(&self, jobs: Vec<Job>) -> Result<(), RunError> {
        if jobs.is_empty() {
            return Ok(());
        }
        self.queue.enqueue(jobs).await.map_err(RunError::Queue)
    }

    /// Starts a run of `flow` on `version` (default: current), `started` as it says. The same
    /// idempotency key returns the same run (`false` = not created now).
    ///
    /// # Errors
    /// Store, graph or queue failures.
    pub async fn start(
        &self,
        tenant: TenantId,
        flow: FlowId,
        version: Option<i32>,
        input: Value,
        started: Started,
        idempotency_key: Option<String>,
    ) -> Result<(Run, bool), RunError> {
        let Started { kind: started_by, event: trigger } = started;
        let head = store::flows::head(&self.db, tenant, flow).await?;
        let version = match version {
            Some(v) if v == head.version => v,
            Some(v) => store::flows::get_version(&self.db, tenant, flow, v).await?.version,
            None => head.version,
        };
        if let Some(key) = &idempotency_key
            && let Some(existing) = runs::find_by_idempotency_key(&self.db, tenant, flow, key).await?
        {
            return Ok((existing, false));
        }
        if let Some(limits) = &self.tenant_limits
            && let Err(retry_after) = limits.admit_run_start(tenant).await?
        {
            return Err(RunError::TooManyStarts { retry_after });
        }
        // A new run has no steps: its first plan is made before the write transaction begins, so
        // planning a large graph never holds the database's write lock.
        let graph = self.graph_at(&self.db, tenant, flow, version).await?;
        let plan = plan::plan(&graph, &input, trigger.as_ref().unwrap_or(&Value::Null), &HashMap::new(), &self.limits);
        // The run and its first steps commit together.
        let txn = self.begin().await?;
        let new = NewRun {
            tenant_id: tenant,
            flow_id: flow,
            flow_version: version,
            bot_id: head.bot_id.clone(),
            idempotency_key,
            input,
            trigger,
            trigger_kind: started_by,
            parent: None,
            deadline_at: deadline_for(&graph),
        };
        let key = new.idempotency_key.clone();
        let run = match runs::insert(&txn, new).await {
            Ok(run) => run,
            Err(StoreError::Conflict { .. }) if key.is_some() => {
                // Another request with the same key won the race.
                txn.rollback().await.map_err(StoreError::from)?;
                let key = key.unwrap_or_default();
                let existing = runs::find_by_idempotency_key(&self.db, tenant, flow, &key).await?;
                return Ok((existing.ok_or_else(|| StoreError::not_found("run", key))?, false));
            }
            Err(e) => return Err(e.into()),
        };
        // Nobody else sees the run before the commit: no lock needed.
        let (mut jobs, run) = self.apply_plan(&txn, run, &graph, plan).await?;
        jobs.extend(deadline_of(&run)?);
        self.commit_with(txn, jobs).await?;
        self.metrics.run_started(&run.tenant_id);
        tracing::info!(tenant.id = %tenant, flow.id = %flow, run.id = %run.id, version, "Run started.");
        Ok((run, true))
    }

    /// Replays the run's graph: creates and enqueues the steps that are now ready, and finishes
    /// the run when nothing is left in flight.
    ///
    /// # Errors
    /// Store, graph or queue failures.
    pub async fn advance(&self, run_id: &str) -> Result<(), RunError> {
        // Read (and cache) the graph before taking the write lock.
        self.graph_of(&self.db, &runs::get_any(&self.db, run_id).await?).await?;
        let txn = self.begin().await?;
        let run = runs::lock_run(&txn, run_id).await?;
        let (jobs, _) = self.advance_in(&txn, run).await?;
        self.commit_with(txn, jobs).await
    }

    /// [`RunEngine::advance`] inside `txn`, on a run the caller has locked (or just created):
    /// inserts the ready steps and returns their jobs, to be enqueued once `txn` has committed
    /// (the reconciler covers a crash between the commit and the enqueue), and the run as it
    /// now stands.
    ///
    /// The plan is made inside `txn`, so the steps it reads cannot change under it; it is linear
    /// in the graph, and callers have the graph cached already, so the lock is held briefly.
    pub(super) async fn advance_in(&self, txn: &DatabaseTransaction, run: Run) -> Result<(Vec<Job>, Run), RunError> {
        if run.status != RunStatus::Running {
            return Ok((Vec::new(), run));
        }
        let graph = self.graph_of(txn, &run).await?;
        let steps = runs::steps_of(txn, &run.id).await?;
        let plan = plan_of(&graph, &run, &steps, &self.limits);
        self.apply_plan(txn, run, &graph, plan).await
    }

    /// Writes `plan` inside `txn`: inserts its new steps (returning their jobs) and ends the run
    /// when the plan says it is over.
    pub(super) async fn apply_plan(
        &self,
        txn: &DatabaseTransaction,
        mut run: Run,
        graph: &FlowGraph,
        plan: Plan,
    ) -> Result<(Vec<Job>, Run), RunError> {
        if run.status != RunStatus::Running {
            return Ok((Vec::new(), run));
        }
        let mut jobs = Vec::new();
        // Fair shares: the more runs a tenant has going, the lower its steps' priority, so one
        // tenant's backlog never holds back another tenant's run.
        let priority = if plan.new_steps.is_empty() {
            TOP_PRIORITY
        } else {
            let going = runs::running_count(txn, &run.tenant_id, TOP_PRIORITY as u64).await?;
            TOP_PRIORITY + 1 - going as i32
        };
        for new in &plan.new_steps {
            let (max_attempts, delay) = match graph.step_node(&new.node_id).map(|n| &n.kind) {
                Some(NodeKind::PluginAction(a)) => (self.policy_for(a).max_attempts() as i32, Duration::ZERO),
                _ => (1, Duration::from_millis(new.delay_ms)),
            };
            let due = (!delay.is_zero()).then(|| Utc::now() + chrono::Duration::milliseconds(delay.as_millis() as i64));
            if let Some(step) = runs::insert_step(txn, &run, &new.node_id, new.node_type, max_attempts, due).await? {
                jobs.push(Job::after(WorkItem::step(&run.id, &step.id)?, delay).with_priority(priority));
            }
        }
        if let Some(response) = &plan.response
            && run.response.is_none()
            && runs::set_response(txn, &run.id, response).await?
        {
            run.response = Some(response.clone());
        }
        let vars = Value::Object(plan.context.into_vars());
        let (status, error) = match plan.outcome {
            Outcome::Waiting => return Ok((jobs, run)),
            Outcome::Succeeded => (RunStatus::Succeeded, None),
            Outcome::Failed(error) => (RunStatus::Failed, Some(error)),
        };
        if runs::end_run(txn, &mut run, status, vars, error).await? {
            self.metrics.run_finished(&run.tenant_id, status.as_str());
            tracing::info!(run.id = %run.id, "Run {status}.");
            jobs.extend(self.after_end(txn, &run).await?);
        }
        Ok((jobs, run))
    }

    /// Finishes a step that ran no action (a delay, a broken node) and advances the run, in one
    /// transaction.
    pub(super) async fn finish_without_action(
        &self,
        step: &Step,
        status: StepStatus,
        output: Option<Value>,
        error: Option<Value>,
    ) -> Result<(), RunError> {
        outcome::record("step", &step.id, || async {
            let txn = self.begin().await?;
            let run = runs::lock_run(&txn, &step.run_id).await?;
            if !runs::finish_step(&txn, step, status, None, output.clone(), error.clone(), None).await? {
                txn.rollback().await.map_err(StoreError::from)?;
                return Ok(());
            }
            let (jobs, _) = self.advance_in(&txn, run).await?;
            self.commit_with(txn, jobs).await
        })
        .await
    }

    fn policy_for(&self, action: &crate::flows::graph::PluginActionConfig) -> RetryPolicy {
        action
            .retry
            .clone()
            .or_else(|| self.runtime.retry_policy(&action.plugin_id, &action.action_name))
            .unwrap_or_default()
    }

    /// Executes one attempt of a step (called by a worker for each job). A duplicate or late
    /// job finds the step not claimable and does nothing.
    ///
    /// # Errors
    /// Store or queue failures (the job may then be retried by the queue).
    pub async fn execute_step(&self, run_id: &str, step_id: &str) -> Result<(), RunError> {
        let run = runs::get_any(&self.db, run_id).await?;
        if run.status != RunStatus::Running {
            return Ok(());
        }
        let cap = match &self.tenant_limits {
            Some(limits) => {
                let tenant: TenantId =
                    run.tenant_id.parse().map_err(|_| StoreError::not_found("tenant", &run.tenant_id))?;
                limits.concurrent_steps(tenant).await?
            }
            None => None,
        };
        let lease = chrono::Duration::milliseconds(self.lease.as_millis() as i64);
        let claimed = match cap {
            None => runs::claim_step(&self.db, step_id, lease).await?,
            Some(cap) => match slots::claim_within(&self.db, &run.tenant_id, step_id, lease, cap).await? {
                Claim::Claimed(step) => Some(*step),
                Claim::NotClaimable => None,
                Claim::Parked => return Ok(()),
            },
        };
        let Some(step) = claimed else {
            let Some(waiting) = runs::get_step(&self.db, step_id).await? else { return Ok(()) };
            if waiting.status == StepStatus::Waiting {
                // A suspended step's job: its child run ended, or its timeout is due.
                return self.wake(&run, &waiting).await;
            }
            // A job may come a little before its step is due: a step that is still waiting gets
            // a new job for the rest of its wait (never a sleeping worker).
            if matches!(waiting.status, StepStatus::Pending | StepStatus::Retrying)
                && let Some(due) = waiting.next_attempt_at
            {
                self.enqueue(vec![Job::for_the_rest(WorkItem::step(run_id, step_id)?, due)]).await?;
            }
            return Ok(());
        };
        let tenant = run.tenant_id.clone();
        let result = self.execute_claimed(run, step).await;
        if let Some(cap) = cap {
            // Whatever the attempt came to, its slot is free: the longest-parked step takes it.
            slots::unpark(&self.db, self.queue.as_ref(), &tenant, Some(cap)).await?;
        }
        result
    }

    /// Executes the attempt of a claimed step and records its outcome.
    async fn execute_claimed(&self, run: Run, step: Step) -> Result<(), RunError> {
        let run_id = run.id.clone();
        let run_id = run_id.as_str();
        let due = step.next_attempt_at.unwrap_or(step.created_at);
        self.metrics.waited("step", (step.started_at.unwrap_or_else(Utc::now) - due).to_std().unwrap_or_default());
        let graph = self.graph_of(&self.db, &run).await?;
        let Some(node) = graph.step_node(&step.node_id).cloned() else {
            let error = json!({"message": format!("node `{}` is not in the flow version", step.node_id)});
            return self.finish_without_action(&step, StepStatus::Failed, None, Some(error)).await;
        };
        let action = match &node.kind {
            NodeKind::AiContext(config) => return self.execute_ai_context(&run, &step, &graph, config).await,
            NodeKind::Subflow(config) => return self.start_subflow(&run, &step, &graph, config).await,
            NodeKind::Wait(config) => return self.start_wait(&run, &step, &graph, config).await,
            NodeKind::PluginAction(action) => action,
            // A delay: its wait is over once it is claimed.
            _ => return self.finish_without_action(&step, StepStatus::Succeeded, Some(json!({})), None).await,
        };
        // The run's vars are stored when it ends: replay the plan for the context so far (the
        // vars, and the outputs of every node done, inline or not).
        let steps = runs::steps_of(&self.db, run_id).await?;
        let mut context = context_of(&graph, &run, &steps, &self.limits, &step.node_id);
        if let Some(links) = &self.resume_links {
            context.set_resume(links.for_run(graph.clone(), &run));
        }
        let payload = match template::render_in(&action.payload, &context, &self.limits, self.limits.step_input_cap()) {
            Ok(p) => p,
            Err(e) => {
                let error =
                    json!({"kind": "template", "node": step.node_id, "pointer": e.pointer, "message": e.message});
                return self.finish_without_action(&step, StepStatus::Failed, None, Some(error)).await;
            }
        };
        let tenant: TenantId = run.tenant_id.parse().map_err(|_| StoreError::not_found("tenant", &run.tenant_id))?;
        let bot = Self::bot_of(&run);
        let attempt = step.attempt.max(1) as u32;
        let outcome = self
            .runtime
            .invoke_action(InvokeRequest {
                tenant_id: tenant,
                bot_id: bot,
                plugin_id: action.plugin_id.clone(),
                action: action.action_name.clone(),
                input: payload.clone(),
                run_id: Some(run.id.clone()),
                step_id: Some(step.id.clone()),
                idempotency_key: Some(format!("{}:{}", run.id, step.id)),
                retry: RetryMode::SingleAttempt { attempt },
                timeout: action.timeout_ms.map(Duration::from_millis),
                deadline: None,
                kind: "flow_step",
                defer_audit: true,
            })
            .await;
        let audit_rows = outcome.deferred_audit;
        let recorded = outcome::record("step", &step.id, || {
            self.record_outcome(&run, &step, action, &payload, &outcome.result, &audit_rows)
        })
        .await;
        match recorded {
            Ok(()) => Ok(()),
            Err(e) => {
                // The database stayed away past our patience: the step stays `running` until its
                // lease ends and the reconciler runs it again. Keep the attempt's audit trail.
                for row in audit_rows {
                    if let Err(audit_error) = audit::append(&self.db, row).await {
                        tracing::error!(run.id = %run.id, error = %audit_error, "Could not write the audit row.");
                    }
                }
                Err(e)
            }
        }
    }

    /// Runs an `ai_context` step: the tenant's (or the flow's bot's) enrichers on the conversation
    /// found in the run (see [`enrich::conversation_from`]); the outcome, with its audit row,
    /// the step's end and the run's next steps, commits in one transaction. Skipped enrichers do
    /// not fail the step.
    async fn execute_ai_context(
        &self,
        run: &Run,
        step: &Step,
        graph: &FlowGraph,
        config: &AiContextConfig,
    ) -> Result<(), RunError> {
        let tenant: TenantId = run.tenant_id.parse().map_err(|_| StoreError::not_found("tenant", &run.tenant_id))?;
        let bot = Self::bot_of(run);
        // The run's vars are stored when it ends: replay the plan for the current ones.
        let steps = runs::steps_of(&self.db, &run.id).await?;
        let plan = plan_of(graph, run, &steps, &self.limits);
        let context = json!({"trigger": run.trigger, "input": run.input, "vars": plan.vars()});
        let request = EnrichRequest {
            max_tokens: config.max_tokens.unwrap_or(enrich::DEFAULT_MAX_TOKENS).min(enrich::MAX_MAX_TOKENS),
            timeout: config
                .timeout_ms
                .map_or(enrich::DEFAULT_TIMEOUT, Duration::from_millis)
                .clamp(Duration::from_millis(1), enrich::MAX_TIMEOUT),
            run_id: Some(run.id.clone()),
            step_id: Some(step.id.clone()),
            defer_audit: true,
            ..EnrichRequest::new(tenant, bot, enrich::conversation_from(&context))
        };
        let input = request.describe();
        let outcome = self.runtime.enrich_context(request).await?;
        let output = outcome.to_json();
        outcome::record("step", &step.id, || async {
            let txn = self.begin().await?;
            let locked = runs::lock_run(&txn, &run.id).await?;
            for row in &outcome.deferred_audit {
                audit::append(&txn, row.clone()).await?;
            }
            if !runs::finish_step(
                &txn,
                step,
                StepStatus::Succeeded,
                Some(input.clone()),
                Some(output.clone()),
                None,
                None,
            )
            .await?
            {
                return Self::no_longer_claimed(txn, run, step).await;
            }
            let (jobs, _) = self.advance_in(&txn, locked).await?;
            self.commit_with(txn, jobs).await
        })
        .await?;
        tracing::info!(
            run.id = %run.id,
            step.id = %step.id,
            snippets = outcome.snippets.len(),
            skipped = outcome.skipped.len(),
            "AI context collected."
        );
        Ok(())
    }

    /// Records an attempt in one transaction: its audit rows, the step's outcome, and (when the
    /// step is done) the run's next steps, with their jobs, or its end.
    async fn record_outcome(
        &self,
        run: &Run,
        step: &Step,
        action: &crate::flows::graph::PluginActionConfig,
        payload: &Value,
        result: &Result<Value, InvokeError>,
        audit_rows: &[NewAuditEntry],
    ) -> Result<(), RunError> {
        let run_id = run.id.as_str();
        let attempt = step.attempt.max(1) as u32;
        let payload = Some(payload.clone());
        let txn = self.begin().await?;
        let locked = runs::lock_run(&txn, run_id).await?;
        for row in audit_rows {
            audit::append(&txn, row.clone()).await?;
        }
        let jobs = match result {
            Ok(output) => {
                if !runs::finish_step(&txn, step, StepStatus::Succeeded, payload, Some(output.clone()), None, None)
                    .await?
                {
                    return Self::no_longer_claimed(txn, run, step).await;
                }
                tracing::info!(run.id = %run.id, step.id = %step.id, attempt, "Step succeeded.");
                self.advance_in(&txn, locked).await?.0
            }
            Err(err) => {
                let error = json!({"kind": err.outcome(), "message": err.to_string()});
                let policy = self.policy_for(action);
                if err.is_retryable() && attempt < policy.max_attempts() {
                    let delay = policy.delay(attempt, err.retry_after());
                    let due = Utc::now() + chrono::Duration::milliseconds(delay.as_millis() as i64);
                    if !runs::finish_step(&txn, step, StepStatus::Retrying, payload, None, Some(error), Some(due))
                        .await?
                    {
                        return Self::no_longer_claimed(txn, run, step).await;
                    }
                    tracing::info!(run.id = %run.id, step.id = %step.id, attempt, delay_ms = delay.as_millis() as u64, "Step will be retried.");
                    vec![Job::after(WorkItem::step(&run.id, &step.id)?, delay)]
                } else {
                    if !runs::finish_step(&txn, step, StepStatus::Failed, payload, None, Some(error), None).await? {
                        return Self::no_longer_claimed(txn, run, step).await;
                    }
                    tracing::info!(run.id = %run.id, step.id = %step.id, attempt, "Step failed.");
                    self.advance_in(&txn, locked).await?.0
                }
            }
        };
        self.commit_with(txn, jobs).await
    }

    /// The step is no longer ours: an earlier try of this commit landed though it reported an
    /// error, or the reconciler took the step over after its lease (and audited this attempt as
    /// lost). Nothing to record.
    async fn no_longer_claimed(txn: DatabaseTransaction, run: &Run, step: &Step) -> Result<(), RunError> {
        txn.rollback().await.map_err(StoreError::from)?;
        tracing::info!(run.id = %run.id, step.id = %step.id, "The step's outcome was already recorded or its lease taken over.");
        Ok(())
    }

    /// Cancels a running run, its waits and its child runs (and theirs), in one transaction,
    /// and publishes `run.cancelled` to REST-hook subscribers in it (as a run's end publishes
    /// `run.succeeded` / `run.failed`). Its steps' future attempts do not run: a step running
    /// now finishes its attempt, and nothing comes after it.
    ///
    /// # Errors
    /// `WrongState` when it is not running.
    pub async fn cancel(&self, tenant: TenantId, run: RunId) -> Result<Run, RunError> {
        let current = runs::get(&self.db, tenant, run).await?;
        let txn = self.begin().await?;
        let Some((cancelled, jobs)) = self.cancel_in(&txn, &current.id).await? else {
            txn.rollback().await.map_err(StoreError::from)?;
            let status = runs::get(&self.db, tenant, run).await?.status;
            return Err(RunError::WrongState { status, expected: RunStatus::Running, action: "cancelled" });
        };
        self.commit_with(txn, jobs).await?;
        Ok(cancelled)
    }

    /// Retries a failed run from its failed steps; steps that succeeded are not run again.
    ///
    /// # Errors
    /// `WrongState` when it has not failed.
    pub async fn retry(&self, tenant: TenantId, run: RunId) -> Result<Run, RunError> {
        let current = runs::get(&self.db, tenant, run).await?;
        // Read (and cache) the graph before taking the write lock.
        let graph = self.graph_of(&self.db, &current).await?;
        let txn = self.begin().await?;
        let mut locked = runs::lock_run(&txn, &current.id).await?;
        if !runs::reopen_run(&txn, &current.id).await? {
            txn.rollback().await.map_err(StoreError::from)?;
            let status = runs::get(&self.db, tenant, run).await?.status;
            return Err(RunError::WrongState { status, expected: RunStatus::Failed, action: "retried" });
        }
        let reset = runs::reset_failed_steps(&txn, &current.id).await?;
        let mut jobs = reset
            .iter()
            .map(|step_id| WorkItem::step(&current.id, step_id).map(Job::now))
            .collect::<Result<Vec<_>, _>>()?;
        locked.status = RunStatus::Running;
        // A retried run has its run timeout again, from now.
        if let Some(at) = deadline_for(&graph) {
            runs::set_deadline(&txn, &locked.id, at).await?;
            locked.deadline_at = Some(at);
            jobs.extend(deadline_of(&locked)?);
        }
        jobs.extend(self.advance_in(&txn, locked).await?.0);
        self.commit_with(txn, jobs).await?;
        Ok(runs::get(&self.db, tenant, run).await?)
    }

    /// Starts a new run with the same input and trigger, on `version` (default: current).
    ///
    /// # Errors
    /// As [`RunEngine::start`].
    pub async fn rerun(&self, tenant: TenantId, run: RunId, version: Option<i32>) -> Result<Run, RunError> {
        let current = runs::get(&self.db, tenant, run).await?;
        let flow: FlowId = current.flow_id.parse().map_err(|_| StoreError::not_found("flow", &current.flow_id))?;
        let (new_run, _) =
            self.start(tenant, flow, version, current.input, Started::manual_with(current.trigger), None).await?;
        Ok(new_run)
    }

    /// Re-enqueues steps a crashed process left behind, and advances runs a crash stopped
    /// between a step's outcome and its next steps. A step whose lease ran out is taken over in
    /// one transaction with the audit row of the attempt its worker lost (outcome `lost`), so
    /// every attempt the system made has a row. Returns how many steps and runs it touched.
    ///
    /// # Errors
    /// Store or queue failures.
    pub async fn reconcile(&self) -> Result<usize, RunError> {
        let orphans = runs::orphaned_steps(&self.db, chrono::Duration::seconds(10), 500).await?;
        // A step long past due may only be waiting behind a backlog: its job is still queued.
        let waiting = orphans.iter().filter(|s| s.status != StepStatus::Running).map(|s| s.id.clone()).collect();
        let queued = self.queue.queued(WorkKind::Step, waiting).await.unwrap_or_else(|e| {
            // Re-enqueue them all rather than skip the pass: a duplicate job finds its step claimed.
            tracing::warn!(error = %e, "Could not read the queue; past-due steps are enqueued again.");
            std::collections::HashSet::new()
        });
        let mut count = 0;
        for step in orphans {
            if queued.contains(&step.id) {
                continue;
            }
            let job = Job::now(WorkItem::step(&step.run_id, &step.id)?);
            if step.status == StepStatus::Running {
                if self.take_over(&step, job).await? {
                    count += 1;
                }
                continue;
            }
            self.enqueue(vec![job]).await?;
            count += 1;
        }
        if count > 0 {
            tracing::info!(steps = count, "Reconciler re-enqueued orphaned steps.");
        }
        count += self.unpark_left_parked().await?;
        for run_id in runs::past_deadline(&self.db, chrono::Duration::seconds(5), 500).await? {
            tracing::info!(run.id = %run_id, "Reconciler ends a run past its deadline.");
            self.run_deadline(&run_id).await?;
            count += 1;
        }
        for step in runs::waiting_on_ended_children(&self.db, chrono::Duration::seconds(10), 500).await? {
            tracing::info!(run.id = %step.run_id, step.id = %step.id, "Reconciler wakes a subflow step whose child ended.");
            self.enqueue(vec![Job::now(WorkItem::step(&step.run_id, &step.id)?)]).await?;
            count += 1;
        }
        for run_id in runs::stalled_runs(&self.db, chrono::Duration::seconds(10), 500).await? {
            tracing::info!(run.id = %run_id, "Reconciler advances a stalled run.");
            self.advance(&run_id).await?;
            count += 1;
        }
        Ok(count)
    }

    /// Unparks the parked steps of tenants with free slots: a process that stopped between a
    /// step's end and unparking, a cap raised or lifted. Returns how many.
    async fn unpark_left_parked(&self) -> Result<usize, RunError> {
        let mut count = 0;
        for tenant in store::step_slots::tenants_with_parked(&self.db, 1_000).await? {
            let cap = match (&self.tenant_limits, tenant.parse::<TenantId>()) {
                (Some(limits), Ok(id)) => limits.concurrent_steps(id).await?,
                _ => None,
            };
            // One tenant's failure does not hold back the others (nor the rest of the pass).
            match slots::unpark(&self.db, self.queue.as_ref(), &tenant, cap).await {
                Ok(unparked) => count += unparked,
                Err(e) => {
                    tracing::warn!(tenant.id = %tenant, error = %e, "Could not unpark a tenant's steps; will try again.")
                }
            }
        }
        if count > 0 {
            tracing::info!(steps = count, "Reconciler unparked steps under their tenants' caps.");
        }
        Ok(count)
    }

    /// Releases a `running` step whose lease ran out, audits the attempt its worker lost and
    /// enqueues it again, in one transaction. `false` when another process took it first.
    async fn take_over(&self, step: &Step, job: Job) -> Result<bool, RunError> {
        let run = runs::get_any(&self.db, &step.run_id).await?;
        let action = match self.graph_of(&self.db, &run).await {
            Ok(graph) => graph.step_node(&step.node_id).and_then(|n| match &n.kind {
                NodeKind::PluginAction(a) => Some((a.plugin_id.clone(), a.action_name.clone())),
                _ => None,
            }),
            Err(_) => None,
        };
        let tenant: TenantId = run.tenant_id.parse().map_err(|_| StoreError::not_found("tenant", &run.tenant_id))?;
        let txn = self.begin().await?;
        if !runs::release_expired(&txn, &step.id).await? {
            txn.rollback().await.map_err(StoreError::from)?;
            return Ok(false);
        }
        // Only a plugin action calls out: a lost delay or AI-context attempt has nothing to audit
        // beyond the step itself.
        if let Some((plugin_id, action)) = &action {
            let (plugin_id, action) = (plugin_id.clone(), action.clone());
            let started = step.started_at.unwrap_or(step.updated_at);
            audit::append(
                &txn,
                NewAuditEntry {
                    tenant_id: tenant,
                    kind: "flow_step".into(),
                    plugin_id: Some(plugin_id),
                    action: Some(action),
                    run_id: Some(run.id.clone()),
                    step_id: Some(step.id.clone()),
                    attempt: step.attempt.max(1) as u32,
                    outcome: audit::LOST.into(),
                    duration_ms: (Utc::now() - started).num_milliseconds().max(0) as u64,
                    error: Some("the worker running this attempt stopped before recording its outcome (its lease ran out); the step is run again".into()),
                    details: None,
                },
            )
            .await?;
        }
        tracing::warn!(run.id = %run.id, step.id = %step.id, attempt = step.attempt, "A step's worker was lost; the step is run again.");
        self.commit_with(txn, vec![job]).await?;
        self.metrics.took_over("step");
        if let Some((plugin_id, action)) = &action {
            let took = (Utc::now() - step.started_at.unwrap_or(step.updated_at)).to_std().unwrap_or_default();
            self.metrics.attempt(&run.tenant_id, "flow_step", plugin_id, action, audit::LOST, took);
        }
        Ok(true)
    }
}
