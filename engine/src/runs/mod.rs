//! Runs: starting them, advancing them, executing their durable steps, recovering orphans.
//!
//! - [`graphs`]: the cache of parsed flow-version graphs.
//! - [`plan`]: the pure replay of a graph against its steps' outcomes.
//! - [`queue`]: the [`queue::ActionRuntime`] port steps reach plugins through.
//! - [`status`]: the states of runs and steps.
//! - [`engine`]: [`engine::RunEngine`], the operations the API and the workers call.
//! - [`children`]: `subflow` child runs, run ends and the cancel cascade.
//! - [`resume`]: signed resume links of approval waits.
//! - [`waits`]: `wait` nodes: suspending, resuming by event or delivery, timing out.

mod children;
pub mod engine;
pub mod graphs;
pub mod plan;
pub mod queue;
pub mod resume;
pub mod slots;
pub mod status;
mod waits;
