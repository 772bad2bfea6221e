//! The Zapier plugin's settings.

use bacon_plugin_sdk::schemars::{self, JsonSchema};
use bacon_plugin_sdk::{ActionError, Secret};
use serde::Deserialize;

use crate::hook_url::{CatchHookUrl, HookUrlError};

fn default_true() -> bool {
    true
}

/// Settings of the Zapier plugin for a tenant (or one bot).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ZapierSettings {
    /// The URL of a "Webhooks by Zapier" Catch Hook trigger,
    /// `https://hooks.zapier.com/hooks/catch/{account}/{hook}/`. Anyone who knows it can start the
    /// Zap, so it is stored as a secret. Needed by `send_to_catch_hook` only (REST hooks need none).
    pub catch_hook_url: Option<Secret<String>>,
    /// Let Zapier flatten nested JSON into fields (its default). When off, requests carry
    /// `X-Recurse-Parse: false` and nested objects reach the Zap as they are.
    #[serde(default = "default_true")]
    pub recurse_parse: bool,
    /// Let `test_connection` post a test event `{"test": true, …}` to the catch hook. A catch hook
    /// accepts any well-formed request, so without this only the URL's form is checked. The event
    /// starts the Zap: filter on `test` in the Zap if it should not act on it.
    #[serde(default)]
    pub post_test_event: bool,
}

impl ZapierSettings {
    /// The parsed catch hook URL.
    ///
    /// # Errors
    /// `Permanent` when the setting is missing or malformed (the message never shows the URL).
    pub fn catch_hook(&self) -> Result<CatchHookUrl, ActionError> {
        self.parse_catch_hook().map_err(ActionError::permanent)
    }

    /// The parsed catch hook URL, or a sentence saying what is wrong with the setting.
    pub(crate) fn parse_catch_hook(&self) -> Result<CatchHookUrl, String> {
        let Some(url) = &self.catch_hook_url else {
            return Err(
                "no catch hook URL is set: copy it from the Zap's \"Catch Hook\" trigger into `catchHookUrl`".into()
            );
        };
        CatchHookUrl::parse(url.expose())
            .map_err(|e: HookUrlError| format!("the `catchHookUrl` setting is not a Zapier catch hook URL: {e}"))
    }
}
