//! Tenants, bots, API keys and roles: the domain records of who may do what.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::ids::{ApiKeyId, BotId, TenantId};

/// What a tenant API key may do. Ordered: `Viewer < Editor < Admin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything of its tenant.
    Viewer,
    /// Also creates, changes and runs flows, bots and settings.
    Editor,
    /// Also manages the tenant's API keys.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "viewer" => Some(Role::Viewer),
            "editor" => Some(Role::Editor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub retention: TenantRetention,
    pub limits: TenantLimits,
}

/// A tenant's own limits; `None`: the server's setting (`http.tenant_*`, `workers.tenant_concurrent_steps`), `Some(0)`: unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TenantLimits {
    /// API requests a second its keys may send.
    pub requests_per_second: Option<u32>,
    /// Runs it may start a second (by any trigger).
    pub runs_per_second: Option<u32>,
    /// Steps of its runs running at once.
    pub concurrent_steps: Option<u32>,
}

/// A tenant's own retention, in days; `None`: the server's setting (`retention.*`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TenantRetention {
    pub inbound_days: Option<u32>,
    pub runs_days: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bot {
    pub id: BotId,
    pub tenant_id: TenantId,
    pub name: String,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// An API key as stored: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub tenant_id: TenantId,
    pub name: String,
    pub role: Role,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The prefix every tenant API key starts with.
pub const TENANT_KEY_PREFIX: &str = "bacon_";
/// The prefix of the server admin key.
pub const ADMIN_KEY_PREFIX: &str = "bacon_admin_";

/// A freshly generated key: the plaintext is shown to the caller once and never stored.
pub struct GeneratedKey {
    pub plaintext: bacon_plugin_sdk::Secret<String>,
    pub hash: String,
    pub prefix: String,
}

/// Generates `<prefix><base64url of 32 random bytes>`.
pub fn generate_key(prefix: &str) -> GeneratedKey {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    let plaintext = format!("{prefix}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
    let hash = hash_key(&plaintext);
    let display_prefix = plaintext.chars().take(prefix.len() + 6).collect();
    GeneratedKey { plaintext: plaintext.into(), hash, prefix: display_prefix }
}

/// SHA-256 of a presented key, hex: what `api_keys.key_hash` stores.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Whether `key` has the shape of a key with this prefix (43 base64url characters after it).
pub fn is_well_formed(key: &str, prefix: &str) -> bool {
    key.strip_prefix(prefix).is_some_and(|rest| {
        rest.len() == 43 && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_well_formed_and_hash_stably() {
        let key = generate_key(TENANT_KEY_PREFIX);
        assert!(is_well_formed(key.plaintext.expose(), TENANT_KEY_PREFIX));
        assert_eq!(hash_key(key.plaintext.expose()), key.hash);
        assert!(!is_well_formed("bacon_short", TENANT_KEY_PREFIX));
        assert!(Role::Viewer < Role::Editor && Role::Editor < Role::Admin);
    }
}

/// A human-readable name (tenant, bot, key): trimmed, 1 to 200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// # Errors
    /// A sentence saying what is wrong with the name.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        if name.is_empty() {
            return Err("must not be empty".into());
        }
        if name.chars().count() > 200 {
            return Err("must be at most 200 characters".into());
        }
        if name.chars().any(char::is_control) {
            return Err("must not contain control characters".into());
        }
        Ok(Self(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}
