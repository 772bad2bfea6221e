//! Deliveries signed as Twilio signs its webhooks (vendor-apis.md): `X-Twilio-Signature` is the
//! base64 HMAC-SHA1, under the account's Auth Token, of the URL followed by each form field's
//! name and value, sorted by name.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};

/// The headers and form body of a delivery of `form` to `url`, signed with `token`.
///
/// # Panics
/// Never: any key length suits HMAC.
pub fn signed_form(url: &str, token: &str, form: &[(&str, &str)]) -> (Vec<(&'static str, String)>, Vec<u8>) {
    let mut sorted = form.to_vec();
    sorted.sort_by_key(|(name, _)| *name);
    let mut signed = url.to_string();
    for (name, value) in &sorted {
        signed.push_str(name);
        signed.push_str(value);
    }
    let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(token.as_bytes()).expect("HMAC takes any key");
    mac.update(signed.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(sorted).finish().into_bytes();
    (vec![("content-type", "application/x-www-form-urlencoded".to_string()), ("x-twilio-signature", signature)], body)
}
