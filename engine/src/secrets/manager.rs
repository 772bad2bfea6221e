//! [`SecretsManager`]: where a stored secret reference gets its value from.
//!
//! A settings secret is stored either as ciphertext (`v1:<keyId>:<base64>`, the database manager)
//! or as a reference `env:NAME` that the environment manager resolves from
//! `BACON_SECRET_<TENANT>__<NAME>` (the tenant's own namespace),
//! so operators can inject secrets without storing them. Another manager (a vault) implements the
//! trait and is added to [`Secrets::new`]'s list.

use std::sync::Arc;

use bacon_plugin_sdk::Secret;

use super::cipher::{Binding, CryptoError, Keyring};

/// Why a secret could not be resolved (never includes the value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("environment variable `{0}` is not set")]
    MissingEnv(String),
    #[error("no secrets manager understands this stored value")]
    Unhandled,
}

/// Resolves stored secret references to values.
pub trait SecretsManager: Send + Sync {
    /// Whether this manager owns `stored`.
    fn handles(&self, stored: &str) -> bool;

    /// The value behind `stored`.
    ///
    /// # Errors
    /// [`SecretError`] when it cannot be resolved.
    fn resolve(&self, stored: &str, binding: &Binding<'_>) -> Result<Secret<String>, SecretError>;
}

/// Ciphertext in the database, decrypted with the keyring.
pub struct DatabaseSecrets {
    pub keyring: Keyring,
}

impl SecretsManager for DatabaseSecrets {
    fn handles(&self, stored: &str) -> bool {
        Keyring::is_sealed(stored)
    }

    fn resolve(&self, stored: &str, binding: &Binding<'_>) -> Result<Secret<String>, SecretError> {
        Ok(self.keyring.decrypt(stored, binding)?)
    }
}

/// `env:NAME` resolved at each use from `BACON_SECRET_<TENANT>__<NAME>`, where `<TENANT>` is the
/// tenant id upper-cased (`TEN_01J…`): a tenant can only reach variables the operator put in
/// its own namespace, never another tenant's.
pub struct EnvSecrets;

/// The environment variable an `env:NAME` reference of this tenant reads.
pub fn env_variable(tenant_id: &str, stored: &str) -> String {
    format!("{ENV_PREFIX}{}__{}", tenant_id.to_ascii_uppercase(), stored.trim_start_matches("env:"))
}

/// The prefix of environment variables holding injected secrets.
pub const ENV_PREFIX: &str = "BACON_SECRET_";

/// Whether `value` is an environment reference: `env:` followed by `A-Z`, `0-9`, `_`.
pub fn is_env_reference(value: &str) -> bool {
    value.strip_prefix("env:").is_some_and(|name| {
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
    })
}

impl SecretsManager for EnvSecrets {
    fn handles(&self, stored: &str) -> bool {
        is_env_reference(stored)
    }

    fn resolve(&self, stored: &str, binding: &Binding<'_>) -> Result<Secret<String>, SecretError> {
        let name = env_variable(binding.tenant_id, stored);
        std::env::var(&name).map(Secret::new).map_err(|_| SecretError::MissingEnv(name))
    }
}

/// Every manager, in order, plus the keyring that seals new values.
#[derive(Clone)]
pub struct Secrets {
    keyring: Keyring,
    managers: Arc<Vec<Arc<dyn SecretsManager>>>,
}

impl Secrets {
    /// The default set: the database (ciphertext) and the environment (`env:NAME`).
    pub fn new(keyring: Keyring) -> Self {
        let managers: Vec<Arc<dyn SecretsManager>> =
            vec![Arc::new(DatabaseSecrets { keyring: keyring.clone() }), Arc::new(EnvSecrets)];
        Self { keyring, managers: Arc::new(managers) }
    }

    pub fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// What to store for a value a user sent: an `env:NAME` reference as is, anything else
    /// encrypted under the newest key (the key files are re-read first, so a server that kept
    /// running through `keys rotate` does not keep sealing under the retired key).
    pub fn seal(&self, value: &str, binding: &Binding<'_>) -> String {
        if is_env_reference(value) {
            return value.to_string();
        }
        self.keyring.reload();
        self.keyring.encrypt(value, binding)
    }

    /// Where a stored value comes from: `encrypted` or `env`.
    pub fn source_of(stored: &str) -> &'static str {
        if is_env_reference(stored) { "env" } else { "encrypted" }
    }

    /// The value behind a stored reference.
    ///
    /// # Errors
    /// [`SecretError`] when no manager can resolve it.
    pub fn resolve(&self, stored: &str, binding: &Binding<'_>) -> Result<Secret<String>, SecretError> {
        self.managers.iter().find(|m| m.handles(stored)).ok_or(SecretError::Unhandled)?.resolve(stored, binding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_references_are_kept_and_everything_else_encrypted() {
        let secrets = Secrets::new(Keyring::new("mk_1", Secret::new([9; 32])));
        let binding = Binding::tenant("t", "p", "f");
        assert_eq!(secrets.seal("env:SHOP_TOKEN", &binding), "env:SHOP_TOKEN");
        assert!(secrets.seal("env:lower", &binding).starts_with("v2:"));
        let sealed = secrets.seal("plain", &binding);
        assert_eq!(secrets.resolve(&sealed, &binding).unwrap().expose(), "plain");
        assert_eq!(
            secrets.resolve("env:UNSET_VARIABLE_X", &binding).unwrap_err(),
            SecretError::MissingEnv("BACON_SECRET_T__UNSET_VARIABLE_X".into())
        );
    }

    #[test]
    fn env_references_stay_inside_the_tenant_namespace() {
        let a = env_variable("ten_01aaa", "env:SHOP_TOKEN");
        let b = env_variable("ten_01bbb", "env:SHOP_TOKEN");
        assert_eq!(a, "BACON_SECRET_TEN_01AAA__SHOP_TOKEN");
        assert_ne!(a, b, "tenant B's reference can never read tenant A's variable");
    }
}
