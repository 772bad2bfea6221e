//! `bacon-openapi`: the committed OpenAPI document (`openapi/openapi.json`) and its drift test.
//!
//! The document is generated from the code (`bacon-server openapi`); the test in `tests/drift.rs`
//! fails when the committed file differs. Regenerate with:
//!
//! ```sh
//! cargo run -q -p bacon-api --bin bacon-server -- openapi > openapi/openapi.json
//! ```

/// The OpenAPI document this build serves, as pretty JSON with a trailing newline.
///
/// # Panics
/// Never in practice: the document always serialises.
pub fn generate() -> String {
    let doc = bacon_api::startup::openapi_document();
    format!("{}\n", doc.to_pretty_json().expect("the OpenAPI document serialises"))
}
