//! Job types.

use serde::{Deserialize, Serialize};

/// Execute one attempt of one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepJob {
    pub run_id: String,
    pub step_id: String,
}

/// The apalis queue every step job goes to.
pub const QUEUE: &str = "steps";
