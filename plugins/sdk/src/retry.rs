//! [`RetryPolicy`]: how often and how far apart an action is retried.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A retry policy. `max_attempts` counts every attempt, the first included.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RetryPolicy {
    /// One attempt, no retry.
    None,
    /// The same wait between attempts.
    #[serde(rename_all = "camelCase")]
    Fixed { interval_ms: u64, max_attempts: u32 },
    /// Waits of `initial`, `initial * multiplier`, … capped at `max_interval`; with `jitter`,
    /// each wait is drawn uniformly from its upper half, so retries of many runs spread out.
    #[serde(rename_all = "camelCase")]
    Exponential { initial_ms: u64, multiplier: f64, max_interval_ms: u64, max_attempts: u32, jitter: bool },
}

impl Default for RetryPolicy {
    /// Exponential from 1 s, doubling, at most 60 s apart, 5 attempts, with jitter.
    fn default() -> Self {
        Self::Exponential { initial_ms: 1_000, multiplier: 2.0, max_interval_ms: 60_000, max_attempts: 5, jitter: true }
    }
}

impl RetryPolicy {
    /// Every attempt, the first included.
    pub fn max_attempts(&self) -> u32 {
        match self {
            Self::None => 1,
            Self::Fixed { max_attempts, .. } | Self::Exponential { max_attempts, .. } => (*max_attempts).max(1),
        }
    }

    /// The wait after failed attempt number `attempt` (1-based), before jitter.
    pub fn base_delay(&self, attempt: u32) -> Duration {
        match self {
            Self::None => Duration::ZERO,
            Self::Fixed { interval_ms, .. } => Duration::from_millis(*interval_ms),
            Self::Exponential { initial_ms, multiplier, max_interval_ms, .. } => {
                let exponent = attempt.saturating_sub(1).min(64) as i32;
                let ms = (*initial_ms as f64) * multiplier.max(1.0).powi(exponent);
                Duration::from_millis(ms.min(*max_interval_ms as f64) as u64)
            }
        }
    }

    /// The wait after failed attempt `attempt`: the base delay with jitter applied, and never
    /// shorter than the vendor's `retry_after`.
    pub fn delay(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let base = self.base_delay(attempt);
        let delay = match self {
            Self::Exponential { jitter: true, .. } if !base.is_zero() => {
                let half = base / 2;
                half + Duration::from_nanos(rand::random_range(0..=half.as_nanos().min(u64::MAX as u128) as u64))
            }
            _ => base,
        };
        retry_after.map_or(delay, |after| delay.max(after))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_grows_caps_and_honours_retry_after() {
        let p = RetryPolicy::Exponential {
            initial_ms: 100,
            multiplier: 2.0,
            max_interval_ms: 350,
            max_attempts: 4,
            jitter: false,
        };
        assert_eq!(p.base_delay(1), Duration::from_millis(100));
        assert_eq!(p.base_delay(2), Duration::from_millis(200));
        assert_eq!(p.base_delay(3), Duration::from_millis(350));
        assert_eq!(p.delay(1, Some(Duration::from_secs(2))), Duration::from_secs(2));
        assert_eq!(p.max_attempts(), 4);
        assert_eq!(RetryPolicy::None.max_attempts(), 1);
    }

    #[test]
    fn jitter_stays_in_the_upper_half() {
        let p = RetryPolicy::default();
        for _ in 0..100 {
            let d = p.delay(2, None);
            assert!(d >= Duration::from_millis(1_000) && d <= Duration::from_millis(2_000), "{d:?}");
        }
    }

    #[test]
    fn serialises_with_a_kind_tag() {
        let json = serde_json::to_value(RetryPolicy::Fixed { interval_ms: 5, max_attempts: 2 }).unwrap();
        assert_eq!(json, serde_json::json!({"kind": "fixed", "intervalMs": 5, "maxAttempts": 2}));
    }
}
