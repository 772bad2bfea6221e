//! `bacon-plugin-twilio-whatsapp`: WhatsApp messages through Twilio's Programmable Messaging API.
//!
//! - [`settings`]: the account, its credential (Auth Token or API key) and the default sender.
//! - `client`: HTTP Basic auth, URLs and Twilio's error codes mapped into `ActionError`.
//! - `messages`: `send_message` (free-form or template) and `get_message_status`.
//! - `connection`: `test_connection`, whose endpoint depends on the credential kind.
//! - `signature` + [`inbound`]: `X-Twilio-Signature` verification and the inbound form normalised,
//!   shared by the `message_received` trigger and the [`channel`] adapter.
//!
//! A new action goes in its own module and one `.action(...)` line in [`definition`].

pub mod channel;
mod client;
mod connection;
pub mod inbound;
mod messages;
pub mod settings;
mod signature;

use std::sync::Arc;

use bacon_plugin_sdk::{PluginDefinition, RetryPolicy, action};
use serde_json::json;

pub use channel::WhatsAppChannel;
pub use inbound::{MessageReceived, MessageReceivedTrigger};
pub use messages::{GetMessageStatusInput, MessageOutput, SendMessageInput};
pub use settings::TwilioSettings;

pub const PLUGIN_ID: &str = "bacon-plugin-twilio-whatsapp";

/// The plugin's declaration.
pub fn definition() -> PluginDefinition {
    PluginDefinition::new::<TwilioSettings>(
        PLUGIN_ID,
        "Twilio WhatsApp",
        env!("CARGO_PKG_VERSION"),
        "Send WhatsApp messages (free-form or approved templates) through Twilio, follow their status, \
         and receive verified inbound messages.",
    )
    .settings_default(json!({"baseUrl": settings::DEFAULT_BASE_URL}))
    .allowed_hosts(&["api.twilio.com"])
    .action(
        action(
            "send_message",
            "Send a WhatsApp message: free-form `body`/`mediaUrls`, or a template `contentSid` + `contentVariables`.",
            messages::send_message,
        )
        // Twilio takes no idempotency key: a retry after a lost answer could send twice, so few.
        .with_retry(RetryPolicy::Exponential {
            initial_ms: 1_000,
            multiplier: 2.0,
            max_interval_ms: 30_000,
            max_attempts: 3,
            jitter: true,
        }),
    )
    .action(
        action(
            "get_message_status",
            "Fetch a message by SID: its status (queued … delivered, read, failed) and error code.",
            messages::get_message_status,
        )
        .with_retry(RetryPolicy::default()),
    )
    .action(
        action(
            "test_connection",
            "Check the credential: the Account (Auth Token) or one message of the account (API key).",
            connection::test_connection,
        )
        .with_retry(RetryPolicy::None),
    )
    .trigger(inbound::message_received())
    .channel(Arc::new(WhatsAppChannel))
}
