//! The HubSpot plugin's settings: the private app token for API calls, the app's client secret
//! for webhook signatures, and the ticket pipeline defaults.

use bacon_plugin_sdk::Secret;
use bacon_plugin_sdk::schemars::{self, JsonSchema};
use serde::Deserialize;

/// HubSpot's API origin.
pub const DEFAULT_BASE_URL: &str = "https://api.hubapi.com";
/// The id of the default "Support Pipeline" every HubSpot account has.
pub const DEFAULT_TICKET_PIPELINE: &str = "0";
/// The id of the "New" stage of the default support pipeline.
pub const DEFAULT_TICKET_STAGE: &str = "1";

fn default_base_url() -> String {
    DEFAULT_BASE_URL.into()
}

fn default_ticket_pipeline() -> String {
    DEFAULT_TICKET_PIPELINE.into()
}

fn default_ticket_stage() -> String {
    DEFAULT_TICKET_STAGE.into()
}

/// Settings of the HubSpot plugin for a tenant (or one bot).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HubSpotSettings {
    /// The private app's access token (`pat-…`), or an OAuth access token, sent as
    /// `Authorization: Bearer …`. Scopes: `crm.objects.contacts.read`, `crm.objects.contacts.write`,
    /// `tickets` (and optionally `crm.objects.owners.read` for owner names in AI context).
    pub access_token: Secret<String>,
    /// The app's client secret: the key of the `X-HubSpot-Signature-v3` webhook signature.
    /// Needed only for the `contact_created` trigger.
    pub client_secret: Option<Secret<String>>,
    /// The client secret being rotated out; deliveries signed with it are still accepted.
    pub previous_client_secret: Option<Secret<String>>,
    /// The HubSpot account (hub) id. When set, webhook deliveries for another account are refused.
    #[schemars(range(min = 1))]
    pub portal_id: Option<u64>,
    /// The API origin; the operator's base URL for this plugin, when set, wins.
    #[serde(default = "default_base_url")]
    #[schemars(url)]
    pub base_url: String,
    /// The ticket pipeline `create_ticket` uses when its input names none (`0` is the default
    /// support pipeline; ids are listed by `GET /crm/v3/pipelines/tickets`).
    #[serde(default = "default_ticket_pipeline")]
    #[schemars(length(min = 1))]
    pub default_ticket_pipeline: String,
    /// The pipeline stage `create_ticket` uses when its input names none (`1` is "New" in the
    /// default support pipeline).
    #[serde(default = "default_ticket_stage")]
    #[schemars(length(min = 1))]
    pub default_ticket_stage: String,
}
