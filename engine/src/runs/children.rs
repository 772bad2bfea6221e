//! Child runs and run ends: a `subflow` step starts its child run in the transaction that puts
//! the step into `waiting` (no worker holds it); the child's end enqueues the parent step's job,
//! which takes the child's result. A run's end closes its waits and cancels its running
//! children; a cancel does the same, down the tree, in one transaction.

use std::sync::Arc;

use sea_orm::DatabaseTransaction;
use serde_json::{Value, json};

use super::engine::{RunEngine, RunError, context_of, deadline_for, deadline_of, publish_run_end};
use super::plan;
use super::status::{RunStatus, RunTrigger, StepStatus};
use crate::StoreError;
use crate::flows::graph::{FlowGraph, SubflowConfig};
use crate::flows::template;
use crate::ids::{FlowId, TenantId};
use crate::store;
use crate::store::runs::{self, NewRun, ParentLink, Run, Step};
use crate::work::{Job, WorkItem, outcome};

/// How deep subflows may nest (a flow that starts itself stops there).
pub const MAX_DEPTH: usize = 8;

impl RunEngine {
    /// What follows a run's end, in its transaction: `run.<status>` for REST-hook subscribers,
    /// its open waits closed, its running children cancelled, and its parent's step told.
    pub(super) async fn after_end(&self, txn: &DatabaseTransaction, run: &Run) -> Result<Vec<Job>, RunError> {
        let mut jobs = publish_run_end(txn, run).await?;
        runs::cancel_unfinished_steps(txn, &run.id).await?;
        for child in runs::running_children(txn, &run.id).await? {
            if let Some((_, more)) = self.cancel_in(txn, &child).await? {
                jobs.extend(more);
            }
        }
        if let Some(parent) = &run.parent {
            jobs.push(Job::now(WorkItem::step(&parent.run_id, &parent.step_id)?));
        }
        Ok(jobs)
    }

    /// Cancels a running run and, down the tree, its running children, inside `txn`; returns
    /// the run as cancelled and the jobs to push, or `None` when it was not running.
    pub(super) async fn cancel_in(
        &self,
        txn: &DatabaseTransaction,
        run_id: &str,
    ) -> Result<Option<(Run, Vec<Job>)>, RunError> {
        let mut jobs = Vec::new();
        let mut root = None;
        let mut todo = vec![run_id.to_string()];
        while let Some(id) = todo.pop() {
            if !runs::cancel(txn, &id).await? {
                if root.is_none() {
                    return Ok(None);
                }
                continue;
            }
            let cancelled = runs::get_any(txn, &id).await?;
            jobs.extend(publish_run_end(txn, &cancelled).await?);
            if let Some(parent) = &cancelled.parent {
                // A child cancelled on its own fails its parent's step (a cascaded one finds its
                // parent cancelled already, and the job does nothing).
                jobs.push(Job::now(WorkItem::step(&parent.run_id, &parent.step_id)?));
            }
            self.metrics().run_finished(&cancelled.tenant_id, RunStatus::Cancelled.as_str());
            tracing::info!(run.id = %cancelled.id, "Run cancelled.");
            todo.extend(runs::running_children(txn, &id).await?);
            root.get_or_insert(cancelled);
        }
        Ok(root.map(|run| (run, jobs)))
    }

