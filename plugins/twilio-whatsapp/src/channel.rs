//! The WhatsApp channel adapter: bots reply through `send_message` and receive through
//! `validate_payload`, both on the same code as the actions and the trigger.

use bacon_plugin_sdk::channel::{ChannelAdapter, InboundMessage, OutboundMessage, SentMessage};
use bacon_plugin_sdk::trigger::{InboundRequest, VerifyError};
use bacon_plugin_sdk::{ActionContext, ActionError, BoxFuture};

use crate::inbound;
use crate::messages::{self, SendMessageInput};
use crate::settings::TwilioSettings;

/// Twilio WhatsApp as a messaging channel.
pub struct WhatsAppChannel;

impl From<OutboundMessage> for SendMessageInput {
    /// `text` -> `Body`, `media_urls` -> `MediaUrl`, `template_id` -> `ContentSid`,
    /// `template_variables` -> `ContentVariables`; the sender comes from the settings.
    fn from(message: OutboundMessage) -> Self {
        Self {
            to: message.to,
            body: message.text,
            media_urls: message.media_urls,
            content_sid: message.template_id,
            content_variables: message.template_variables,
            ..Self::default()
        }
    }
}

impl ChannelAdapter for WhatsAppChannel {
    fn send_message(
        &self,
        ctx: ActionContext,
        message: OutboundMessage,
    ) -> BoxFuture<'static, Result<SentMessage, ActionError>> {
        Box::pin(async move {
            let settings: TwilioSettings = ctx.settings()?;
            let sent = messages::send(&ctx, &settings, &SendMessageInput::from(message)).await?;
            Ok(SentMessage { external_id: sent.sid, status: sent.status })
        })
    }

    fn validate_payload(
        &self,
        settings: &serde_json::Value,
        request: &InboundRequest,
    ) -> Result<InboundMessage, VerifyError> {
        inbound::receive(settings, request).map(|received| received.message)
    }
}
