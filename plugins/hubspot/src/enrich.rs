//! AI context: who the conversation's customer is in HubSpot, as one short snippet (name,
//! company, lifecycle stage, owner, last activity). No email, or no contact with it, gives no
//! snippet.
//!
//! The owner's name is looked up with `GET /crm/v3/owners/{id}` when the token may
//! (`crm.objects.owners.read`); otherwise the snippet names the owner by id.

use bacon_plugin_sdk::enrich::{ContextEnricher, ContextSnippet, Conversation};
use bacon_plugin_sdk::{ActionContext, ActionError, BoxFuture};
use reqwest::Method;
use serde::Deserialize;

use crate::client::{HubSpotApi, segment};
use crate::contact::{Contact, find_by_email, normalize_email};
use crate::settings::HubSpotSettings;

/// The contact summary's weight (higher comes first).
pub const CONTACT_WEIGHT: f32 = 0.75;

/// The longest a single CRM value may run in the snippet: the AI needs a summary, and a long
/// free-text property should not crowd the context.
const MAX_VALUE_CHARS: usize = 80;

/// Adds the conversation customer's HubSpot contact summary to the AI context.
pub struct ContactSummary;

impl ContextEnricher for ContactSummary {
    fn enrich_context(
        &self,
        ctx: ActionContext,
        conversation: Conversation,
    ) -> BoxFuture<'static, Result<Vec<ContextSnippet>, ActionError>> {
        Box::pin(async move {
            let Some(email) = conversation.email.as_deref().and_then(normalize_email) else {
                return Ok(Vec::new());
            };
            let settings: HubSpotSettings = ctx.settings()?;
            let api = HubSpotApi::new(&ctx, &settings)?;
            let Some(contact) = find_by_email(&api, &email, &[]).await? else {
                return Ok(Vec::new());
            };
            let owner = match &contact.owner_id {
                Some(id) => Some(owner_name(&api, id).await.unwrap_or_else(|| format!("owner id {id}"))),
                None => None,
            };
            Ok(vec![summary(&contact, owner.as_deref())])
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Owner {
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
}

/// "Jane Doe (jane@acme.example)", or `None` when HubSpot will not say.
async fn owner_name(api: &HubSpotApi, id: &str) -> Option<String> {
    let reply = api.call(Method::GET, &format!("/crm/v3/owners/{}", segment(id)), &[], None).await.ok()?;
    let owner: Owner = reply.parse().ok()?;
    let name = [owner.first_name, owner.last_name].into_iter().flatten().collect::<Vec<_>>().join(" ");
    match (name.trim(), owner.email) {
        ("", Some(email)) => Some(email),
        ("", None) => None,
        (name, Some(email)) => Some(format!("{name} ({email})")),
        (name, None) => Some(name.to_string()),
    }
}

/// "HubSpot contact Ada Lovelace <ada@example.com>: company …, lifecycle stage Customer, owner …,
/// last activity 2025-01-11."
pub fn summary(contact: &Contact, owner: Option<&str>) -> ContextSnippet {
    let mut content = String::from("HubSpot contact");
    if let Some(name) = contact.full_name() {
        content.push_str(&format!(" {}", short(&name)));
    }
    if let Some(email) = &contact.email {
        content.push_str(&format!(" <{}>", short(email)));
    }
    let mut facts = Vec::new();
    if let Some(company) = &contact.company {
        facts.push(format!("company {}", short(company)));
    }
    if let Some(stage) = &contact.lifecycle_stage {
        facts.push(format!("lifecycle stage {}", stage_label(stage)));
    }
    if let Some(owner) = owner {
        facts.push(format!("owner {}", short(owner)));
    }
    if let Some(last) = &contact.last_activity_at {
        facts.push(format!("last activity {}", day(last)));
    }
    if let Some(since) = &contact.created_at {
        facts.push(format!("contact since {}", day(since)));
    }
    if !facts.is_empty() {
        content.push_str(&format!(": {}", facts.join(", ")));
    }
    content.push('.');
    ContextSnippet { source: format!("hubspot:contact:{}", contact.id), content, weight: CONTACT_WEIGHT }
}

/// HubSpot's label for a default lifecycle stage; a custom stage's id as it is.
fn stage_label(stage: &str) -> String {
    let label = match stage {
        "subscriber" => "Subscriber",
        "lead" => "Lead",
        "marketingqualifiedlead" => "Marketing Qualified Lead",
        "salesqualifiedlead" => "Sales Qualified Lead",
        "opportunity" => "Opportunity",
        "customer" => "Customer",
        "evangelist" => "Evangelist",
        "other" => "Other",
        custom => return short(custom),
    };
    label.to_string()
}

/// The date of an ISO 8601 timestamp (`2025-01-11T09:00:00Z` -> `2025-01-11`).
fn day(timestamp: &str) -> String {
    match timestamp.get(..10) {
        Some(date) if timestamp.as_bytes().get(10) == Some(&b'T') => date.to_string(),
        _ => short(timestamp),
    }
}

/// One line, at most [`MAX_VALUE_CHARS`] characters.
fn short(value: &str) -> String {
    let line = value.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= MAX_VALUE_CHARS {
        return line;
    }
    let mut cut: String = line.chars().take(MAX_VALUE_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_or_multi_line_values_are_shortened() {
        assert_eq!(short("Acme\n  Corp"), "Acme Corp");
        assert_eq!(short(&"x".repeat(200)).chars().count(), MAX_VALUE_CHARS);
        assert_eq!(day("2025-01-11T09:00:00.123Z"), "2025-01-11");
        assert_eq!(stage_label("marketingqualifiedlead"), "Marketing Qualified Lead");
        assert_eq!(stage_label("1234567"), "1234567");
    }
}