    /// Runs a claimed `subflow` step: renders the child's input, starts the child run and puts
    /// the step into `waiting`, in one transaction. A flow that is missing or nests too deep
    /// fails the step.
    pub(super) async fn start_subflow(
        &self,
        run: &Run,
        step: &Step,
        graph: &Arc<FlowGraph>,
        config: &SubflowConfig,
    ) -> Result<(), RunError> {
        let fail = |message: String| json!({"kind": "subflow", "node": step.node_id, "message": message});
        let steps = runs::steps_of(self.db(), &run.id).await?;
        let mut context = context_of(graph, run, &steps, self.template_limits(), &step.node_id);
        if let Some(links) = self.resume_links() {
            context.set_resume(links.for_run(graph.clone(), run));
        }
        let limits = self.template_limits();
        let input = match template::render_in(&config.input, &context, limits, limits.step_input_cap()) {
            Ok(input) => input,
            Err(e) => {
                let error =
                    json!({"kind": "template", "node": step.node_id, "pointer": e.pointer, "message": e.message});
                return self.finish_without_action(step, StepStatus::Failed, None, Some(error)).await;
            }
        };
        let Ok(flow) = config.flow_id.parse::<FlowId>() else {
            let error = fail(format!("`{}` is not a flow id", config.flow_id));
            return self.finish_without_action(step, StepStatus::Failed, None, Some(error)).await;
        };
        if self.depth_of(run).await? >= MAX_DEPTH {
            let error = fail(format!("subflows nest at most {MAX_DEPTH} deep"));
            return self.finish_without_action(step, StepStatus::Failed, None, Some(error)).await;
        }
        let started = outcome::record("step", &step.id, || async {
            let txn = self.begin().await?;
            if runs::lock_run(&txn, &run.id).await?.status != RunStatus::Running {
                // Cancelled (or ended) since the step was claimed: no child starts.
                self.cancel_claimed(txn, step).await?;
                return Ok(Some(()));
            }
            // An earlier attempt of this step (whose lease was taken over) may have started a
            // child that still runs; an ended one (the run was retried) gets a successor.
            let (child, jobs) = match runs::latest_child_of_step(&txn, &step.id).await? {
                Some((child, _)) if child.status == RunStatus::Running => (child, Vec::new()),
                latest => match self
                    .start_child(&txn, run, step, flow, config.version, input.clone(), latest.map_or(0, |(_, n)| n))
                    .await
                {
                    Ok(started) => started,
                    Err(RunError::Store(StoreError::NotFound { .. }) | RunError::BadGraph(_)) => {
                        txn.rollback().await.map_err(StoreError::from)?;
                        return Ok(None);
                    }
                    Err(e) => return Err(e),
                },
            };
            let waiting = json!({"childRunId": child.id});
            if !runs::start_waiting(&txn, step, Some(input.clone()), Some(waiting), None).await? {
                txn.rollback().await.map_err(StoreError::from)?;
                return Ok(Some(()));
            }
            self.commit_with(txn, jobs).await?;
            tracing::info!(run.id = %run.id, step.id = %step.id, child.id = %child.id, "A subflow's child run started.");
            Ok(Some(()))
        })
        .await?;
        if started.is_none() {
            let version = config.version.map(|v| format!(" version {v}")).unwrap_or_default();
            let error = fail(format!("flow `{}`{version} does not exist", config.flow_id));
            return self.finish_without_action(step, StepStatus::Failed, Some(input), Some(error)).await;
        }
        Ok(())
    }

    /// A run's timeout job: fails the run, cancelling its unfinished steps, waits and children,
    /// when it is still going past its flow's `timeoutMs`.
    ///
    /// # Errors
    /// Store or queue failures (the job is retried).
    pub async fn run_deadline(&self, run_id: &str) -> Result<(), RunError> {
        let run = runs::get_any(self.db(), run_id).await?;
        if run.status != RunStatus::Running {
            return Ok(());
        }
        let Some(due) = run.deadline_at else { return Ok(()) };
        let ms = self.graph_of(self.db(), &run).await?.timeout_ms.unwrap_or_default();
        if due > chrono::Utc::now() {
            return self.enqueue(vec![Job::for_the_rest(WorkItem::run_deadline(run_id)?, due)]).await;
        }
        outcome::record("run", run_id, || async {
            let txn = self.begin().await?;
            let mut locked = runs::lock_run(&txn, run_id).await?;
            let error = json!({"kind": "timeout", "message": format!("the run passed its timeout of {ms} ms")});
            let vars = locked.vars.clone();
            if !runs::end_run(&txn, &mut locked, RunStatus::Failed, vars, Some(error)).await? {
                txn.rollback().await.map_err(StoreError::from)?;
                return Ok(());
            }
            self.metrics().run_finished(&locked.tenant_id, RunStatus::Failed.as_str());
            tracing::info!(run.id = %run_id, timeout_ms = ms, "Run timed out.");
            let jobs = self.after_end(&txn, &locked).await?;
            self.commit_with(txn, jobs).await
        })
        .await
    }

    /// How many parents `run` has.
    async fn depth_of(&self, run: &Run) -> Result<usize, RunError> {
        let mut depth = 0;
        let mut parent = run.parent.clone();
        while let Some(link) = parent {
            depth += 1;
            if depth >= MAX_DEPTH {
                break;
            }
            parent = runs::get_any(self.db(), &link.run_id).await?.parent;
        }
        Ok(depth)
    }

