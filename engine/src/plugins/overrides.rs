//! Operator overrides per plugin, from the environment:
//!
//! | variable | effect |
//! |---|---|
//! | `BACON_PLUGIN_<NAME>__ENABLED=false` | leave the plugin out |
//! | `BACON_PLUGIN_<NAME>__BASE_URL=http://127.0.0.1:9000` | where its client sends requests |
//! | `BACON_PLUGIN_<NAME>__ALLOWED_HOSTS=a.example.com,*.b.com` | replaces its host allow-list |
//! | `BACON_PLUGIN_<NAME>__DEFAULTS__<KEY>=value` | a settings default (JSON, else a string) |
//!
//! `<NAME>` is the id without `bacon-plugin-`, upper-cased, dashes as underscores
//! (`bacon-plugin-twilio-whatsapp` -> `TWILIO_WHATSAPP`). `<KEY>` matches a settings property
//! ignoring case and underscores (`TIMEOUT_MS` -> `timeoutMs`).

use std::collections::HashMap;

use serde_json::{Map, Value};

/// Overrides of one plugin.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PluginOverride {
    pub enabled: Option<bool>,
    pub base_url: Option<String>,
    pub allowed_hosts: Option<Vec<String>>,
    /// Upper-case env key -> value.
    pub defaults: Vec<(String, Value)>,
}

/// Overrides of every plugin, keyed by `<NAME>`.
#[derive(Debug, Clone, Default)]
pub struct PluginOverrides(HashMap<String, PluginOverride>);

/// `bacon-plugin-twilio-whatsapp` -> `TWILIO_WHATSAPP`.
pub fn env_name(plugin_id: &str) -> String {
    plugin_id.trim_start_matches("bacon-plugin-").to_ascii_uppercase().replace('-', "_")
}

impl PluginOverrides {
    /// Reads the process environment.
    pub fn from_env() -> Self {
        Self::from_vars(std::env::vars())
    }

    /// Reads `BACON_PLUGIN_*` pairs; other variables are ignored.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut map: HashMap<String, PluginOverride> = HashMap::new();
        for (key, value) in vars {
            let Some(rest) = key.strip_prefix("BACON_PLUGIN_") else { continue };
            let Some((name, setting)) = rest.split_once("__") else { continue };
            let entry = map.entry(name.to_string()).or_default();
            match setting {
                "ENABLED" => {
                    entry.enabled =
                        Some(!matches!(value.trim().to_ascii_lowercase().as_str(), "false" | "0" | "no" | "off"))
                }
                "BASE_URL" => entry.base_url = Some(value.trim().to_string()),
                "ALLOWED_HOSTS" => {
                    entry.allowed_hosts =
                        Some(value.split(',').map(str::trim).filter(|h| !h.is_empty()).map(str::to_string).collect())
                }
                other => {
                    if let Some(field) = other.strip_prefix("DEFAULTS__") {
                        let parsed = serde_json::from_str(&value).unwrap_or(Value::String(value.clone()));
                        entry.defaults.push((field.to_string(), parsed));
                    }
                }
            }
        }
        Self(map)
    }

    pub fn for_plugin(&self, plugin_id: &str) -> PluginOverride {
        self.0.get(&env_name(plugin_id)).cloned().unwrap_or_default()
    }
}

fn normalise(key: &str) -> String {
    key.chars().filter(|c| *c != '_' && *c != '-').flat_map(char::to_lowercase).collect()
}

/// Applies default overrides to a settings schema's top-level `default` object.
/// Returns the env keys that matched no property.
pub fn apply_defaults(schema: &mut Value, defaults: &[(String, Value)]) -> Vec<String> {
    let properties: Vec<String> =
        schema["properties"].as_object().map(|p| p.keys().cloned().collect()).unwrap_or_default();
    let mut unknown = Vec::new();
    let Some(object) = schema.as_object_mut() else { return unknown };
    let default = object.entry("default").or_insert_with(|| Value::Object(Map::new()));
    if !default.is_object() {
        *default = Value::Object(Map::new());
    }
    for (env_key, value) in defaults {
        match properties.iter().find(|p| normalise(p) == normalise(env_key)) {
            Some(property) => {
                if let Some(d) = default.as_object_mut() {
                    d.insert(property.clone(), value.clone());
                }
            }
            None => unknown.push(env_key.clone()),
        }
    }
    unknown
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_env_style_overrides() {
        let o = PluginOverrides::from_vars([
            ("BACON_PLUGIN_TWILIO_WHATSAPP__ENABLED".to_string(), "false".to_string()),
            ("BACON_PLUGIN_HTTP__BASE_URL".into(), "http://127.0.0.1:9".into()),
            ("BACON_PLUGIN_HTTP__ALLOWED_HOSTS".into(), "a.com, *.b.com".into()),
            ("BACON_PLUGIN_HTTP__DEFAULTS__TIMEOUT_MS".into(), "2500".into()),
            ("BACON_OTHER".into(), "x".into()),
        ]);
        assert_eq!(o.for_plugin("bacon-plugin-twilio-whatsapp").enabled, Some(false));
        let http = o.for_plugin("bacon-plugin-http");
        assert_eq!(http.base_url.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(http.allowed_hosts, Some(vec!["a.com".to_string(), "*.b.com".to_string()]));
        let mut schema = json!({"type": "object", "properties": {"timeoutMs": {"type": "integer"}}});
        assert!(apply_defaults(&mut schema, &http.defaults).is_empty());
        assert_eq!(schema["default"]["timeoutMs"], 2500);
    }
}
