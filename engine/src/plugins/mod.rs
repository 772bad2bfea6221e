//! The plugin host: loading plugins into a catalog and running their actions.
//!
//! - [`overrides`]: operator overrides from `BACON_PLUGIN_<NAME>__…` variables.
//! - [`loader`]: [`loader::PluginLoader`] validates definitions and caches [`loaded::LoadedPlugin`]s.
//! - [`loaded`]: a validated plugin with its compiled schemas and HTTP client.
//! - [`settings`]: per-tenant/bot settings: validation with JSON pointers, sealing, resolution.
//! - [`registry`]: [`registry::PluginRegistry`], the only way an action runs (audit, retries,
//!   guarded execution, secret scrubbing).
//!
//! The engine never depends on a plugin crate: the binary hands the loader a list of factories.

pub mod loaded;
pub mod loader;
pub mod overrides;
pub mod registry;
pub mod settings;
pub mod triggers;

use bacon_plugin_sdk::PluginDefinition;

/// How the composition root hands a built-in plugin to the loader.
#[derive(Clone, Copy)]
pub struct PluginFactory {
    pub id: &'static str,
    pub build: fn() -> PluginDefinition,
}

/// One problem with one plugin, located by a JSON pointer into its definition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("plugin `{plugin_id}` at `{pointer}`: {message}")]
pub struct PluginFault {
    pub plugin_id: String,
    pub pointer: String,
    pub message: String,
}