    /// Inserts and plans the child run of `step` inside `txn` (its `earlier` children have
    /// ended: a retried run); returns it and its jobs.
    #[allow(clippy::too_many_arguments)]
    async fn start_child(
        &self,
        txn: &DatabaseTransaction,
        parent: &Run,
        step: &Step,
        flow: FlowId,
        version: Option<i32>,
        input: Value,
        earlier: u64,
    ) -> Result<(Run, Vec<Job>), RunError> {
        let tenant: TenantId =
            parent.tenant_id.parse().map_err(|_| StoreError::not_found("tenant", &parent.tenant_id))?;
        let head = store::flows::head(txn, tenant, flow).await?;
        let version = match version {
            Some(v) if v == head.version => v,
            Some(v) => store::flows::get_version(txn, tenant, flow, v).await?.version,
            None => head.version,
        };
        let graph = self.graph_at(txn, tenant, flow, version).await?;
        let trigger = json!({"parentRunId": parent.id, "parentNodeId": step.node_id});
        let plan = plan::plan(&graph, &input, &trigger, &Default::default(), self.template_limits());
        let child = runs::insert(
            txn,
            NewRun {
                tenant_id: tenant,
                flow_id: flow,
                flow_version: version,
                bot_id: head.bot_id.clone(),
                idempotency_key: Some(match earlier {
                    0 => format!("subflow:{}", step.id),
                    n => format!("subflow:{}:{n}", step.id),
                }),
                input,
                trigger: Some(trigger),
                trigger_kind: RunTrigger::Subflow,
                deadline_at: deadline_for(&graph),
                parent: Some(ParentLink { run_id: parent.id.clone(), step_id: step.id.clone() }),
            },
        )
        .await?;
        self.metrics().run_started(&child.tenant_id);
        let (mut jobs, child) = self.apply_plan(txn, child, &graph, plan).await?;
        jobs.extend(deadline_of(&child)?);
        Ok((child, jobs))
    }

    /// Cancels a claimed step whose run ended while it was claimed, in `txn`, and commits.
    pub(super) async fn cancel_claimed(&self, txn: DatabaseTransaction, step: &Step) -> Result<(), RunError> {
        runs::finish_step(&txn, step, StepStatus::Cancelled, None, None, None, None).await?;
        self.commit_with(txn, Vec::new()).await
    }

    /// A `subflow` step's job after its child ended: the step takes the child's result
    /// (`{runId, status, vars}`), or fails with its error, and the run goes on.
    pub(super) async fn child_ended(&self, run: &Run, step: &Step) -> Result<(), RunError> {
        let Some((child, _)) = runs::latest_child_of_step(self.db(), &step.id).await? else { return Ok(()) };
        let (status, output, error) = match child.status {
            RunStatus::Running => return Ok(()),
            RunStatus::Succeeded => (
                StepStatus::Succeeded,
                Some(json!({"runId": child.id, "status": child.status, "vars": child.vars})),
                None,
            ),
            RunStatus::Failed => {
                let reason = child.error.as_ref().and_then(|e| e["message"].as_str()).unwrap_or("it failed");
                let message = format!("the child run {} failed: {reason}", child.id);
                (
                    StepStatus::Failed,
                    None,
                    Some(json!({"kind": "subflow", "message": message, "runId": child.id, "error": child.error})),
                )
            }
            RunStatus::Cancelled => {
                let message = format!("the child run {} was cancelled", child.id);
                (StepStatus::Failed, None, Some(json!({"kind": "cancelled", "message": message, "runId": child.id})))
            }
        };
        self.end_waiting(run, step, status, output, error).await
    }

    /// Ends a `waiting` step and advances its run, in one transaction (nothing when the step is
    /// no longer waiting: another event ended it).
    pub(super) async fn end_waiting(
        &self,
        run: &Run,
        step: &Step,
        status: StepStatus,
        output: Option<Value>,
        error: Option<Value>,
    ) -> Result<(), RunError> {
        outcome::record("step", &step.id, || async {
            let txn = self.begin().await?;
            let locked = runs::lock_run(&txn, &run.id).await?;
            if !runs::end_wait(&txn, &step.id, status, output.clone(), error.clone()).await? {
                txn.rollback().await.map_err(StoreError::from)?;
                return Ok(());
            }
            let (jobs, _) = self.advance_in(&txn, locked).await?;
            self.commit_with(txn, jobs).await
        })
        .await?;
        tracing::info!(run.id = %run.id, step.id = %step.id, status = %status, "A waiting step ended.");
        Ok(())
    }
}
