//! `wait` nodes: a claimed wait step opens a row in `waits` and becomes `waiting` (no worker, no
//! poll; a delayed job only when it has a timeout). An event posted to the run, or a delivery
//! whose correlation key matches, closes the row and resumes the step with its body; the timeout
//! job closes it and fails the step with `kind: "timeout"`, which takes the node's `timeout`
//! edges. Whoever closes the row resumes the step, so a wait ends exactly once.

use chrono::Utc;
use serde_json::{Value, json};

use super::engine::{RunEngine, RunError, context_of};
use super::status::{RunStatus, StepStatus};
use crate::StoreError;
use crate::flows::graph::{FlowGraph, NodeKind, WaitConfig};
use crate::flows::template::{self, Context};
use crate::ids::{RunId, TenantId};
use crate::store::runs::{self, Run, Step};
use crate::store::waits::{self, Wait};
use crate::work::{Job, WorkItem, outcome};

impl RunEngine {
    /// Runs a claimed `wait` step: opens its wait and suspends it, in one transaction.
    pub(super) async fn start_wait(
        &self,
        run: &Run,
        step: &Step,
        graph: &FlowGraph,
        config: &WaitConfig,
    ) -> Result<(), RunError> {
        let node_id = step.node_id.rsplit_once("].").map_or(step.node_id.as_str(), |(_, id)| id);
        let event_name = config.event.clone().unwrap_or_else(|| node_id.to_string());
        let (plugin_id, event_key, correlation_key) = match &config.correlation {
            None => (None, None, None),
            Some(c) => {
                let steps = runs::steps_of(self.db(), &run.id).await?;
                let context = context_of(graph, run, &steps, self.template_limits(), &step.node_id);
                let key = match template::evaluate_in(&c.key, &context, self.template_limits()) {
                    Ok(Value::Null) => Err(format!("the correlation key `{}` is null for this run", c.key)),
                    Ok(key) => Ok(key.to_string()),
                    Err(e) => Err(format!("the correlation key failed: {}", e.message)),
                };
                match key {
                    Ok(key) => (Some(c.plugin_id.clone()), Some(c.event_key().to_string()), Some(key)),
                    Err(message) => {
                        let error = json!({"kind": "template", "node": step.node_id, "message": message});
                        return self.finish_without_action(step, StepStatus::Failed, None, Some(error)).await;
                    }
                }
            }
        };
        let due = config.timeout_ms.map(|ms| Utc::now() + chrono::Duration::milliseconds(ms as i64));
        let wait = Wait {
            step_id: step.id.clone(),
            tenant_id: run.tenant_id.clone(),
            run_id: run.id.clone(),
            node_id: step.node_id.clone(),
            event_name: event_name.clone(),
            plugin_id,
            event_key,
            correlation_key: correlation_key.clone(),
            due_at: due,
        };
        // The approval link is not shown here: viewers read steps, and the link resumes the run.
        let waiting = json!({"event": event_name, "correlationKey": correlation_key, "timeoutAt": due});
        outcome::record("step", &step.id, || async {
            let txn = self.begin().await?;
            if runs::lock_run(&txn, &run.id).await?.status != RunStatus::Running {
                // Cancelled (or ended) since the step was claimed: no wait opens.
                return self.cancel_claimed(txn, step).await;
            }
            waits::open(&txn, &wait).await?;
            if !runs::start_waiting(&txn, step, None, Some(waiting.clone()), due).await? {
                txn.rollback().await.map_err(StoreError::from)?;
                return Ok(());
            }
            let jobs = match due {
                Some(due) => vec![Job::for_the_rest(WorkItem::step(&run.id, &step.id)?, due)],
                None => Vec::new(),
            };
            self.commit_with(txn, jobs).await
        })
        .await?;
        tracing::info!(run.id = %run.id, step.id = %step.id, event = %event_name, "The run waits.");
        Ok(())
    }

    /// A `waiting` step's job: a `subflow`'s child ended, or a wait's timeout is due.
    pub(super) async fn wake(&self, run: &Run, step: &Step) -> Result<(), RunError> {
        let graph = self.graph_of(self.db(), run).await?;
        match graph.step_node(&step.node_id).map(|n| &n.kind) {
            Some(NodeKind::Subflow(_)) => self.child_ended(run, step).await,
            Some(NodeKind::Wait(config)) => {
                let Some(due) = step.next_attempt_at else { return Ok(()) };
                if due > Utc::now() {
                    return self.enqueue(vec![Job::for_the_rest(WorkItem::step(&run.id, &step.id)?, due)]).await;
                }
                let ms = config.timeout_ms.unwrap_or_default();
                let error = json!({"kind": "timeout", "message": format!("no event came within {ms} ms")});
                self.close_wait(run, &step.id, StepStatus::Failed, None, Some(error)).await.map(drop)
            }
            _ => Ok(()),
        }
    }

