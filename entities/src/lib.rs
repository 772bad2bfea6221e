//! sea-orm entity models of Bacon tables, and nothing else.
//!
//! One module per table, named after it. Models stay plain: no `ToSchema`, no API concerns;
//! the store in `bacon-engine` is the only code that queries them. To add a table, write its
//! migration in `bacon-migration` first, then its module here.

pub mod api_keys;
pub mod audit_log;
pub mod bots;
pub mod channel_messages;
pub mod conversations;
pub mod encryption_keys;
pub mod flow_versions;
pub mod flows;
pub mod inbound_events;
pub mod plugin_settings;
pub mod rest_hook_deliveries;
pub mod rest_hook_subscriptions;
pub mod runs;
pub mod steps;
pub mod tenants;
pub mod trigger_subscriptions;
pub mod waits;
