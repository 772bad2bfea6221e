//! Triggers: how a plugin's events reach Bacon (verified webhooks, polling, schedules).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::BoxFuture;
use crate::context::ActionContext;
use crate::error::ActionError;

/// A raw inbound HTTP request, exactly as received (signatures are computed over these bytes).
#[derive(Debug, Clone)]
pub struct InboundRequest {
    pub method: String,
    /// The public URL the vendor called (signatures such as Twilio's cover it).
    pub url: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl InboundRequest {
    /// The first value of a header (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }
}

/// A delivery that passed verification.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedDelivery {
    /// The vendor's id of this delivery, for de-duplication.
    pub delivery_id: String,
    /// The event, as flows see it in `trigger`.
    pub event: Value,
}

/// Why a delivery was refused (never includes a secret or an expected signature).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the signature is missing")]
    MissingSignature,
    #[error("the signature does not match")]
    BadSignature,
    #[error("the delivery is outside the accepted time window")]
    Expired,
    #[error("the delivery is malformed: {0}")]
    Malformed(String),
    /// The delivery is authentic (return this only after its signature verified) but holds no
    /// event for this trigger, say only events of other subscription types. Not a refusal: the
    /// host acknowledges it so the vendor stops retrying, and stores and starts nothing.
    #[error("the delivery holds no event for this trigger: {0}")]
    NoEvent(String),
}

/// A vendor-side subscription created on activation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// The vendor's id, needed to remove it.
    pub external_id: Option<String>,
}

/// A webhook trigger's behaviour: verification first, then (optional) vendor-side registration.
pub trait WebhookTrigger: Send + Sync {
    /// Verifies a delivery against the tenant's settings (secrets decrypted) before any other
    /// plugin logic runs, and extracts its delivery id and event.
    ///
    /// # Errors
    /// [`VerifyError`] when the delivery must be refused.
    fn verify(&self, settings: &Value, request: &InboundRequest) -> Result<VerifiedDelivery, VerifyError>;

    /// Registers `hook_url` with the vendor. The default does nothing (the user registers it).
    fn subscribe(
        &self,
        _ctx: ActionContext,
        _hook_url: String,
    ) -> BoxFuture<'static, Result<Subscription, ActionError>> {
        Box::pin(async { Ok(Subscription { external_id: None }) })
    }

    /// Removes a registration made by `subscribe`.
    fn unsubscribe(&self, _ctx: ActionContext, _external_id: String) -> BoxFuture<'static, Result<(), ActionError>> {
        Box::pin(async { Ok(()) })
    }

    /// The body to acknowledge a delivery with (TwiML, a SOAP ack, …): content type and bytes.
    fn acknowledgement(&self) -> Option<(String, Vec<u8>)> {
        None
    }
}

/// How a trigger's events arrive.
#[derive(Clone)]
pub enum TriggerKind {
    Webhook(Arc<dyn WebhookTrigger>),
    /// Polled on a schedule; the plugin returns events and the next cursor.
    Polling,
    /// Fired by a cron expression.
    Schedule,
}

/// One trigger of a plugin: an event key (`order_created`), a description, the event's schema.
#[derive(Clone)]
pub struct TriggerDefinition {
    pub key: String,
    pub description: String,
    pub event_schema: Value,
    pub kind: TriggerKind,
}

impl std::fmt::Debug for TriggerDefinition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TriggerDefinition").field("key", &self.key).finish()
    }
}

impl TriggerDefinition {
    /// The trigger kind's name: `webhook`, `polling`, `schedule`.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            TriggerKind::Webhook(_) => "webhook",
            TriggerKind::Polling => "polling",
            TriggerKind::Schedule => "schedule",
        }
    }
}
