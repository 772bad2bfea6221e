//! AI context: `POST /v1/context/enrich` runs the tenant's context enrichers for a conversation
//! (see `bacon_engine::enrich` for the ordering, the token estimate and the audit row).

use axum::extract::State;
use bacon_engine::enrich::{self, EnrichOutcome, EnrichRequest};
use bacon_engine::ids::BotId;
use bacon_engine::store;
use bacon_engine::tenancy::Role;
use bacon_plugin_sdk::enrich::Conversation;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::TenantAuth;
use crate::error::{ApiError, FieldError};
use crate::extract::ApiJson;
use crate::state::AppState;

/// The longest identifier accepted (an email address can be 254 characters).
const MAX_IDENTIFIER_CHARS: usize = 320;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(enrich_context))
}

/// Who the conversation is with; give at least one identifier (blank counts as absent). Each
/// enricher uses the ones it knows (Shopify, Salesforce and HubSpot look customers up by `email`).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"conversationId": "conv-42", "email": "bob@example.com", "phone": "+15558675310"}))]
pub struct ConversationRequest {
    #[schema(max_length = 320)]
    pub conversation_id: Option<String>,
    #[schema(max_length = 320)]
    pub email: Option<String>,
    /// E.164 preferred (`+15558675310`).
    #[schema(max_length = 320)]
    pub phone: Option<String>,
    /// The user's id on the channel (`whatsapp:+15558675310`).
    #[schema(max_length = 320)]
    pub external_user_id: Option<String>,
}

/// What to enrich, and the budgets.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schema(example = json!({"conversation": {"email": "bob@example.com"}, "maxTokens": 500, "timeoutMs": 1500}))]
pub struct EnrichContextRequest {
    /// Use this bot's plugin settings (its overrides, else the tenant's).
    pub bot_id: Option<String>,
    pub conversation: ConversationRequest,
    /// The token budget of all snippets together (default 1000); each snippet counts
    /// `ceil(characters / 4)` tokens.
    #[serde(default, deserialize_with = "crate::extract::optional_integer")]
    #[schema(minimum = 1, maximum = 100_000)]
    pub max_tokens: Option<u32>,
    /// How long each enricher may take (default 2000); a slower one is skipped.
    #[serde(default, deserialize_with = "crate::extract::optional_integer")]
    #[schema(minimum = 1, maximum = 20_000)]
    pub timeout_ms: Option<u64>,
}

/// One piece of context.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnrichedSnippet {
    /// The plugin whose enricher produced it.
    pub plugin_id: String,
    /// Where it came from, as the plugin names it (`shopify:order:1001`).
    pub source: String,
    pub content: String,
    /// The plugin's weight; higher came first.
    pub weight: f32,
    /// The estimated tokens of `content`: `ceil(characters / 4)`.
    pub tokens: u32,
}

/// An enricher that was slow or failed, so it added nothing.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkippedEnricher {
    pub plugin_id: String,
    /// `timed_out`, `not_configured`, `secret_unavailable`, `panicked`, `output_too_large`,
    /// `store_error`, or the plugin's error kind (`retryable`, `rate_limited`, `permanent`,
    /// `invalid_input`, `unauthorized`, `egress_refused`).
    pub reason: String,
    /// What happened, secrets scrubbed.
    pub message: String,
}

/// The context: snippets by weight within the budget, and the enrichers that were skipped.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnrichContextResponse {
    /// Highest weight first; their `tokens` add up to at most `maxTokens`.
    pub snippets: Vec<EnrichedSnippet>,
    pub skipped: Vec<SkippedEnricher>,
    /// The enrichers that were asked: plugins with an enricher and stored settings for the
    /// tenant (or the bot).
    pub enrichers: Vec<String>,
    pub max_tokens: u32,
    pub used_tokens: u32,
    /// Snippets that came back but did not fit the budget.
    pub omitted_snippets: u32,
}

