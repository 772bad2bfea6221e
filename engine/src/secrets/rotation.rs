//! Re-encrypting every stored secret (plugin settings, REST-hook target URLs, webhook signing
//! secrets) under the active key
//! (`bacon-server keys rotate`).
//!
//! Each row is rewritten on its own, so the server keeps running: until a row is rewritten it
//! decrypts with the retired key, which the keyring keeps.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use serde_json::Value;

use super::cipher::{Binding, CryptoError, Keyring};
use crate::StoreError;
use crate::store::{plugin_settings, rest_hooks, triggers};

/// What a rotation rewrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotationReport {
    pub rows: usize,
    pub values: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error("a secret of plugin `{plugin_id}` (field `{field}`) could not be decrypted: {source}")]
    Decrypt {
        plugin_id: String,
        field: String,
        #[source]
        source: CryptoError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Rewrites every ciphertext not under the keyring's active key in the current format.
///
/// # Errors
/// When a value cannot be decrypted (nothing after it is rewritten) or the database fails.
pub async fn reencrypt_all(db: &impl ConnectionTrait, keyring: &Keyring) -> Result<RotationReport, RotationError> {
    let mut report = RotationReport::default();
    // A row changed by a user between our read and our write is read again on the next pass.
    for _pass in 0..5 {
        let (done, rewritten) = rotate_pass(db, keyring).await?;
        report.rows += rewritten.rows;
        report.values += rewritten.values;
        if done {
            return Ok(report);
        }
    }
    Ok(report)
}

/// One pass over every row; `done` is false when a row changed under us.
async fn rotate_pass(db: &impl ConnectionTrait, keyring: &Keyring) -> Result<(bool, RotationReport), RotationError> {
    let mut report = RotationReport::default();
    let mut done = true;
    for (row_id, tenant_id, row) in plugin_settings::all_with_ids(db).await? {
        let mut secrets = row.secrets.clone();
        let mut changed = 0;
        for (field, stored) in secrets.iter_mut() {
            let Some(text) = stored.as_str() else { continue };
            if keyring.is_current(text) || !Keyring::is_sealed(text) {
                continue;
            }
            let binding =
                Binding { tenant_id: &tenant_id, bot_id: row.bot_id.as_deref(), plugin_id: &row.plugin_id, field };
            let plain = keyring.decrypt(text, &binding).map_err(|source| RotationError::Decrypt {
                plugin_id: row.plugin_id.clone(),
                field: field.clone(),
                source,
            })?;
            *stored = Value::String(keyring.encrypt(plain.expose(), &binding));
            changed += 1;
        }
        if changed > 0 {
            if plugin_settings::replace_secrets(db, &row_id, row.updated_at, secrets).await? {
                report.rows += 1;
                report.values += changed;
            } else {
                done = false;
            }
        }
    }
    for subscription in rest_hooks::all(db).await? {
        let stored = &subscription.sealed_target_url;
        if keyring.is_current(stored) || !Keyring::is_sealed(stored) {
            continue;
        }
        let field = rest_hooks::target_field(&subscription.id);
        let binding = Binding::tenant(&subscription.tenant_id, &subscription.plugin_id, &field);
        let plain = keyring.decrypt(stored, &binding).map_err(|source| RotationError::Decrypt {
            plugin_id: subscription.plugin_id.clone(),
            field: "REST-hook target URL".into(),
            source,
        })?;
        let sealed = keyring.encrypt(plain.expose(), &binding);
        if rest_hooks::replace_target(db, &subscription.id, stored, sealed).await? {
            report.rows += 1;
            report.values += 1;
        } else {
            done = false;
        }
    }
    for subscription in triggers::all(db).await? {
        let Some(stored) = subscription.config.get("signingSecret").and_then(Value::as_str) else { continue };
        if keyring.is_current(stored) || !Keyring::is_sealed(stored) {
            continue;
        }
        let field = crate::inbound::signing_field(&subscription.id);
        let binding = Binding::tenant(&subscription.tenant_id, crate::inbound::PLAIN_WEBHOOK, &field);
        let plain = keyring.decrypt(stored, &binding).map_err(|source| RotationError::Decrypt {
            plugin_id: crate::inbound::PLAIN_WEBHOOK.into(),
            field: "webhook signing secret".into(),
            source,
        })?;
        let mut config = subscription.config.clone();
        config["signingSecret"] = Value::String(keyring.encrypt(plain.expose(), &binding));
        if triggers::replace_config(db, &subscription.id, &subscription.config, config).await? {
            report.rows += 1;
            report.values += 1;
        } else {
            done = false;
        }
    }
    Ok((done, report))
}

/// Records key ids and states (never key material): `active_id` active, `retired` retired.
///
/// # Errors
/// On a database failure.
pub async fn record_keys(db: &impl ConnectionTrait, active_id: &str, retired: &[String]) -> Result<(), StoreError> {
    use bacon_entities::encryption_keys;
    let now = Utc::now();
    for (id, state) in
        std::iter::once((active_id.to_string(), "active")).chain(retired.iter().map(|r| (r.clone(), "retired")))
    {
        match encryption_keys::Entity::find_by_id(id.clone()).one(db).await? {
            Some(row) if row.state == state => {}
            Some(row) => {
                let mut active: encryption_keys::ActiveModel = row.into();
                active.state = Set(state.to_string());
                active.retired_at = Set((state == "retired").then_some(now));
                active.update(db).await?;
            }
            None => {
                encryption_keys::ActiveModel {
                    id: Set(id),
                    state: Set(state.to_string()),
                    created_at: Set(now),
                    retired_at: Set((state == "retired").then_some(now)),
                }
                .insert(db)
                .await
                .map_err(|e| StoreError::from_db("encryption key", e))?;
            }
        }
    }
    Ok(())
}
