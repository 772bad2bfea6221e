//! Channel adapters: sending messages to, and normalising messages from, a messaging channel.

use serde::{Deserialize, Serialize};

use crate::BoxFuture;
use crate::context::ActionContext;
use crate::error::ActionError;
use crate::trigger::{InboundRequest, VerifyError};

/// A message to send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutboundMessage {
    /// The channel's address of the recipient (`whatsapp:+15551234567`).
    pub to: String,
    pub text: Option<String>,
    #[serde(default)]
    pub media_urls: Vec<String>,
    /// A channel template id and its variables, when the channel requires templates.
    pub template_id: Option<String>,
    #[serde(default)]
    pub template_variables: serde_json::Map<String, serde_json::Value>,
}

/// What the channel said about a sent message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SentMessage {
    pub external_id: String,
    pub status: String,
}

/// An inbound message, normalised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InboundMessage {
    pub channel: String,
    pub external_user_id: String,
    pub conversation_id: String,
    pub text: Option<String>,
    #[serde(default)]
    pub media_urls: Vec<String>,
    /// The vendor's id of this message, for de-duplication.
    pub delivery_id: String,
}

/// A messaging channel.
pub trait ChannelAdapter: Send + Sync {
    /// Sends one message.
    fn send_message(
        &self,
        ctx: ActionContext,
        message: OutboundMessage,
    ) -> BoxFuture<'static, Result<SentMessage, ActionError>>;

    /// Verifies (signature first) and normalises an inbound request.
    ///
    /// # Errors
    /// [`VerifyError`] when the request must be refused.
    fn validate_payload(
        &self,
        settings: &serde_json::Value,
        request: &InboundRequest,
    ) -> Result<InboundMessage, VerifyError>;
}
