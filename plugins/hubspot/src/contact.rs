//! Contacts: the CRM object as HubSpot returns it, the plugin's [`Contact`], and the lookup by
//! email (`GET /crm/v3/objects/contacts/{email}?idProperty=email`) the actions and the enricher
//! share.
//!
//! The lookup reads the contact directly by its unique `email` property rather than through the
//! search API: it is consistent at once (search lags behind writes by seconds), it is not held
//! to search's per-second limit, and "no such contact" is a plain 404.

use bacon_plugin_sdk::ActionError;
use bacon_plugin_sdk::schemars::{self, JsonSchema};
use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::client::{HubSpotApi, segment};

/// The contact properties the plugin always reads.
pub const CONTACT_PROPERTIES: [&str; 8] = [
    "email",
    "firstname",
    "lastname",
    "phone",
    "company",
    "lifecyclestage",
    "hubspot_owner_id",
    // "Last Activity Date": the last logged call, email, meeting, note or task.
    "notes_last_updated",
];

/// A CRM object as the v3 API returns it (`SimplePublicObject`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CrmObject {
    pub id: String,
    #[serde(default)]
    pub properties: Map<String, Value>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

impl CrmObject {
    /// A property's value, when set and not blank.
    pub fn text(&self, name: &str) -> Option<String> {
        self.properties.get(name).and_then(Value::as_str).map(str::trim).filter(|v| !v.is_empty()).map(str::to_string)
    }
}

/// A HubSpot contact.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    /// HubSpot's record id (`hs_object_id`).
    pub id: String,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    /// The `company` text property.
    pub company: Option<String>,
    /// `subscriber`, `lead`, `marketingqualifiedlead`, …, `customer`, or a custom stage id.
    pub lifecycle_stage: Option<String>,
    /// The contact owner's id (`hubspot_owner_id`).
    pub owner_id: Option<String>,
    /// The last logged activity (`notes_last_updated`).
    pub last_activity_at: Option<String>,
    /// Every property HubSpot returned, as it returned it (values are strings or null).
    pub properties: Map<String, Value>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

impl From<CrmObject> for Contact {
    fn from(object: CrmObject) -> Self {
        Self {
            email: object.text("email"),
            first_name: object.text("firstname"),
            last_name: object.text("lastname"),
            phone: object.text("phone"),
            company: object.text("company"),
            lifecycle_stage: object.text("lifecyclestage"),
            owner_id: object.text("hubspot_owner_id"),
            last_activity_at: object.text("notes_last_updated"),
            id: object.id,
            properties: object.properties,
            created_at: object.created_at,
            updated_at: object.updated_at,
        }
    }
}

impl Contact {
    /// "Ada Lovelace", when either part of the name is set.
    pub fn full_name(&self) -> Option<String> {
        let name = [&self.first_name, &self.last_name].into_iter().flatten().cloned().collect::<Vec<_>>().join(" ");
        (!name.is_empty()).then_some(name)
    }
}

/// The address in the form HubSpot stores (trimmed, lower case), when it looks like one.
pub fn normalize_email(email: &str) -> Option<String> {
    let email = email.trim();
    let (local, domain) = email.split_once('@')?;
    let plausible = !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    plausible.then(|| email.to_lowercase())
}

/// The email of an action input, normalised.
///
/// # Errors
/// `InvalidInput` pointing at `pointer` when it is not an email address.
pub fn email_input(email: &str, pointer: &str) -> Result<String, ActionError> {
    normalize_email(email).ok_or_else(|| ActionError::InvalidInput {
        message: format!("`{}` is not an email address", email.trim()),
        pointer: Some(pointer.into()),
    })
}

/// A HubSpot record id of an action input (HubSpot's ids are numeric).
///
/// # Errors
/// `InvalidInput` pointing at `pointer` otherwise.
pub fn id_input(id: &str, pointer: &str) -> Result<String, ActionError> {
    let id = id.trim();
    if !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit()) {
        Ok(id.to_string())
    } else {
        Err(ActionError::InvalidInput {
            message: format!("`{id}` is not a HubSpot record id (a number such as `512`)"),
            pointer: Some(pointer.into()),
        })
    }
}

/// The properties to read: the plugin's own, then `extra` (deduplicated, in order).
pub fn properties_to_read(extra: &[String]) -> String {
    let mut names: Vec<&str> = CONTACT_PROPERTIES.to_vec();
    for name in extra.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    names.join(",")
}

/// The contact whose `email` is `email` (already normalised), or `None` when HubSpot has none.
///
/// # Errors
/// HubSpot's failures, mapped.
pub async fn find_by_email(api: &HubSpotApi, email: &str, extra: &[String]) -> Result<Option<Contact>, ActionError> {
    let properties = properties_to_read(extra);
    let reply = api
        .call(
            Method::GET,
            &format!("/crm/v3/objects/contacts/{}", segment(email)),
            &[("idProperty", "email"), ("properties", &properties)],
            None,
        )
        .await?;
    // HubSpot says "not found" with its JSON error body; a 404 page from anything else (a
    // misrouted base URL, a proxy) is an error, not a missing contact.
    if reply.status() == StatusCode::NOT_FOUND && reply.vendor_error().raw.is_none() {
        return Ok(None);
    }
    Ok(Some(reply.parse::<CrmObject>()?.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_or_refused() {
        assert_eq!(normalize_email("  Ada@Example.COM "), Some("ada@example.com".into()));
        assert_eq!(normalize_email("ada"), None);
        assert_eq!(normalize_email("@example.com"), None);
        assert_eq!(normalize_email("a b@example.com"), None);
        assert_eq!(normalize_email("a@b@example.com"), None);
    }

    #[test]
    fn ids_must_be_numeric() {
        assert_eq!(id_input(" 512 ", "/contactId").unwrap(), "512");
        let err = id_input("512/../1", "/contactId").unwrap_err();
        assert_eq!(err.kind(), "invalid_input");
    }

    #[test]
    fn extra_properties_follow_the_plugin_s_own() {
        let names = properties_to_read(&["city".into(), "email".into(), " ".into()]);
        assert_eq!(names, format!("{},city", CONTACT_PROPERTIES.join(",")));
    }
}
