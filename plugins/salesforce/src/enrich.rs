//! Context enrichment: the conversation's Salesforce contact and its open cases.
//!
//! Two SOQL queries, both with quoted literals: the contact by the conversation's email, then
//! its open cases (`IsClosed = false`, newest first, at most [`MAX_CASES`]). No email or no
//! contact gives no snippets.

use bacon_plugin_sdk::enrich::{ContextEnricher, ContextSnippet, Conversation};
use bacon_plugin_sdk::{ActionContext, ActionError, BoxFuture};
use serde_json::Value;

use crate::actions::find_contact::{Contact, contact_by_email};
use crate::client::SalesforceClient;
use crate::settings::SalesforceSettings;
use crate::soql::soql_quote;

/// Open cases listed at most.
pub const MAX_CASES: usize = 5;
/// The weight of the contact snippet; cases follow just below it, newest first.
const CONTACT_WEIGHT: f32 = 0.8;

/// The SOQL for a contact's open cases.
pub fn open_cases_soql(contact_id: &str) -> String {
    format!(
        "SELECT Id, CaseNumber, Subject, Status, Priority, CreatedDate FROM Case WHERE ContactId = {} \
         AND IsClosed = false ORDER BY CreatedDate DESC LIMIT {MAX_CASES}",
        soql_quote(contact_id)
    )
}

/// Adds the contact and its open cases.
pub struct SalesforceEnricher;

impl ContextEnricher for SalesforceEnricher {
    fn enrich_context(
        &self,
        ctx: ActionContext,
        conversation: Conversation,
    ) -> BoxFuture<'static, Result<Vec<ContextSnippet>, ActionError>> {
        Box::pin(async move {
            let Some(email) = conversation.email.filter(|e| !e.trim().is_empty()) else {
                return Ok(Vec::new());
            };
            let settings: SalesforceSettings = ctx.settings()?;
            let client = SalesforceClient::new(&ctx, &settings)?;
            let Some(contact) = contact_by_email(&client, email.trim()).await? else {
                return Ok(Vec::new());
            };
            let cases = client.query(&open_cases_soql(&contact.id)).await?.records;
            let mut snippets = vec![contact_snippet(&contact, cases.len())];
            snippets.extend(cases.iter().enumerate().filter_map(|(i, case)| case_snippet(case, i)));
            Ok(snippets)
        })
    }
}

fn contact_snippet(contact: &Contact, open_cases: usize) -> ContextSnippet {
    let mut content = format!("Salesforce contact {}", contact.full_name());
    if let Some(email) = &contact.email {
        content.push_str(&format!(" <{email}>"));
    }
    if let Some(phone) = &contact.phone {
        content.push_str(&format!(", phone {phone}"));
    }
    if let Some(account) = &contact.account_name {
        content.push_str(&format!(", account {account}"));
    }
    let cases = match open_cases {
        0 => "no open cases".to_string(),
        1 => "1 open case".to_string(),
        n if n >= MAX_CASES => format!("at least {n} open cases"),
        n => format!("{n} open cases"),
    };
    content.push_str(&format!("; {cases}."));
    ContextSnippet { source: format!("salesforce:contact:{}", contact.id), content, weight: CONTACT_WEIGHT }
}

fn case_snippet(case: &Value, index: usize) -> Option<ContextSnippet> {
    let text = |key: &str| case.get(key).and_then(Value::as_str);
    let id = text("Id")?;
    let mut content = format!("Open Salesforce case {}", text("CaseNumber").unwrap_or(id));
    if let Some(subject) = text("Subject") {
        content.push_str(&format!(": \"{subject}\""));
    }
    let facts: Vec<String> =
        [("status", text("Status")), ("priority", text("Priority")), ("opened", text("CreatedDate"))]
            .into_iter()
            .filter_map(|(label, value)| value.map(|v| format!("{label} {v}")))
            .collect();
    if !facts.is_empty() {
        content.push_str(&format!(" ({})", facts.join(", ")));
    }
    content.push('.');
    Some(ContextSnippet {
        source: format!("salesforce:case:{id}"),
        content,
        // 0.70, 0.65, 0.60, … (computed in hundredths so the values are exact).
        weight: (70 - 5 * index.min(MAX_CASES)) as f32 / 100.0,
    })
}
