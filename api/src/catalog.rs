//! The built-in plugins this binary ships, one cargo feature each (all on by default).
//!
//! This is the only place that names plugin crates: the engine's loader receives this list, so
//! neither the engine nor its tests compile a vendor plugin. To add a plugin: add its crate as an
//! optional dependency with a `plugin-<name>` feature in `api/Cargo.toml`, then a line here.

use bacon_engine::plugins::PluginFactory;

/// Every built-in plugin enabled at compile time.
pub fn builtin_plugins() -> Vec<PluginFactory> {
    vec![
        #[cfg(feature = "plugin-http")]
        PluginFactory { id: bacon_plugin_http::PLUGIN_ID, build: bacon_plugin_http::definition },
        #[cfg(feature = "plugin-shopify")]
        PluginFactory { id: bacon_plugin_shopify::PLUGIN_ID, build: bacon_plugin_shopify::definition },
        #[cfg(feature = "plugin-hubspot")]
        PluginFactory { id: bacon_plugin_hubspot::PLUGIN_ID, build: bacon_plugin_hubspot::definition },
        #[cfg(feature = "plugin-salesforce")]
        PluginFactory { id: bacon_plugin_salesforce::PLUGIN_ID, build: bacon_plugin_salesforce::definition },
        #[cfg(feature = "plugin-twilio-whatsapp")]
        PluginFactory { id: bacon_plugin_twilio_whatsapp::PLUGIN_ID, build: bacon_plugin_twilio_whatsapp::definition },
        #[cfg(feature = "plugin-zapier")]
        PluginFactory { id: bacon_plugin_zapier::PLUGIN_ID, build: bacon_plugin_zapier::definition },
    ]
}
