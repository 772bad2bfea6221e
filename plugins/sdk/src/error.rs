//! [`ActionError`]: how an action fails, which decides what the host does next.

use std::time::Duration;

/// A failed action. The variant, not the message, decides retries:
/// `Retryable` and `RateLimited` are retried per the action's policy (honouring `retry_after`);
/// the others fail at once.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ActionError {
    /// A transient failure (timeout, 5xx, connection reset): try again later.
    #[error("{message}")]
    Retryable { message: String, retry_after: Option<Duration> },
    /// The vendor throttled us: try again after `retry_after` when given.
    #[error("{message}")]
    RateLimited { message: String, retry_after: Option<Duration> },
    /// A failure that retrying cannot fix.
    #[error("{message}")]
    Permanent { message: String },
    /// The input is invalid; `pointer` locates the field when known.
    #[error("{message}")]
    InvalidInput { message: String, pointer: Option<String> },
    /// The credentials are wrong, expired or lack a scope.
    #[error("{message}")]
    Unauthorized { message: String },
    /// The host's egress policy refused the destination (an internal address); nothing was
    /// sent. Not retried: the address will not become public by waiting.
    #[error("{message}")]
    EgressRefused { message: String },
}

impl From<&crate::egress::EgressRefused> for ActionError {
    fn from(refused: &crate::egress::EgressRefused) -> Self {
        Self::EgressRefused { message: refused.to_string() }
    }
}

impl ActionError {
    pub fn retryable(message: impl Into<String>) -> Self {
        Self::Retryable { message: message.into(), retry_after: None }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        Self::Permanent { message: message.into() }
    }

    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::InvalidInput { message: message.into(), pointer: None }
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::Unauthorized { message: message.into() }
    }

    /// Whether the host may try again.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Retryable { .. } | Self::RateLimited { .. })
    }

    /// The wait the vendor asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Retryable { retry_after, .. } | Self::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// A stable name for the kind of failure: `retryable`, `rate_limited`, `permanent`,
    /// `invalid_input`, `unauthorized`, `egress_refused`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Retryable { .. } => "retryable",
            Self::RateLimited { .. } => "rate_limited",
            Self::Permanent { .. } => "permanent",
            Self::InvalidInput { .. } => "invalid_input",
            Self::Unauthorized { .. } => "unauthorized",
            Self::EgressRefused { .. } => "egress_refused",
        }
    }

    /// The message, for mapping and redaction.
    pub fn message(&self) -> &str {
        match self {
            Self::Retryable { message, .. }
            | Self::RateLimited { message, .. }
            | Self::Permanent { message }
            | Self::InvalidInput { message, .. }
            | Self::Unauthorized { message }
            | Self::EgressRefused { message } => message,
        }
    }

    /// The same error with its message passed through `f` (the host uses it to scrub secrets).
    pub fn map_message(self, f: impl FnOnce(&str) -> String) -> Self {
        match self {
            Self::Retryable { message, retry_after } => Self::Retryable { message: f(&message), retry_after },
            Self::RateLimited { message, retry_after } => Self::RateLimited { message: f(&message), retry_after },
            Self::Permanent { message } => Self::Permanent { message: f(&message) },
            Self::InvalidInput { message, pointer } => Self::InvalidInput { message: f(&message), pointer },
            Self::Unauthorized { message } => Self::Unauthorized { message: f(&message) },
            Self::EgressRefused { message } => Self::EgressRefused { message: f(&message) },
        }
    }
}
