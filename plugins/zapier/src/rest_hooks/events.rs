//! The events Zapier may subscribe to, their payload envelope, and sample lists.

use bacon_plugin_sdk::schemars::{self, JsonSchema};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The envelope of every event Bacon delivers to a REST hook. Zapier de-duplicates on `id`, so
/// an event keeps its id across redeliveries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestHookPayload {
    /// Unique per event (`evt_…`); the same on every redelivery of that event.
    pub id: String,
    /// The event name: `message.received`, `run.failed`, …
    pub event: String,
    /// When the event happened, RFC 3339 in UTC.
    pub occurred_at: String,
    /// What happened; the shape depends on the event.
    pub data: Value,
}

/// An event Zapier may subscribe to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestHookEvent {
    /// The name Zapier sends in the subscribe request's `event`.
    pub name: &'static str,
    /// A sentence for the Zap editor.
    pub description: &'static str,
    /// A payload of this event, shown to users while they build a Zap before a real one exists.
    pub sample: RestHookPayload,
}

fn event(name: &'static str, description: &'static str, data: Value) -> RestHookEvent {
    let sample = RestHookPayload {
        id: format!("evt_sample_{}", name.replace('.', "_")),
        event: name.to_string(),
        occurred_at: "2025-01-15T10:30:00Z".into(),
        data,
    };
    RestHookEvent { name, description, sample }
}

/// Every event Zapier may subscribe to, with a sample payload each: only events the host
/// publishes (`message.received` from an inbound channel message, `run.*` from a run's end or
/// cancel), so a Zap turned on here does fire. Add one here together with its `publish` call.
pub fn events() -> Vec<RestHookEvent> {
    vec![
        event(
            "message.received",
            "A user sent a message to a bot.",
            json!({
                "conversationId": "conv_sample",
                "messageId": "msg_sample",
                "botId": "bot_sample",
                "channel": "whatsapp",
                "from": "whatsapp:+15550100",
                "text": "Where is my order #1001?",
                "media": [],
            }),
        ),
        event(
            "run.succeeded",
            "A flow run finished successfully.",
            json!({
                "runId": "run_sample",
                "flowId": "flow_sample",
                "status": "succeeded",
                "startedAt": "2025-01-15T10:29:58Z",
                "finishedAt": "2025-01-15T10:30:00Z",
                "output": {},
            }),
        ),
        event(
            "run.failed",
            "A flow run failed after its retries.",
            json!({
                "runId": "run_sample",
                "flowId": "flow_sample",
                "status": "failed",
                "failedStep": "step_sample",
                "error": {"kind": "permanent", "message": "the vendor answered 404 Not Found"},
                "startedAt": "2025-01-15T10:29:58Z",
                "finishedAt": "2025-01-15T10:30:00Z",
            }),
        ),
        event(
            "run.cancelled",
            "A flow run was cancelled before it finished.",
            json!({
                "runId": "run_sample",
                "flowId": "flow_sample",
                "flowVersion": 1,
                "status": "cancelled",
                "error": null,
                "startedAt": "2025-01-15T10:29:58Z",
                "finishedAt": "2025-01-15T10:30:00Z",
            }),
        ),
    ]
}

/// The event with this name.
pub fn find_event(name: &str) -> Option<RestHookEvent> {
    events().into_iter().find(|e| e.name == name)
}

/// The names of every event, in declaration order.
pub fn event_names() -> Vec<&'static str> {
    events().iter().map(|e| e.name).collect()
}

/// The sample list (Zapier's `performList`) for `event`: a JSON array, newest first, each item
/// with a unique `id`. `recent` are real payloads of this event, newest first (the host reads
/// them from its own records); items without a non-empty `id` and repeated ids are dropped, at
/// most `limit` (at least 1) are kept, and when none remain the event's sample stands in.
/// `None` for an unknown event.
pub fn sample_list(event: &str, recent: impl IntoIterator<Item = Value>, limit: usize) -> Option<Vec<Value>> {
    let declared = find_event(event)?;
    let mut seen = std::collections::HashSet::new();
    let list: Vec<Value> = recent
        .into_iter()
        .filter(|item| payload_id(item).is_some_and(|id| seen.insert(id)))
        .take(limit.max(1))
        .collect();
    if list.is_empty() {
        return Some(vec![serde_json::to_value(declared.sample).unwrap_or(Value::Null)]);
    }
    Some(list)
}

/// The `id` of a payload as a string, when it is a non-empty string or a number.
pub(crate) fn payload_id(payload: &Value) -> Option<String> {
    match payload.get("id")? {
        Value::String(id) if !id.trim().is_empty() => Some(id.clone()),
        Value::Number(id) => Some(id.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_have_unique_names_and_matching_samples() {
        let events = events();
        let names = event_names();
        assert_eq!(names, ["message.received", "run.succeeded", "run.failed", "run.cancelled"]);
        let ids: std::collections::HashSet<_> = events.iter().map(|e| e.sample.id.clone()).collect();
        assert_eq!(ids.len(), events.len());
        for e in &events {
            assert_eq!(e.sample.event, e.name);
            assert!(!e.description.is_empty());
        }
    }

    #[test]
    fn sample_list_falls_back_to_the_sample() {
        let list = sample_list("run.failed", Vec::new(), 3).unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0]["id"], "evt_sample_run_failed");
        assert_eq!(list[0]["event"], "run.failed");
        assert_eq!(list[0]["data"]["status"], "failed");
        assert_eq!(sample_list("order.created", Vec::new(), 3), None);
    }

    #[test]
    fn sample_list_keeps_order_drops_repeats_and_id_less_items() {
        let recent = vec![
            json!({"id": "evt_3", "event": "run.failed"}),
            json!({"id": "evt_2", "event": "run.failed"}),
            json!({"id": "evt_3", "event": "run.failed", "dup": true}),
            json!({"event": "run.failed"}),
            json!({"id": "", "event": "run.failed"}),
            json!({"id": 1, "event": "run.failed"}),
            json!({"id": "evt_0", "event": "run.failed"}),
        ];
        let list = sample_list("run.failed", recent, 3).unwrap();
        let ids: Vec<&Value> = list.iter().map(|v| &v["id"]).collect();
        assert_eq!(ids, [&json!("evt_3"), &json!("evt_2"), &json!(1)]);
        assert!(list[0].get("dup").is_none());
    }
}
