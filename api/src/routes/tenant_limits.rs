//! A tenant's own limits (server admin key): its API request rate, its run start rate and its
//! cap on steps running at once, instead of the server's (`http.tenant_requests_per_second`,
//! `http.tenant_runs_per_second`, `workers.tenant_concurrent_steps`).

use axum::extract::{Path, State};
use bacon_engine::ids::TenantId;
use bacon_engine::store;
use bacon_engine::tenancy::TenantLimits;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::tenants::TenantResponse;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::extract::{ApiJson, parse_id};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(set_limits))
}

/// The highest limit a tenant may be given.
const MAX_LIMIT: u32 = 1_000_000;

/// A tenant's own limits; `null` keeps the server's setting, `0` is unlimited.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"requestsPerSecond": 50, "runsPerSecond": 10, "concurrentSteps": 20}))]
pub struct LimitsBody {
    /// API requests its keys may send a second, in each API process (twice that at once); past
    /// it they get 429 `rate_limited` with `Retry-After`.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000000)]
    pub requests_per_second: Option<u32>,
    /// Runs it may start a second, by any trigger, in each process (twice that at once); past it
    /// a start through the API gets 429 `rate_limited`, and a webhook delivery's run starts later.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000000)]
    pub runs_per_second: Option<u32>,
    /// Steps of its runs running at once, across every process; a step past it waits, without
    /// a job, until one of its steps ends (other tenants' steps are not held back).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000000)]
    pub concurrent_steps: Option<u32>,
}

impl From<TenantLimits> for LimitsBody {
    fn from(l: TenantLimits) -> Self {
        Self {
            requests_per_second: l.requests_per_second,
            runs_per_second: l.runs_per_second,
            concurrent_steps: l.concurrent_steps,
        }
    }
}

impl LimitsBody {
    fn parse(self) -> Result<TenantLimits, ApiError> {
        let fields = [
            ("/requestsPerSecond", self.requests_per_second),
            ("/runsPerSecond", self.runs_per_second),
            ("/concurrentSteps", self.concurrent_steps),
        ];
        for (pointer, limit) in fields {
            if limit.is_some_and(|l| l > MAX_LIMIT) {
                return Err(ApiError::validation(
                    pointer,
                    format!("must be from 0 (unlimited) to {MAX_LIMIT}, or null"),
                ));
            }
        }
        Ok(TenantLimits {
            requests_per_second: self.requests_per_second,
            runs_per_second: self.runs_per_second,
            concurrent_steps: self.concurrent_steps,
        })
    }
}

/// Set a tenant's own limits (server admin key): API requests and run starts a second, and steps
/// running at once; `null` keeps the server's setting and `0` lifts the limit for this tenant.
/// Takes effect at once in the process that answers, and within 5 seconds in every other.
#[utoipa::path(put, path = "/v1/tenants/{tenantId}/limits", tag = "tenants", operation_id = "set_tenant_limits",
    params(("tenantId" = String, Path, description = "The tenant id (`ten_…`)")),
    request_body = LimitsBody,
    responses((status = 200, description = "The tenant, with its limits", body = TenantResponse)))]
pub async fn set_limits(
    State(state): State<AppState>,
    principal: Principal,
    Path(tenant_id): Path<String>,
    ApiJson(body): ApiJson<LimitsBody>,
) -> Result<ApiJson<TenantResponse>, ApiError> {
    principal.require_server_admin()?;
    let tenant_id: TenantId = parse_id(&tenant_id)?;
    let limits = body.parse()?;
    let tenant = store::tenants::set_limits(&state.db, tenant_id, limits).await?;
    state.tenant_limits.forget(tenant_id);
    tracing::info!(
        tenant.id = %tenant_id,
        requests_per_second = ?limits.requests_per_second,
        runs_per_second = ?limits.runs_per_second,
        concurrent_steps = ?limits.concurrent_steps,
        "Tenant limits set."
    );
    Ok(ApiJson(tenant.into()))
}
