//! The states of runs and steps, owned here and used as they are by the store and the API.
//!
//! Stored as their lowercase names (`runs.status`, `steps.status`); [`std::str::FromStr`] reads
//! them back and parses the API's `status` filter.

use serde::{Deserialize, Serialize};

/// Run states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

/// Step states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    /// Created, waiting for its job (a delay's wait, or its first attempt).
    Pending,
    /// Claimed by a worker, under a lease.
    Running,
    /// Failed retryably; due again at `nextAttemptAt`.
    Retrying,
    /// Suspended without a worker: a `wait` for its event (or its timeout at `nextAttemptAt`),
    /// a `subflow` for its child run.
    Waiting,
    Succeeded,
    Failed,
    Cancelled,
}

/// How a run was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunTrigger {
    /// Through the API: `POST /v1/flows/{id}/runs`, or a rerun.
    Manual,
    /// A plain webhook delivery.
    Webhook,
    /// A vendor's webhook, verified by its plugin.
    Plugin,
    /// A schedule tick.
    Schedule,
    /// A parent run's `subflow` node.
    Subflow,
}

/// A status name that is not one of its enum's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a status (expected one of: {1})")]
pub struct UnknownStatus(pub String, pub &'static str);

/// Reads a status stored in `table` (row `id`); an unknown one (a newer version's) is logged
/// and read as `failed`.
pub(crate) fn stored<T: std::str::FromStr<Err = UnknownStatus>>(table: &str, id: &str, status: &str, failed: T) -> T {
    status.parse().unwrap_or_else(|e: UnknownStatus| {
        tracing::error!(table, id, error = %e, "A stored status is unknown; it is read as failed.");
        failed
    })
}

macro_rules! names {
    ($ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every status, in the order of its lifecycle.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The stored and serialised name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }
        }

        impl std::str::FromStr for $ty {
            type Err = UnknownStatus;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok($ty::$variant),)+
                    other => Err(UnknownStatus(other.to_string(), concat!($($name, " "),+).trim_ascii_end())),
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use names;

names!(RunTrigger {
    Manual => "manual",
    Webhook => "webhook",
    Plugin => "plugin",
    Schedule => "schedule",
    Subflow => "subflow",
});
names!(RunStatus { Running => "running", Succeeded => "succeeded", Failed => "failed", Cancelled => "cancelled" });
names!(StepStatus {
    Pending => "pending",
    Running => "running",
    Retrying => "retrying",
    Waiting => "waiting",
    Succeeded => "succeeded",
    Failed => "failed",
    Cancelled => "cancelled",
});

impl RunStatus {
    /// Whether the run has ended (nothing more happens to it unless it is retried).
    pub fn is_final(self) -> bool {
        !matches!(self, Self::Running)
    }
}

impl StepStatus {
    /// Whether the step has ended.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::Cancelled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_match_serde() {
        for status in RunStatus::ALL {
            assert_eq!(status.as_str().parse::<RunStatus>().unwrap(), *status);
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        for status in StepStatus::ALL {
            assert_eq!(status.as_str().parse::<StepStatus>().unwrap(), *status);
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
        let err = "done".parse::<RunStatus>().unwrap_err();
        assert_eq!(err.to_string(), "`done` is not a status (expected one of: running succeeded failed cancelled)");
    }
}
