//! [`LoadedPlugin`]: a definition that passed validation, with compiled schemas and its client.

use std::collections::HashMap;
use std::time::Duration;

use bacon_plugin_sdk::PluginDefinition;
use bacon_plugin_sdk::egress::EgressPolicy;
use bacon_plugin_sdk::http::HttpClient;
use bacon_plugin_sdk::schema::secret_fields;
use serde_json::{Map, Value};

/// A validated plugin, shared as `Arc<LoadedPlugin>`.
pub struct LoadedPlugin {
    /// The definition with operator overrides applied (settings defaults).
    pub definition: PluginDefinition,
    pub base_url: Option<String>,
    pub allowed_hosts: Vec<String>,
    pub settings_validator: jsonschema::Validator,
    pub input_validators: HashMap<String, jsonschema::Validator>,
    /// Top-level `writeOnly` settings properties.
    pub secret_fields: Vec<String>,
    /// Effective defaults: each property's `default`, then the schema's top-level `default`.
    pub defaults: Map<String, Value>,
    /// One connection pool per plugin, restricted to `allowed_hosts` and the operator's egress
    /// policy; actions get it through [`LoadedPlugin::client_for`].
    pub http: HttpClient,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin").field("id", &self.definition.id).finish()
    }
}

/// The effective defaults of a settings schema.
pub fn defaults_of(schema: &Value) -> Map<String, Value> {
    let mut defaults = Map::new();
    if let Some(props) = schema["properties"].as_object() {
        for (name, prop) in props {
            if let Some(d) = prop.get("default") {
                defaults.insert(name.clone(), d.clone());
            }
        }
    }
    if let Some(top) = schema["default"].as_object() {
        for (k, v) in top {
            defaults.insert(k.clone(), v.clone());
        }
    }
    defaults
}

impl LoadedPlugin {
    pub(crate) fn new(
        definition: PluginDefinition,
        base_url: Option<String>,
        allowed_hosts: Vec<String>,
        settings_validator: jsonschema::Validator,
        input_validators: HashMap<String, jsonschema::Validator>,
        egress: EgressPolicy,
    ) -> Self {
        let secret_fields = secret_fields(&definition.settings_schema);
        let defaults = defaults_of(&definition.settings_schema);
        let timeout = definition.actions.iter().map(|a| a.timeout).max().unwrap_or(Duration::from_secs(30));
        let http = HttpClient::with_egress(&allowed_hosts, timeout, egress);
        Self {
            definition,
            base_url,
            allowed_hosts,
            settings_validator,
            input_validators,
            secret_fields,
            defaults,
            http,
        }
    }

    pub fn id(&self) -> &str {
        &self.definition.id
    }

    pub fn is_secret(&self, field: &str) -> bool {
        self.secret_fields.iter().any(|f| f == field)
    }

    /// The client an action of this tenant gets: the plugin's, narrowed to the tenant's own
    /// host list when the plugin declares one (a missing or empty list allows nothing).
    pub fn client_for(&self, settings: &Value) -> HttpClient {
        match &self.definition.tenant_hosts_setting {
            Some(property) => self.http.narrowed_to(&tenant_hosts(settings, property)),
            None => self.http.clone(),
        }
    }
}

/// The strings of the settings property `property`.
pub(crate) fn tenant_hosts(settings: &Value, property: &str) -> Vec<String> {
    settings
        .get(property)
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}
