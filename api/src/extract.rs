//! Extractors whose rejections are problem+json: [`ApiJson`] for bodies, [`ApiQuery`] for queries.
//!
//! `ApiJson` checks the content type (415), the size limit (413), the syntax (400) and the shape
//! (422 with a JSON pointer to the offending field, e.g. an unknown field), in that order. Every
//! request body is a JSON object: serde would read a struct from an array too (`[null, null]`
//! as `{input: null, version: null}`), so anything else is refused first.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{ApiError, FieldError};

/// A JSON request body, or a JSON response with a status.
pub struct ApiJson<T>(pub T);

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Turns a serde path (`a.b[2].c`) into a JSON pointer (`/a/b/2/c`).
pub fn pointer_from_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut pointer = String::new();
    for segment in path.iter() {
        pointer.push('/');
        match segment {
            Segment::Seq { index } => pointer.push_str(&index.to_string()),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"))
            }
            Segment::Unknown => pointer.push('?'),
        }
    }
    pointer
}

/// Parses a JSON object into `T`, mapping syntax errors to 400 and shape errors (a body that is
/// not an object included) to 422 with a pointer.
///
/// # Errors
/// [`ApiError::BadRequest`] for malformed JSON, [`ApiError::Validation`] for a wrong shape.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        // Valid JSON of another kind is a shape error; anything else, a syntax error.
        parse_any::<serde::de::IgnoredAny>(bytes)?;
        return Err(ApiError::validation("", NOT_AN_OBJECT));
    }
    parse_any(bytes)
}

const NOT_AN_OBJECT: &str = "must be a JSON object";

fn parse_any<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    if value.is_ok() {
        de.end().map_err(|e| ApiError::BadRequest {
            code: "invalid_json",
            detail: format!("the request body is not valid JSON: {e}"),
        })?;
    }
    value.map_err(|err| {
        let inner = err.inner();
        if inner.is_syntax() || inner.is_eof() || inner.is_io() {
            ApiError::BadRequest {
                code: "invalid_json",
                detail: format!("the request body is not valid JSON: {inner}"),
            }
        } else {
            let pointer = pointer_from_path(err.path());
            let message = inner.to_string();
            let message = message.split(" at line ").next().unwrap_or(&message).to_string();
            ApiError::Validation {
                detail: format!("the request body does not match the expected shape: {message}"),
                errors: vec![FieldError::new(pointer, message)],
            }
        }
    })
}

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType {
                detail: "the request body must be JSON (Content-Type: application/json)".into(),
            });
        }
        let limit = req.extensions().get::<BodyLimit>().map(|l| l.0).unwrap_or_default();
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge { limit }
            } else {
                ApiError::BadRequest { code: "unreadable_body", detail: rejection.body_text() }
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Deserialises an optional integer field, also from a JSON number written with a zero fraction
/// (`3.0`): JSON Schema counts it as the integer 3, and so do some JSON encoders' clients.
///
/// # Errors
/// When the value is not null, not a number, has a fraction, or does not fit `T`.
pub fn optional_integer<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64>,
{
    use serde::de::{Deserialize, Error};
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    let integer = match (number.as_i64(), number.as_f64()) {
        (Some(i), _) => Some(i),
        // `as` saturates; the range check below turns a saturated value into an error.
        (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(f as i64),
        _ => None,
    };
    integer
        .and_then(|i| T::try_from(i).ok())
        .map(Some)
        .ok_or_else(|| D::Error::custom(format!("invalid value: {number}, expected an integer in range")))
}

/// Deserialises an optional field that must be a JSON object when present (`null` is absent),
/// so `[…]` or `"…"` there is a 422 saying so, not serde's "expected a map".
///
/// # Errors
/// When the value is neither null nor an object.
pub fn optional_object<'de, D>(deserializer: D) -> Result<Option<Map<String, Value>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::de::{Deserialize, Error};
    match Value::deserialize(deserializer)? {
        Value::Null => Ok(None),
        Value::Object(map) => Ok(Some(map)),
        _ => Err(D::Error::custom(NOT_AN_OBJECT)),
    }
}

/// Deserialises a field that must be a JSON object.
///
/// # Errors
/// When the value is not an object.
pub fn object<'de, D>(deserializer: D) -> Result<Map<String, Value>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::de::Error;
    optional_object(deserializer)?.ok_or_else(|| D::Error::custom(NOT_AN_OBJECT))
}

