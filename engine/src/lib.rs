//! `bacon-engine`: Bacon's domain, free of HTTP and job-queue concerns.
//!
//! - [`ids`]: typed, prefixed ULID ids parsed at the edge.
//! - [`database`]: connecting to SQLite or PostgreSQL with the PRAGMAs we promise, and migrating.
//! - [`tenancy`]: tenants, bots, API keys and roles (the domain records).
//! - [`store`]: the only module that queries the database.
//! - [`bootstrap`]: what the first start of a server creates (data dir, master key, first tenant).
//! - [`keyfile`]: secret files created with mode 0600.
//! - [`enrich`]: AI-context enrichment (ordering snippets, the token budget, the audit row).
//! - [`work`]: durable background work — one kind of work item for steps, channel messages,
//!   REST-hook deliveries and inbound deliveries, and the reconciler over all of them.
//!
//! The engine never depends on axum, apalis, utoipa or a plugin crate (a test enforces it).

pub mod bootstrap;
pub mod channels;
pub mod database;
pub mod enrich;
pub mod error;
pub mod flows;
pub mod hooks;
pub mod ids;
pub mod inbound;
pub mod keyfile;
pub mod limits;
pub mod metrics;
pub mod plugins;
pub mod retention;
pub mod runs;
pub mod schedules;
pub mod secrets;
pub mod store;
pub mod tenancy;
pub mod work;

pub use error::StoreError;
