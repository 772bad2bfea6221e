//! Flows: node graphs stored as immutable versions.
//!
//! - [`graph`]: the graph model (`{ nodes: [{ id, type, config }], edges: [{ id, source, target, when? }] }`).
//! - [`validate`]: what a graph must satisfy to be saved, each fault with a JSON pointer.
//! - [`template`]: payload templates rendered with minijinja (sandboxed, fuel-limited).

pub mod graph;
pub mod template;
pub mod validate;