/// The configured body limit, put in request extensions so rejections can name it.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// Query-string parameters; a malformed query is a 400 problem.
pub struct ApiQuery<T>(pub T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| ApiQuery(q.0))
            .map_err(|rejection| ApiError::BadRequest { code: "invalid_query", detail: rejection.body_text() })
    }
}

/// Parses a typed id from a path segment; an id that cannot exist is simply not found.
///
/// # Errors
/// [`ApiError::NotFound`] when the text is not an id of this kind.
pub fn parse_id<T>(text: &str) -> Result<T, ApiError>
where
    T: std::str::FromStr<Err = bacon_engine::ids::InvalidId>,
{
    text.parse().map_err(|e: bacon_engine::ids::InvalidId| ApiError::NotFound {
        kind: e.kind,
        id: text.chars().take(64).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        nested: Option<Nested>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Nested {
        items: Vec<u32>,
    }

    #[derive(Debug, serde::Deserialize)]
    struct Versioned {
        #[serde(default, deserialize_with = "optional_integer")]
        version: Option<i32>,
    }

    #[test]
    fn integers_may_be_written_with_a_zero_fraction() {
        let read = |json: &str| parse_json::<Versioned>(json.as_bytes()).map(|v| v.version);
        assert_eq!(read(r#"{"version": 3}"#).ok(), Some(Some(3)));
        assert_eq!(read(r#"{"version": 3.0}"#).ok(), Some(Some(3)));
        assert_eq!(read(r#"{"version": null}"#).ok(), Some(None));
        assert_eq!(read("{}").ok(), Some(None));
        for wrong in [r#"{"version": 3.5}"#, r#"{"version": 3e10}"#, r#"{"version": "3"}"#, r#"{"version": 1e300}"#] {
            match read(wrong) {
                Err(ApiError::Validation { errors, .. }) => assert_eq!(errors[0].pointer, "/version", "{wrong}"),
                other => panic!("{wrong}: unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn a_body_that_is_not_an_object_is_a_shape_error() {
        for body in ["[null, null]", "[]", " \"name\"", "null", "3"] {
            match parse_json::<Versioned>(body.as_bytes()) {
                Err(ApiError::Validation { errors, .. }) => {
                    assert_eq!(errors, [FieldError::new("", "must be a JSON object")], "{body}")
                }
                other => panic!("{body}: unexpected {other:?}"),
            }
        }
        assert!(matches!(parse_json::<Versioned>(b"[1,"), Err(ApiError::BadRequest { code: "invalid_json", .. })));
        assert!(matches!(parse_json::<Versioned>(b""), Err(ApiError::BadRequest { code: "invalid_json", .. })));
    }

    #[test]
    fn shape_errors_point_at_the_field() {
        let err = parse_json::<Body>(br#"{"name":"a","nested":{"items":[1,"x"]}}"#).unwrap_err();
        match err {
            ApiError::Validation { errors, .. } => assert_eq!(errors[0].pointer, "/nested/items/1"),
            other => panic!("unexpected {other:?}"),
        }
        let err = parse_json::<Body>(br#"{"name":"a","extra":1}"#).unwrap_err();
        match err {
            ApiError::Validation { errors, .. } => assert!(errors[0].message.contains("unknown field `extra`")),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(parse_json::<Body>(b"{"), Err(ApiError::BadRequest { code: "invalid_json", .. })));
        assert!(matches!(parse_json::<Body>(br#"{"name":"a"} x"#), Err(ApiError::BadRequest { .. })));
    }
}
