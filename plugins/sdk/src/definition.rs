//! [`PluginDefinition`]: the whole declaration of a plugin.

use std::sync::Arc;

use schemars::JsonSchema;
use serde_json::Value;

use crate::action::ActionDefinition;
use crate::channel::ChannelAdapter;
use crate::enrich::ContextEnricher;
use crate::schema::schema_of;
use crate::trigger::TriggerDefinition;

/// A plugin: identity, settings schema, actions, triggers, optional channel adapter and
/// context enricher, and the hosts it may call.
#[derive(Clone)]
pub struct PluginDefinition {
    /// `bacon-plugin-<name>`.
    pub id: String,
    /// A human name: "Shopify".
    pub name: String,
    /// Semantic version.
    pub version: String,
    pub description: String,
    /// JSON Schema (2020-12) of the settings object. Defaults live in `default`; secret fields
    /// are `writeOnly`.
    pub settings_schema: Value,
    pub actions: Vec<ActionDefinition>,
    pub triggers: Vec<TriggerDefinition>,
    pub channel: Option<Arc<dyn ChannelAdapter>>,
    pub enricher: Option<Arc<dyn ContextEnricher>>,
    /// Host patterns the outbound client may reach (`*.myshopify.com`); operators may override.
    pub allowed_hosts: Vec<String>,
    /// The settings property (a list of host patterns) by which a tenant narrows
    /// `allowed_hosts`, if the plugin has one. The host checks it when settings are saved (no
    /// `*`, no internal address the operator did not open) and narrows the client with it.
    pub tenant_hosts_setting: Option<String>,
}

impl std::fmt::Debug for PluginDefinition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginDefinition")
            .field("id", &self.id)
            .field("version", &self.version)
            .field("actions", &self.actions.iter().map(|a| &a.key).collect::<Vec<_>>())
            .finish()
    }
}

impl PluginDefinition {
    /// Starts a definition whose settings are the type `S`.
    pub fn new<S: JsonSchema>(id: &str, name: &str, version: &str, description: &str) -> Self {
        Self {
            id: id.to_string(),
            name: name.to_string(),
            version: version.to_string(),
            description: description.to_string(),
            settings_schema: schema_of::<S>(),
            actions: Vec::new(),
            triggers: Vec::new(),
            channel: None,
            enricher: None,
            allowed_hosts: Vec::new(),
            tenant_hosts_setting: None,
        }
    }

    pub fn action(mut self, action: ActionDefinition) -> Self {
        self.actions.push(action);
        self
    }

    pub fn trigger(mut self, trigger: TriggerDefinition) -> Self {
        self.triggers.push(trigger);
        self
    }

    pub fn channel(mut self, adapter: Arc<dyn ChannelAdapter>) -> Self {
        self.channel = Some(adapter);
        self
    }

    pub fn enricher(mut self, enricher: Arc<dyn ContextEnricher>) -> Self {
        self.enricher = Some(enricher);
        self
    }

    pub fn allowed_hosts(mut self, hosts: &[&str]) -> Self {
        self.allowed_hosts = hosts.iter().map(|h| h.to_string()).collect();
        self
    }

    /// Names the settings property (an array of host patterns) by which each tenant narrows
    /// [`PluginDefinition::allowed_hosts`]; see [`PluginDefinition::tenant_hosts_setting`].
    pub fn tenant_allowed_hosts(mut self, property: &str) -> Self {
        self.tenant_hosts_setting = Some(property.to_string());
        self
    }

    /// Sets the settings schema's top-level `default` object.
    pub fn settings_default(mut self, default: Value) -> Self {
        if let Some(object) = self.settings_schema.as_object_mut() {
            object.insert("default".into(), default);
        }
        self
    }

    /// The action with this key.
    pub fn find_action(&self, key: &str) -> Option<&ActionDefinition> {
        self.actions.iter().find(|a| a.key == key)
    }
}
