//! AI-context enrichment: short snippets about a conversation's customer, with a weight.

use serde::{Deserialize, Serialize};

use crate::BoxFuture;
use crate::context::ActionContext;
use crate::error::ActionError;

/// Who the conversation is with.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    pub conversation_id: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub external_user_id: Option<String>,
}

/// One piece of context for the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ContextSnippet {
    /// Where it came from (`shopify:order:1001`).
    pub source: String,
    pub content: String,
    /// Higher comes first.
    pub weight: f32,
}

/// A plugin that adds context to a conversation.
pub trait ContextEnricher: Send + Sync {
    fn enrich_context(
        &self,
        ctx: ActionContext,
        conversation: Conversation,
    ) -> BoxFuture<'static, Result<Vec<ContextSnippet>, ActionError>>;
}
