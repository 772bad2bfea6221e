//! The engine's ports: [`JobQueue`] (how a step gets executed, now or later) and
//! [`ActionRuntime`] (how a step reaches a plugin: its actions, and its context enrichers).
//!
//! The worker crate implements it with apalis, pushing a step's job in the transaction that
//! creates (or reschedules) the step. A queue that cannot ([`JobQueue::enqueue_in`] answers
//! `false`) gets the jobs right after the commit, and the reconciler re-enqueues any step whose
//! job was lost in between.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bacon_plugin_sdk::{BoxFuture, RetryPolicy};
use sea_orm::DatabaseTransaction;
use tokio::sync::Notify;

use crate::StoreError;
use crate::enrich::{EnrichOutcome, EnrichRequest};
use crate::plugins::registry::{InvokeOutcome, InvokeRequest, PluginRegistry};

/// One job: execute `step_id` of `run_id`, not before `delay` from now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepJobSpec {
    pub run_id: String,
    pub step_id: String,
    pub delay: Duration,
}

/// Where step jobs go.
pub trait JobQueue: Send + Sync + 'static {
    /// Enqueues every job.
    fn enqueue(&self, jobs: Vec<StepJobSpec>) -> BoxFuture<'_, Result<(), String>>;

    /// Enqueues every job inside `txn`, so the jobs commit (or roll back) with the step rows
    /// they execute. `false` when this queue cannot: the caller enqueues them after the commit.
    fn enqueue_in<'a>(
        &'a self,
        txn: &'a DatabaseTransaction,
        jobs: &'a [StepJobSpec],
    ) -> BoxFuture<'a, Result<bool, String>> {
        let _ = (txn, jobs);
        Box::pin(async { Ok(false) })
    }

    /// Notified after this queue has pushed jobs, so workers in the same process fetch them at
    /// once instead of at their next poll. `None`: workers rely on polling (and the backend's
    /// own wake-ups).
    fn pushed(&self) -> Option<Arc<Notify>> {
        None
    }

    /// Of `step_ids`, the ones whose job is still in the queue (waiting, running, or to be
    /// delivered again): the reconciler leaves those alone. By default none are known, and every
    /// step the reconciler finds is enqueued again (a duplicate job finds its step claimed).
    fn queued(&self, step_ids: Vec<String>) -> BoxFuture<'_, Result<HashSet<String>, String>> {
        let _ = step_ids;
        Box::pin(async { Ok(HashSet::new()) })
    }
}

/// The runtime port the engine reaches plugins through (`plugins.invokeAction` of the plugin
/// spec). The [`PluginRegistry`] implements it, so audit logging and guarded execution apply
/// inside flows; engine tests may supply their own.
pub trait ActionRuntime: Send + Sync + 'static {
    /// Runs one action call.
    fn invoke_action(&self, request: InvokeRequest) -> BoxFuture<'_, InvokeOutcome>;

    /// The action's declared retry policy, when the action exists.
    fn retry_policy(&self, plugin_id: &str, action: &str) -> Option<RetryPolicy>;

    /// Runs the tenant's enabled context enrichers (an `ai_context` node; see [`crate::enrich`]).
    /// By default there are none: a runtime without plugins adds no context.
    fn enrich_context(&self, request: EnrichRequest) -> BoxFuture<'_, Result<EnrichOutcome, StoreError>> {
        Box::pin(async move { Ok(EnrichOutcome::empty(&request)) })
    }
}

impl ActionRuntime for PluginRegistry {
    fn invoke_action(&self, request: InvokeRequest) -> BoxFuture<'_, InvokeOutcome> {
        Box::pin(self.invoke(request))
    }

    fn retry_policy(&self, plugin_id: &str, action: &str) -> Option<RetryPolicy> {
        self.get(plugin_id).and_then(|p| p.definition.find_action(action).map(|a| a.retry.clone()))
    }

    fn enrich_context(&self, request: EnrichRequest) -> BoxFuture<'_, Result<EnrichOutcome, StoreError>> {
        Box::pin(self.enrich(request))
    }
}
