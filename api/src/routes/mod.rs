//! HTTP routes, one module per resource; each exposes `router()` returning an `OpenApiRouter`,
//! so a handler's `#[utoipa::path]` is registered with it and the document cannot drift.
//!
//! Request and response models live beside their handlers (`*Request`, `*Response`) and never
//! derive anything on engine or entity types.

pub mod activation;
pub mod audit;
pub mod bots;
pub mod channels;
pub mod context;
pub mod flows;
pub mod health;
pub mod hooks;
pub mod pagination;
pub mod plugins;
#[cfg(feature = "plugin-zapier")]
pub mod rest_hooks;
pub mod resume;
pub mod run_events;
pub mod runs;
pub mod tenant_limits;
pub mod tenants;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

/// Every documented route of the server.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(health::router())
        .merge(tenants::router())
        .merge(tenant_limits::router())
        .merge(bots::router())
        .merge(plugins::router())
        .merge(audit::router())
        .merge(flows::router())
        .merge(runs::router())
        .merge(run_events::router())
        .merge(resume::router())
        .merge(context::router())
        .merge(activation::router())
        .merge(hooks::router())
        .merge(channels::router())
        .merge(rest_hooks_router())
}

#[cfg(feature = "plugin-zapier")]
fn rest_hooks_router() -> OpenApiRouter<AppState> {
    rest_hooks::router()
}

#[cfg(not(feature = "plugin-zapier"))]
fn rest_hooks_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}
