//! The state every handler can reach.

use std::sync::Arc;

use bacon_engine::channels::ChannelOutbox;
use bacon_engine::inbound::Inbound;
use bacon_engine::plugins::registry::PluginRegistry;
use bacon_engine::runs::engine::RunEngine;
use sea_orm::DatabaseConnection;

use crate::metrics::Metrics;

/// Cheap to clone: everything is behind `Arc`s or is a pool handle.
#[derive(Clone)]
pub struct AppState {
    pub db: DatabaseConnection,
    /// SHA-256 (hex) of the server admin key.
    pub admin_key_hash: Arc<str>,
    pub metrics: Arc<Metrics>,
    pub plugins: PluginRegistry,
    pub runs: RunEngine,
    /// How long a synchronous plugin call (with its retries) may take: a little under the
    /// request timeout, so the caller gets the result and every attempt is audited.
    pub invoke_deadline: std::time::Duration,
    /// Triggers: flow activation and the webhook inbox.
    pub inbound: Inbound,
    /// Queues channel messages (a worker sends them).
    pub channels: ChannelOutbox,
    /// The base URL vendors reach this server on (`public_url`, else the listen address): hook
    /// URLs and the URLs webhook signatures cover are built from it.
    pub public_url: Arc<str>,
    /// Each tenant's request and run start rates (`bacon_engine::limits`).
    pub tenant_limits: Arc<bacon_engine::limits::TenantLimiter>,
}
