//! AI-context enrichment: what `POST /v1/context/enrich` and the `ai_context` flow node share.
//!
//! Every *enabled* enricher of a tenant runs concurrently, each bounded by the request's timeout:
//! a loaded plugin with an `enricher` in its definition, for which the tenant (or the bot asked
//! for) has stored settings. A slow, failing or panicking enricher is skipped and named, never
//! fatal. The snippets that came back are ordered by weight (highest first) and cut to the token
//! budget with [`estimate_tokens`]; one audit row per call lists which sources went in.
//!
//! - [`crate::plugins::registry::PluginRegistry::enrich`] does the I/O (settings, guarded calls).
//! - [`assemble`] orders and cuts (pure); [`audit_entry`] describes a call for the audit log.
//! - [`conversation_from`] finds the conversation an `ai_context` node enriches in its run.

use std::time::Duration;

use bacon_plugin_sdk::enrich::{ContextSnippet, Conversation};
use serde::Serialize;
use serde_json::{Value, json};

use crate::ids::{BotId, TenantId};
use crate::store::audit::NewAuditEntry;

/// The token budget when none is given.
pub const DEFAULT_MAX_TOKENS: u32 = 1_000;
/// The largest token budget accepted.
pub const MAX_MAX_TOKENS: u32 = 100_000;
/// How long each enricher may take when no timeout is given.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(2_000);
/// The longest timeout accepted.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(20);
/// The audit row `kind` of an enrich call.
pub const AUDIT_KIND: &str = "ai_context";
/// The `action` name enrichers see in their context, and the audit row's `action`.
pub const ENRICH_ACTION: &str = "enrich_context";

/// The estimated number of tokens of `text`: one per four characters (Unicode scalar values),
/// rounded up, so `ceil(chars / 4)`.
///
/// Four characters per token is the usual rule of thumb for English text with the BPE tokenizers
/// of current models; it needs no model-specific tokenizer and is the same on every server. It
/// underestimates text with few characters per token (CJK, long numbers), so leave headroom.
pub fn estimate_tokens(text: &str) -> u32 {
    u32::try_from(text.chars().count().div_ceil(4)).unwrap_or(u32::MAX)
}

/// One enrich call.
#[derive(Debug, Clone)]
pub struct EnrichRequest {
    pub tenant_id: TenantId,
    /// Use this bot's settings (its own, or the tenant's it inherits) and enrichers.
    pub bot_id: Option<BotId>,
    pub conversation: Conversation,
    pub max_tokens: u32,
    /// How long each enricher may take, settings resolution included.
    pub timeout: Duration,
    pub run_id: Option<String>,
    pub step_id: Option<String>,
    /// Return the audit row in [`EnrichOutcome::deferred_audit`] instead of writing it, so the
    /// caller writes it in the transaction that records the outcome (flow steps).
    pub defer_audit: bool,
}

impl EnrichRequest {
    /// A call with the default budget and timeout.
    pub fn new(tenant_id: TenantId, bot_id: Option<BotId>, conversation: Conversation) -> Self {
        Self {
            tenant_id,
            bot_id,
            conversation,
            max_tokens: DEFAULT_MAX_TOKENS,
            timeout: DEFAULT_TIMEOUT,
            run_id: None,
            step_id: None,
            defer_audit: false,
        }
    }

    /// What the call was asked, as a flow step records it in its `input`.
    pub fn describe(&self) -> Value {
        json!({
            "conversation": self.conversation,
            "maxTokens": self.max_tokens,
            "timeoutMs": self.timeout.as_millis() as u64,
        })
    }

    /// Which identifiers the conversation carries (names only: the audit log keeps no values).
    pub fn identifiers(&self) -> Vec<&'static str> {
        let c = &self.conversation;
        [
            ("conversationId", &c.conversation_id),
            ("email", &c.email),
            ("phone", &c.phone),
            ("externalUserId", &c.external_user_id),
        ]
        .into_iter()
        .filter(|(_, v)| v.as_deref().is_some_and(|v| !v.trim().is_empty()))
        .map(|(name, _)| name)
        .collect()
    }
}

