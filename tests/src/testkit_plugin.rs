//! `bacon-plugin-testkit`: a real plugin whose actions misbehave on purpose (fail once, fail for
//! good, panic, hang, return 50 MB), so tests can watch the host contain them.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use bacon_engine::plugins::PluginFactory;
use bacon_plugin_sdk::action::{ConnectionStatus, NoInput};
use bacon_plugin_sdk::schemars::{self, JsonSchema};
use bacon_plugin_sdk::{ActionContext, ActionError, PluginDefinition, RetryPolicy, Secret, action};
use serde::{Deserialize, Serialize};
use serde_json::json;

pub const ID: &str = "bacon-plugin-testkit";

/// The testkit's settings.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TestkitSettings {
    /// A greeting echoed by `echo`.
    #[serde(default)]
    pub greeting: String,
    /// A credential; `leak` puts it in an error message to prove the host scrubs it.
    #[schemars(length(min = 8))]
    pub api_token: Option<Secret<String>>,
}

/// Input naming a call, so counters are per test.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Keyed {
    /// A key unique to the calling test.
    pub key: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Echo {
    pub greeting: String,
    pub attempt: u32,
}

fn attempts() -> &'static Mutex<HashMap<String, u32>> {
    static A: OnceLock<Mutex<HashMap<String, u32>>> = OnceLock::new();
    A.get_or_init(|| Mutex::new(HashMap::new()))
}

async fn flaky(ctx: ActionContext, settings: TestkitSettings, input: Keyed) -> Result<Echo, ActionError> {
    let n = {
        let mut map = attempts().lock().expect("lock");
        let n = map.entry(input.key).or_insert(0);
        *n += 1;
        *n
    };
    if n == 1 {
        return Err(ActionError::Retryable { message: "the first call always fails".into(), retry_after: None });
    }
    Ok(Echo { greeting: settings.greeting, attempt: ctx.attempt })
}

async fn echo(ctx: ActionContext, settings: TestkitSettings, _: NoInput) -> Result<Echo, ActionError> {
    Ok(Echo { greeting: settings.greeting, attempt: ctx.attempt })
}

async fn permanent(_: ActionContext, _: TestkitSettings, _: NoInput) -> Result<Echo, ActionError> {
    Err(ActionError::permanent("this never works"))
}

async fn leak(_: ActionContext, settings: TestkitSettings, _: NoInput) -> Result<Echo, ActionError> {
    let token = settings.api_token.map(|t| t.into_inner()).unwrap_or_default();
    Err(ActionError::unauthorized(format!("the vendor rejected token {token}")))
}

async fn panics(_: ActionContext, _: TestkitSettings, _: NoInput) -> Result<Echo, ActionError> {
    panic!("testkit panics on purpose")
}

async fn hangs(_: ActionContext, _: TestkitSettings, _: NoInput) -> Result<Echo, ActionError> {
    tokio::time::sleep(Duration::from_secs(3600)).await;
    Err(ActionError::permanent("unreachable"))
}

async fn huge(_: ActionContext, _: TestkitSettings, _: NoInput) -> Result<String, ActionError> {
    Ok("x".repeat(50 * 1024 * 1024))
}

/// The status the operator's base URL answered.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Fetched {
    pub status: u16,
}

/// GETs the operator's base URL for this plugin with the host's client, as a vendor plugin
/// calls its vendor: the client's allow-list and egress policy are the host's, not the plugin's.
async fn call_vendor(ctx: ActionContext, _: TestkitSettings, _: NoInput) -> Result<Fetched, ActionError> {
    let url = ctx.base_url_or("https://vendor.invalid");
    let response = ctx.http.send(ctx.http.request(reqwest::Method::GET, &url)?).await?;
    Ok(Fetched { status: response.status().as_u16() })
}

async fn test_connection(_: ActionContext, _: TestkitSettings, _: NoInput) -> Result<ConnectionStatus, ActionError> {
    Ok(ConnectionStatus { ok: true, message: "testkit is always reachable".into(), details: json!({}) })
}

fn fast_retry() -> RetryPolicy {
    RetryPolicy::Fixed { interval_ms: 10, max_attempts: 3 }
}

/// The definition.
pub fn definition() -> PluginDefinition {
    PluginDefinition::new::<TestkitSettings>(ID, "Testkit", "0.1.0", "Actions that misbehave on purpose.")
        .settings_default(json!({"greeting": "hello"}))
        .action(action("flaky", "Fails retryably on the first call per key.", flaky).with_retry(fast_retry()))
        .action(action("echo", "Returns the greeting.", echo))
        .action(action("fail_permanently", "Always fails permanently.", permanent).with_retry(fast_retry()))
        .action(action("leak_token", "Fails with the token in its message.", leak).with_retry(RetryPolicy::None))
        .action(action("panic", "Panics.", panics).with_retry(RetryPolicy::None))
        .action(
            action("hang", "Never finishes.", hangs)
                .with_retry(RetryPolicy::None)
                .with_timeout(Duration::from_millis(300)),
        )
        .action(action("huge_output", "Returns 50 MB.", huge).with_retry(RetryPolicy::None))
        .action(
            action("hang_with_retries", "Never finishes, and timeouts are retried.", hangs)
                .with_retry(RetryPolicy::Fixed { interval_ms: 50, max_attempts: 50 })
                .with_timeout(Duration::from_millis(400)),
        )
        .action(action("test_connection", "Always ok.", test_connection).with_retry(RetryPolicy::None))
        .action(action("call_vendor", "GETs the operator's base URL.", call_vendor).with_retry(RetryPolicy::None))
}

pub fn factory() -> PluginFactory {
    PluginFactory { id: ID, build: definition }
}
