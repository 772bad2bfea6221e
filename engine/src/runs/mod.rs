//! Runs: starting them, advancing them, executing their durable steps, recovering orphans.
//!
//! - [`graphs`]: the cache of parsed flow-version graphs.
//! - [`plan`]: the pure replay of a graph against its steps' outcomes.
//! - [`queue`]: the [`queue::ActionRuntime`] port steps reach plugins through.
//! - [`status`]: the states of runs and steps.
//! - [`engine`]: [`engine::RunEngine`], the operations the API and the workers call.

pub mod engine;
pub mod graphs;
pub mod plan;
pub mod queue;
pub mod slots;
pub mod status;
