//! REST hooks: Zapier subscribes to Bacon's events, and Bacon delivers them to Zapier.
//!
//! The host owns the endpoints Zapier calls (`POST /v1/plugins/bacon-plugin-zapier/hooks`,
//! `DELETE …/hooks/{id}`, `GET …/samples?event=…`) and the subscription rows; this module holds
//! everything plugin-side it calls, as pure code:
//!
//! - [`events`]: the events Zapier may subscribe to, each with a sample payload, and the sample
//!   list (`performList`) Zapier reads while a user builds a Zap.
//! - [`subscription`]: the subscribe request `{"target_url","event"}`, parsed and validated, and
//!   the subscribe response `{"id"}`.
//! - [`deliver`]: the `deliver_rest_hook` action, and [`deliver::is_gone`], which tells the host to
//!   delete a subscription after Zapier answered 410.
//!
//! To add an event: add it to [`events::events`] with a description and a sample payload.

pub mod deliver;
pub mod events;
pub mod subscription;
