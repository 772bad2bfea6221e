//! `bacon-worker`: durable execution of flow steps with apalis, on the database Bacon already uses.
//!
//! - [`jobs`]: the job payload (a work item, and the trace it belongs to).
//! - [`queue`]: [`queue::ApalisQueue`], the engine's `JobQueue` port over apalis storage.
//! - [`runtime`]: the worker pool, the reconciler and the purge of finished job rows.
//! - [`trace_context`]: a job's span continues the trace of the span that enqueued it.
//! - [`wakeups`]: when workers look for due jobs (in-process pushes, and a polling interval).
//!
//! apalis owns delivery (at least once); the engine owns state (steps are claimed with a
//! guarded UPDATE, so a duplicate job does nothing). Design notes from the measured apalis
//! hazards (`shared/reference/dependencies.md`): PRAGMAs are ours, never apalis's `setup()`;
//! finished job rows are purged every second (the SQLite ack query scans them); wake-ups
//! (PostgreSQL LISTEN/NOTIFY) always come with a polling interval; workers that stop are restarted.

pub mod jobs;
pub mod queue;
pub mod runtime;
pub mod trace_context;
pub mod wakeups;

pub use runtime::{WorkerError, prepare_storage, run_until};
