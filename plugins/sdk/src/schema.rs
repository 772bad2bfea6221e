//! JSON Schema 2020-12 documents from Rust types (schemars), as the host expects them.

use serde_json::Value;

/// The JSON Schema of `T` (draft 2020-12), with `$schema` removed (the host knows the dialect).
pub fn schema_of<T: schemars::JsonSchema>() -> Value {
    let mut value = serde_json::to_value(schemars::schema_for!(T)).unwrap_or(Value::Null);
    if let Some(object) = value.as_object_mut() {
        object.remove("$schema");
    }
    value
}

/// Names of the `writeOnly` properties at the top level of an object schema: the secret fields.
pub fn secret_fields(schema: &Value) -> Vec<String> {
    schema["properties"]
        .as_object()
        .map(|props| {
            props.iter().filter(|(_, p)| p["writeOnly"] == Value::Bool(true)).map(|(k, _)| k.clone()).collect()
        })
        .unwrap_or_default()
}
