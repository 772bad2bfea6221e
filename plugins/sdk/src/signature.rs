//! Webhook signature helpers: HMAC-SHA1/SHA256 and constant-time comparison.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use subtle::ConstantTimeEq;

/// HMAC-SHA256 of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// HMAC-SHA1 of `message` under `key` (Twilio signs with it).
pub fn hmac_sha1(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Compares two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Whether `provided` is the base64 HMAC-SHA256 of `message` under any of `secrets`
/// (two secrets are active during a rotation).
pub fn verify_hmac_sha256_base64<S: AsRef<[u8]>>(secrets: &[S], message: &[u8], provided: &str) -> bool {
    secrets
        .iter()
        .any(|s| constant_time_eq(base64(&hmac_sha256(s.as_ref(), message)).as_bytes(), provided.trim().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4231_test_case_2() {
        // RFC 4231, test case 2: key "Jefe", data "what do ya want for nothing?".
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex_of(&mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        let sha1 = hmac_sha1(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(hex_of(&sha1), "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
    }

    #[test]
    fn verifies_with_either_active_secret() {
        let sig = base64(&hmac_sha256(b"new", b"body"));
        assert!(verify_hmac_sha256_base64(&["old", "new"], b"body", &sig));
        assert!(!verify_hmac_sha256_base64(&["old"], b"body", &sig));
        assert!(!verify_hmac_sha256_base64(&["new"], b"bodY", &sig));
    }

    fn hex_of(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
