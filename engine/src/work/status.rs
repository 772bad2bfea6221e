//! The states of channel messages and REST-hook deliveries, stored as their lowercase names
//! (`channel_messages.status`, `rest_hook_deliveries.status`).

use serde::{Deserialize, Serialize};

use crate::runs::status::{UnknownStatus, names};

/// A channel message's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageStatus {
    /// Waiting for its (next) send attempt, due at `next_attempt_at`.
    Queued,
    /// Claimed by a worker, under a lease.
    Sending,
    Sent,
    Failed,
}

names!(MessageStatus { Queued => "queued", Sending => "sending", Sent => "sent", Failed => "failed" });

/// A REST-hook delivery's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Waiting for its (next) attempt, due at `next_attempt_at`.
    Pending,
    /// Claimed by a worker, under a lease.
    Delivering,
    Delivered,
    Failed,
    /// The subscriber answered 410 or was removed: never attempted again.
    Gone,
}

names!(DeliveryStatus {
    Pending => "pending",
    Delivering => "delivering",
    Delivered => "delivered",
    Failed => "failed",
    Gone => "gone",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_reads_back_from_its_name() {
        for status in MessageStatus::ALL {
            assert_eq!(status.as_str().parse::<MessageStatus>(), Ok(*status));
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        for status in DeliveryStatus::ALL {
            assert_eq!(status.as_str().parse::<DeliveryStatus>(), Ok(*status));
        }
        assert_eq!(
            crate::runs::status::stored("channel_messages", "msg_x", "exploded", MessageStatus::Failed),
            MessageStatus::Failed
        );
    }
}
