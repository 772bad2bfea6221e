//! Test helpers for plugin authors (feature `testing`): [`assert_conformance`] and
//! [`context_for`] to run an action against a loopback mock server (wiremock is re-exported).

use std::time::Duration;

use serde_json::Value;

use crate::context::{ActionContext, ContextParts};
use crate::definition::PluginDefinition;
use crate::egress::EgressPolicy;
use crate::http::HttpClient;

pub use wiremock;

/// Names that hold credentials; a settings property named like this must be `writeOnly`.
const SECRET_WORDS: [&str; 6] = ["secret", "token", "password", "apikey", "api_key", "privatekey"];

/// Every conformance problem of a definition, as `pointer: message` lines (empty when none).
pub fn conformance_problems(def: &PluginDefinition) -> Vec<String> {
    let mut problems = Vec::new();
    let name_ok = def
        .id
        .strip_prefix("bacon-plugin-")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
    if !name_ok {
        problems.push(format!("/id: `{}` must be `bacon-plugin-<name>` (lowercase, digits, dashes)", def.id));
    }
    if !is_semver(&def.version) {
        problems.push(format!("/version: `{}` is not a semantic version", def.version));
    }
    check_schema("/settingsSchema", &def.settings_schema, &mut problems);
    if def.settings_schema["type"] != "object" {
        problems.push("/settingsSchema/type: settings must be an object".into());
    }
    if let Some(props) = def.settings_schema["properties"].as_object() {
        for (name, prop) in props {
            let lower = name.to_ascii_lowercase();
            let looks_secret = SECRET_WORDS.iter().any(|w| lower.contains(w));
            if looks_secret && prop["writeOnly"] != Value::Bool(true) {
                problems.push(format!(
                    "/settingsSchema/properties/{name}: looks like a credential but is not a Secret (writeOnly)"
                ));
            }
        }
    }
    let mut keys = std::collections::HashSet::new();
    for (i, action) in def.actions.iter().enumerate() {
        if !keys.insert(action.key.as_str()) {
            problems.push(format!("/actions/{i}/key: `{}` is declared twice", action.key));
        }
        if !is_snake_case(&action.key) {
            problems.push(format!("/actions/{i}/key: `{}` must be a snake_case verb", action.key));
        }
        check_schema(&format!("/actions/{i}/inputSchema"), &action.input_schema, &mut problems);
        check_schema(&format!("/actions/{i}/outputSchema"), &action.output_schema, &mut problems);
        if action.timeout.is_zero() {
            problems.push(format!("/actions/{i}/timeout: must be positive"));
        }
    }
    if !keys.contains("test_connection") {
        problems.push("/actions: a `test_connection` action is required".into());
    }
    let mut trigger_keys = std::collections::HashSet::new();
    for (i, trigger) in def.triggers.iter().enumerate() {
        if !trigger_keys.insert(trigger.key.as_str()) {
            problems.push(format!("/triggers/{i}/key: `{}` is declared twice", trigger.key));
        }
    }
    problems
}

/// Panics with every conformance problem of `def`: unique snake_case keys, valid schemas,
/// credentials marked secret, a `test_connection` action, a `bacon-plugin-<name>` id, semver.
///
/// # Panics
/// When the definition does not conform.
pub fn assert_conformance(def: &PluginDefinition) {
    let problems = conformance_problems(def);
    assert!(problems.is_empty(), "plugin `{}` does not conform:\n{}", def.id, problems.join("\n"));
}

fn check_schema(pointer: &str, schema: &Value, problems: &mut Vec<String>) {
    if let Err(e) = jsonschema::meta::validate(schema) {
        problems.push(format!("{pointer}{}: {e}", e.instance_path()));
    }
}

fn is_snake_case(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !s.starts_with('_')
        && !s.ends_with('_')
}

fn is_semver(s: &str) -> bool {
    let core = s.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// A context for calling an action directly in a test: `settings` as the host would resolve
/// them, the plugin's base URL pointed at `base_url` (a mock server) and that host allowed.
/// Loopback is open (mock servers listen on 127.0.0.1), as an operator would open it.
pub fn context_for(def: &PluginDefinition, action: &str, settings: Value, base_url: &str) -> ActionContext {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut allowed = def.allowed_hosts.clone();
    allowed.push(base_url.to_string());
    ActionContext::new(ContextParts {
        tenant_id: "ten_test".into(),
        bot_id: None,
        plugin_id: def.id.clone(),
        action: action.into(),
        attempt: 1,
        idempotency_key: Some("run_test:step_test".into()),
        run_id: None,
        step_id: None,
        base_url: Some(base_url.to_string()),
        http: HttpClient::with_egress(&allowed, Duration::from_secs(10), EgressPolicy::with_loopback()),
        settings,
    })
}

/// Runs `action` of `def` with `input`, as the host would (minus audit and retries).
///
/// # Errors
/// The action's error.
///
/// # Panics
/// When the action does not exist.
pub async fn run_action(
    def: &PluginDefinition,
    action: &str,
    settings: Value,
    base_url: &str,
    input: Value,
) -> Result<Value, crate::ActionError> {
    let definition = def.find_action(action).unwrap_or_else(|| panic!("no action `{action}`"));
    let ctx = context_for(def, action, settings, base_url);
    (definition.handler)(ctx, input).await
}
