//! [`PluginRegistry::enrich`]: the tenant's context enrichers, all at once, each guarded like an
//! action (own task, timeout, secrets scrubbed); the ordering and the budget are
//! [`crate::enrich`]'s.

use std::sync::Arc;
use std::time::Instant;

use bacon_plugin_sdk::ActionContext;
use bacon_plugin_sdk::context::ContextParts;
use bacon_plugin_sdk::enrich::ContextSnippet;

use super::{AbortOnDrop, InvokeError, PluginRegistry, panic_message};
use crate::StoreError;
use crate::enrich::{self, EnrichOutcome, EnrichRequest, SkippedEnricher};
use crate::ids::{BotId, TenantId};
use crate::plugins::loaded::LoadedPlugin;
use crate::plugins::settings;
use crate::secrets::redact::Redactor;
use crate::store::{audit, plugin_settings};

impl PluginRegistry {
    /// The plugins whose enricher runs for `tenant` (and `bot`): those with an enricher and with
    /// settings stored for the tenant or for that bot, in plugin id order.
    ///
    /// # Errors
    /// On a database failure.
    pub async fn enabled_enrichers(
        &self,
        tenant: TenantId,
        bot: Option<BotId>,
    ) -> Result<Vec<Arc<LoadedPlugin>>, StoreError> {
        let bot = bot.map(|b| b.to_string());
        let rows = plugin_settings::list_for_tenant(&self.db, tenant).await?;
        Ok(self
            .plugins
            .values()
            .filter(|p| p.definition.enricher.is_some())
            .filter(|p| rows.iter().any(|r| r.plugin_id == p.id() && (r.bot_id.is_none() || r.bot_id == bot)))
            .cloned()
            .collect())
    }

    /// Runs every enabled enricher of the tenant concurrently, each in its own task bounded by
    /// `request.timeout` (settings resolution included); a slow, failing or panicking one is
    /// skipped and named. Snippets are scrubbed of every secret of the enrichers' settings,
    /// ordered and cut per [`enrich::assemble`], and the call writes one audit row (or defers it).
    ///
    /// # Errors
    /// Only when the enabled enrichers cannot be listed (a database failure).
    pub async fn enrich(&self, request: EnrichRequest) -> Result<EnrichOutcome, StoreError> {
        let started = Instant::now();
        let plugins = self.enabled_enrichers(request.tenant_id, request.bot_id).await?;
        let tasks: Vec<(String, AbortOnDrop, tokio::task::JoinHandle<_>)> = plugins
            .into_iter()
            .map(|plugin| {
                let plugin_id = plugin.id().to_string();
                let registry = self.clone();
                let request = request.clone();
                let timeout = request.timeout;
                let task = tokio::spawn(async move {
                    tokio::time::timeout(timeout, registry.enrich_one(&plugin, &request))
                        .await
                        .unwrap_or(Err(InvokeError::TimedOut(timeout)))
                });
                // If this call is dropped (the client went away), every enricher goes with it.
                (plugin_id, AbortOnDrop(task.abort_handle()), task)
            })
            .collect();
        let mut outcome = EnrichOutcome::empty(&request);
        let mut answers = Vec::new();
        let mut redactors = Vec::new();
        for (plugin_id, _abort, task) in tasks {
            outcome.enrichers.push(plugin_id.clone());
            let result = match task.await {
                Ok(result) => result,
                Err(join) if join.is_panic() => Err(InvokeError::Panicked(panic_message(join.into_panic()))),
                Err(_) => Err(InvokeError::Panicked("the enricher's task was cancelled".into())),
            };
            match result {
                Ok((snippets, redactor)) => {
                    answers.push((plugin_id, snippets));
                    redactors.push(redactor);
                }
                Err(e) => {
                    let message = match &e {
                        InvokeError::TimedOut(t) => {
                            format!("the enricher did not answer within {} ms", t.as_millis())
                        }
                        other => other.to_string(),
                    };
                    tracing::info!(
                        tenant.id = %request.tenant_id,
                        plugin.id = %plugin_id,
                        reason = e.outcome(),
                        error = %message,
                        "Context enricher skipped."
                    );
                    outcome.skipped.push(SkippedEnricher { plugin_id, reason: e.outcome().to_string(), message });
                }
            }
        }
        // A snippet or message may quote another plugin's secret: scrub with every redactor.
        let scrub = |text: &str| redactors.iter().fold(text.to_string(), |t, r: &Redactor| r.text(&t));
        let assembled = enrich::assemble(answers, request.max_tokens);
        outcome.snippets = assembled
            .snippets
            .into_iter()
            .map(|s| enrich::EnrichedSnippet { source: scrub(&s.source), content: scrub(&s.content), ..s })
            .collect();
        for skipped in &mut outcome.skipped {
            skipped.message = scrub(&skipped.message);
        }
        outcome.used_tokens = assembled.used_tokens;
        outcome.omitted_snippets = assembled.omitted;
        let entry = enrich::audit_entry(&request, &outcome, started.elapsed());
        tracing::info!(
            tenant.id = %request.tenant_id,
            enrichers = outcome.enrichers.len(),
            snippets = outcome.snippets.len(),
            skipped = outcome.skipped.len(),
            tokens = outcome.used_tokens,
            "Context enriched."
        );
        if request.defer_audit {
            outcome.deferred_audit.push(entry);
        } else if let Err(e) = audit::append(&self.db, entry).await {
            tracing::error!(tenant.id = %request.tenant_id, error = %e, "Could not write the audit row.");
        }
        Ok(outcome)
    }

