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
    #[error("the stored secret is not in the `v2:<keyId>:<base64>` format")]
    Malformed,
    #[error("the stored secret was encrypted under key `{0}`, which this server does not have")]
    UnknownKey(String),
    #[error("the stored secret does not decrypt (wrong key, or it was moved to another tenant, bot, plugin or field)")]
    Tampered,
}

/// What a secret value is bound to: decrypting it anywhere else fails.
///
/// Values are stored as `v2:<keyId>:<base64(nonce ‖ ciphertext)>`, with the tenant, the bot (for
/// a bot's own settings), the plugin and the field as associated data, so a bot's secret cannot
/// be swapped with its tenant's. `v1` values (before the bot was bound) still decrypt; `keys
/// rotate` re-encrypts them as `v2`.
pub struct Binding<'a> {
    pub tenant_id: &'a str,
    /// The bot whose own settings hold the value; `None` at tenant level.
    pub bot_id: Option<&'a str>,
    pub plugin_id: &'a str,
    pub field: &'a str,
}

impl<'a> Binding<'a> {
    /// A value held at tenant level (not a bot's own).
    pub fn tenant(tenant_id: &'a str, plugin_id: &'a str, field: &'a str) -> Self {
        Self { tenant_id, bot_id: None, plugin_id, field }
    }

    fn aad(&self, version: Version) -> Vec<u8> {
        match version {
            Version::V1 => format!("bacon:v1:{}:{}:{}", self.tenant_id, self.plugin_id, self.field).into_bytes(),
            // A JSON array: unambiguous whatever the parts hold.
            Version::V2 => {
                serde_json::to_vec(&["bacon:v2", self.tenant_id, self.bot_id.unwrap_or(""), self.plugin_id, self.field])
                    .unwrap_or_default()
            }
        }
    }
}

/// The format of a stored value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    V1,
    V2,
}

/// The version and key id of a stored value, and its base64 data.
fn parts(stored: &str) -> Option<(Version, &str, &str)> {
    let mut parts = stored.splitn(3, ':');
    let version = match parts.next()? {
        "v1" => Version::V1,
        "v2" => Version::V2,
        _ => return None,
    };
    Some((version, parts.next()?, parts.next()?))
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
        let aad = binding.aad(Version::V2);
        let ciphertext = cipher
            .encrypt(&Nonce::from(nonce_bytes), Payload { msg: plaintext.as_bytes(), aad: &aad })
            .expect("AES-GCM encryption of an in-memory value cannot fail");
        let mut blob = nonce_bytes.to_vec();
        blob.extend_from_slice(&ciphertext);
        format!("v2:{id}:{}", B64.encode(blob))
    }

    /// The key id a stored value was encrypted under.
    pub fn key_id_of(stored: &str) -> Option<&str> {
        parts(stored).map(|(_, id, _)| id)
    }

    /// Whether `stored` is encrypted under the active key in the current format (else `keys
    /// rotate` re-encrypts it).
    pub fn is_current(&self, stored: &str) -> bool {
        parts(stored).is_some_and(|(version, id, _)| version == Version::V2 && id == self.active_id())
    }

    /// Whether `stored` is a value this keyring's format can hold (any version).
    pub fn is_sealed(stored: &str) -> bool {
        parts(stored).is_some()
    }

    /// Decrypts a value made by [`Keyring::encrypt`] with the same binding.
    ///
    /// # Errors
    /// [`CryptoError`] when it is malformed, under an unknown key, or bound elsewhere.
    pub fn decrypt(&self, stored: &str, binding: &Binding<'_>) -> Result<Secret<String>, CryptoError> {
        let (version, id, data) = parts(stored).ok_or(CryptoError::Malformed)?;
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
        let aad = binding.aad(version);
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
        Binding::tenant("ten_a", "bacon-plugin-http", field)
    }

    #[test]
    fn round_trips_with_fresh_nonces_and_binds_the_field() {
        let ring = Keyring::new("mk_1", Secret::new([7; 32]));
        let a = ring.encrypt("canary-secret", &binding("token"));
        let b = ring.encrypt("canary-secret", &binding("token"));
        assert_ne!(a, b, "a fresh nonce per value");
        assert!(a.starts_with("v2:mk_1:") && !a.contains("canary"));
        assert_eq!(ring.decrypt(&a, &binding("token")).unwrap().expose(), "canary-secret");
        assert_eq!(ring.decrypt(&a, &binding("other")), Err(CryptoError::Tampered));
        let other_tenant = Binding::tenant("ten_b", "bacon-plugin-http", "token");
        assert_eq!(ring.decrypt(&a, &other_tenant), Err(CryptoError::Tampered));
    }

    #[test]
    fn a_bots_secret_cannot_be_swapped_with_its_tenants_and_v1_values_still_decrypt() {
        let ring = Keyring::new("mk_1", Secret::new([7; 32]));
        let bot = Binding { bot_id: Some("bot_1"), ..binding("token") };
        let sealed = ring.encrypt("bot-secret", &bot);
        assert_eq!(ring.decrypt(&sealed, &bot).unwrap().expose(), "bot-secret");
        assert_eq!(ring.decrypt(&sealed, &binding("token")), Err(CryptoError::Tampered));
        let other_bot = Binding { bot_id: Some("bot_2"), ..binding("token") };
        assert_eq!(ring.decrypt(&sealed, &other_bot), Err(CryptoError::Tampered));
        assert!(ring.is_current(&sealed));

        // A value written before bots were bound (v1: nonce ‖ ciphertext with the old associated data).
        let cipher = ring.cipher("mk_1").unwrap();
        let nonce = [3u8; 12];
        let aad = binding("token").aad(Version::V1);
        let mut blob = nonce.to_vec();
        blob.extend(cipher.encrypt(&Nonce::from(nonce), Payload { msg: b"old", aad: &aad }).unwrap());
        let v1 = format!("v1:mk_1:{}", B64.encode(blob));
        assert_eq!(ring.decrypt(&v1, &binding("token")).unwrap().expose(), "old");
        assert!(!ring.is_current(&v1), "keys rotate upgrades it");
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
