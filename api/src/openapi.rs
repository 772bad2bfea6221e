//! The OpenAPI 3.1 document: metadata and tags here; operations come from the routes' own
//! `#[utoipa::path]`s; [`finish`] adds what every operation shares (bearer security, problem+json
//! error responses) and tidies what every parameter shares (an absent parameter is omitted, never
//! `null`), so no operation can forget them.

use utoipa::OpenApi;
use utoipa::openapi::schema::{SchemaType, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, OpenApi as Document, Ref, RefOr, ResponseBuilder, Schema};

use crate::error::{FieldError, PROBLEM_JSON, Problem};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Bacon",
        description = "Self-hosted workflow orchestration for customer-messaging automation. \
            Authenticate with `Authorization: Bearer <api key>`. Errors are `application/problem+json` \
            with a stable `code`; lists are cursor-paginated (`limit`, `cursor` -> `nextCursor`).",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    tags(
        (name = "operations", description = "Health, readiness and metrics"),
        (name = "tenants", description = "Tenants and their API keys"),
        (name = "bots", description = "Bots: the scope settings and flows can be narrowed to"),
        (name = "plugins", description = "The plugin catalog, per-tenant settings, test connection and invoke"),
        (name = "audit", description = "The audit log of plugin action attempts"),
        (name = "flows", description = "Flows: node graphs saved as immutable versions"),
        (name = "runs", description = "Runs of flows and their durable steps"),
        (name = "rest-hooks", description = "REST-hook subscriptions (Zapier): subscribe, unsubscribe, samples"),
    ),
    components(schemas(Problem, FieldError))
)]
pub struct ApiDoc;

/// Standard error responses: (status, component name, description).
const ERRORS: [(&str, &str, &str); 9] = [
    ("400", "BadRequest", "The request is malformed (invalid JSON or query)"),
    ("401", "Unauthenticated", "The API key is missing, malformed, unknown or revoked"),
    ("403", "Forbidden", "The API key's role does not allow this operation"),
    ("404", "NotFound", "The object does not exist (or belongs to another tenant)"),
    ("413", "PayloadTooLarge", "The request body is over the size limit"),
    ("415", "UnsupportedMediaType", "The request body is not JSON"),
    ("422", "ValidationFailed", "The request body is well-formed but invalid; `errors` points at each field"),
    ("500", "InternalError", "An unexpected error; the cause is logged, never returned"),
    ("503", "Unavailable", "The server is not ready or the request timed out"),
];

fn error_applies(status: &str, path: &str, has_body: bool) -> bool {
    let api = path.starts_with("/v1/");
    match status {
        "500" | "503" => true,
        "413" | "415" | "422" => api && has_body,
        _ => api,
    }
}

/// Adds the bearer scheme and the problem responses to every operation of `doc`.
pub fn finish(mut doc: Document) -> Document {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("bacon API key")
                .description(Some("A tenant API key (`bacon_…`) or the server admin key (`bacon_admin_…`)"))
                .build(),
        ),
    );
    for (_, name, description) in ERRORS {
        let response = ResponseBuilder::new()
            .description(description)
            .content(PROBLEM_JSON, Content::new(Some(Ref::from_schema_name("Problem"))))
            .build();
        components.responses.insert(name.to_string(), RefOr::T(response));
    }
    for (path, item) in doc.paths.paths.iter_mut() {
        let authenticated = path.starts_with("/v1/");
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
            &mut item.options,
        ];
        for operation in operations.into_iter().flatten() {
            if authenticated {
                operation.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
            }
            for parameter in operation.parameters.iter_mut().flatten() {
                if let RefOr::T(parameter) = parameter
                    && let Some(RefOr::T(schema)) = parameter.schema.as_mut()
                {
                    not_nullable(schema);
                }
            }
            let has_body = operation.request_body.is_some();
            for (status, name, _) in ERRORS {
                if error_applies(status, path, has_body) {
                    operation
                        .responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| RefOr::Ref(Ref::from_response_name(name)));
                }
            }
        }
    }
    doc
}

/// A header, query or path parameter is a string on the wire: an optional one is left out, never
/// sent as `null`. `Option<T>` parameters come out of the derive as `[T, "null"]`; keep `T`.
fn not_nullable(schema: &mut Schema) {
    if let Schema::Object(object) = schema
        && let SchemaType::Array(types) = &object.schema_type
    {
        let types: Vec<Type> = types.iter().filter(|t| **t != Type::Null).cloned().collect();
        object.schema_type = match types.as_slice() {
            [single] => SchemaType::Type(single.clone()),
            _ => SchemaType::Array(types),
        };
    }
}
