//! The plugin loader: faulty plugins are reported with id and pointer, others load; overrides
//! apply and are validated again; the cache returns the same instance.

#![allow(clippy::unwrap_used)] // Test code: a panic is the failure report.

use std::sync::Arc;

use bacon_engine::plugins::PluginFactory;
use bacon_engine::plugins::loader::PluginLoader;
use bacon_engine::plugins::overrides::PluginOverrides;
use bacon_plugin_sdk::action::{ConnectionStatus, NoInput};
use bacon_plugin_sdk::schemars::{self, JsonSchema};
use bacon_plugin_sdk::{ActionContext, ActionError, PluginDefinition, action};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize, JsonSchema)]
#[allow(dead_code)]
struct Settings {
    greeting: Option<String>,
    /// An email address.
    #[schemars(email)]
    contact: Option<String>,
    #[schemars(range(min = 1, max = 10))]
    retries: Option<u32>,
}

async fn ok(_: ActionContext, _: serde_json::Value, _: NoInput) -> Result<ConnectionStatus, ActionError> {
    Ok(ConnectionStatus { ok: true, message: "ok".into(), details: json!({}) })
}

fn base(id: &str) -> PluginDefinition {
    PluginDefinition::new::<Settings>(id, "T", "1.0.0", "t").action(action("test_connection", "t", ok))
}

fn good() -> PluginDefinition {
    base("bacon-plugin-good").settings_default(json!({"greeting": "hi", "retries": 3}))
}

fn invalid_schema() -> PluginDefinition {
    let mut def = base("bacon-plugin-badschema");
    def.settings_schema["properties"]["greeting"]["type"] = json!("no-such-type");
    def
}

fn bad_default() -> PluginDefinition {
    base("bacon-plugin-baddefault").settings_default(json!({"retries": 99}))
}

fn bad_format() -> PluginDefinition {
    base("bacon-plugin-badformat").settings_default(json!({"contact": "not an email"}))
}

fn bad_version() -> PluginDefinition {
    let mut def = base("bacon-plugin-badversion");
    def.version = "one".into();
    def
}

fn bad_tenant_hosts() -> PluginDefinition {
    base("bacon-plugin-badhosts").tenant_allowed_hosts("allowedHosts")
}

const FACTORIES: [PluginFactory; 6] = [
    PluginFactory { id: "bacon-plugin-good", build: good },
    PluginFactory { id: "bacon-plugin-badschema", build: invalid_schema },
    PluginFactory { id: "bacon-plugin-baddefault", build: bad_default },
    PluginFactory { id: "bacon-plugin-badformat", build: bad_format },
    PluginFactory { id: "bacon-plugin-badversion", build: bad_version },
    PluginFactory { id: "bacon-plugin-badhosts", build: bad_tenant_hosts },
];

#[test]
fn faulty_plugins_are_reported_with_id_and_pointer_while_others_load() {
    let loader = PluginLoader::new(PluginOverrides::default());
    let report = loader.load_all(&FACTORIES);
    assert_eq!(report.loaded.iter().map(|p| p.id()).collect::<Vec<_>>(), ["bacon-plugin-good"]);
    let faults: Vec<(String, String)> =
        report.faults.iter().map(|f| (f.plugin_id.clone(), f.pointer.clone())).collect();
    assert_eq!(
        faults,
        [
            ("bacon-plugin-badschema".into(), "/settingsSchema/properties/greeting/type".into()),
            ("bacon-plugin-baddefault".into(), "/settingsSchema/properties/retries/default".into()),
            ("bacon-plugin-badformat".into(), "/settingsSchema/properties/contact/default".into()),
            ("bacon-plugin-badversion".into(), "/version".into()),
            ("bacon-plugin-badhosts".into(), "/tenantHostsSetting".into()),
        ]
    );
    assert!(report.faults[2].message.contains("email"), "{}", report.faults[2].message);
}

#[test]
fn loading_twice_returns_the_same_instance() {
    let loader = PluginLoader::new(PluginOverrides::default());
    let a = loader.load(&FACTORIES[0]).unwrap().unwrap();
    let b = loader.load(&FACTORIES[0]).unwrap().unwrap();
    assert!(Arc::ptr_eq(&a, &b));
}

#[test]
fn overrides_apply_and_are_validated_again() {
    let overrides = PluginOverrides::from_vars([
        ("BACON_PLUGIN_GOOD__DEFAULTS__GREETING".to_string(), "hello from env".to_string()),
        ("BACON_PLUGIN_GOOD__BASE_URL".into(), "http://127.0.0.1:9999".into()),
        ("BACON_PLUGIN_BADSCHEMA__ENABLED".into(), "false".into()),
    ]);
    let loader = PluginLoader::new(overrides);
    let report = loader.load_all(&FACTORIES[..2]);
    let good = &report.loaded[0];
    assert_eq!(good.definition.settings_schema["default"]["greeting"], "hello from env");
    assert_eq!(good.defaults["greeting"], "hello from env");
    assert_eq!(good.base_url.as_deref(), Some("http://127.0.0.1:9999"));
    assert_eq!(report.disabled, ["bacon-plugin-badschema"]);

    let breaking = PluginLoader::new(PluginOverrides::from_vars([(
        "BACON_PLUGIN_GOOD__DEFAULTS__RETRIES".to_string(),
        "50".to_string(),
    )]));
    let fault = breaking.load(&FACTORIES[0]).unwrap_err();
    assert_eq!(fault.pointer, "/settingsSchema/properties/retries/default");
}
