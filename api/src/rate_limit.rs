//! Per-tenant request rate limits: a token bucket per tenant, in this process's memory. A tenant
//! over its rate gets 429 `rate_limited` with `Retry-After` (`http.tenant_requests_per_second`,
//! off by default; `docs/configuration.md`). The server admin key is never limited.
//!
//! Hand-written rather than `governor`: one map of two numbers per tenant, refilled on use, is
//! all it takes, and it keeps the dependency tree as it is. Memory is bounded by the number of
//! tenants that sent requests.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bacon_engine::ids::TenantId;

/// Buckets of every tenant that sent a request.
#[derive(Debug)]
pub struct TenantRateLimiter {
    /// Tokens added per second; 0 turns limiting off.
    rate: f64,
    /// Tokens a bucket holds at most: the burst a tenant may send at once.
    burst: f64,
    buckets: Mutex<HashMap<TenantId, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl TenantRateLimiter {
    /// `per_second` requests a second per tenant, bursts of `burst` (0: twice the rate); a
    /// rate of 0 admits everything.
    pub fn new(per_second: u32, burst: u32) -> Self {
        let burst = if burst == 0 { per_second.saturating_mul(2) } else { burst };
        Self { rate: f64::from(per_second), burst: f64::from(burst.max(1)), buckets: Mutex::default() }
    }

    /// Takes one request of `tenant` at `now`: `Err(wait)` when its bucket is empty, `wait`
    /// being when the next token comes.
    pub fn admit(&self, tenant: TenantId, now: Instant) -> Result<(), Duration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let bucket = buckets.entry(tenant).or_insert(Bucket { tokens: self.burst, at: now });
        let refilled = now.saturating_duration_since(bucket.at).as_secs_f64() * self.rate;
        bucket.tokens = (bucket.tokens + refilled).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / self.rate))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_gets_its_burst_then_its_rate_and_others_are_not_affected() {
        let limiter = TenantRateLimiter::new(2, 3);
        let (a, b) = (TenantId::generate(), TenantId::generate());
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.admit(a, start).is_ok());
        }
        let wait = limiter.admit(a, start).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(500), "{wait:?}");
        assert!(limiter.admit(b, start).is_ok(), "another tenant has its own bucket");
        assert!(limiter.admit(a, start + Duration::from_millis(500)).is_ok(), "one token after 1/rate");
        assert!(limiter.admit(a, start + Duration::from_millis(500)).is_err());
    }

    #[test]
    fn a_rate_of_zero_admits_everything() {
        let limiter = TenantRateLimiter::new(0, 0);
        let tenant = TenantId::generate();
        assert!((0..10_000).all(|_| limiter.admit(tenant, Instant::now()).is_ok()));
    }
}
