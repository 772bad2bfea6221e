//! The job payload: the engine's [`WorkItem`] (one kind of durable work item for steps, channel
//! messages, REST-hook deliveries and inbound deliveries), serialised as JSON by apalis.

pub use bacon_engine::work::WorkItem;

/// The apalis queue every work item goes to.
pub const QUEUE: &str = "work";

/// The apalis job table of a backend.
pub fn jobs_table(backend: sea_orm::DbBackend) -> &'static str {
    match backend {
        sea_orm::DbBackend::Postgres => "apalis.jobs",
        _ => "Jobs",
    }
}
