//! The [`JobQueue`] port: how the engine asks for a step to be executed (now or later).
//!
//! The worker crate implements it with apalis. Jobs are pushed right after the step row is
//! committed; the reconciler re-enqueues any step whose job was lost in between.

use std::time::Duration;

use bacon_plugin_sdk::BoxFuture;

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
}
