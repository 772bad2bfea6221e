//! The job payload: the engine's [`WorkItem`] (one kind of durable work item for steps, channel
//! messages, REST-hook deliveries and inbound deliveries) and the trace it belongs to, serialised
//! as JSON by apalis.

use serde::{Deserialize, Serialize};

pub use bacon_engine::work::WorkItem;

/// What a job carries: `{"kind": "step", "id": "step_…", "runId": "run_…", "traceparent": "00-…"}`.
/// The item's fields stay at the top level, where the reconciler's queries read `kind` and `id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobPayload {
    #[serde(flatten)]
    pub item: WorkItem,
    /// The W3C `traceparent` of the span that enqueued the job, when traces are exported: the
    /// job's span continues that trace (`crate::trace_context`). Absent in jobs written before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traceparent: Option<String>,
}

impl JobPayload {
    /// `item`, in the trace of the current span.
    pub fn in_current_trace(item: WorkItem) -> Self {
        Self { item, traceparent: crate::trace_context::current_traceparent() }
    }
}

/// The apalis queue every work item goes to.
pub const QUEUE: &str = "work";

/// The apalis job table of a backend.
pub fn jobs_table(backend: sea_orm::DbBackend) -> &'static str {
    match backend {
        sea_orm::DbBackend::Postgres => "apalis.jobs",
        _ => "Jobs",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bacon_engine::ids::{RunId, StepId};

    #[test]
    fn the_item_stays_at_the_top_level_and_the_trace_is_optional() {
        let item = WorkItem::Step { id: StepId::generate(), run_id: RunId::generate() };
        let payload = JobPayload { item: item.clone(), traceparent: Some("00-ab-cd-01".into()) };
        let json = serde_json::to_value(&payload).unwrap();
        assert_eq!(json["kind"], "step");
        assert_eq!(json["id"], item.id());
        assert_eq!(json["traceparent"], "00-ab-cd-01");
        assert_eq!(serde_json::from_value::<JobPayload>(json).unwrap(), payload);
        let written_before = serde_json::to_value(&item).unwrap();
        let read = serde_json::from_value::<JobPayload>(written_before).unwrap();
        assert_eq!(read, JobPayload { item, traceparent: None });
    }
}
