//! The `contact_created` trigger: HubSpot's `contact.creation` webhook events.
//!
//! Verification comes first: the v3 signature over method, URI, raw body and timestamp under
//! the app's client secret (or the one being rotated out), within five minutes (see
//! [`crate::signature`]). HubSpot then sends a JSON array of up to 100 events; the events of
//! other subscription types are dropped, and the rest become one flow event. A signed delivery
//! holding none is [`VerifyError::NoEvent`]: acknowledged, so HubSpot does not retry it.
//!
//! De-duplication: a delivery of one event (the usual case) is keyed by its `eventId`. A batch
//! is keyed by `batch-` + the SHA-256 (hex) of its sorted `eventId`s, so HubSpot's retry of the
//! same request is recognised; a different batch that repeats an event is not (the SDK keys a
//! delivery, not each event in it).

use std::time::{SystemTime, UNIX_EPOCH};

use bacon_plugin_sdk::Secret;
use bacon_plugin_sdk::schemars::{self, JsonSchema};
use bacon_plugin_sdk::trigger::{InboundRequest, VerifiedDelivery, VerifyError, WebhookTrigger};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::signature::verify_v3;

/// The HubSpot subscription type behind `contact_created`.
pub const SUBSCRIPTION_TYPE: &str = "contact.creation";

/// What a flow receives when contacts are created.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContactCreatedEvent {
    /// `contact.creation`.
    pub subscription_type: String,
    /// The HubSpot account the contacts belong to.
    pub portal_id: Option<u64>,
    /// The new contact's id (the first one, when HubSpot batched several).
    pub contact_id: String,
    /// Every new contact's id in this delivery, in HubSpot's order.
    pub contact_ids: Vec<String>,
    /// The events' `eventId`s, as text (they may exceed what JavaScript numbers hold).
    pub event_ids: Vec<String>,
    /// When the (first) contact was created, epoch milliseconds.
    pub occurred_at: Option<u64>,
    /// The `contact.creation` events exactly as HubSpot sent them (`eventId`, `subscriptionId`,
    /// `portalId`, `appId`, `occurredAt`, `attemptNumber`, `objectId`, `changeSource`, …).
    pub events: Vec<Value>,
}

/// The settings verification reads; lenient, so a delivery can be checked even when other
/// settings are incomplete.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct VerificationSettings {
    client_secret: Option<Secret<String>>,
    previous_client_secret: Option<Secret<String>>,
    portal_id: Option<u64>,
}

/// `contact.creation` deliveries.
pub struct ContactCreated;

impl ContactCreated {
    /// [`WebhookTrigger::verify`] as of `now` (the timestamp window is measured from it).
    ///
    /// # Errors
    /// As [`crate::signature::verify_v3`]; `Malformed` without a configured secret, for a body
    /// that is not an array of events, or for events of another portal than `portalId`;
    /// `NoEvent` for a signed delivery with no `contact.creation` event (the host acknowledges
    /// it and starts nothing).
    pub fn verify_at(
        &self,
        settings: &Value,
        request: &InboundRequest,
        now: SystemTime,
    ) -> Result<VerifiedDelivery, VerifyError> {
        let settings: VerificationSettings = serde_json::from_value(settings.clone()).unwrap_or_default();
        let secrets: Vec<&[u8]> = [&settings.client_secret, &settings.previous_client_secret]
            .into_iter()
            .flatten()
            .map(|s| s.expose().as_bytes())
            .filter(|s| !s.is_empty())
            .collect();
        if secrets.is_empty() {
            return Err(VerifyError::Malformed(
                "no client secret is configured (set `clientSecret`), so no delivery can be verified".into(),
            ));
        }
        let now_ms = now.duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or_default();
        verify_v3(&secrets, request, now_ms)?;
        let events: Vec<Value> = serde_json::from_slice(&request.body)
            .map_err(|e| VerifyError::Malformed(format!("the body is not a JSON array of events: {e}")))?;
        if let Some(portal) = settings.portal_id
            && let Some(other) = events.iter().filter_map(|e| e["portalId"].as_u64()).find(|p| *p != portal)
        {
            return Err(VerifyError::Malformed(format!("the delivery is for portal {other}, not {portal}")));
        }
        let created: Vec<Value> =
            events.iter().filter(|e| e["subscriptionType"] == SUBSCRIPTION_TYPE).cloned().collect();
        if created.is_empty() {
            let mut types: Vec<&str> = events.iter().filter_map(|e| e["subscriptionType"].as_str()).collect();
            types.sort_unstable();
            types.dedup();
            // Authentic, just not for us: refusing it would make HubSpot retry it for days.
            return Err(VerifyError::NoEvent(format!(
                "no `{SUBSCRIPTION_TYPE}` event (it holds: {})",
                if types.is_empty() { "nothing".into() } else { types.join(", ") }
            )));
        }
        let event_ids = created.iter().map(|e| id_text(&e["eventId"], "eventId")).collect::<Result<Vec<_>, _>>()?;
        let contact_ids = created.iter().map(|e| id_text(&e["objectId"], "objectId")).collect::<Result<Vec<_>, _>>()?;
        let event = ContactCreatedEvent {
            subscription_type: SUBSCRIPTION_TYPE.into(),
            portal_id: created[0]["portalId"].as_u64(),
            contact_id: contact_ids[0].clone(),
            occurred_at: created[0]["occurredAt"].as_u64(),
            contact_ids,
            event_ids: event_ids.clone(),
            events: created,
        };
        let event = serde_json::to_value(event).map_err(|e| VerifyError::Malformed(e.to_string()))?;
        Ok(VerifiedDelivery { delivery_id: delivery_id(&event_ids), event })
    }
}

impl WebhookTrigger for ContactCreated {
    fn verify(&self, settings: &Value, request: &InboundRequest) -> Result<VerifiedDelivery, VerifyError> {
        self.verify_at(settings, request, SystemTime::now())
    }
}

/// An id HubSpot sends as a number (or, tolerated, as text).
fn id_text(value: &Value, field: &str) -> Result<String, VerifyError> {
    match value {
        Value::Number(n) if n.is_u64() => Ok(n.to_string()),
        Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
        _ => Err(VerifyError::Malformed(format!("an event has no `{field}`"))),
    }
}

/// The event id of a single event; `batch-<sha256 of the sorted ids>` for several.
pub fn delivery_id(event_ids: &[String]) -> String {
    if let [only] = event_ids {
        return only.clone();
    }
    let mut sorted: Vec<&str> = event_ids.iter().map(String::as_str).collect();
    sorted.sort_unstable_by(|a, b| a.len().cmp(&b.len()).then(a.cmp(b)));
    sorted.dedup();
    let digest = Sha256::digest(sorted.join(",").as_bytes());
    format!("batch-{}", digest.iter().map(|b| format!("{b:02x}")).collect::<String>())
}
