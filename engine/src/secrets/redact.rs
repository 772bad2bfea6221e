//! Scrubbing known secret values from text and JSON before they are logged, stored or returned.

use serde_json::Value;

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
        let mut values: Vec<String> = values.into_iter().filter(|v| v.chars().count() >= 4).collect();
        // Longest first, so a secret containing another is replaced whole.
        values.sort_by_key(|v| std::cmp::Reverse(v.len()));
        values.dedup();
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
    fn scrubs_text_and_nested_json() {
        let r = Redactor::new(["canary-123".to_string(), "ab".to_string()]);
        assert_eq!(r.text("token canary-123 ab"), "token [REDACTED] ab");
        let v = r.json(serde_json::json!({"a": ["x canary-123"], "canary-123": 1}));
        assert_eq!(v, serde_json::json!({"a": ["x [REDACTED]"], "[REDACTED]": 1}));
    }
}
