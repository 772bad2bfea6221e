//! Signatures of plain signed webhooks (`{"kind": "webhook", "signed": true}`), as Stripe and
//! Slack sign theirs: the sender signs the timestamp with the body, so a captured delivery is
//! worthless once its five minutes are over, and within them the host de-duplicates on the
//! signature itself (a replay with another `Idempotency-Key`, or none, is the same delivery).
//!
//! - `X-Bacon-Timestamp`: when the delivery was signed, in Unix seconds.
//! - `X-Bacon-Signature`: `v1=` + hex of HMAC-SHA256(signing secret, `v1:{timestamp}:{body}`).
//!
//! A delivery more than [`TOLERANCE_SECS`] either way from the server's clock is refused as
//! expired (checked after the signature, so only a holder of the secret learns that). A new
//! scheme would be `v2=` with its own prefix in the signed string; senders are documented in
//! `docs/webhooks.md`.

use bacon_plugin_sdk::signature::{constant_time_eq, hmac_sha256};
use bacon_plugin_sdk::trigger::{InboundRequest, VerifyError};

/// The header holding the signing time, Unix seconds.
pub const TIMESTAMP_HEADER: &str = "x-bacon-timestamp";

/// The header holding `v1=<hex>`.
pub const SIGNATURE_HEADER: &str = "x-bacon-signature";

/// How far from the server's clock a timestamp may be, either way.
pub const TOLERANCE_SECS: i64 = 300;

const VERSION: &str = "v1";

/// The bytes a sender signs: `v1:{timestamp}:{body}`.
pub fn signed_string(timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(VERSION.len() + timestamp.len() + body.len() + 2);
    message.extend_from_slice(VERSION.as_bytes());
    message.push(b':');
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b':');
    message.extend_from_slice(body);
    message
}

/// The `X-Bacon-Signature` value for `timestamp` and `body` under `secret`.
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    format!("{VERSION}={}", hex::encode(hmac_sha256(secret.as_bytes(), &signed_string(timestamp, body))))
}

