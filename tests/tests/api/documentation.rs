//! The OpenAPI document and the offline Swagger UI (issue #2, acceptance 3).

use bacon_tests::db_test;
use serde_json::Value;

fn openapi_31_validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(include_str!("../../fixtures/openapi-3.1-schema.json")).unwrap();
    jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the OAS 3.1 schema compiles")
}

db_test!(
    async fn openapi_document_is_valid_openapi_31_with_documented_errors(app) {
        let reply = app.call("GET", "/openapi.json", None, None).await;
        assert_eq!(reply.status, 200);
        let doc = reply.json;
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."), "{}", doc["openapi"]);

        let validator = openapi_31_validator();
        let errors: Vec<String> =
            validator.iter_errors(&doc).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(errors.is_empty(), "not valid OpenAPI 3.1:\n{}", errors.join("\n"));

        let mut operation_ids = std::collections::HashSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no operationId"));
                assert!(operation_ids.insert(id.to_string()), "duplicate operationId {id}");
                assert!(op["tags"].as_array().is_some_and(|t| !t.is_empty()), "{id} has no tag");
                let responses = op["responses"].as_object().unwrap();
                assert!(
                    responses.keys().any(|s| s.starts_with('4') || s.starts_with('5')),
                    "{id} documents no error response"
                );
                if path.starts_with("/v1/") {
                    assert!(responses.contains_key("401"), "{id} does not document 401");
                    assert_eq!(op["security"][0]["bearer"], Value::Array(vec![]), "{id} has no bearer security");
                }
            }
        }
        assert!(operation_ids.contains("create_tenant") && operation_ids.contains("create_bot"));
        assert_eq!(doc["components"]["responses"]["Unauthenticated"]["content"]["application/problem+json"]["schema"]["$ref"], "#/components/schemas/Problem");
    }
);

db_test!(
    async fn swagger_ui_is_served_offline(app) {
        let index = app.call("GET", "/docs/", None, None).await;
        assert_eq!(index.status, 200);
        assert!(index.text.contains("swagger-ui"), "{}", index.text);
        for asset in ["/docs/swagger-ui.css", "/docs/swagger-ui-bundle.js", "/docs/swagger-initializer.js"] {
            let reply = app.call("GET", asset, None, None).await;
            assert_eq!(reply.status, 200, "{asset}");
            assert!(reply.text.len() > 100, "{asset} is empty");
        }
        let initializer = app.call("GET", "/docs/swagger-initializer.js", None, None).await;
        assert!(initializer.text.contains("/openapi.json"));
        assert!(
            initializer.text.replace(' ', "").contains(r#""validatorUrl":"none""#),
            "no spec URL is sent to an external validator: {}",
            initializer.text
        );
    }
);