/// A snippet that made it into the context.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrichedSnippet {
    /// The plugin whose enricher produced it.
    pub plugin_id: String,
    /// Where it came from, as the plugin names it (`shopify:order:1001`).
    pub source: String,
    pub content: String,
    pub weight: f32,
    /// [`estimate_tokens`] of `content`.
    pub tokens: u32,
}

/// An enricher that gave nothing because it was slow or failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SkippedEnricher {
    pub plugin_id: String,
    /// A stable code: `timed_out`, `not_configured`, `secret_unavailable`, `panicked`,
    /// `output_too_large`, `store_error`, or the plugin's error kind (`retryable`,
    /// `rate_limited`, `permanent`, `invalid_input`, `unauthorized`, `egress_refused`).
    pub reason: String,
    /// What happened, for a human; secrets scrubbed.
    pub message: String,
}

/// The result of an enrich call.
#[derive(Debug, Clone, Default)]
pub struct EnrichOutcome {
    /// Highest weight first, within the budget.
    pub snippets: Vec<EnrichedSnippet>,
    pub skipped: Vec<SkippedEnricher>,
    /// The enabled enrichers that were asked, by plugin id.
    pub enrichers: Vec<String>,
    pub max_tokens: u32,
    /// The sum of the snippets' `tokens`.
    pub used_tokens: u32,
    /// Snippets left out because they did not fit the budget.
    pub omitted_snippets: u32,
    /// The call's audit row when the request deferred it (else empty).
    pub deferred_audit: Vec<NewAuditEntry>,
}

impl EnrichOutcome {
    /// What a call with no enabled enricher returns.
    pub fn empty(request: &EnrichRequest) -> Self {
        Self { max_tokens: request.max_tokens, ..Self::default() }
    }

    /// The outcome as JSON: an `ai_context` step's output (`snippets` also go to `vars.aiContext`).
    pub fn to_json(&self) -> Value {
        json!({
            "snippets": self.snippets,
            "skipped": self.skipped,
            "enrichers": self.enrichers,
            "maxTokens": self.max_tokens,
            "usedTokens": self.used_tokens,
            "omittedSnippets": self.omitted_snippets,
        })
    }
}

/// The snippets that fit, and what was left out.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Assembled {
    pub snippets: Vec<EnrichedSnippet>,
    pub used_tokens: u32,
    pub omitted: u32,
}

/// Orders the enrichers' snippets by weight (highest first; ties keep the order of `answers`,
/// then each plugin's own order) and keeps each one that still fits `max_tokens`. A snippet that
/// does not fit is left out and smaller ones after it may still go in, so the budget holds the
/// most weight it can in that order. Empty snippets are dropped; a weight that is not a finite
/// number counts as 0.
pub fn assemble(answers: Vec<(String, Vec<ContextSnippet>)>, max_tokens: u32) -> Assembled {
    let mut all: Vec<EnrichedSnippet> = answers
        .into_iter()
        .flat_map(|(plugin_id, snippets)| {
            snippets.into_iter().filter(|s| !s.content.trim().is_empty()).map(move |s| EnrichedSnippet {
                plugin_id: plugin_id.clone(),
                tokens: estimate_tokens(&s.content),
                weight: if s.weight.is_finite() { s.weight } else { 0.0 },
                source: s.source,
                content: s.content,
            })
        })
        .collect();
    // A stable sort: equal weights keep the order above.
    all.sort_by(|a, b| b.weight.total_cmp(&a.weight));
    let mut assembled = Assembled::default();
    for snippet in all {
        match assembled.used_tokens.checked_add(snippet.tokens) {
            Some(total) if total <= max_tokens => {
                assembled.used_tokens = total;
                assembled.snippets.push(snippet);
            }
            _ => assembled.omitted += 1,
        }
    }
    assembled
}

