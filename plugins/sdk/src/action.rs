//! Actions: a key, schemas, a retry policy, a timeout and a typed handler, erased for the host.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::BoxFuture;
use crate::context::ActionContext;
use crate::error::ActionError;
use crate::retry::RetryPolicy;
use crate::schema::schema_of;

/// The erased handler the host calls: JSON input in, JSON output out.
pub type ErasedHandler =
    Arc<dyn Fn(ActionContext, Value) -> BoxFuture<'static, Result<Value, ActionError>> + Send + Sync>;

/// One action of a plugin.
#[derive(Clone)]
pub struct ActionDefinition {
    /// A snake_case verb: `get_order`, `send_message`, `test_connection`.
    pub key: String,
    pub description: String,
    /// JSON Schema (2020-12) of the input.
    pub input_schema: Value,
    /// JSON Schema (2020-12) of the output.
    pub output_schema: Value,
    pub retry: RetryPolicy,
    /// How long one attempt may take before the host abandons it.
    pub timeout: Duration,
    pub handler: ErasedHandler,
}

impl std::fmt::Debug for ActionDefinition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActionDefinition").field("key", &self.key).field("retry", &self.retry).finish()
    }
}

/// Declares an action from a typed handler `async fn(ctx, settings, input) -> Result<output, _>`.
/// Settings, input and output schemas come from the types; defaults: [`RetryPolicy::default`],
/// a 30 s timeout.
pub fn action<S, I, O, F, Fut>(key: &str, description: &str, handler: F) -> ActionDefinition
where
    S: DeserializeOwned + Send + 'static,
    I: DeserializeOwned + JsonSchema + Send + 'static,
    O: Serialize + JsonSchema + 'static,
    F: Fn(ActionContext, S, I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, ActionError>> + Send + 'static,
{
    let handler = Arc::new(handler);
    let erased: ErasedHandler = Arc::new(move |ctx: ActionContext, input: Value| {
        let handler = handler.clone();
        Box::pin(async move {
            let settings: S = ctx.settings()?;
            let input: I = serde_json::from_value(input)
                .map_err(|e| ActionError::InvalidInput { message: format!("invalid input: {e}"), pointer: None })?;
            let output = handler(ctx, settings, input).await?;
            serde_json::to_value(output).map_err(|e| ActionError::permanent(format!("output is not JSON: {e}")))
        })
    });
    ActionDefinition {
        key: key.to_string(),
        description: description.to_string(),
        input_schema: schema_of::<I>(),
        output_schema: schema_of::<O>(),
        retry: RetryPolicy::default(),
        timeout: Duration::from_secs(30),
        handler: erased,
    }
}

impl ActionDefinition {
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// What every `test_connection` action returns.
#[derive(Debug, Clone, Serialize, serde::Deserialize, JsonSchema)]
pub struct ConnectionStatus {
    /// Whether the credentials work.
    pub ok: bool,
    /// A sentence for the user: what worked, or the vendor's reason for refusing.
    pub message: String,
    /// What the vendor said about the account (name, plan, …), when `ok`.
    #[serde(default)]
    pub details: Value,
}

/// No input.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoInput {}
