//! Token buckets per tenant, in this process's memory: a tenant may spend `burst` at once, then
//! `rate` a second. Hand-written rather than `governor`: one map of two numbers per tenant,
//! refilled on use, is all it takes, and the rate can differ per tenant and change at run time.
//! Memory is bounded by the number of tenants that spent tokens.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::ids::TenantId;

#[derive(Debug, Default)]
pub struct TokenBuckets {
    buckets: Mutex<HashMap<TenantId, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl TokenBuckets {
    /// Takes one token of `tenant` at `now`, refilled at `rate` a second up to `burst`:
    /// `Err(wait)` when its bucket is empty, `wait` being when the next token comes. A rate of 0
    /// admits everything.
    pub fn admit(&self, tenant: TenantId, rate: u32, burst: u32, now: Instant) -> Result<(), Duration> {
        if rate == 0 {
            return Ok(());
        }
        let (rate, burst) = (f64::from(rate), f64::from(burst.max(1)));
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let bucket = buckets.entry(tenant).or_insert(Bucket { tokens: burst, at: now });
        let refilled = now.saturating_duration_since(bucket.at).as_secs_f64() * rate;
        bucket.tokens = (bucket.tokens + refilled).min(burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_gets_its_burst_then_its_rate_and_others_are_not_affected() {
        let buckets = TokenBuckets::default();
        let (a, b) = (TenantId::generate(), TenantId::generate());
        let start = Instant::now();
        for _ in 0..3 {
            assert!(buckets.admit(a, 2, 3, start).is_ok());
        }
        let wait = buckets.admit(a, 2, 3, start).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(500), "{wait:?}");
        assert!(buckets.admit(b, 2, 3, start).is_ok(), "another tenant has its own bucket");
        assert!(buckets.admit(a, 2, 3, start + Duration::from_millis(500)).is_ok(), "one token after 1/rate");
        assert!(buckets.admit(a, 2, 3, start + Duration::from_millis(500)).is_err());
    }

    #[test]
    fn a_rate_of_zero_admits_everything() {
        let buckets = TokenBuckets::default();
        let tenant = TenantId::generate();
        let now = Instant::now();
        assert!((0..10_000).all(|_| buckets.admit(tenant, 0, 0, now).is_ok()));
    }
}
