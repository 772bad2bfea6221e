//! Inbound WhatsApp messages: Twilio's webhook verified, then normalised.
//!
//! Twilio POSTs a form (`From`, `To`, `Body`, `NumMedia`, `MediaUrl0…`, `MessageSid`, `WaId`,
//! `ProfileName`, and more that may grow) to the URL configured on the sender, and expects TwiML
//! back. The `message_received` trigger and the channel adapter both go through [`receive`].

use std::collections::BTreeMap;
use std::sync::Arc;

use bacon_plugin_sdk::Secret;
use bacon_plugin_sdk::channel::InboundMessage;
use bacon_plugin_sdk::schema::schema_of;
use bacon_plugin_sdk::schemars::{self, JsonSchema};
use bacon_plugin_sdk::trigger::{
    InboundRequest, TriggerDefinition, TriggerKind, VerifiedDelivery, VerifyError, WebhookTrigger,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::signature;

/// The channel name inbound messages carry.
pub const CHANNEL: &str = "whatsapp";

/// The TwiML Twilio gets back: an empty `<Response>`, so it sends no automatic reply.
pub const EMPTY_TWIML: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Response></Response>"#;

/// Most media one WhatsApp message carries; bounds the `MediaUrl{N}` scan.
const MAX_MEDIA: usize = 10;

/// The settings verification needs; the rest of the settings are ignored here.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WebhookSettings {
    account_sid: Option<String>,
    auth_token: Option<Secret<String>>,
}

/// One attached media item.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InboundMedia {
    /// Twilio's URL of the media (fetching it needs the account's credentials).
    pub url: String,
    pub content_type: Option<String>,
}

/// The `message_received` event: the normalised message plus what Twilio says about the sender.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageReceived {
    /// `whatsapp`, the user (`From`), the conversation (`From|To`), text, media URLs, `MessageSid`.
    #[serde(flatten)]
    pub message: InboundMessage,
    /// The user's address, `whatsapp:+15558675310`.
    pub from: String,
    /// The business sender that received it, `whatsapp:+14155238886`.
    pub to: String,
    /// The user's WhatsApp id (their number without `+`).
    pub wa_id: Option<String>,
    /// The user's WhatsApp profile name.
    pub profile_name: Option<String>,
    pub account_sid: Option<String>,
    pub messaging_service_sid: Option<String>,
    pub media: Vec<InboundMedia>,
    /// Every field Twilio sent, as sent (new fields appear here before they get a name above).
    pub fields: BTreeMap<String, String>,
}

/// Verifies `request` against the settings' Auth Token, then normalises it.
///
/// # Errors
/// `MissingSignature` without `X-Twilio-Signature`; `BadSignature` when it does not match;
/// `Malformed` when no Auth Token is configured, the body is not a form, the message is for another
/// account, it is a status callback, or `MessageSid`/`From`/`To` is missing.
pub(crate) fn receive(settings: &Value, request: &InboundRequest) -> Result<MessageReceived, VerifyError> {
    let signature = request.header("x-twilio-signature").filter(|s| !s.trim().is_empty());
    let signature = signature.ok_or(VerifyError::MissingSignature)?;
    let settings: WebhookSettings = serde_json::from_value(settings.clone())
        .map_err(|_| VerifyError::Malformed("the plugin settings are invalid".into()))?;
    let token =
        settings.auth_token.as_ref().filter(|t| !t.expose().is_empty()).ok_or_else(|| {
            VerifyError::Malformed("set the plugin's `authToken`: Twilio signs webhooks with it".into())
        })?;
    if request.url.contains("bodySHA256=") {
        return Err(VerifyError::Malformed("JSON-body webhooks (`bodySHA256`) are not supported here".into()));
    }
    // A POST signs its form; a GET webhook signs the URL alone and carries its fields in the query.
    let is_post = request.method.eq_ignore_ascii_case("POST");
    let signed = if is_post { parse_form(&request.body)? } else { Vec::new() };
    if !signature::is_valid(token.expose(), &request.url, &signed, signature) {
        return Err(VerifyError::BadSignature);
    }
    let fields = if is_post { signed } else { query_fields(&request.url)? };
    let fields: BTreeMap<String, String> = fields.into_iter().collect();
    if let (Some(ours), Some(theirs)) = (settings.account_sid.as_deref(), fields.get("AccountSid"))
        && ours.trim() != theirs
    {
        return Err(VerifyError::Malformed(format!("the message is for account {theirs}, not this one")));
    }
    normalise(fields)
}

fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, VerifyError> {
    serde_urlencoded::from_bytes(body).map_err(|e| VerifyError::Malformed(format!("the body is not a form: {e}")))
}

fn query_fields(url: &str) -> Result<Vec<(String, String)>, VerifyError> {
    let url = url::Url::parse(url).map_err(|e| VerifyError::Malformed(format!("the URL is invalid: {e}")))?;
    Ok(url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
}

fn required(fields: &BTreeMap<String, String>, names: &[&str]) -> Result<String, VerifyError> {
    names
        .iter()
        .find_map(|n| fields.get(*n).map(|v| v.trim()).filter(|v| !v.is_empty()))
        .map(String::from)
        .ok_or_else(|| VerifyError::Malformed(format!("the form has no `{}`", names[0])))
}

/// Twilio's inbound form as a [`MessageReceived`].
fn normalise(fields: BTreeMap<String, String>) -> Result<MessageReceived, VerifyError> {
    if fields.contains_key("MessageStatus") {
        return Err(VerifyError::Malformed(
            "this is a status callback, not an inbound message; point `statusCallbackUrl` elsewhere".into(),
        ));
    }
    let message_sid = required(&fields, &["MessageSid", "SmsMessageSid", "SmsSid"])?;
    let from = required(&fields, &["From"])?;
    let to = required(&fields, &["To"])?;
    let optional = |name: &str| fields.get(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let declared = fields.get("NumMedia").and_then(|n| n.trim().parse::<usize>().ok());
    let media: Vec<InboundMedia> = (0..declared.unwrap_or(MAX_MEDIA).min(MAX_MEDIA))
        .map_while(|i| {
            optional(&format!("MediaUrl{i}"))
                .map(|url| InboundMedia { url, content_type: optional(&format!("MediaContentType{i}")) })
        })
        .collect();
    let message = InboundMessage {
        channel: CHANNEL.into(),
        external_user_id: from.clone(),
        conversation_id: format!("{from}|{to}"),
        text: fields.get("Body").filter(|b| !b.is_empty()).cloned(),
        media_urls: media.iter().map(|m| m.url.clone()).collect(),
        delivery_id: message_sid,
    };
    Ok(MessageReceived {
        message,
        wa_id: optional("WaId"),
        profile_name: optional("ProfileName"),
        account_sid: optional("AccountSid"),
        messaging_service_sid: optional("MessagingServiceSid"),
        from,
        to,
        media,
        fields,
    })
}

/// The `message_received` webhook: verification, then the event; answers Twilio with empty TwiML.
pub struct MessageReceivedTrigger;

impl WebhookTrigger for MessageReceivedTrigger {
    fn verify(&self, settings: &Value, request: &InboundRequest) -> Result<VerifiedDelivery, VerifyError> {
        let received = receive(settings, request)?;
        let delivery_id = received.message.delivery_id.clone();
        let event = serde_json::to_value(&received)
            .map_err(|e| VerifyError::Malformed(format!("the event does not serialise: {e}")))?;
        Ok(VerifiedDelivery { delivery_id, event })
    }

    fn acknowledgement(&self) -> Option<(String, Vec<u8>)> {
        Some(("text/xml".into(), EMPTY_TWIML.as_bytes().to_vec()))
    }
}

/// The `message_received` trigger. The user pastes the trigger's URL into the WhatsApp sender's
/// (or Messaging Service's) "A message comes in" webhook in the Twilio Console.
pub fn message_received() -> TriggerDefinition {
    TriggerDefinition {
        key: "message_received".into(),
        description: "A WhatsApp message reached one of the account's senders (verified with X-Twilio-Signature)."
            .into(),
        event_schema: schema_of::<MessageReceived>(),
        kind: TriggerKind::Webhook(Arc::new(MessageReceivedTrigger)),
    }
}
