//! [`WorkItem`]: what one job asks a worker to do; [`Job`]: an item and when it is due.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::StoreError;
use crate::ids::{ChannelMessageId, HookDeliveryId, InboundEventId, RunId, StepId};

/// One unit of background work. Serialised as the job's payload:
/// `{"kind": "step", "id": "step_…", "runId": "run_…"}`, `{"kind": "channelMessage", "id": "msg_…"}`, …
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum WorkItem {
    /// One attempt of a flow step.
    Step { id: StepId, run_id: RunId },
    /// One send attempt of a queued channel message.
    ChannelMessage { id: ChannelMessageId },
    /// One attempt to deliver a published event to a REST-hook subscriber.
    RestHookDelivery { id: HookDeliveryId },
    /// Starting the run of a verified inbound delivery.
    InboundDelivery { id: InboundEventId },
    /// A run's timeout (its flow's `timeoutMs`): the run fails if it is still going.
    RunDeadline { id: RunId },
}

/// The kind of a [`WorkItem`], as its payload's `kind` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WorkKind {
    Step,
    ChannelMessage,
    RestHookDelivery,
    InboundDelivery,
    RunDeadline,
}

impl WorkKind {
    /// The payload's `kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Step => "step",
            Self::ChannelMessage => "channelMessage",
            Self::RestHookDelivery => "restHookDelivery",
            Self::InboundDelivery => "inboundDelivery",
            Self::RunDeadline => "runDeadline",
        }
    }
}

/// Parses an id read from our own tables (a malformed one means the row is not ours to run).
fn parse<T: std::str::FromStr>(kind: &'static str, id: &str) -> Result<T, StoreError> {
    id.parse().map_err(|_| StoreError::not_found(kind, id))
}

impl WorkItem {
    /// The item for a step row.
    ///
    /// # Errors
    /// `NotFound` when either id is malformed.
    pub fn step(run_id: &str, step_id: &str) -> Result<Self, StoreError> {
        Ok(Self::Step { id: parse("step", step_id)?, run_id: parse("run", run_id)? })
    }

    /// The item for a channel-message row.
    ///
    /// # Errors
    /// `NotFound` when the id is malformed.
    pub fn channel_message(id: &str) -> Result<Self, StoreError> {
        Ok(Self::ChannelMessage { id: parse("channel message", id)? })
    }

    /// The item for a REST-hook delivery row.
    ///
    /// # Errors
    /// `NotFound` when the id is malformed.
    pub fn rest_hook_delivery(id: &str) -> Result<Self, StoreError> {
        Ok(Self::RestHookDelivery { id: parse("delivery", id)? })
    }

    /// The item for an inbox row.
    ///
    /// # Errors
    /// `NotFound` when the id is malformed.
    pub fn inbound_delivery(id: &str) -> Result<Self, StoreError> {
        Ok(Self::InboundDelivery { id: parse("inbound event", id)? })
    }

    /// The item for a run's timeout.
    ///
    /// # Errors
    /// `NotFound` when the id is malformed.
    pub fn run_deadline(run_id: &str) -> Result<Self, StoreError> {
        Ok(Self::RunDeadline { id: parse("run", run_id)? })
    }

    pub fn kind(&self) -> WorkKind {
        match self {
            Self::Step { .. } => WorkKind::Step,
            Self::ChannelMessage { .. } => WorkKind::ChannelMessage,
            Self::RestHookDelivery { .. } => WorkKind::RestHookDelivery,
            Self::InboundDelivery { .. } => WorkKind::InboundDelivery,
            Self::RunDeadline { .. } => WorkKind::RunDeadline,
        }
    }

    /// The id of the row the item works on (the payload's `id`).
    pub fn id(&self) -> String {
        match self {
            Self::Step { id, .. } => id.to_string(),
            Self::ChannelMessage { id } => id.to_string(),
            Self::RestHookDelivery { id } => id.to_string(),
            Self::InboundDelivery { id } => id.to_string(),
            Self::RunDeadline { id } => id.to_string(),
        }
    }
}

/// A job: `item`, not before `delay` from now. Among due jobs, workers take the highest
/// `priority` first (then the longest due).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub item: WorkItem,
    pub delay: Duration,
    pub priority: i32,
}

/// The priority of every job but flow steps, and of the steps of a tenant with one run going.
/// A tenant's steps get one less for each of its other runs going, down to 0: a tenant with a
/// backlog of thousands of runs does not hold back another tenant's single run (issue #19).
pub const TOP_PRIORITY: i32 = 1000;

impl Job {
    /// Due at once.
    pub fn now(item: WorkItem) -> Self {
        Self { item, delay: Duration::ZERO, priority: TOP_PRIORITY }
    }

    /// Due after `delay`.
    pub fn after(item: WorkItem, delay: Duration) -> Self {
        Self { item, delay, priority: TOP_PRIORITY }
    }

    /// With `priority` (0 to [`TOP_PRIORITY`]) instead.
    pub fn with_priority(mut self, priority: i32) -> Self {
        self.priority = priority.clamp(0, TOP_PRIORITY);
        self
    }

    /// The job for an item whose job came before the item was claimable and which is still
    /// waiting, due at `due`: the rest of its wait, or none when `due` passed in between (the
    /// claim and this check read the clock at different moments). Never dropped: an item whose
    /// job is dropped waits for the reconciler (a 100 ms retry once waited 15 s that way).
    pub fn for_the_rest(item: WorkItem, due: chrono::DateTime<chrono::Utc>) -> Self {
        Self::after(item, (due - chrono::Utc::now()).to_std().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_names_its_kind_and_id() {
        let step = WorkItem::Step { id: StepId::generate(), run_id: RunId::generate() };
        let json = serde_json::to_value(&step).unwrap();
        assert_eq!(json["kind"], "step");
        assert_eq!(json["id"], step.id());
        assert!(json["runId"].as_str().unwrap().starts_with("run_"));
        assert_eq!(serde_json::from_value::<WorkItem>(json).unwrap(), step);

        let message = WorkItem::ChannelMessage { id: ChannelMessageId::generate() };
        let json = serde_json::to_value(&message).unwrap();
        assert_eq!(json["kind"], WorkKind::ChannelMessage.as_str());
        assert_eq!(json["id"], message.id());
        for kind in [WorkKind::RestHookDelivery, WorkKind::InboundDelivery] {
            let item = match kind {
                WorkKind::RestHookDelivery => WorkItem::RestHookDelivery { id: HookDeliveryId::generate() },
                _ => WorkItem::InboundDelivery { id: InboundEventId::generate() },
            };
            assert_eq!(serde_json::to_value(&item).unwrap()["kind"], kind.as_str());
            assert_eq!(item.kind(), kind);
        }
    }

    #[test]
    fn an_early_job_is_followed_by_one_for_the_rest_of_the_wait_even_when_that_has_passed() {
        let item = WorkItem::ChannelMessage { id: ChannelMessageId::generate() };
        let later = Job::for_the_rest(item.clone(), chrono::Utc::now() + chrono::Duration::seconds(60));
        assert!(later.delay > Duration::from_secs(59) && later.delay <= Duration::from_secs(60), "{later:?}");
        let passed = Job::for_the_rest(item.clone(), chrono::Utc::now() - chrono::Duration::milliseconds(1));
        assert_eq!(passed, Job::now(item));
    }

    #[test]
    fn a_payload_with_a_malformed_id_is_refused() {
        let bad = serde_json::json!({"kind": "channelMessage", "id": "run_01J00000000000000000000000"});
        assert!(serde_json::from_value::<WorkItem>(bad).is_err());
    }
}
