//! `upsert_contact`: creates the contact with an email address, or updates it when it exists.
//!
//! HubSpot is asked first (`GET …/contacts/{email}?idProperty=email`); an existing contact is
//! updated with `PATCH …/contacts/{id}`, a new one created with `POST …/contacts`. When another
//! writer creates the contact in between, HubSpot's 409 names the existing id
//! ("Contact already exists. Existing ID: 123") and that contact is updated instead.

use std::collections::BTreeMap;

use bacon_plugin_sdk::schemars::{self, JsonSchema};
use bacon_plugin_sdk::{ActionContext, ActionError};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::client::{HubSpotApi, segment};
use crate::contact::{Contact, CrmObject, email_input, find_by_email};
use crate::settings::HubSpotSettings;

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpsertContactInput {
    /// The contact's email address: the key the contact is found by.
    #[schemars(email)]
    pub email: String,
    /// `firstname`.
    pub first_name: Option<String>,
    /// `lastname`.
    pub last_name: Option<String>,
    /// `phone`.
    pub phone: Option<String>,
    /// `company`.
    pub company: Option<String>,
    /// `lifecyclestage` (`lead`, `customer`, …). HubSpot refuses to move a stage backwards.
    pub lifecycle_stage: Option<String>,
    /// Any other properties by internal name (`city`: `"Paris"`); numbers and booleans are sent as
    /// text, `null` clears a property. The named fields above win over the same names here.
    #[serde(default)]
    pub properties: BTreeMap<String, Value>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct UpsertContactOutput {
    /// The contact's id.
    pub id: String,
    /// Whether the contact was created (else it existed and was updated).
    pub created: bool,
    /// The contact as HubSpot returned it after the write.
    pub contact: Contact,
}

pub(crate) async fn run(
    ctx: ActionContext,
    settings: HubSpotSettings,
    input: UpsertContactInput,
) -> Result<UpsertContactOutput, ActionError> {
    let email = email_input(&input.email, "/email")?;
    let properties = properties_of(&input, &email);
    let api = HubSpotApi::new(&ctx, &settings)?;
    if let Some(existing) = find_by_email(&api, &email, &[]).await? {
        if properties.len() == 1 {
            // Only the email was given and it already matches: nothing to write.
            return Ok(UpsertContactOutput { id: existing.id.clone(), created: false, contact: existing });
        }
        return update(&api, &existing.id, &properties).await;
    }
    let body = json!({"properties": properties});
    let reply = api.call(Method::POST, "/crm/v3/objects/contacts", &[], Some(&body)).await?;
    if reply.status() == StatusCode::CONFLICT
        && let Some(id) = reply.vendor_error().message.as_deref().and_then(existing_id)
    {
        return update(&api, &id, &properties).await;
    }
    let contact: Contact = reply.parse::<CrmObject>()?.into();
    Ok(UpsertContactOutput { id: contact.id.clone(), created: true, contact })
}

async fn update(
    api: &HubSpotApi,
    id: &str,
    properties: &Map<String, Value>,
) -> Result<UpsertContactOutput, ActionError> {
    let body = json!({"properties": properties});
    let path = format!("/crm/v3/objects/contacts/{}", segment(id));
    let contact: Contact = api.call(Method::PATCH, &path, &[], Some(&body)).await?.parse::<CrmObject>()?.into();
    Ok(UpsertContactOutput { id: contact.id.clone(), created: false, contact })
}

/// The properties to write, all as text (HubSpot's property values are strings).
fn properties_of(input: &UpsertContactInput, email: &str) -> Map<String, Value> {
    let mut properties: Map<String, Value> = input
        .properties
        .iter()
        .map(|(name, value)| {
            let text = match value {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (name.trim().to_string(), Value::String(text))
        })
        .filter(|(name, _)| !name.is_empty())
        .collect();
    let named = [
        ("firstname", &input.first_name),
        ("lastname", &input.last_name),
        ("phone", &input.phone),
        ("company", &input.company),
        ("lifecyclestage", &input.lifecycle_stage),
    ];
    for (name, value) in named {
        if let Some(value) = value {
            properties.insert(name.into(), Value::String(value.trim().to_string()));
        }
    }
    properties.insert("email".into(), Value::String(email.to_string()));
    properties
}

/// The id in HubSpot's "Contact already exists. Existing ID: 123".
fn existing_id(message: &str) -> Option<String> {
    let (_, rest) = message.split_once("Existing ID:")?;
    let id: String = rest.trim_start().chars().take_while(char::is_ascii_digit).collect();
    (!id.is_empty()).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_existing_id_of_a_conflict() {
        assert_eq!(existing_id("Contact already exists. Existing ID: 5123"), Some("5123".into()));
        assert_eq!(existing_id("Contact already exists."), None);
    }
}
