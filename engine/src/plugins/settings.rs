//! Plugin settings of a tenant (and of one bot): validation, sealing of secrets, resolution.
//!
//! Stored: the non-secret values the user sent, and each secret sealed (ciphertext or `env:NAME`).
//! Effective settings = schema defaults, then the tenant's row, then the bot's row (a bot
//! override wins for that bot only). Responses never carry a secret: each reports only whether
//! it is set and where it comes from.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;
use serde_json::{Map, Value};

use super::loaded::LoadedPlugin;
use crate::StoreError;
use crate::ids::{BotId, TenantId};
use crate::secrets::cipher::Binding;
use crate::secrets::manager::{SecretError, Secrets};
use crate::secrets::redact::Redactor;
use crate::store::plugin_settings;

/// One invalid field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    pub pointer: String,
    pub message: String,
}

/// Settings could not be saved or used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("the settings are not valid")]
    Invalid(Vec<FieldProblem>),
    #[error("a stored secret could not be resolved: {field}: {source}")]
    Secret {
        field: String,
        #[source]
        source: SecretError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Whether a secret is set, and where from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretState {
    pub set: bool,
    /// `encrypted` or `env`, when set.
    pub source: Option<&'static str>,
    /// Whether the value comes from the tenant-wide row while viewing a bot.
    pub inherited: bool,
}

/// What `GET /v1/plugins/{id}/settings` shows.
#[derive(Debug, Clone)]
pub struct SettingsView {
    pub plugin_id: String,
    pub bot_id: Option<BotId>,
    /// Whether this scope has a stored row.
    pub stored: bool,
    /// Effective non-secret values (defaults, tenant, bot).
    pub values: Map<String, Value>,
    pub secrets: BTreeMap<String, SecretState>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// Settings ready for an action: secrets decrypted, and a redactor that knows them.
pub struct ResolvedSettings {
    pub values: Value,
    pub redactor: Redactor,
}

/// Turns validator errors into pointers; a missing required property points at itself. Errors
/// about a secret field are masked: the message never repeats the value.
pub fn problems(validator: &jsonschema::Validator, instance: &Value, secret_fields: &[String]) -> Vec<FieldProblem> {
    validator
        .iter_errors(instance)
        .map(|e| {
            let mut pointer = e.instance_path().to_string();
            let field = pointer.trim_start_matches('/').split('/').next().unwrap_or_default().to_string();
            let message = if secret_fields.contains(&field) { e.masked().to_string() } else { e.to_string() };
            if let jsonschema::error::ValidationErrorKind::Required { property } = e.kind()
                && let Some(name) = property.as_str()
            {
                pointer = format!("{pointer}/{}", name.replace('~', "~0").replace('/', "~1"));
            }
            FieldProblem { pointer, message }
        })
        .collect()
}

async fn rows(
    db: &impl ConnectionTrait,
    plugin: &LoadedPlugin,
    tenant: TenantId,
    bot: Option<BotId>,
) -> Result<(Option<plugin_settings::StoredSettings>, Option<plugin_settings::StoredSettings>), StoreError> {
    let tenant_row = plugin_settings::get(db, tenant, plugin.id(), None).await?;
    let bot_row = match bot {
        Some(b) => plugin_settings::get(db, tenant, plugin.id(), Some(b)).await?,
        None => None,
    };
    Ok((tenant_row, bot_row))
}

/// The settings as a user sees them for this scope.
///
/// # Errors
/// On a database failure.
pub async fn view(
    db: &impl ConnectionTrait,
    plugin: &LoadedPlugin,
    tenant: TenantId,
    bot: Option<BotId>,
) -> Result<SettingsView, StoreError> {
    let (tenant_row, bot_row) = rows(db, plugin, tenant, bot).await?;
    let mut values = plugin.defaults.clone();
    values.retain(|k, _| !plugin.is_secret(k));
    let mut secrets: BTreeMap<String, SecretState> = plugin
        .secret_fields
        .iter()
        .map(|f| (f.clone(), SecretState { set: false, source: None, inherited: false }))
        .collect();
    for (row, inherited) in [(&tenant_row, bot.is_some()), (&bot_row, false)] {
        let Some(row) = row else { continue };
        for (k, v) in &row.values {
            values.insert(k.clone(), v.clone());
        }
        for (k, v) in &row.secrets {
            if let Some(stored) = v.as_str() {
                secrets
                    .insert(k.clone(), SecretState { set: true, source: Some(Secrets::source_of(stored)), inherited });
            }
        }
    }
    let own = if bot.is_some() { &bot_row } else { &tenant_row };
    Ok(SettingsView {
        plugin_id: plugin.id().to_string(),
        bot_id: bot,
        stored: own.is_some(),
        values,
        secrets,
        updated_at: own.as_ref().map(|r| r.updated_at),
    })
}

/// Validates and stores the settings of one scope. Omitting a secret keeps the stored one;
/// `null` clears it. Nothing is stored when validation fails.
///
/// # Errors
/// [`SettingsError::Invalid`] with a pointer per invalid field; store failures.
pub async fn put(
    db: &impl ConnectionTrait,
    secrets: &Secrets,
    plugin: &LoadedPlugin,
    tenant: TenantId,
    bot: Option<BotId>,
    body: Value,
) -> Result<SettingsView, SettingsError> {
    let Value::Object(body) = body else {
        return Err(SettingsError::Invalid(vec![FieldProblem {
            pointer: String::new(),
            message: "the settings must be a JSON object".into(),
        }]));
    };
    let (tenant_row, bot_row) = rows(db, plugin, tenant, bot).await?;
    let own_row = if bot.is_some() { bot_row } else { tenant_row.clone() };
    let mut own_secrets = own_row.map(|r| r.secrets).unwrap_or_default();
    let mut values = Map::new();
    let mut candidate = plugin.defaults.clone();
    if bot.is_some()
        && let Some(t) = &tenant_row
    {
        candidate.extend(t.values.clone());
        for k in t.secrets.keys() {
            candidate.insert(k.clone(), Value::String("stored-secret".into()));
        }
    }
    let mut problems_found = Vec::new();
    let mut candidate_sent_secrets: Vec<String> = Vec::new();
    let tenant_text = tenant.to_string();
    let bot_text = bot.map(|b| b.to_string());
    for (key, value) in body {
        if !plugin.is_secret(&key) {
            candidate.insert(key.clone(), value.clone());
            values.insert(key, value);
            continue;
        }
        match value {
            Value::Null => {
                own_secrets.remove(&key);
            }
            Value::String(plain) => {
                candidate_sent_secrets.push(key.clone());
                let binding = Binding {
                    tenant_id: &tenant_text,
                    bot_id: bot_text.as_deref(),
                    plugin_id: plugin.id(),
                    field: &key,
                };
                candidate.insert(key.clone(), Value::String(plain.clone()));
                own_secrets.insert(key.clone(), Value::String(secrets.seal(&plain, &binding)));
            }
            _ => problems_found.push(FieldProblem {
                pointer: format!("/{key}"),
                message: "a secret must be a string (or null to clear it)".into(),
            }),
        }
    }
    for key in own_secrets.keys() {
        candidate.entry(key.clone()).or_insert_with(|| Value::String("stored-secret".into()));
    }
    // Stored secrets stand in as placeholders (their values were checked when they were sent):
    // a placeholder must not fail the field's own constraints.
    let placeholder = Value::String("stored-secret".into());
    let placeholders: Vec<String> = candidate
        .iter()
        .filter(|(k, v)| **v == placeholder && !candidate_sent_secrets.contains(k))
        .map(|(k, _)| k.clone())
        .collect();
    problems_found.extend(
        problems(&plugin.settings_validator, &Value::Object(candidate), &plugin.secret_fields).into_iter().filter(
            |p| {
                let field = p.pointer.trim_start_matches('/').split('/').next().unwrap_or_default();
                !placeholders.iter().any(|s| s == field)
            },
        ),
    );
    problems_found.extend(tenant_host_problems(plugin, &values));
    if !problems_found.is_empty() {
        return Err(SettingsError::Invalid(problems_found));
    }
    plugin_settings::upsert(db, tenant, plugin.id(), bot, values, own_secrets).await?;
    Ok(view(db, plugin, tenant, bot).await?)
}

/// Checks the tenant's own host list (when the plugin has one) against the operator's egress
/// policy: a tenant list may only narrow the plugin's, so `*` and internal addresses the
/// operator did not open are refused, each with a pointer to its entry. Only what this request
/// sends is checked, so a bot's settings can still be saved under an older tenant row.
fn tenant_host_problems(plugin: &LoadedPlugin, sent: &Map<String, Value>) -> Vec<FieldProblem> {
    let Some(property) = &plugin.definition.tenant_hosts_setting else { return Vec::new() };
    let Some(Value::Array(entries)) = sent.get(property) else { return Vec::new() };
    let escaped = property.replace('~', "~0").replace('/', "~1");
    entries
        .iter()
        .enumerate()
        .filter_map(|(i, entry)| {
            let message = plugin.http.egress().check_tenant_host(entry.as_str()?).err()?;
            Some(FieldProblem { pointer: format!("/{escaped}/{i}"), message })
        })
        .collect()
}

/// Effective settings for an action, secrets resolved.
///
/// # Errors
/// [`SettingsError::Invalid`] when the effective settings miss something the schema requires
/// (e.g. nothing was configured); [`SettingsError::Secret`] when a secret cannot be resolved.
pub async fn resolve(
    db: &impl ConnectionTrait,
    secrets: &Secrets,
    plugin: &LoadedPlugin,
    tenant: TenantId,
    bot: Option<BotId>,
) -> Result<ResolvedSettings, SettingsError> {
    let (tenant_row, bot_row) = rows(db, plugin, tenant, bot).await?;
    let mut values = plugin.defaults.clone();
    let mut secret_values = Vec::new();
    let tenant_text = tenant.to_string();
    for row in [tenant_row, bot_row].into_iter().flatten() {
        values.extend(row.values);
        for (field, stored) in row.secrets {
            let Some(stored) = stored.as_str() else { continue };
            let binding = Binding {
                tenant_id: &tenant_text,
                bot_id: row.bot_id.as_deref(),
                plugin_id: plugin.id(),
                field: &field,
            };
            let secret = secrets
                .resolve(stored, &binding)
                .map_err(|source| SettingsError::Secret { field: field.clone(), source })?;
            secret_values.push(secret.expose().clone());
            values.insert(field, Value::String(secret.into_inner()));
        }
    }
    let values = Value::Object(values);
    let found = problems(&plugin.settings_validator, &values, &plugin.secret_fields);
    if !found.is_empty() {
        let redactor = Redactor::new(secret_values);
        return Err(SettingsError::Invalid(
            found.into_iter().map(|p| FieldProblem { message: redactor.text(&p.message), ..p }).collect(),
        ));
    }
    Ok(ResolvedSettings { values, redactor: Redactor::new(secret_values) })
}
