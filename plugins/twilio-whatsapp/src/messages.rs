//! The `send_message` and `get_message_status` actions (Twilio's Message resource).
//!
//! A message is free-form (`Body` and/or `MediaUrl`, allowed within 24 hours of the user's last
//! message) or a template (`ContentSid` + `ContentVariables`). The channel adapter sends through
//! [`send`] too.

use bacon_plugin_sdk::schemars::{self, JsonSchema};
use bacon_plugin_sdk::{ActionContext, ActionError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::client::TwilioClient;
use crate::settings::{TwilioSettings, is_sid};

/// One WhatsApp message to send: free-form text and/or media, or an approved template.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SendMessageInput {
    /// The recipient: `whatsapp:+15558675310` or `+15558675310` (the prefix is added).
    #[schemars(length(min = 1))]
    pub to: String,
    /// The sender, overriding the settings: `whatsapp:+14155238886` or `+14155238886`.
    pub from: Option<String>,
    /// The sender as a Messaging Service SID (`MG…`), overriding the settings and `from`.
    #[schemars(regex(pattern = r"^MG[0-9a-fA-F]{32}$"))]
    pub messaging_service_sid: Option<String>,
    /// Free-form text (up to 1,600 characters), allowed within 24 hours of the user's last message.
    pub body: Option<String>,
    /// Public `https` URLs of media to attach (one `MediaUrl` each).
    #[serde(default)]
    pub media_urls: Vec<String>,
    /// An approved Content template (`HX…`): required outside the 24-hour window. Not together with
    /// `body` or `mediaUrls`.
    #[schemars(regex(pattern = r"^HX[0-9a-fA-F]{32}$"))]
    pub content_sid: Option<String>,
    /// The template's variables by placeholder, e.g. `{"1": "Ada", "2": "#1001"}`; values are
    /// strings (numbers and booleans are converted). Sent as the JSON string `ContentVariables`.
    #[serde(default)]
    pub content_variables: Map<String, Value>,
    /// Where Twilio posts this message's status updates, overriding `statusCallbackUrl`.
    #[schemars(url)]
    pub status_callback: Option<String>,
}

/// Which message to look up.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetMessageStatusInput {
    /// The Message SID (`SM…` or `MM…`) that `send_message` returned.
    #[schemars(regex(pattern = r"^(SM|MM)[0-9a-fA-F]{32}$"))]
    pub sid: String,
}

/// A Message resource as Twilio reports it.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageOutput {
    /// The Message SID (`SM…`).
    pub sid: String,
    /// `queued`, `sending`, `sent`, `delivered`, `read`, `failed`, `undelivered`, `accepted`,
    /// `scheduled`, `canceled`, `receiving`, `received`, `partially_delivered`.
    pub status: String,
    pub to: Option<String>,
    pub from: Option<String>,
    pub body: Option<String>,
    /// `outbound-api`, `outbound-reply`, `inbound`, …
    pub direction: Option<String>,
    pub messaging_service_sid: Option<String>,
    pub num_media: Option<u32>,
    pub num_segments: Option<u32>,
    /// Twilio's error code when the message failed (63016: outside the 24-hour window).
    pub error_code: Option<i64>,
    pub error_message: Option<String>,
    /// RFC 2822 dates, as Twilio gives them.
    pub date_created: Option<String>,
    pub date_sent: Option<String>,
    pub date_updated: Option<String>,
    pub price: Option<String>,
    pub price_unit: Option<String>,
}

/// Twilio's JSON for a Message (snake_case; counts are strings, codes numbers or null).
#[derive(Debug, Deserialize)]
struct TwilioMessage {
    sid: String,
    status: String,
    to: Option<String>,
    from: Option<String>,
    body: Option<String>,
    direction: Option<String>,
    messaging_service_sid: Option<String>,
    num_media: Option<Value>,
    num_segments: Option<Value>,
    error_code: Option<Value>,
    error_message: Option<String>,
    date_created: Option<String>,
    date_sent: Option<String>,
    date_updated: Option<String>,
    price: Option<Value>,
    price_unit: Option<String>,
}

