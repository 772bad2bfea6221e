//! Durable background work: the one path every deferred effect takes (DESIGN.md §8).
//!
//! A flow step, a channel message, a REST-hook delivery and an inbound delivery to process are
//! each a [`item::WorkItem`] with a typed id. Its state lives in its own table (`steps`,
//! `channel_messages`, `rest_hook_deliveries`, `inbound_events`: the record users read); its
//! job is enqueued in the transaction that creates (or reschedules) it, through the
//! [`queue::JobQueue`] port the worker crate implements with apalis. Workers hand every item to
//! [`runner::WorkRunner::execute`]; the [`runner::WorkRunner::reconcile`] pass re-enqueues items a
//! crashed process left behind and audits the attempts it lost.
//!
//! - [`depth`]: how much work is waiting, per kind (for `/metrics`).
//! - [`item`]: what a job carries, and a job's delay.
//! - [`queue`]: the `JobQueue` port and the commit that pushes jobs in the caller's transaction.
//! - [`outcome`]: recording an attempt's outcome, retried while the database is busy.
//! - [`retry`]: the one claim lease and backoff policy of messages and deliveries.
//! - [`runner`]: dispatch by kind, and reconciliation of every kind.
//! - [`status`]: the states of channel messages and REST-hook deliveries.
//!
//! To add a kind: a variant in [`item::WorkItem`], its store functions (claim with a guarded
//! UPDATE, finish, overdue), its executor, and a line in each `match` of [`runner`].

pub mod depth;
pub mod item;
pub mod outcome;
pub mod queue;
pub mod retry;
pub mod runner;
pub mod status;

pub use item::{Job, WorkItem, WorkKind};
pub use queue::{JobQueue, QueueError};
pub use status::{DeliveryStatus, MessageStatus};
