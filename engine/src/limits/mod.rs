//! Per-tenant limits (issue #19): API requests a second, runs started a second, and steps running
//! at once. The server sets them for every tenant (`http.tenant_requests_per_second`,
//! `http.tenant_runs_per_second`, `workers.tenant_concurrent_steps` in `docs/configuration.md`);
//! the server admin may give one tenant its own (`PUT /v1/tenants/{id}/limits`). 0 is unlimited,
//! and every limit is off by default. The cap on steps is held in the database
//! (`runs::slots`), across every process; the rates are counted per process.
//!
//! Rates are token buckets in each process's memory: with several API or worker processes, each
//! admits up to the rate. A tenant's own limits are read from the database and kept for
//! [`FRESH_FOR`], so a change reaches every process within that time, and at once in the process
//! that made it.

pub mod buckets;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sea_orm::DatabaseConnection;

use self::buckets::TokenBuckets;
use crate::StoreError;
use crate::ids::TenantId;
use crate::store;
use crate::tenancy::TenantLimits;

/// How long a tenant's own limits are used before they are read again.
pub const FRESH_FOR: Duration = Duration::from_secs(5);

/// The server's limits, for every tenant without its own. 0: unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitDefaults {
    pub requests_per_second: u32,
    /// Requests a tenant may send at once before the rate applies; 0: twice the rate.
    pub request_burst: u32,
    pub runs_per_second: u32,
    pub concurrent_steps: u32,
}

/// The limits of one tenant: its own where it has them, else the server's. 0: unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Effective {
    requests_per_second: u32,
    request_burst: u32,
    runs_per_second: u32,
    concurrent_steps: u32,
}

/// Every tenant's limits, and the buckets their rates draw from.
#[derive(Debug)]
pub struct TenantLimiter {
    db: DatabaseConnection,
    defaults: LimitDefaults,
    own: Mutex<HashMap<TenantId, (Instant, TenantLimits)>>,
    requests: TokenBuckets,
    starts: TokenBuckets,
}

impl TenantLimiter {
    pub fn new(db: DatabaseConnection, defaults: LimitDefaults) -> Self {
        Self { db, defaults, own: Mutex::default(), requests: TokenBuckets::default(), starts: TokenBuckets::default() }
    }

    /// Takes one API request of `tenant`: `Ok(Err(wait))` when it is over its rate.
    ///
    /// # Errors
    /// When its limits cannot be read.
    pub async fn admit_request(&self, tenant: TenantId) -> Result<Result<(), Duration>, StoreError> {
        let limits = self.effective(tenant).await?;
        Ok(self.requests.admit(tenant, limits.requests_per_second, limits.request_burst, Instant::now()))
    }

    /// Takes one run start of `tenant`: `Ok(Err(wait))` when it is over its rate.
    ///
    /// # Errors
    /// When its limits cannot be read.
    pub async fn admit_run_start(&self, tenant: TenantId) -> Result<Result<(), Duration>, StoreError> {
        let limits = self.effective(tenant).await?;
        let burst = limits.runs_per_second.saturating_mul(2);
        Ok(self.starts.admit(tenant, limits.runs_per_second, burst, Instant::now()))
    }

    /// How many steps of `tenant`'s runs may run at once; `None`: any number.
    ///
    /// # Errors
    /// When its limits cannot be read.
    pub async fn concurrent_steps(&self, tenant: TenantId) -> Result<Option<u32>, StoreError> {
        let limits = self.effective(tenant).await?;
        Ok((limits.concurrent_steps > 0).then_some(limits.concurrent_steps))
    }

    /// Reads `tenant`'s own limits again at next use (this process changed them).
    pub fn forget(&self, tenant: TenantId) {
        self.own.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(&tenant);
    }

    async fn effective(&self, tenant: TenantId) -> Result<Effective, StoreError> {
        let cached = {
            let own = self.own.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            own.get(&tenant).filter(|(at, _)| at.elapsed() < FRESH_FOR).map(|(_, limits)| *limits)
        };
        let own = match cached {
            Some(own) => own,
            None => {
                let own = match store::tenants::get(&self.db, tenant).await {
                    Ok(t) => t.limits,
                    // A tenant deleted under its last requests: the server's limits.
                    Err(StoreError::NotFound { .. }) => TenantLimits::default(),
                    Err(e) => return Err(e),
                };
                let mut cache = self.own.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                cache.insert(tenant, (Instant::now(), own));
                own
            }
        };
        Ok(self.merge(own))
    }

    fn merge(&self, own: TenantLimits) -> Effective {
        let d = self.defaults;
        let request_burst = match own.requests_per_second {
            Some(rate) => rate.saturating_mul(2),
            None if d.request_burst > 0 => d.request_burst,
            None => d.requests_per_second.saturating_mul(2),
        };
        Effective {
            requests_per_second: own.requests_per_second.unwrap_or(d.requests_per_second),
            request_burst,
            runs_per_second: own.runs_per_second.unwrap_or(d.runs_per_second),
            concurrent_steps: own.concurrent_steps.unwrap_or(d.concurrent_steps),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(defaults: LimitDefaults) -> TenantLimiter {
        TenantLimiter::new(DatabaseConnection::default(), defaults)
    }

    #[test]
    fn a_tenants_own_limits_win_over_the_servers_and_zero_is_unlimited() {
        let server =
            LimitDefaults { requests_per_second: 10, request_burst: 15, runs_per_second: 5, concurrent_steps: 8 };
        let limiter = limiter(server);
        let none = limiter.merge(TenantLimits::default());
        assert_eq!((none.requests_per_second, none.request_burst, none.runs_per_second), (10, 15, 5));
        let own = TenantLimits { requests_per_second: Some(2), runs_per_second: Some(0), concurrent_steps: None };
        let merged = limiter.merge(own);
        assert_eq!((merged.requests_per_second, merged.request_burst), (2, 4), "its own rate, twice it at once");
        assert_eq!(merged.runs_per_second, 0, "its own 0: unlimited");
        assert_eq!(merged.concurrent_steps, 8, "unset: the server's");
        let unset = limiter.merge(TenantLimits {
            requests_per_second: None,
            runs_per_second: Some(1),
            concurrent_steps: Some(3),
        });
        assert_eq!((unset.requests_per_second, unset.request_burst), (10, 15), "unset: the server's");
    }
}