impl From<EnrichOutcome> for EnrichContextResponse {
    fn from(o: EnrichOutcome) -> Self {
        Self {
            snippets: o
                .snippets
                .into_iter()
                .map(|s| EnrichedSnippet {
                    plugin_id: s.plugin_id,
                    source: s.source,
                    content: s.content,
                    weight: s.weight,
                    tokens: s.tokens,
                })
                .collect(),
            skipped: o
                .skipped
                .into_iter()
                .map(|s| SkippedEnricher { plugin_id: s.plugin_id, reason: s.reason, message: s.message })
                .collect(),
            enrichers: o.enrichers,
            max_tokens: o.max_tokens,
            used_tokens: o.used_tokens,
            omitted_snippets: o.omitted_snippets,
        }
    }
}

/// Trims an identifier; an empty one is absent. Too long: a field error.
fn identifier(value: Option<String>, pointer: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    let value = value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty())?;
    if value.chars().count() > MAX_IDENTIFIER_CHARS {
        errors.push(FieldError::new(pointer, format!("must be at most {MAX_IDENTIFIER_CHARS} characters")));
        return None;
    }
    Some(value)
}

/// Collect AI context about a conversation from every enabled enricher of the tenant: each
/// plugin with an enricher (Shopify, Salesforce, HubSpot) whose settings the tenant or the bot has
/// stored. They run concurrently, each bounded by `timeoutMs`; one that is slower or fails is
/// listed in `skipped`, never fatal. Snippets come highest weight first and are cut to
/// `maxTokens`, estimating `ceil(characters / 4)` tokens per snippet. One audit row (`kind`
/// `ai_context`) lists which sources went into the context.
#[utoipa::path(post, path = "/v1/context/enrich", tag = "context", operation_id = "enrich_context",
    request_body = EnrichContextRequest,
    responses((status = 200, description = "The context", body = EnrichContextResponse)))]
pub async fn enrich_context(
    State(state): State<AppState>,
    TenantAuth(key): TenantAuth,
    ApiJson(body): ApiJson<EnrichContextRequest>,
) -> Result<ApiJson<EnrichContextResponse>, ApiError> {
    key.require(Role::Editor)?;
    let mut errors = Vec::new();
    let bot = match body.bot_id.as_deref().map(str::parse::<BotId>) {
        None => None,
        Some(Ok(bot)) => Some(bot),
        Some(Err(e)) => {
            errors.push(FieldError::new("/botId", e.to_string()));
            None
        }
    };
    let c = body.conversation;
    let conversation = Conversation {
        conversation_id: identifier(c.conversation_id, "/conversation/conversationId", &mut errors),
        email: identifier(c.email, "/conversation/email", &mut errors),
        phone: identifier(c.phone, "/conversation/phone", &mut errors),
        external_user_id: identifier(c.external_user_id, "/conversation/externalUserId", &mut errors),
    };
    if errors.is_empty() && conversation == Conversation::default() {
        errors.push(FieldError::new(
            "/conversation",
            "give at least one of conversationId, email, phone, externalUserId",
        ));
    }
    let max_tokens = body.max_tokens.unwrap_or(enrich::DEFAULT_MAX_TOKENS);
    if !(1..=enrich::MAX_MAX_TOKENS).contains(&max_tokens) {
        errors.push(FieldError::new("/maxTokens", format!("must be between 1 and {}", enrich::MAX_MAX_TOKENS)));
    }
    // A timeout must also leave the request time to answer before the server's request timeout.
    let max_timeout = enrich::MAX_TIMEOUT.min(state.invoke_deadline).as_millis() as u64;
    let timeout_ms = body.timeout_ms.unwrap_or((enrich::DEFAULT_TIMEOUT.as_millis() as u64).min(max_timeout));
    if !(1..=max_timeout).contains(&timeout_ms) {
        errors.push(FieldError::new("/timeoutMs", format!("must be between 1 and {max_timeout}")));
    }
    if !errors.is_empty() {
        let detail = errors.iter().map(|e| format!("{}: {}", e.pointer, e.message)).collect::<Vec<_>>().join("; ");
        return Err(ApiError::Validation { detail: format!("the request is not valid: {detail}"), errors });
    }
    if let Some(bot) = bot {
        store::bots::get(&state.db, key.tenant_id, bot).await?;
    }
    let request = EnrichRequest {
        max_tokens,
        timeout: std::time::Duration::from_millis(timeout_ms),
        ..EnrichRequest::new(key.tenant_id, bot, conversation)
    };
    let outcome = state.plugins.enrich(request).await?;
    Ok(ApiJson(outcome.into()))
}
