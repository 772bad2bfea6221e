//! `bacon-api`: the REST API (axum), its OpenAPI document, and the `bacon-server` binary.
//!
//! This crate is the composition root: it reads configuration, connects the database, builds the
//! engine's parts and the workers, and serves HTTP.
//!
//! - [`config`]: defaults -> `bacon.toml` -> `BACON_*` environment.
//! - [`telemetry`]: tracing subscriber (pretty on a terminal, JSON on request).
//! - [`startup`]: building and running an [`startup::Application`] (used by the binary and the tests).
//! - [`cli`]: the `bacon-server` subcommands.
//! - [`error`]: the one `ApiError`, rendered as `application/problem+json`.
//! - [`extract`]: extractors whose rejections are problem+json too (JSON bodies, queries).
//! - [`auth`]: bearer API keys, principals and roles.
//! - [`routes`]: one module per resource, each exposing `router()`.
//! - [`openapi`]: the document's shared parts (security scheme, problem responses).
//! - [`metrics`]: Prometheus metrics of the HTTP layer.

pub mod auth;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod openapi;
pub mod routes;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod worker_metrics;
