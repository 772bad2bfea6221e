//! Fails when `openapi/openapi.json` is not what the code generates.

#[test]
fn committed_document_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let generated = bacon_openapi::generate();
    assert!(
        committed == generated,
        "openapi/openapi.json is out of date with the code. Regenerate it with:\n\n    \
         cargo run -q -p bacon-api --bin bacon-server -- openapi > openapi/openapi.json\n"
    );
}