    /// One enricher: settings resolved, the call in its own task (a panic becomes an error), its
    /// snippets and errors scrubbed with its settings' redactor, which is returned too.
    async fn enrich_one(
        &self,
        plugin: &Arc<LoadedPlugin>,
        request: &EnrichRequest,
    ) -> Result<(Vec<ContextSnippet>, Redactor), InvokeError> {
        let Some(enricher) = plugin.definition.enricher.clone() else {
            return Ok((Vec::new(), Redactor::default()));
        };
        let settings = settings::resolve(&self.db, &self.secrets, plugin, request.tenant_id, request.bot_id).await?;
        let ctx = ActionContext::new(ContextParts {
            tenant_id: request.tenant_id.to_string(),
            bot_id: request.bot_id.map(|b| b.to_string()),
            plugin_id: plugin.id().to_string(),
            action: enrich::ENRICH_ACTION.to_string(),
            attempt: 1,
            idempotency_key: None,
            run_id: request.run_id.clone(),
            step_id: request.step_id.clone(),
            base_url: plugin.base_url.clone(),
            http: plugin.client_for(&settings.values),
            settings: settings.values.clone(),
        });
        let conversation = request.conversation.clone();
        let task = tokio::spawn(async move { enricher.enrich_context(ctx, conversation).await });
        let _abort = AbortOnDrop(task.abort_handle());
        let redactor = settings.redactor;
        let result = match task.await {
            Ok(Ok(snippets)) => {
                let bytes = serde_json::to_vec(&snippets).map(|v| v.len()).unwrap_or(usize::MAX);
                if bytes > self.limits.max_output_bytes {
                    Err(InvokeError::OutputTooLarge { bytes, limit: self.limits.max_output_bytes })
                } else {
                    Ok(snippets
                        .into_iter()
                        .map(|s| ContextSnippet {
                            source: redactor.text(&s.source),
                            content: redactor.text(&s.content),
                            weight: s.weight,
                        })
                        .collect())
                }
            }
            Ok(Err(e)) => Err(InvokeError::Action(e.map_message(|m| redactor.text(m)))),
            Err(join) if join.is_panic() => {
                Err(InvokeError::Panicked(redactor.text(&panic_message(join.into_panic()))))
            }
            Err(_) => Err(InvokeError::Panicked("the enricher's task was cancelled".into())),
        };
        result.map(|snippets| (snippets, redactor))
    }
}
