//! Scrubbing known secret values from text and JSON before they are logged, stored or returned.
//!
//! A secret is looked for in every form a vendor or a library may echo it in: as is,
//! JSON-escaped (`\"`, `\\`, `\/`, `\u00xx`), URL-encoded (`%XX` either case, `+` for a space),
//! and base64 (standard and URL-safe) of any text containing it — `user:secret` in a Basic
//! `Authorization` header — found by its three alignments.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

/// What a URL encoder may leave unescaped (RFC 3986 unreserved); all the rest becomes `%XX`.
const URL_ESCAPED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The shortest base64 core worth looking for: shorter ones would redact noise.
const MIN_BASE64_CORE: usize = 8;

/// Every form `secret` may take in text, the raw form first.
fn encodings(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_string()];
    let json = serde_json::to_string(secret).unwrap_or_default();
    let json = json[1..json.len().saturating_sub(1).max(1)].to_string();
    forms.push(json.replace('/', "\\/"));
    forms.push(json);
    let unicode: String = secret
        .chars()
        .map(
            |c| if c.is_ascii_alphanumeric() || !c.is_ascii() { c.to_string() } else { format!("\\u{:04x}", c as u32) },
        )
        .collect();
    forms.push(unicode.to_uppercase().replace("\\U", "\\u"));
    forms.push(unicode);
    let url = utf8_percent_encode(secret, URL_ESCAPED).to_string();
    let lower = lowercase_escapes(&url);
    forms.extend([url.replace("%20", "+"), lower.replace("%20", "+"), lower, url]);
    let bytes = secret.as_bytes();
    for shift in 0..3 {
        let rest = bytes.get(shift..).unwrap_or_default();
        let whole = &rest[..rest.len() - rest.len() % 3];
        for engine in [STANDARD_NO_PAD, URL_SAFE_NO_PAD] {
            let core = engine.encode(whole);
            if core.len() >= MIN_BASE64_CORE {
                forms.push(core);
            }
        }
    }
    forms
}

/// `%2F` as `%2f`: some encoders write lowercase hex.
fn lowercase_escapes(url: &str) -> String {
    let mut out = String::with_capacity(url.len());
    let mut chars = url.chars();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '%' {
            out.extend(chars.by_ref().take(2).map(|h| h.to_ascii_lowercase()));
        }
    }
    out
}

/// The placeholder that replaces a secret value.
pub const REDACTED: &str = "[REDACTED]";

/// Known secret values; values shorter than 4 characters are ignored (they would redact noise).
#[derive(Clone, Default)]
pub struct Redactor {
    values: Vec<String>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} values)", self.values.len())
    }
}

impl Redactor {
    pub fn new(values: impl IntoIterator<Item = String>) -> Self {
        let mut values: Vec<String> =
            values.into_iter().filter(|v| v.chars().count() >= 4).flat_map(|v| encodings(&v)).collect();
        // Longest first, so a secret containing another is replaced whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
        values.retain(|v| v.chars().count() >= 4);
        Self { values }
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// `text` with every known value replaced by `[REDACTED]`.
    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_string();
        for value in &self.values {
            if out.contains(value.as_str()) {
                out = out.replace(value.as_str(), REDACTED);
            }
        }
        out
    }

    /// `value` with every string (keys included) scrubbed.
    pub fn json(&self, value: Value) -> Value {
        if self.values.is_empty() {
            return value;
        }
        match value {
            Value::String(s) => Value::String(self.text(&s)),
            Value::Array(items) => Value::Array(items.into_iter().map(|v| self.json(v)).collect()),
            Value::Object(map) => Value::Object(map.into_iter().map(|(k, v)| (self.text(&k), self.json(v))).collect()),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_every_encoding_of_a_secret() {
        let secret = r#"cnryTRICKY"q\w/e+r&t y"#;
        let r = Redactor::new([secret.to_string()]);
        let basic = STANDARD_NO_PAD.encode(format!("AC123:{secret}"));
        let shown = [
            secret.to_string(),
            serde_json::to_string(secret).unwrap(),
            serde_json::to_string(secret).unwrap().replace('/', "\\/"),
            r"cnryTRICKY\u0022q\u005cw\u002fe\u002br\u0026t\u0020y".to_string(),
            "cnryTRICKY%22q%5Cw%2Fe%2Br%26t%20y".to_string(),
            "cnryTRICKY%22q%5cw%2fe%2br%26t+y".to_string(),
            format!("Basic {basic}"),
            URL_SAFE_NO_PAD.encode(format!("x{secret}yz")),
        ];
        for text in shown {
            let scrubbed = r.text(&format!("error: {text} end"));
            assert!(scrubbed.contains(REDACTED), "{text} -> {scrubbed}");
            assert!(!scrubbed.contains("cnryTRICKY"), "{text} -> {scrubbed}");
            assert!(!scrubbed.contains(&basic[8..basic.len() - 4]), "{text} -> {scrubbed}");
        }
    }

    #[test]
    fn scrubs_text_and_nested_json() {
        let r = Redactor::new(["canary-123".to_string(), "ab".to_string()]);
        assert_eq!(r.text("token canary-123 ab"), "token [REDACTED] ab");
        let v = r.json(serde_json::json!({"a": ["x canary-123"], "canary-123": 1}));
        assert_eq!(v, serde_json::json!({"a": ["x [REDACTED]"], "[REDACTED]": 1}));
    }
}
