//! [`Secret<T>`]: a value that never shows up in `Debug`, `Display` or serialised output.

use std::fmt;

/// A secret value. `Debug` and `Display` print `[REDACTED]`; the inner value is reached only
/// through [`Secret::expose`], so every use of the raw value is visible in a code review.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a value.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// Returns the raw value. Call it only where the value is sent to where it belongs.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Consumes the wrapper and returns the raw value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Secret<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Self)
    }
}

impl<T> schemars::JsonSchema for Secret<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Secret".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "writeOnly": true,
            "format": "password"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_fields_are_write_only_passwords_in_schemas() {
        #[derive(schemars::JsonSchema)]
        #[allow(dead_code)]
        struct Settings {
            token: Secret<String>,
        }
        let schema = serde_json::to_value(schemars::schema_for!(Settings)).unwrap();
        assert_eq!(schema["properties"]["token"]["writeOnly"], true);
        assert_eq!(schema["properties"]["token"]["format"], "password");
    }

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new("hunter2".to_string());
        assert_eq!(format!("{s:?}"), "[REDACTED]");
        assert_eq!(format!("{s}"), "[REDACTED]");
        assert_eq!(s.expose(), "hunter2");
    }
}
