//! [`PluginLoader`]: validates plugin definitions, applies operator overrides, caches the result.
//!
//! Checks, each reported with the plugin id and a JSON pointer into the definition: the id is
//! `bacon-plugin-<name>` and unique, the version is semver, every schema is valid against the
//! JSON Schema 2020-12 meta-schema and compiles with `format` validation on, every `default`
//! validates against its property's schema (before and after overrides), action keys are unique.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use bacon_plugin_sdk::PluginDefinition;
use bacon_plugin_sdk::egress::EgressPolicy;
use serde_json::{Value, json};

use super::loaded::{LoadedPlugin, defaults_of};
use super::overrides::{PluginOverrides, apply_defaults};
use super::{PluginFactory, PluginFault};

/// What [`PluginLoader::load_all`] produced.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub loaded: Vec<Arc<LoadedPlugin>>,
    pub faults: Vec<PluginFault>,
    /// Ids turned off by `BACON_PLUGIN_<NAME>__ENABLED=false`.
    pub disabled: Vec<String>,
}

/// Loads plugins; the same id loads once and is then served from the cache.
pub struct PluginLoader {
    overrides: PluginOverrides,
    egress: EgressPolicy,
    cache: Mutex<HashMap<String, Arc<LoadedPlugin>>>,
}

fn fault(id: &str, pointer: impl Into<String>, message: impl Into<String>) -> PluginFault {
    PluginFault { plugin_id: id.to_string(), pointer: pointer.into(), message: message.into() }
}

fn compile(schema: &Value) -> Result<jsonschema::Validator, String> {
    jsonschema::draft202012::options().should_validate_formats(true).build(schema).map_err(|e| e.to_string())
}

fn check_meta(id: &str, pointer: &str, schema: &Value) -> Result<(), PluginFault> {
    jsonschema::meta::validate(schema).map_err(|e| fault(id, format!("{pointer}{}", e.instance_path()), e.to_string()))
}

/// Validates each default against its property's schema (with the root's `$defs` in scope).
fn check_defaults(id: &str, schema: &Value) -> Result<(), PluginFault> {
    let properties = schema["properties"].as_object().cloned().unwrap_or_default();
    let closed = schema["additionalProperties"] == Value::Bool(false);
    if let Some(top) = schema["default"].as_object() {
        for key in top.keys() {
            if closed && !properties.contains_key(key) {
                return Err(fault(id, format!("/settingsSchema/default/{key}"), "a default for an unknown property"));
            }
        }
    }
    for (name, value) in defaults_of(schema) {
        let Some(property) = properties.get(&name) else { continue };
        let mut sub = property.clone();
        if let (Some(object), Some(defs)) = (sub.as_object_mut(), schema.get("$defs")) {
            object.insert("$defs".into(), defs.clone());
        }
        let validator = compile(&sub).map_err(|e| fault(id, format!("/settingsSchema/properties/{name}"), e))?;
        if let Some(error) = validator.iter_errors(&value).next() {
            return Err(fault(
                id,
                format!("/settingsSchema/properties/{name}/default{}", error.instance_path()),
                format!("the default does not validate: {error}"),
            ));
        }
    }
    Ok(())
}

fn validate(
    def: &PluginDefinition,
) -> Result<(jsonschema::Validator, HashMap<String, jsonschema::Validator>), PluginFault> {
    let id = def.id.as_str();
    let name_ok = id
        .strip_prefix("bacon-plugin-")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
    if !name_ok {
        return Err(fault(id, "/id", "the id must be `bacon-plugin-<name>` (lowercase letters, digits, dashes)"));
    }
    semver::Version::parse(&def.version).map_err(|e| fault(id, "/version", format!("not a semantic version: {e}")))?;
    check_meta(id, "/settingsSchema", &def.settings_schema)?;
    let settings_validator = compile(&def.settings_schema).map_err(|e| fault(id, "/settingsSchema", e))?;
    check_defaults(id, &def.settings_schema)?;
    let mut input_validators = HashMap::new();
    for (i, action) in def.actions.iter().enumerate() {
        if input_validators.contains_key(&action.key) {
            return Err(fault(id, format!("/actions/{i}/key"), format!("action `{}` is declared twice", action.key)));
        }
        check_meta(id, &format!("/actions/{i}/inputSchema"), &action.input_schema)?;
        check_meta(id, &format!("/actions/{i}/outputSchema"), &action.output_schema)?;
        let validator = compile(&action.input_schema).map_err(|e| fault(id, format!("/actions/{i}/inputSchema"), e))?;
        input_validators.insert(action.key.clone(), validator);
    }
    Ok((settings_validator, input_validators))
}

