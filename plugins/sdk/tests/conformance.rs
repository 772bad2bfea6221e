//! `assert_conformance` catches a deliberately broken definition.

use bacon_plugin_sdk::action::{ConnectionStatus, NoInput};
use bacon_plugin_sdk::schemars::{self, JsonSchema};
use bacon_plugin_sdk::testing::{assert_conformance, conformance_problems};
use bacon_plugin_sdk::{ActionContext, ActionError, PluginDefinition, Secret, action};
use serde::Deserialize;

#[derive(Deserialize, JsonSchema)]
#[allow(dead_code)]
struct GoodSettings {
    api_token: Secret<String>,
}

#[derive(Deserialize, JsonSchema)]
#[allow(dead_code)]
struct LeakySettings {
    /// A credential typed as a plain string: it would be echoed back and logged.
    api_token: String,
}

async fn ok(_: ActionContext, _: serde_json::Value, _: NoInput) -> Result<ConnectionStatus, ActionError> {
    Ok(ConnectionStatus { ok: true, message: "fine".into(), details: serde_json::json!({}) })
}

fn good() -> PluginDefinition {
    PluginDefinition::new::<GoodSettings>("bacon-plugin-good", "Good", "1.0.0", "ok").action(action(
        "test_connection",
        "checks",
        ok,
    ))
}

#[test]
fn a_good_definition_conforms() {
    assert_conformance(&good());
}

#[test]
fn a_broken_definition_is_reported_with_pointers() {
    let mut broken = PluginDefinition::new::<LeakySettings>("acme-http", "Broken", "one", "broken")
        .action(action("Get-Order", "bad key", ok))
        .action(action("Get-Order", "twice", ok));
    broken.actions[0].input_schema = serde_json::json!({"type": "no-such-type"});
    let problems = conformance_problems(&broken).join("\n");
    for expected in [
        "/id:",
        "/version:",
        "/settingsSchema/properties/api_token: looks like a credential",
        "/actions/1/key: `Get-Order` is declared twice",
        "/actions/0/key: `Get-Order` must be a snake_case verb",
        "/actions/0/inputSchema",
        "a `test_connection` action is required",
    ] {
        assert!(problems.contains(expected), "missing {expected:?} in:\n{problems}");
    }
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| assert_conformance(&broken)));
    assert!(panicked.is_err(), "assert_conformance must fail on a broken definition");
}
