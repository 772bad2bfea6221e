//! End-to-end API tests: one binary, a real server per test, on SQLite and PostgreSQL.

#![allow(clippy::unwrap_used)] // Test code: a panic is the failure report.

mod auth;
mod busy_outcome;
mod channels;
mod context;
mod documentation;
mod egress;
mod error_paths;
mod fairness;
mod flows;
mod health;
mod inbound_at_rest;
mod input;
mod map_nodes;
mod metrics;
mod outage;
mod plain_webhooks;
mod plugins;
mod rate_limit;
mod rest_hooks;
mod retry_timing;
mod run_controls;
mod run_search;
mod runs;
mod slow_subscriber;
mod subflows;
mod sync_webhooks;
mod template_references;
mod tenant_limits;
mod triggers;
mod vendor_flow;
mod waits;
mod zapier_events;
