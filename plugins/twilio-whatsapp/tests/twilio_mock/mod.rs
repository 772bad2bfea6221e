//! A loopback stand-in for Twilio: account fixtures, Basic-auth headers, a form-body matcher and
//! Message bodies shaped like Twilio's (see `vendor-apis.md`, section 4).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use bacon_plugin_sdk::testing::wiremock::{Match, Request};
use base64::Engine;
use serde_json::{Value, json};

pub const AC: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
pub const TOKEN: &str = "f3a1c0ffee0123456789abcdef012345";
pub const SK: &str = "SKbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
pub const KEY_SECRET: &str = "keysecret-0123456789abcdef";
pub const MG: &str = "MGcccccccccccccccccccccccccccccccc";
pub const SM: &str = "SMdddddddddddddddddddddddddddddddd";
pub const HX: &str = "HXeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";
pub const SENDER: &str = "whatsapp:+14155238886";
pub const USER: &str = "whatsapp:+15558675310";

/// Settings with the Auth Token and a default `from`.
pub fn token_settings() -> Value {
    json!({"accountSid": AC, "authToken": TOKEN, "from": "+14155238886"})
}

/// Settings with an API key, a Messaging Service and no Auth Token.
pub fn api_key_settings() -> Value {
    json!({"accountSid": AC, "keySid": SK, "keySecret": KEY_SECRET, "messagingServiceSid": MG})
}

pub fn messages_path() -> String {
    format!("/2010-04-01/Accounts/{AC}/Messages.json")
}

/// `Basic base64(user:password)`, computed here, not by the client.
pub fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

/// The form fields of a request body, each name with its values in order.
pub fn form_of(body: &[u8]) -> BTreeMap<String, Vec<String>> {
    let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, v) in url::form_urlencoded::parse(body) {
        fields.entry(k.into_owned()).or_default().push(v.into_owned());
    }
    fields
}

/// Matches a form body holding exactly these fields (a name may repeat; its values keep their order).
pub struct FormIs(pub BTreeMap<String, Vec<String>>);

impl FormIs {
    pub fn new(pairs: &[(&str, &str)]) -> Self {
        let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in pairs {
            fields.entry(k.to_string()).or_default().push(v.to_string());
        }
        Self(fields)
    }
}

impl Match for FormIs {
    fn matches(&self, request: &Request) -> bool {
        let form = request
            .headers
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap_or_default().starts_with("application/x-www-form-urlencoded"));
        form && form_of(&request.body) == self.0
    }
}

/// A Message resource as Twilio returns it.
pub fn message(status: &str, body: &str, num_media: &str) -> Value {
    json!({
        "sid": SM, "account_sid": AC, "messaging_service_sid": null,
        "from": SENDER, "to": USER, "body": body, "status": status,
        "direction": "outbound-api", "num_media": num_media, "num_segments": "1",
        "error_code": null, "error_message": null, "price": null, "price_unit": "USD",
        "date_created": "Thu, 30 Jul 2015 20:12:31 +0000", "date_sent": null,
        "date_updated": "Thu, 30 Jul 2015 20:12:33 +0000", "api_version": "2010-04-01",
        "uri": format!("/2010-04-01/Accounts/{AC}/Messages/{SM}.json"),
        "subresource_uris": {"media": format!("/2010-04-01/Accounts/{AC}/Messages/{SM}/Media.json")}
    })
}

/// Twilio's error body.
pub fn error(code: u32, message: &str, status: u16) -> Value {
    json!({"code": code, "message": message, "more_info": format!("https://www.twilio.com/docs/errors/{code}"), "status": status})
}
