//! `bacon-worker`: background execution with apalis on the database Bacon already uses.
//!
//! Today this crate prepares apalis's job storage on the shared pool (its own migrations, never
//! its PRAGMAs: `bacon-engine::database` owns those) and keeps the worker runtime alive until
//! shutdown. Job types, handlers, worker pools and the reconciler arrive with the durable flow
//! engine; they go in `jobs/`, `handlers/` and `reconciler.rs` beside this file.

mod runtime;

pub use runtime::{WorkerError, prepare_storage, run_until};
