//! `bacon-plugin-sdk`: everything a Bacon plugin author needs, and nothing of the host.
//!
//! A plugin crate exports `pub fn definition() -> PluginDefinition`. Authors write typed code
//! (settings, inputs and outputs are Rust types deriving `JsonSchema`); the host sees erased JSON.
//!
//! - [`definition`]: [`PluginDefinition`], the whole declaration of a plugin.
//! - [`action`]: actions with typed handlers, a [`RetryPolicy`] and a timeout.
//! - [`context`]: [`ActionContext`], what a handler receives (tenant, bot, settings, HTTP client).
//! - [`error`]: [`ActionError`], which tells the host whether and when to retry.
//! - [`http`]: the outbound HTTP client that refuses hosts outside the allow-list.
//! - [`egress`]: [`egress::EgressPolicy`], the internal addresses no plugin reaches unless the
//!   operator opens them; the host applies it to every plugin's client.
//! - [`signature`]: HMAC helpers and constant-time comparison for webhook verification.
//! - [`trigger`], [`channel`], [`enrich`]: triggers, channel adapters, AI-context enrichers.
//! - [`secret`]: [`Secret`], shown as `[REDACTED]` and in schemas as `writeOnly`.
//! - `testing` (feature): `assert_conformance` and helpers to test actions against mock servers.
//!
//! This crate depends on nothing of ours. See `docs/plugin-authoring.md`.

pub mod action;
pub mod channel;
pub mod context;
pub mod definition;
pub mod egress;
pub mod enrich;
pub mod error;
pub mod http;
pub mod retry;
pub mod schema;
pub mod secret;
pub mod signature;
#[cfg(feature = "testing")]
pub mod testing;
pub mod trigger;

pub use action::{ActionDefinition, action};
pub use context::ActionContext;
pub use definition::PluginDefinition;
pub use error::ActionError;
pub use retry::RetryPolicy;
pub use secret::Secret;

/// Re-exported so plugin crates derive schemas with the same schemars as the host.
pub use schemars;

/// A boxed, sendable future: what erased handlers return.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;
