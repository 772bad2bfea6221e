//! Settings and CRM API bodies shaped like HubSpot's (the examples in the vendor reference).

use serde_json::{Value, json};

pub const TOKEN: &str = "pat-na1-11111111-2222-3333-4444-555555555555";
pub const BEARER: &str = "Bearer pat-na1-11111111-2222-3333-4444-555555555555";
/// The properties every contact read asks for.
pub const PROPERTIES: &str =
    "email,firstname,lastname,phone,company,lifecyclestage,hubspot_owner_id,notes_last_updated";

/// Settings as a tenant stores them (defaults left out on purpose).
pub fn settings() -> Value {
    json!({"accessToken": TOKEN})
}

/// Contact 512 as `GET /crm/v3/objects/contacts/{email}?idProperty=email` returns it.
pub fn contact_512() -> Value {
    json!({
        "id": "512",
        "properties": {
            "company": "Analytical Engines Ltd", "createdate": "2025-01-10T09:00:00Z", "email": "ada@example.com",
            "firstname": "Ada", "hs_object_id": "512", "hubspot_owner_id": "77",
            "lastmodifieddate": "2025-01-11T09:00:00Z", "lastname": "Lovelace", "lifecyclestage": "customer",
            "notes_last_updated": "2025-01-11T08:30:00Z", "phone": null
        },
        "createdAt": "2025-01-10T09:00:00Z", "updatedAt": "2025-01-11T09:00:00Z", "archived": false
    })
}

/// The parsed form of [`contact_512`].
pub fn contact_512_parsed() -> Value {
    json!({
        "id": "512", "email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace", "phone": null,
        "company": "Analytical Engines Ltd", "lifecycleStage": "customer", "ownerId": "77",
        "lastActivityAt": "2025-01-11T08:30:00Z", "properties": contact_512()["properties"],
        "createdAt": "2025-01-10T09:00:00Z", "updatedAt": "2025-01-11T09:00:00Z"
    })
}

pub fn not_found(id: &str) -> Value {
    json!({
        "status": "error", "message": "Object not found.  objectId are usually numeric.",
        "correlationId": "7d5d2b5c-1e52-4d6b-9bb9-3a1cf8d4d6a1", "context": {"id": [id]}, "category": "OBJECT_NOT_FOUND"
    })
}

pub fn invalid_authentication() -> Value {
    json!({
        "status": "error",
        "message": "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find \
                    more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
        "correlationId": "a43683b0-5717-4ceb-80b4-104d02915d8c", "category": "INVALID_AUTHENTICATION"
    })
}

pub fn missing_scopes() -> Value {
    json!({
        "status": "error",
        "message": "This app hasn't been granted all required scopes to make this call. Read more about required \
                    scopes here: https://developers.hubspot.com/scopes.",
        "correlationId": "1c2a0e3f-6c55-4f1e-8f0e-2b8b3c6c9a10", "category": "MISSING_SCOPES",
        "errors": [{"message": "One or more of the following scopes are required.",
                    "context": {"requiredGranularScopes": ["crm.objects.contacts.read"]}}]
    })
}

pub fn ten_secondly_limit() -> Value {
    json!({
        "status": "error", "message": "You have reached your ten_secondly_rolling limit.", "errorType": "RATE_LIMIT",
        "correlationId": "c033cdaa-2c40-4a64-ae48-b4cec88dad24", "policyName": "TEN_SECONDLY_ROLLING",
        "groupName": "publicapi:private-app-id:1234567:62515"
    })
}

pub fn invalid_property() -> Value {
    json!({
        "status": "error",
        "message": "Property values were not valid: [{\"isValid\":false,\"message\":\"Property \\\"favorite_color\\\" \
                    does not exist\",\"error\":\"PROPERTY_DOESNT_EXIST\",\"name\":\"favorite_color\"}]",
        "correlationId": "4b3a0c8e-0d1b-4a47-bd8e-5c8d2f3e9a77", "category": "VALIDATION_ERROR"
    })
}

pub fn contact_exists(id: &str) -> Value {
    json!({
        "status": "error", "message": format!("Contact already exists. Existing ID: {id}"),
        "correlationId": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d", "category": "CONFLICT"
    })
}