/// The audit row of one call: which sources went into the context (never their content, never
/// the conversation's identifiers, only their names). `outcome` is `success` when every enricher
/// answered, `partial` when some were skipped, `failed` when all were.
pub fn audit_entry(request: &EnrichRequest, outcome: &EnrichOutcome, duration: Duration) -> NewAuditEntry {
    let result = match (outcome.skipped.len(), outcome.enrichers.len()) {
        (0, _) => "success",
        (skipped, asked) if skipped < asked => "partial",
        _ => "failed",
    };
    let error = (!outcome.skipped.is_empty()).then(|| {
        outcome.skipped.iter().map(|s| format!("{}: {}", s.plugin_id, s.message)).collect::<Vec<_>>().join("; ")
    });
    let sources: Vec<Value> = outcome
        .snippets
        .iter()
        .map(|s| json!({"pluginId": s.plugin_id, "source": s.source, "weight": s.weight, "tokens": s.tokens}))
        .collect();
    let skipped: Vec<Value> =
        outcome.skipped.iter().map(|s| json!({"pluginId": s.plugin_id, "reason": s.reason})).collect();
    NewAuditEntry {
        tenant_id: request.tenant_id,
        kind: AUDIT_KIND.to_string(),
        plugin_id: None,
        action: Some(ENRICH_ACTION.to_string()),
        run_id: request.run_id.clone(),
        step_id: request.step_id.clone(),
        attempt: 1,
        outcome: result.to_string(),
        duration_ms: duration.as_millis() as u64,
        error,
        details: Some(json!({
            "botId": request.bot_id.map(|b| b.to_string()),
            "identifiers": request.identifiers(),
            "enrichers": outcome.enrichers,
            "sources": sources,
            "skipped": skipped,
            "maxTokens": outcome.max_tokens,
            "usedTokens": outcome.used_tokens,
            "omittedSnippets": outcome.omitted_snippets,
            "timeoutMs": request.timeout.as_millis() as u64,
        })),
    }
}

/// The conversation an `ai_context` node enriches, read from its run's template context
/// (`{ trigger, input, vars }`): each identifier (`conversationId`, `email`, `phone`,
/// `externalUserId`) is the first non-empty string among `vars.conversation`,
/// `input.conversation`, `trigger.conversation`, then the top level of `input` and of `trigger`.
/// A `transform` node that sets `conversation` maps any other shape.
pub fn conversation_from(context: &Value) -> Conversation {
    let places = [
        &context["vars"]["conversation"],
        &context["input"]["conversation"],
        &context["trigger"]["conversation"],
        &context["input"],
        &context["trigger"],
    ];
    let find = |key: &str| {
        places
            .iter()
            .filter_map(|place| place.get(key).and_then(Value::as_str))
            .map(str::trim)
            .find(|v| !v.is_empty())
            .map(str::to_string)
    };
    Conversation {
        conversation_id: find("conversationId"),
        email: find("email"),
        phone: find("phone"),
        external_user_id: find("externalUserId"),
    }
}

