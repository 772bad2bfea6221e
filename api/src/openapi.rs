//! The OpenAPI 3.1 document: metadata and tags here; operations come from the routes' own
//! `#[utoipa::path]`s; [`finish`] adds what every operation shares (bearer security, problem+json
//! error responses) and tidies what generated clients trip over (an absent parameter is omitted,
//! never `null`; a free-form JSON object says `additionalProperties: true`), so no operation can
//! forget them.

use utoipa::OpenApi;
use utoipa::openapi::schema::{AdditionalProperties, ArrayItems, SchemaType, Type};
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
        (name = "context", description = "AI context: snippets about a conversation from the tenant's enrichers"),
        (name = "channels", description = "Messages sent through a plugin's channel adapter, as durable work"),
        (name = "inbound", description = "Webhook deliveries from vendors (verified by the plugin, no API key)"),
        (name = "rest-hooks", description = "REST-hook subscriptions (Zapier): subscribe, unsubscribe, samples"),
    ),
    components(schemas(Problem, FieldError))
)]
pub struct ApiDoc;

/// Standard error responses: (status, component name, description).
const ERRORS: [(&str, &str, &str); 10] = [
    ("400", "BadRequest", "The request is malformed (invalid JSON or query)"),
    ("401", "Unauthenticated", "The API key is missing, malformed, unknown or revoked"),
    ("403", "Forbidden", "The API key's role does not allow this operation"),
    ("404", "NotFound", "The object does not exist (or belongs to another tenant)"),
    ("413", "PayloadTooLarge", "The request body is over the size limit"),
    ("415", "UnsupportedMediaType", "The request body is not JSON"),
    (
        "422",
        "ValidationFailed",
        "The request is well-formed but invalid, or cannot apply to the object as it is; `errors` points at each field",
    ),
    (
        "429",
        "TooManyRequests",
        "The tenant sent more requests than its rate limit allows (`http.tenant_requests_per_second`); `Retry-After` says when to try again",
    ),
    ("500", "InternalError", "An unexpected error; the cause is logged, never returned"),
    ("503", "Unavailable", "The server is not ready or the request timed out"),
];

/// Whether an operation can answer `status`: every one can fail (5xx); a path with an id can
/// miss (404); a body can be too large (413); the API's bodies must be JSON (415); the API's
/// writes validate what they are sent and the state they apply to (422).
fn error_applies(status: &str, path: &str, has_body: bool, writes: bool) -> bool {
    let api = path.starts_with("/v1/");
    match status {
        "500" | "503" => true,
        "404" => api || path.contains('{'),
        "413" => has_body,
        "415" => api && has_body,
        "422" => api && (has_body || writes),
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
    for schema in components.schemas.values_mut() {
        free_form_objects(schema);
    }
    for (path, item) in doc.paths.paths.iter_mut() {
        let authenticated = path.starts_with("/v1/");
        let operations = [
            (&mut item.get, false),
            (&mut item.post, true),
            (&mut item.put, true),
            (&mut item.delete, false),
            (&mut item.patch, true),
            (&mut item.head, false),
            (&mut item.options, false),
        ];
        for (operation, writes) in operations {
            let Some(operation) = operation else { continue };
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
            let request_contents = operation.request_body.iter_mut().flat_map(|body| match body {
                RefOr::T(body) => Some(body.content.values_mut()),
                RefOr::Ref(_) => None,
            });
            let response_contents = operation.responses.responses.values_mut().flat_map(|response| match response {
                RefOr::T(response) => Some(response.content.values_mut()),
                RefOr::Ref(_) => None,
            });
            for content in request_contents.flatten().chain(response_contents.flatten()) {
                if let RefOr::T(content) = content
                    && let Some(schema) = content.schema.as_mut()
                {
                    free_form_objects(schema);
                }
            }
            let has_body = operation.request_body.is_some();
            for (status, name, _) in ERRORS {
                if error_applies(status, path, has_body, writes) {
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

/// An object schema with no properties and no word on others is a free-form JSON object (a run's
/// input, an action's output). Say so with `additionalProperties: true`: without it, generators
/// type it as an empty object (`{}` in TypeScript) that no field can be read from.
fn free_form_objects(schema: &mut RefOr<Schema>) {
    let RefOr::T(schema) = schema else { return };
    match schema {
        Schema::Object(object) => {
            let is_object = match &object.schema_type {
                SchemaType::Type(t) => *t == Type::Object,
                SchemaType::Array(types) => types.contains(&Type::Object),
                SchemaType::AnyValue => false,
            };
            if is_object && object.properties.is_empty() && object.additional_properties.is_none() {
                object.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(true)));
            }
            for property in object.properties.values_mut() {
                free_form_objects(property);
            }
            if let Some(additional) = object.additional_properties.as_deref_mut()
                && let AdditionalProperties::RefOr(inner) = additional
            {
                free_form_objects(inner);
            }
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                free_form_objects(items);
            }
        }
        Schema::OneOf(one_of) => one_of.items.iter_mut().for_each(free_form_objects),
        Schema::AllOf(all_of) => all_of.items.iter_mut().for_each(free_form_objects),
        Schema::AnyOf(any_of) => any_of.items.iter_mut().for_each(free_form_objects),
        _ => {}
    }
}
