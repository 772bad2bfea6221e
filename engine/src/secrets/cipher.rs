//! AES-256-GCM encryption of secret values under a keyring of master keys.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use bacon_plugin_sdk::Secret;
use base64::Engine;

use super::keyfiles::KeyFiles;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Why a stored value could not be decrypted (never includes the value).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("the stored secret is not in the `v1:<keyId>:<base64>` format")]
    Malformed,
    #[error("the stored secret was encrypted under key `{0}`, which this server does not have")]
    UnknownKey(String),
    #[error("the stored secret does not decrypt (wrong key, or it was moved to another tenant, plugin or field)")]
    Tampered,
}

/// What a secret value is bound to: decrypting it anywhere else fails.
pub struct Binding<'a> {
    pub tenant_id: &'a str,
    pub plugin_id: &'a str,
    pub field: &'a str,
}

impl Binding<'_> {
    fn aad(&self) -> Vec<u8> {
        format!("bacon:v1:{}:{}:{}", self.tenant_id, self.plugin_id, self.field).into_bytes()
    }
}

/// The master keys this server knows: one active (encrypts), others kept to decrypt older values.
#[derive(Clone)]
pub struct Keyring {
    inner: Arc<RwLock<KeyringInner>>,
}

struct KeyringInner {
    active: String,
    keys: HashMap<String, Secret<[u8; 32]>>,
    /// Where to look when a value names a key this keyring does not have (a rotation by
    /// another process while this one runs).
    reload: Option<KeyFiles>,
}

impl Keyring {
    /// A keyring whose active key is `(id, key)`.
    pub fn new(active_id: &str, key: Secret<[u8; 32]>) -> Self {
        let mut keys = HashMap::new();
        keys.insert(active_id.to_string(), key);
        Self { inner: Arc::new(RwLock::new(KeyringInner { active: active_id.to_string(), keys, reload: None })) }
    }

    /// A keyring of every key in `files`, active as on disk.
    ///
    /// # Errors
    /// When the files cannot be read or hold no active key.
    pub fn from_key_files(files: KeyFiles) -> std::io::Result<Self> {
        let active = files
            .load()?
            .into_iter()
            .find(|k| k.active)
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no active master key"))?;
        Ok(Self::new(&active.id, active.key).with_key_files(files))
    }

    /// Loads the retired keys of `files` now, and reloads from them when a value names an
    /// unknown key.
    pub fn with_key_files(self, files: KeyFiles) -> Self {
        if let Ok(mut inner) = self.inner.write() {
            inner.reload = Some(files);
        }
        self.reload();
        self
    }

    /// Re-reads the key files: every key becomes known, and the file's active key becomes active.
    pub fn reload(&self) {
        let Some(files) = self.inner.read().ok().and_then(|i| i.reload.clone()) else { return };
        let Ok(keys) = files.load() else { return };
        for stored in keys {
            if stored.active {
                self.set_active(&stored.id, stored.key);
            } else {
                self.add_decrypt_only(&stored.id, stored.key);
            }
        }
    }

    /// Ids of every known key but the active one.
    pub fn retired_ids(&self) -> Vec<String> {
        self.inner.read().map(|i| i.keys.keys().filter(|k| **k != i.active).cloned().collect()).unwrap_or_default()
    }

    /// Adds a key that can decrypt but not encrypt (a retired key during rotation).
    pub fn add_decrypt_only(&self, id: &str, key: Secret<[u8; 32]>) {
        if let Ok(mut inner) = self.inner.write() {
            inner.keys.entry(id.to_string()).or_insert(key);
        }
    }

    /// Makes `id` (with `key`) the key new values are encrypted under; the old one stays for decryption.
    pub fn set_active(&self, id: &str, key: Secret<[u8; 32]>) {
        if let Ok(mut inner) = self.inner.write() {
            inner.keys.insert(id.to_string(), key);
            inner.active = id.to_string();
        }
    }

    pub fn active_id(&self) -> String {
        self.inner.read().map(|i| i.active.clone()).unwrap_or_default()
    }

    pub fn knows(&self, id: &str) -> bool {
        self.inner.read().is_ok_and(|i| i.keys.contains_key(id))
    }