/// `snippets` of an `ai_context` step's output, for `vars.aiContext` (`[]` when absent).
pub fn snippets_of(output: &Value) -> Value {
    output.get("snippets").cloned().unwrap_or_else(|| Value::Array(Vec::new()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snippet(source: &str, content: &str, weight: f32) -> ContextSnippet {
        ContextSnippet { source: source.into(), content: content.into(), weight }
    }

    #[test]
    fn tokens_are_a_quarter_of_the_characters_rounded_up() {
        assert_eq!(estimate_tokens(""), 0);
        assert_eq!(estimate_tokens("abc"), 1);
        assert_eq!(estimate_tokens("abcd"), 1);
        assert_eq!(estimate_tokens("abcde"), 2);
        // Characters, not bytes: four two-byte letters are one token.
        assert_eq!(estimate_tokens("éééé"), 1);
    }

    #[test]
    fn snippets_come_by_weight_and_within_the_budget() {
        let answers = vec![
            ("p-a".to_string(), vec![snippet("a:1", "aaaa aaaa", 0.5), snippet("a:2", "tiny", 0.9)]),
            ("p-b".to_string(), vec![snippet("b:1", &"x".repeat(40), 1.0), snippet("b:2", "bbbb", 0.5)]),
        ];
        let all = assemble(answers.clone(), 1_000);
        let order: Vec<&str> = all.snippets.iter().map(|s| s.source.as_str()).collect();
        assert_eq!(order, ["b:1", "a:2", "a:1", "b:2"], "by weight; ties keep plugin order");
        assert_eq!(all.used_tokens, 10 + 1 + 3 + 1);
        assert_eq!(all.omitted, 0);

        // 10 tokens fit 4 + 3 + 1 + 1 = 9 after the 10-token snippet is left out.
        let cut = assemble(answers, 9);
        let order: Vec<&str> = cut.snippets.iter().map(|s| s.source.as_str()).collect();
        assert_eq!(order, ["a:2", "a:1", "b:2"]);
        assert_eq!((cut.used_tokens, cut.omitted), (5, 1));
        assert!(cut.snippets.iter().all(|s| s.plugin_id.starts_with("p-")));
    }

    #[test]
    fn empty_snippets_go_and_odd_weights_count_as_zero() {
        let answers = vec![(
            "p".to_string(),
            vec![snippet("s:1", "  ", 1.0), snippet("s:2", "nan", f32::NAN), snippet("s:3", "one", 0.1)],
        )];
        let got = assemble(answers, 100);
        let order: Vec<(&str, f32)> = got.snippets.iter().map(|s| (s.source.as_str(), s.weight)).collect();
        assert_eq!(order, [("s:3", 0.1), ("s:2", 0.0)]);
    }

    #[test]
    fn the_conversation_comes_from_vars_input_then_trigger() {
        let context = json!({
            "vars": {"conversation": {"email": " vars@example.com "}},
            "input": {"conversation": {"email": "input@example.com", "phone": "+1555"}, "externalUserId": "u-1"},
            "trigger": {"conversationId": "c-1", "phone": "+1666", "email": ""}
        });
        let c = conversation_from(&context);
        assert_eq!(c.email.as_deref(), Some("vars@example.com"));
        assert_eq!(c.phone.as_deref(), Some("+1555"));
        assert_eq!(c.external_user_id.as_deref(), Some("u-1"));
        assert_eq!(c.conversation_id.as_deref(), Some("c-1"));
        assert_eq!(conversation_from(&json!({})), Conversation::default());
    }

    #[test]
    fn the_audit_row_names_sources_and_identifiers_never_values() {
        let tenant = TenantId::generate();
        let mut request = EnrichRequest::new(
            tenant,
            None,
            Conversation { email: Some("bob@example.com".into()), ..Conversation::default() },
        );
        request.max_tokens = 50;
        let outcome = EnrichOutcome {
            snippets: assemble(vec![("p-a".into(), vec![snippet("a:1", "secret-ish content", 1.0)])], 50).snippets,
            skipped: vec![SkippedEnricher {
                plugin_id: "p-b".into(),
                reason: "timed_out".into(),
                message: "the enricher did not answer within 2000 ms".into(),
            }],
            enrichers: vec!["p-a".into(), "p-b".into()],
            max_tokens: 50,
            used_tokens: 5,
            omitted_snippets: 0,
            deferred_audit: Vec::new(),
        };
        let row = audit_entry(&request, &outcome, Duration::from_millis(12));
        assert_eq!(row.outcome, "partial");
        assert_eq!(row.kind, "ai_context");
        let details = row.details.unwrap();
        assert_eq!(details["sources"], json!([{"pluginId": "p-a", "source": "a:1", "weight": 1.0, "tokens": 5}]));
        assert_eq!(details["skipped"], json!([{"pluginId": "p-b", "reason": "timed_out"}]));
        assert_eq!(details["identifiers"], json!(["email"]));
        let text = details.to_string();
        assert!(!text.contains("bob@example.com") && !text.contains("secret-ish"), "{text}");
    }
}