/// Verifies a delivery as of `now` (Unix seconds). Returns the signature in its canonical form
/// (`v1=` + lower-case hex): the delivery's identity, whatever case or spacing it was sent in.
///
/// # Errors
/// `MissingSignature` without `X-Bacon-Signature`; `Malformed` without a timestamp in Unix
/// seconds or with the retired body-only `sha256=` form; `BadSignature`; `Expired` for a
/// correctly signed delivery outside the window.
pub fn verify(secret: &str, request: &InboundRequest, now: i64) -> Result<String, VerifyError> {
    let provided = request.header(SIGNATURE_HEADER).ok_or(VerifyError::MissingSignature)?.trim();
    if provided.starts_with("sha256=") {
        return Err(VerifyError::Malformed(
            "`sha256=` signatures over the body alone are no longer accepted: sign `v1:{timestamp}:{body}` and send \
             `X-Bacon-Timestamp` (see docs/webhooks.md)"
                .into(),
        ));
    }
    let timestamp = request.header(TIMESTAMP_HEADER).map(str::trim).ok_or_else(|| {
        VerifyError::Malformed("the X-Bacon-Timestamp header (Unix seconds, signed with the body) is missing".into())
    })?;
    let Some(sent) = timestamp.parse::<i64>().ok().filter(|_| timestamp.bytes().all(|b| b.is_ascii_digit())) else {
        return Err(VerifyError::Malformed("X-Bacon-Timestamp is not a time in Unix seconds".into()));
    };
    let digest = provided
        .strip_prefix("v1=")
        .and_then(|hex_digest| hex::decode(hex_digest).ok())
        .ok_or(VerifyError::BadSignature)?;
    let expected = hmac_sha256(secret.as_bytes(), &signed_string(timestamp, &request.body));
    if !constant_time_eq(&expected, &digest) {
        return Err(VerifyError::BadSignature);
    }
    if (now - sent).abs() > TOLERANCE_SECS {
        return Err(VerifyError::Expired);
    }
    Ok(format!("{VERSION}={}", hex::encode(digest)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test";
    const SENT: i64 = 1_700_000_000;

    fn delivery(timestamp: Option<&str>, signature: Option<&str>, body: &[u8]) -> InboundRequest {
        let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
        headers.extend(timestamp.map(|t| (TIMESTAMP_HEADER.to_string(), t.to_string())));
        headers.extend(signature.map(|s| (SIGNATURE_HEADER.to_string(), s.to_string())));
        InboundRequest {
            method: "POST".into(),
            url: "https://bacon.example.com/hooks/hk_1".into(),
            headers,
            body: body.to_vec(),
        }
    }

    #[test]
    fn the_documented_example_signs_as_openssl_and_python_do() {
        // docs/webhooks.md shows this vector; `printf 'v1:1700000000:{"orderId":8}' | openssl dgst
        // -sha256 -hmac whsec_test` prints the same hex.
        assert_eq!(
            sign(SECRET, "1700000000", br#"{"orderId":8}"#),
            "v1=9cee8e2384849d3571afb3cec9182389d9f6d8037a6f61c2c4aa773972cc69a9"
        );
    }

    #[test]
    fn a_signature_is_valid_for_five_minutes_either_way() {
        let body = br#"{"orderId":8}"#;
        let signature = sign(SECRET, "1700000000", body);
        let request = delivery(Some("1700000000"), Some(&signature), body);
        for now in [SENT, SENT + TOLERANCE_SECS, SENT - TOLERANCE_SECS] {
            assert_eq!(verify(SECRET, &request, now), Ok(signature.clone()));
        }
        assert_eq!(verify(SECRET, &request, SENT + TOLERANCE_SECS + 1), Err(VerifyError::Expired));
        assert_eq!(verify(SECRET, &request, SENT - TOLERANCE_SECS - 1), Err(VerifyError::Expired));
    }

    #[test]
    fn the_identity_is_the_canonical_signature() {
        let body = b"{}";
        let signature = sign(SECRET, "1700000000", body);
        let shouted = format!(" v1={} ", signature["v1=".len()..].to_uppercase());
        assert_eq!(verify(SECRET, &delivery(Some("1700000000"), Some(&shouted), body), SENT), Ok(signature));
    }

    #[test]
    fn a_changed_timestamp_body_or_secret_fails() {
        let body = br#"{"orderId":8}"#;
        let signature = sign(SECRET, "1700000000", body);
        let moved = delivery(Some("1700000001"), Some(&signature), body);
        assert_eq!(verify(SECRET, &moved, SENT), Err(VerifyError::BadSignature));
        let padded = delivery(Some("01700000000"), Some(&signature), body);
        assert_eq!(verify(SECRET, &padded, SENT), Err(VerifyError::BadSignature));
        let tampered = delivery(Some("1700000000"), Some(&signature), br#"{"orderId":9}"#);
        assert_eq!(verify(SECRET, &tampered, SENT), Err(VerifyError::BadSignature));
        let forged = delivery(Some("1700000000"), Some(&sign("whsec_guess", "1700000000", body)), body);
        assert_eq!(verify(SECRET, &forged, SENT), Err(VerifyError::BadSignature));
        let garbled = delivery(Some("1700000000"), Some("v1=zz"), body);
        assert_eq!(verify(SECRET, &garbled, SENT), Err(VerifyError::BadSignature));
    }

    #[test]
    fn missing_or_retired_forms_are_refused_with_the_reason() {
        let body = b"{}";
        let signature = sign(SECRET, "1700000000", body);
        assert_eq!(verify(SECRET, &delivery(Some("1700000000"), None, body), SENT), Err(VerifyError::MissingSignature));
        let untimed = verify(SECRET, &delivery(None, Some(&signature), body), SENT);
        assert!(matches!(untimed, Err(VerifyError::Malformed(m)) if m.contains("X-Bacon-Timestamp")));
        for bad in ["-1700000000", "+1700000000", "1700000000.5", "soon"] {
            let result = verify(SECRET, &delivery(Some(bad), Some(&signature), body), SENT);
            assert!(matches!(result, Err(VerifyError::Malformed(m)) if m.contains("Unix seconds")), "{bad}");
        }
        let body_only = format!("sha256={}", hex::encode(hmac_sha256(SECRET.as_bytes(), body)));
        let retired = verify(SECRET, &delivery(Some("1700000000"), Some(&body_only), body), SENT);
        assert!(matches!(retired, Err(VerifyError::Malformed(m)) if m.contains("v1:{timestamp}:{body}")));
    }
}