    fn cipher(&self, id: &str) -> Option<Aes256Gcm> {
        let inner = self.inner.read().ok()?;
        let key = inner.keys.get(id)?;
        Some(Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key.expose())))
    }

    /// Encrypts `plaintext` under the active key, bound to `binding`.
    pub fn encrypt(&self, plaintext: &str, binding: &Binding<'_>) -> String {
        let id = self.active_id();
        let cipher = self.cipher(&id).expect("the active key is in the keyring");
        let nonce_bytes: [u8; 12] = rand::random();
        let aad = binding.aad();
        let ciphertext = cipher
            .encrypt(&Nonce::from(nonce_bytes), Payload { msg: plaintext.as_bytes(), aad: &aad })
            .expect("AES-GCM encryption of an in-memory value cannot fail");
        let mut blob = nonce_bytes.to_vec();
        blob.extend_from_slice(&ciphertext);
        format!("v1:{id}:{}", B64.encode(blob))
    }

    /// The key id a stored value was encrypted under.
    pub fn key_id_of(stored: &str) -> Option<&str> {
        let mut parts = stored.splitn(3, ':');
        (parts.next() == Some("v1")).then(|| parts.next()).flatten()
    }

    /// Decrypts a value made by [`Keyring::encrypt`] with the same binding.
    ///
    /// # Errors
    /// [`CryptoError`] when it is malformed, under an unknown key, or bound elsewhere.
    pub fn decrypt(&self, stored: &str, binding: &Binding<'_>) -> Result<Secret<String>, CryptoError> {
        let mut parts = stored.splitn(3, ':');
        let (Some("v1"), Some(id), Some(data)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(CryptoError::Malformed);
        };
        let blob = B64.decode(data).map_err(|_| CryptoError::Malformed)?;
        if blob.len() < 12 + 16 {
            return Err(CryptoError::Malformed);
        }
        let cipher = match self.cipher(id) {
            Some(c) => c,
            None => {
                self.reload();
                self.cipher(id).ok_or_else(|| CryptoError::UnknownKey(id.to_string()))?
            }
        };
        let (nonce, ciphertext) = blob.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| CryptoError::Malformed)?;
        let aad = binding.aad();
        let plaintext = cipher
            .decrypt(&Nonce::from(nonce), Payload { msg: ciphertext, aad: &aad })
            .map_err(|_| CryptoError::Tampered)?;
        String::from_utf8(plaintext).map(Secret::new).map_err(|_| CryptoError::Tampered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding<'a>(field: &'a str) -> Binding<'a> {
        Binding { tenant_id: "ten_a", plugin_id: "bacon-plugin-http", field }
    }

    #[test]
    fn round_trips_with_fresh_nonces_and_binds_the_field() {
        let ring = Keyring::new("mk_1", Secret::new([7; 32]));
        let a = ring.encrypt("canary-secret", &binding("token"));
        let b = ring.encrypt("canary-secret", &binding("token"));
        assert_ne!(a, b, "a fresh nonce per value");
        assert!(a.starts_with("v1:mk_1:") && !a.contains("canary"));
        assert_eq!(ring.decrypt(&a, &binding("token")).unwrap().expose(), "canary-secret");
        assert_eq!(ring.decrypt(&a, &binding("other")), Err(CryptoError::Tampered));
        let other_tenant = Binding { tenant_id: "ten_b", plugin_id: "bacon-plugin-http", field: "token" };
        assert_eq!(ring.decrypt(&a, &other_tenant), Err(CryptoError::Tampered));
    }

    #[test]
    fn rotation_keeps_old_values_readable() {
        let ring = Keyring::new("mk_1", Secret::new([1; 32]));
        let old = ring.encrypt("s", &binding("f"));
        ring.set_active("mk_2", Secret::new([2; 32]));
        let new = ring.encrypt("s", &binding("f"));
        assert_eq!(Keyring::key_id_of(&new), Some("mk_2"));
        assert_eq!(ring.decrypt(&old, &binding("f")).unwrap().expose(), "s");
        let fresh = Keyring::new("mk_3", Secret::new([3; 32]));
        assert_eq!(fresh.decrypt(&old, &binding("f")), Err(CryptoError::UnknownKey("mk_1".into())));
    }
}
