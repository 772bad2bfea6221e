//! Authentication: `Authorization: Bearer <key>` resolved to a [`Principal`].
//!
//! The server admin key manages tenants; a tenant API key acts inside its tenant with its role.
//! Resolving a tenant key records `tenant.id` on the request span. Handlers take [`Principal`]
//! (tenant management) or [`TenantAuth`] (everything tenant-scoped) and call `require` for writes.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use bacon_engine::ids::{ApiKeyId, TenantId};
use bacon_engine::store;
use bacon_engine::tenancy::{ADMIN_KEY_PREFIX, Role, TENANT_KEY_PREFIX, hash_key, is_well_formed};

use crate::error::{ApiError, RateLimit};
use crate::state::AppState;

/// A tenant API key that was presented and found active.
#[derive(Debug, Clone, Copy)]
pub struct TenantKey {
    pub tenant_id: TenantId,
    pub key_id: ApiKeyId,
    pub role: Role,
}

/// Who is calling.
#[derive(Debug, Clone, Copy)]
pub enum Principal {
    ServerAdmin,
    Tenant(TenantKey),
}

impl Principal {
    /// Whether this caller may act on `tenant` with at least `role`. A tenant key of another
    /// tenant gets `NotFound`, so the existence of other tenants' objects never leaks.
    ///
    /// # Errors
    /// `NotFound` for another tenant, `Forbidden` for a role that is too low.
    pub fn require_on_tenant(&self, tenant: TenantId, role: Role) -> Result<(), ApiError> {
        match self {
            Principal::ServerAdmin => Ok(()),
            Principal::Tenant(key) if key.tenant_id != tenant => {
                Err(ApiError::NotFound { kind: "tenant", id: tenant.to_string() })
            }
            Principal::Tenant(key) => key.require(role),
        }
    }

    /// Only the server admin key passes.
    ///
    /// # Errors
    /// `Forbidden` for a tenant key.
    pub fn require_server_admin(&self) -> Result<(), ApiError> {
        match self {
            Principal::ServerAdmin => Ok(()),
            Principal::Tenant(_) => Err(ApiError::Forbidden {
                code: "server_admin_required",
                detail: "this operation needs the server admin key".into(),
            }),
        }
    }
}

impl TenantKey {
    /// # Errors
    /// `Forbidden` when this key's role is below `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::Forbidden {
                code: "insufficient_role",
                detail: format!(
                    "this API key has the role `{}`; the operation needs `{}`",
                    self.role.as_str(),
                    role.as_str()
                ),
            })
        }
    }
}

fn unauthenticated(code: &'static str, detail: &str) -> ApiError {
    ApiError::Unauthenticated { code, detail: detail.into() }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(*principal);
        }
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            unauthenticated("missing_credentials", "send an API key as `Authorization: Bearer <key>`")
        })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .ok_or_else(|| unauthenticated("invalid_credentials", "the Authorization header must be `Bearer <key>`"))?;
        let principal = if is_well_formed(token, ADMIN_KEY_PREFIX) {
            if hash_key(token) != *state.admin_key_hash {
                return Err(unauthenticated("invalid_credentials", "the API key is not valid"));
            }
            Principal::ServerAdmin
        } else if is_well_formed(token, TENANT_KEY_PREFIX) {
            let key = store::api_keys::find_active_by_hash(&state.db, &hash_key(token))
                .await?
                .ok_or_else(|| unauthenticated("invalid_credentials", "the API key is not valid or was revoked"))?;
            tracing::Span::current().record("tenant.id", tracing::field::display(key.tenant_id));
            state
                .tenant_limits
                .admit_request(key.tenant_id)
                .await?
                .map_err(|wait| RateLimit::Requests.exceeded(wait))?;
            Principal::Tenant(TenantKey { tenant_id: key.tenant_id, key_id: key.id, role: key.role })
        } else {
            return Err(unauthenticated("invalid_credentials", "the API key is malformed"));
        };
        parts.extensions.insert(principal);
        Ok(principal)
    }
}

/// A caller acting inside one tenant (a tenant API key).
#[derive(Debug, Clone, Copy)]
pub struct TenantAuth(pub TenantKey);

impl FromRequestParts<AppState> for TenantAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match Principal::from_request_parts(parts, state).await? {
            Principal::Tenant(key) => Ok(TenantAuth(key)),
            Principal::ServerAdmin => Err(ApiError::Forbidden {
                code: "tenant_key_required",
                detail: "this operation acts inside a tenant: use a tenant API key".into(),
            }),
        }
    }
}