impl PluginLoader {
    /// A loader whose plugins reach public addresses only.
    pub fn new(overrides: PluginOverrides) -> Self {
        Self { overrides, egress: EgressPolicy::public_only(), cache: Mutex::new(HashMap::new()) }
    }

    /// Every plugin loaded from now on gets a client with the operator's `egress` policy.
    pub fn with_egress(mut self, egress: EgressPolicy) -> Self {
        self.egress = egress;
        self
    }

    /// Loads one plugin: `Ok(None)` when an operator disabled it. A second call for the same id
    /// returns the cached `Arc` without building or validating again.
    ///
    /// # Errors
    /// The first fault found, with the plugin id and a JSON pointer.
    pub fn load(&self, factory: &PluginFactory) -> Result<Option<Arc<LoadedPlugin>>, PluginFault> {
        let overrides = self.overrides.for_plugin(factory.id);
        if overrides.enabled == Some(false) {
            return Ok(None);
        }
        if let Some(hit) = self.cache.lock().ok().and_then(|c| c.get(factory.id).cloned()) {
            return Ok(Some(hit));
        }
        let mut def = (factory.build)();
        if def.id != factory.id {
            return Err(fault(
                factory.id,
                "/id",
                format!("the factory is registered as `{}` but builds `{}`", factory.id, def.id),
            ));
        }
        validate(&def)?;
        // Operator overrides, then validate again: an override must not break the plugin.
        let secrets = bacon_plugin_sdk::schema::secret_fields(&def.settings_schema);
        let unknown = apply_defaults(&mut def.settings_schema, &overrides.defaults);
        if let Some(secret) = secrets.iter().find(|s| def.settings_schema["default"].get(s.as_str()).is_some()) {
            return Err(fault(
                &def.id,
                format!("/settingsSchema/default/{secret}"),
                "a secret field cannot have a default (it would be shown to every tenant); use env references",
            ));
        }
        if let Some(key) = unknown.first() {
            return Err(fault(
                &def.id,
                format!("/settingsSchema/default/{key}"),
                "an override names no settings property",
            ));
        }
        if def.settings_schema["default"] == json!({})
            && let Some(o) = def.settings_schema.as_object_mut()
        {
            o.remove("default");
        }
        let (settings_validator, input_validators) = validate(&def)?;
        if let Some(property) = &def.tenant_hosts_setting
            && def.settings_schema["properties"].get(property).is_none()
        {
            return Err(fault(
                &def.id,
                "/tenantHostsSetting",
                format!("the tenant's host list names no settings property (`{property}`)"),
            ));
        }
        let allowed_hosts = overrides.allowed_hosts.clone().unwrap_or_else(|| def.allowed_hosts.clone());
        let mut allowed_hosts = allowed_hosts;
        if let Some(base) = &overrides.base_url {
            // The operator pointed the plugin somewhere: that host is allowed.
            allowed_hosts.push(base.clone());
        }
        let loaded = Arc::new(LoadedPlugin::new(
            def,
            overrides.base_url,
            allowed_hosts,
            settings_validator,
            input_validators,
            self.egress.clone(),
        ));
        let mut cache = self.cache.lock().map_err(|_| fault(factory.id, "", "the plugin cache is poisoned"))?;
        Ok(Some(cache.entry(factory.id.to_string()).or_insert(loaded).clone()))
    }

    /// Loads every factory; faulty plugins are reported and left out.
    pub fn load_all(&self, factories: &[PluginFactory]) -> LoadReport {
        let mut report = LoadReport::default();
        let mut seen = HashSet::new();
        for factory in factories {
            if !seen.insert(factory.id) {
                report.faults.push(fault(factory.id, "/id", "two plugins have this id"));
                continue;
            }
            match self.load(factory) {
                Ok(Some(plugin)) => report.loaded.push(plugin),
                Ok(None) => report.disabled.push(factory.id.to_string()),
                Err(f) => report.faults.push(f),
            }
        }
        report
    }
}
