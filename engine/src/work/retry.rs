//! The one claim lease and backoff policy of channel messages and REST-hook deliveries (flow
//! steps follow their action's own `RetryPolicy`).
//!
//! Attempts are counted when an item is claimed, so an attempt whose worker died still counts
//! (and is audited as `lost` when the reconciler takes its lease over).

use std::time::Duration;

use bacon_plugin_sdk::RetryPolicy;

/// The shortest wait before another attempt: a subscriber or channel that failed a moment ago
/// is not asked again at once.
pub const MIN_BACKOFF: Duration = Duration::from_millis(500);

/// How long to wait after failed attempt `attempt` (1-based): exponential per the SDK's default
/// policy, at least [`MIN_BACKOFF`], and never earlier than the vendor's `Retry-After`.
pub fn backoff(attempt: u32, retry_after: Option<Duration>) -> Duration {
    RetryPolicy::default().delay(attempt, retry_after).max(MIN_BACKOFF)
}

/// The time an item is due after `delay`, at the database's precision.
pub fn due_after(delay: Duration) -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now() + chrono::Duration::milliseconds(delay.as_millis().min(i64::MAX as u128) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_has_a_floor_and_honours_retry_after() {
        assert!(backoff(1, None) >= MIN_BACKOFF);
        assert!(backoff(1, Some(Duration::from_secs(7))) >= Duration::from_secs(7));
    }
}
