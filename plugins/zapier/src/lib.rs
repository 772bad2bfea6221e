//! `bacon-plugin-zapier`: start Zaps from Bacon.
//!
//! Two models (see `docs/plugins/zapier.md`):
//! - **Catch Hook**: the tenant pastes a "Webhooks by Zapier" catch hook URL into the settings and
//!   flows call `send_to_catch_hook`. The URL is the credential: it is a secret and only ever
//!   shown redacted.
//! - **REST hooks**: Zapier subscribes to Bacon's events through endpoints the host exposes;
//!   [`rest_hooks`] holds the plugin side (events, samples, subscribe validation, and the
//!   `deliver_rest_hook` action whose 410 means "delete the subscription").
//!
//! Requests go to `https://hooks.zapier.com` only. When `ctx.base_url` is set (by the operator, or
//! by tests to a mock server), it replaces the scheme and host of hook URLs; paths are kept exactly.

mod catch_hook;
mod client;
mod connection;
pub mod hook_url;
pub mod rest_hooks;
mod settings;

use bacon_plugin_sdk::{PluginDefinition, RetryPolicy, action};
use serde_json::json;

pub use catch_hook::{SendToCatchHookInput, SendToCatchHookOutput};
pub use hook_url::{CatchHookUrl, HookUrlError, RestHookTarget, ZAPIER_HOOKS_HOST};
pub use rest_hooks::deliver::{DeliverRestHookInput, DeliverRestHookOutput, GONE_PREFIX, is_gone};
pub use rest_hooks::events::{RestHookEvent, RestHookPayload, events, find_event, sample_list};
pub use rest_hooks::subscription::{RestHookSubscription, SubscribeError, SubscribeRequest, SubscribeResponse};
pub use settings::ZapierSettings;

pub const PLUGIN_ID: &str = "bacon-plugin-zapier";

/// The plugin's declaration.
pub fn definition() -> PluginDefinition {
    PluginDefinition::new::<ZapierSettings>(
        PLUGIN_ID,
        "Zapier",
        env!("CARGO_PKG_VERSION"),
        "Start Zaps from Bacon: post to a Zap's Catch Hook, or deliver Bacon events to Zaps subscribed by REST hook.",
    )
    .settings_default(json!({"recurseParse": true, "postTestEvent": false}))
    .allowed_hosts(&[ZAPIER_HOOKS_HOST])
    .action(action(
        "send_to_catch_hook",
        "POST a JSON object to the Zap's catch hook and return Zapier's request id.",
        catch_hook::run,
    ))
    .action(action(
        "deliver_rest_hook",
        "POST one event to a REST hook subscription's target URL; a 410 means the host must delete the subscription.",
        rest_hooks::deliver::run,
    ))
    .action(
        action(
            "test_connection",
            "Check the catch hook URL's form and, when `postTestEvent` is on, post a test event to it.",
            connection::run,
        )
        .with_retry(RetryPolicy::None),
    )
}