    /// Closes a step's wait and ends the step, in one transaction; `false` when another event
    /// closed it first.
    pub(super) async fn close_wait(
        &self,
        run: &Run,
        step_id: &str,
        status: StepStatus,
        output: Option<Value>,
        error: Option<Value>,
    ) -> Result<bool, RunError> {
        self.close_wait_consuming(run, step_id, status, output, error, None).await
    }

    /// [`Self::close_wait`], marking the inbox row `consumed` processed in the same transaction
    /// (a delivery that resumed a run of its own flow starts no run of it).
    async fn close_wait_consuming(
        &self,
        run: &Run,
        step_id: &str,
        status: StepStatus,
        output: Option<Value>,
        error: Option<Value>,
        consumed: Option<&str>,
    ) -> Result<bool, RunError> {
        let closed = outcome::record("step", step_id, || async {
            let txn = self.begin().await?;
            let locked = runs::lock_run(&txn, &run.id).await?;
            if locked.status != RunStatus::Running
                || !waits::close(&txn, step_id).await?
                || !runs::end_wait(&txn, step_id, status, output.clone(), error.clone()).await?
            {
                txn.rollback().await.map_err(StoreError::from)?;
                return Ok(false);
            }
            if let Some(inbound_id) = consumed {
                crate::store::inbound::finish(&txn, inbound_id, "processed").await?;
            }
            let (jobs, _) = self.advance_in(&txn, locked).await?;
            self.commit_with(txn, jobs).await?;
            Ok(true)
        })
        .await?;
        if closed {
            tracing::info!(run.id = %run.id, step.id = %step_id, status = %status, "A wait ended.");
        }
        Ok(closed)
    }

    /// Resumes the run's wait for the event `name` with `body` as the wait node's output.
    ///
    /// # Errors
    /// `WrongState` when the run is not running; `NotWaiting` when it has no open wait for
    /// `name`.
    pub async fn send_event(&self, tenant: TenantId, run: RunId, name: &str, body: Value) -> Result<Run, RunError> {
        let current = runs::get(self.db(), tenant, run).await?;
        if current.status != RunStatus::Running {
            return Err(RunError::WrongState {
                status: current.status,
                expected: RunStatus::Running,
                action: "resumed",
            });
        }
        let Some(wait) = waits::for_event(self.db(), &current.id, name).await? else {
            return Err(RunError::NotWaiting(name.to_string()));
        };
        if !self.close_wait(&current, &wait.step_id, StepStatus::Succeeded, Some(body), None).await? {
            return Err(RunError::NotWaiting(name.to_string()));
        }
        Ok(runs::get(self.db(), tenant, run).await?)
    }

    /// Resumes the tenant's waits that a delivery of `plugin_id` matches (its `event` keyed by
    /// each wait's `eventKey` equals the wait's correlation key); returns the runs resumed. A
    /// resumed run of `flow_id` (the flow whose hook took the delivery) marks the inbox row
    /// `inbound_id` processed in the same transaction: the delivery was its run's awaited event.
    ///
    /// # Errors
    /// Store or queue failures (the delivery is processed again).
    pub async fn resume_matching(
        &self,
        tenant: &str,
        plugin_id: &str,
        event: &Value,
        inbound: (&str, chrono::DateTime<Utc>),
        flow_id: &str,
    ) -> Result<Vec<Run>, RunError> {
        let (inbound_id, received_at) = inbound;
        let mut resumed = Vec::new();
        let context = Context::new(event, &json!({}));
        for event_key in waits::event_keys(self.db(), tenant, plugin_id).await? {
            let key = match template::evaluate_in(&event_key, &context, self.template_limits()) {
                Ok(Value::Null) | Err(_) => continue,
                Ok(key) => key.to_string(),
            };
            for wait in waits::matching(self.db(), tenant, plugin_id, &event_key, &key, received_at).await? {
                let run = runs::get_any(self.db(), &wait.run_id).await?;
                let consumed = (run.flow_id == flow_id).then_some(inbound_id);
                let output = Some(event.clone());
                if self.close_wait_consuming(&run, &wait.step_id, StepStatus::Succeeded, output, None, consumed).await?
                {
                    resumed.push(run);
                }
            }
        }
        Ok(resumed)
    }
}
