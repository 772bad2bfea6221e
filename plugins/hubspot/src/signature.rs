//! HubSpot's request signature v3: `X-HubSpot-Signature-v3` is
//! `base64(HMAC-SHA256(client secret, method + URI + body + timestamp))`, with the timestamp
//! (epoch milliseconds) from `X-HubSpot-Request-Timestamp`, which must be within five minutes.
//!
//! HubSpot signs the URI with a few URL-encoded characters decoded (`%3A` -> `:`, `%2F` -> `/`,
//! `%3F` -> `?`, `%40` -> `@`, `%21` -> `!`, `%24` -> `$`, `%27` -> `'`, `%28` -> `(`, `%29` -> `)`,
//! `%2A` -> `*`, `%2C` -> `,`, `%3B` -> `;`). The URI is tried as received and, when it differs,
//! in that decoded form; both comparisons are constant time. Signatures v1 and v2 carry no
//! timestamp (so a captured delivery could be replayed forever) and are not accepted.

use std::time::Duration;

use bacon_plugin_sdk::signature::verify_hmac_sha256_base64;
use bacon_plugin_sdk::trigger::{InboundRequest, VerifyError};

/// How far a delivery's timestamp may be from now, either way.
pub const MAX_AGE: Duration = Duration::from_secs(5 * 60);

pub const SIGNATURE_HEADER: &str = "x-hubspot-signature-v3";
pub const TIMESTAMP_HEADER: &str = "x-hubspot-request-timestamp";

/// The characters HubSpot decodes in the URI before signing it.
const DECODED: &[u8] = b":/?@!$'()*,;";

/// Checks a delivery's v3 signature against any of `secrets`, as of `now_ms` (epoch
/// milliseconds).
///
/// # Errors
/// `MissingSignature` without the signature header; `Malformed` without a numeric timestamp;
/// `Expired` when the timestamp is more than [`MAX_AGE`] away from `now_ms`; `BadSignature`.
pub fn verify_v3(secrets: &[&[u8]], request: &InboundRequest, now_ms: u64) -> Result<(), VerifyError> {
    let signature = request.header(SIGNATURE_HEADER).map(str::trim).filter(|s| !s.is_empty());
    let signature = signature.ok_or(VerifyError::MissingSignature)?;
    let timestamp = request
        .header(TIMESTAMP_HEADER)
        .map(str::trim)
        .ok_or_else(|| VerifyError::Malformed("the X-HubSpot-Request-Timestamp header is missing".into()))?;
    let sent_ms: u64 = timestamp
        .parse()
        .map_err(|_| VerifyError::Malformed("X-HubSpot-Request-Timestamp is not epoch milliseconds".into()))?;
    if now_ms.abs_diff(sent_ms) > MAX_AGE.as_millis() as u64 {
        return Err(VerifyError::Expired);
    }
    let method = request.method.to_ascii_uppercase();
    let decoded = decode_uri(&request.url);
    let mut uris = vec![request.url.as_str()];
    if decoded != request.url {
        uris.push(&decoded);
    }
    let matches = uris.iter().any(|uri| {
        let message = [method.as_bytes(), uri.as_bytes(), &request.body, timestamp.as_bytes()].concat();
        verify_hmac_sha256_base64(secrets, &message, signature)
    });
    if matches { Ok(()) } else { Err(VerifyError::BadSignature) }
}

/// The URI with HubSpot's list of URL-encoded characters decoded (hex digits in either case);
/// every other escape is kept.
pub fn decode_uri(uri: &str) -> String {
    let bytes = uri.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = uri.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
            && DECODED.contains(&byte)
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    // Only ASCII escapes are replaced by ASCII bytes, so the text stays UTF-8.
    String::from_utf8(out).unwrap_or_else(|_| uri.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_only_the_listed_characters() {
        assert_eq!(
            decode_uri("https://h.example/hook?to=a%40b.com&x=%2f%3A%20%25"),
            "https://h.example/hook?to=a@b.com&x=/:%20%25"
        );
        assert_eq!(decode_uri("https://h.example/%E2%82%AC%2"), "https://h.example/%E2%82%AC%2");
    }
}
