//! The [`ActionRuntime`] port: how a step reaches a plugin (its actions, and its context
//! enrichers). The job queue port lives with the rest of background work in [`crate::work`].

use bacon_plugin_sdk::{BoxFuture, RetryPolicy};

use crate::StoreError;
use crate::enrich::{EnrichOutcome, EnrichRequest};
use crate::plugins::registry::{InvokeOutcome, InvokeRequest, PluginRegistry};

/// The runtime port the engine reaches plugins through (`plugins.invokeAction` of the plugin
/// spec). The [`PluginRegistry`] implements it, so audit logging and guarded execution apply
/// inside flows; engine tests may supply their own.
pub trait ActionRuntime: Send + Sync + 'static {
    /// Runs one action call.
    fn invoke_action(&self, request: InvokeRequest) -> BoxFuture<'_, InvokeOutcome>;

    /// The action's declared retry policy, when the action exists.
    fn retry_policy(&self, plugin_id: &str, action: &str) -> Option<RetryPolicy>;

    /// Runs the tenant's enabled context enrichers (an `ai_context` node; see [`crate::enrich`]).
    /// By default there are none: a runtime without plugins adds no context.
    fn enrich_context(&self, request: EnrichRequest) -> BoxFuture<'_, Result<EnrichOutcome, StoreError>> {
        Box::pin(async move { Ok(EnrichOutcome::empty(&request)) })
    }
}

impl ActionRuntime for PluginRegistry {
    fn invoke_action(&self, request: InvokeRequest) -> BoxFuture<'_, InvokeOutcome> {
        Box::pin(self.invoke(request))
    }

    fn retry_policy(&self, plugin_id: &str, action: &str) -> Option<RetryPolicy> {
        self.get(plugin_id).and_then(|p| p.definition.find_action(action).map(|a| a.retry.clone()))
    }

    fn enrich_context(&self, request: EnrichRequest) -> BoxFuture<'_, Result<EnrichOutcome, StoreError>> {
        Box::pin(self.enrich(request))
    }
}