fn number_of<T: std::str::FromStr + TryFrom<u64>>(value: &Option<Value>) -> Option<T> {
    match value.as_ref()? {
        Value::Number(n) => n.as_u64().and_then(|n| T::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn text_of(value: &Option<Value>) -> Option<String> {
    match value.as_ref()? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl From<TwilioMessage> for MessageOutput {
    fn from(m: TwilioMessage) -> Self {
        let error_code = match m.error_code.as_ref() {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        Self {
            num_media: number_of(&m.num_media),
            num_segments: number_of(&m.num_segments),
            price: text_of(&m.price),
            error_code,
            sid: m.sid,
            status: m.status,
            to: m.to,
            from: m.from,
            body: m.body,
            direction: m.direction,
            messaging_service_sid: m.messaging_service_sid,
            error_message: m.error_message,
            date_created: m.date_created,
            date_sent: m.date_sent,
            date_updated: m.date_updated,
            price_unit: m.price_unit,
        }
    }
}

/// `whatsapp:<number>`, whether or not the prefix was given.
///
/// # Errors
/// `InvalidInput` at `pointer` when no number is left.
pub(crate) fn whatsapp_address(raw: &str, pointer: &str) -> Result<String, ActionError> {
    let trimmed = raw.trim();
    let number = match trimmed.get(..9) {
        Some(prefix) if prefix.eq_ignore_ascii_case("whatsapp:") => trimmed[9..].trim(),
        _ => trimmed,
    };
    if number.is_empty() {
        return Err(ActionError::InvalidInput {
            message: format!("`{raw}` is not a WhatsApp number (`whatsapp:+15558675310`)"),
            pointer: Some(pointer.into()),
        });
    }
    Ok(format!("whatsapp:{number}"))
}

fn invalid(message: impl Into<String>, pointer: &str) -> ActionError {
    ActionError::InvalidInput { message: message.into(), pointer: Some(pointer.into()) }
}

fn absolute_url(raw: &str, pointer: &str) -> Result<String, ActionError> {
    match url::Url::parse(raw.trim()) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(raw.trim().to_string()),
        _ => Err(invalid(format!("`{raw}` is not an absolute http(s) URL"), pointer)),
    }
}

/// The sender fields: `MessagingServiceSid` or `From`, from the input first, then the settings.
fn sender(input: &SendMessageInput, settings: &TwilioSettings) -> Result<(&'static str, String), ActionError> {
    let nonempty = |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(String::from);
    if let Some(sid) = nonempty(&input.messaging_service_sid) {
        if !is_sid(&sid, "MG") {
            return Err(invalid(
                "`messagingServiceSid` must be a Messaging Service SID (`MG…`)",
                "/messagingServiceSid",
            ));
        }
        return Ok(("MessagingServiceSid", sid));
    }
    if let Some(from) = nonempty(&input.from) {
        return Ok(("From", whatsapp_address(&from, "/from")?));
    }
    if let Some(sid) = nonempty(&settings.messaging_service_sid) {
        return Ok(("MessagingServiceSid", sid));
    }
    if let Some(from) = nonempty(&settings.from) {
        return Ok(("From", whatsapp_address(&from, "/from")?));
    }
    Err(invalid("no sender: give `from` or `messagingServiceSid`, or set one in the plugin settings", "/from"))
}

/// The template variables as the JSON object of strings Twilio expects.
fn content_variables(variables: &Map<String, Value>) -> Result<String, ActionError> {
    let mut strings = Map::new();
    for (key, value) in variables {
        let text = match value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => {
                return Err(invalid(
                    format!("template variable `{key}` must be a string, number or boolean"),
                    &format!("/contentVariables/{}", key.replace('~', "~0").replace('/', "~1")),
                ));
            }
        };
        strings.insert(key.clone(), Value::String(text));
    }
    serde_json::to_string(&strings).map_err(|e| ActionError::permanent(format!("encoding the variables failed: {e}")))
}

/// The form Twilio's `Messages.json` expects for `input`.
///
/// # Errors
/// `InvalidInput` (with a pointer) for a message with no content, a template mixed with free-form
/// content, a bad address or URL, or no sender.
pub(crate) fn message_form(
    input: &SendMessageInput,
    settings: &TwilioSettings,
) -> Result<Vec<(&'static str, String)>, ActionError> {
    let body = input.body.as_deref().filter(|b| !b.is_empty());
    let content_sid = input.content_sid.as_deref().map(str::trim).filter(|s| !s.is_empty());
    let mut form = vec![("To", whatsapp_address(&input.to, "/to")?)];
    form.push(sender(input, settings)?);
    match content_sid {
        Some(sid) => {
            if body.is_some() || !input.media_urls.is_empty() {
                return Err(invalid(
                    "send either a template (`contentSid`) or free-form `body`/`mediaUrls`, not both",
                    "/contentSid",
                ));
            }
            if !is_sid(sid, "HX") {
                return Err(invalid("`contentSid` must be a Content template SID (`HX…`)", "/contentSid"));
            }
            form.push(("ContentSid", sid.to_string()));
            if !input.content_variables.is_empty() {
                form.push(("ContentVariables", content_variables(&input.content_variables)?));
            }
        }
        None => {
            if !input.content_variables.is_empty() {
                return Err(invalid("`contentVariables` need a template: set `contentSid`", "/contentSid"));
            }
            if body.is_none() && input.media_urls.is_empty() {
                return Err(invalid("the message is empty: give `body`, `mediaUrls` or `contentSid`", "/body"));
            }
            if let Some(body) = body {
                form.push(("Body", body.to_string()));
            }
            for (i, url) in input.media_urls.iter().enumerate() {
                form.push(("MediaUrl", absolute_url(url, &format!("/mediaUrls/{i}"))?));
            }
        }
    }
    let callback = input.status_callback.as_deref().or(settings.status_callback_url.as_deref());
    if let Some(callback) = callback.map(str::trim).filter(|c| !c.is_empty()) {
        form.push(("StatusCallback", absolute_url(callback, "/statusCallback")?));
    }
    Ok(form)
}

/// Sends one message.
///
/// # Errors
/// `InvalidInput` for a malformed message (nothing is sent); Twilio's refusals per
/// [`crate::client::twilio_error`].
pub(crate) async fn send(
    ctx: &ActionContext,
    settings: &TwilioSettings,
    input: &SendMessageInput,
) -> Result<MessageOutput, ActionError> {
    let form = message_form(input, settings)?;
    let client = TwilioClient::new(ctx, settings)?;
    let message: TwilioMessage = client.post_form(&client.account_url("/Messages.json"), &form).await?;
    Ok(message.into())
}

pub(crate) async fn send_message(
    ctx: ActionContext,
    settings: TwilioSettings,
    input: SendMessageInput,
) -> Result<MessageOutput, ActionError> {
    send(&ctx, &settings, &input).await
}

pub(crate) async fn get_message_status(
    ctx: ActionContext,
    settings: TwilioSettings,
    input: GetMessageStatusInput,
) -> Result<MessageOutput, ActionError> {
    let sid = input.sid.trim();
    if !(is_sid(sid, "SM") || is_sid(sid, "MM")) {
        return Err(invalid("`sid` must be a Message SID (`SM…` or `MM…`)", "/sid"));
    }
    let client = TwilioClient::new(&ctx, &settings)?;
    let message: TwilioMessage = client.get(&client.account_url(&format!("/Messages/{sid}.json")), &[]).await?;
    Ok(message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> TwilioSettings {
        serde_json::from_value(serde_json::json!({
            "accountSid": "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "authToken": "t", "from": "+14155238886"
        }))
        .unwrap()
    }

    fn pointer(err: ActionError) -> Option<String> {
        match err {
            ActionError::InvalidInput { pointer, .. } => pointer,
            other => panic!("expected invalid input, got {other:?}"),
        }
    }

    #[test]
    fn the_whatsapp_prefix_is_ensured_once() {
        assert_eq!(whatsapp_address("+15558675310", "/to").unwrap(), "whatsapp:+15558675310");
        assert_eq!(whatsapp_address(" WhatsApp:+15558675310 ", "/to").unwrap(), "whatsapp:+15558675310");
        assert_eq!(pointer(whatsapp_address("whatsapp:", "/to").unwrap_err()).as_deref(), Some("/to"));
    }

    #[test]
    fn malformed_messages_are_refused_before_sending() {
        let s = settings();
        let empty = SendMessageInput { to: "+15558675310".into(), ..Default::default() };
        assert_eq!(pointer(message_form(&empty, &s).unwrap_err()).as_deref(), Some("/body"));
        let mixed = SendMessageInput {
            to: "+15558675310".into(),
            body: Some("hi".into()),
            content_sid: Some(format!("HX{}", "c".repeat(32))),
            ..Default::default()
        };
        assert_eq!(pointer(message_form(&mixed, &s).unwrap_err()).as_deref(), Some("/contentSid"));
        let nested = SendMessageInput {
            to: "+15558675310".into(),
            content_sid: Some(format!("HX{}", "c".repeat(32))),
            content_variables: serde_json::from_value(serde_json::json!({"1": {"a": 1}})).unwrap(),
            ..Default::default()
        };
        assert_eq!(pointer(message_form(&nested, &s).unwrap_err()).as_deref(), Some("/contentVariables/1"));
        let bad_media =
            SendMessageInput { to: "+1".into(), media_urls: vec!["file:///etc/passwd".into()], ..Default::default() };
        assert_eq!(pointer(message_form(&bad_media, &s).unwrap_err()).as_deref(), Some("/mediaUrls/0"));
    }

    #[test]
    fn counts_given_as_strings_or_numbers_are_read() {
        let m: TwilioMessage = serde_json::from_value(serde_json::json!({
            "sid": "SM1", "status": "failed", "num_media": "2", "num_segments": 1, "error_code": 63016, "price": "-0.005"
        }))
        .unwrap();
        let out = MessageOutput::from(m);
        assert_eq!((out.num_media, out.num_segments, out.error_code), (Some(2), Some(1), Some(63016)));
        assert_eq!(out.price.as_deref(), Some("-0.005"));
    }
}
