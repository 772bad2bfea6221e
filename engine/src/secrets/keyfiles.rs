//! Master keys on disk for the embedded default: `<data_dir>/master.key` is the active key and
//! `<data_dir>/retired-keys/<keyId>.key` hold earlier ones, kept so older values still decrypt.
//! Each file holds base64 of 32 bytes, mode 0600. A key's id is derived from the key itself.

use std::io::Write;
use std::path::{Path, PathBuf};

use bacon_plugin_sdk::Secret;
use base64::Engine;
use sha2::{Digest, Sha256};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The id of a key: `mk_` and 12 hex digits of its SHA-256.
pub fn key_id(key: &[u8; 32]) -> String {
    format!("mk_{}", &hex::encode(Sha256::digest(key))[..12])
}

/// Parses base64 of exactly 32 bytes.
pub fn parse_key(text: &str) -> Option<[u8; 32]> {
    B64.decode(text.trim().as_bytes()).ok().and_then(|v| v.try_into().ok())
}

/// A new random key: its base64 text and its id.
pub fn generate() -> (String, String) {
    let key: [u8; 32] = rand::random();
    (B64.encode(key), key_id(&key))
}

/// A key and whether it is the active one.
pub struct StoredKey {
    pub id: String,
    pub key: Secret<[u8; 32]>,
    pub active: bool,
}

/// The key files of one data directory.
#[derive(Debug, Clone)]
pub struct KeyFiles {
    dir: PathBuf,
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
}

impl KeyFiles {
    pub fn new(data_dir: &Path) -> Self {
        Self { dir: data_dir.to_path_buf() }
    }

    pub fn active_path(&self) -> PathBuf {
        self.dir.join("master.key")
    }

    pub fn retired_dir(&self) -> PathBuf {
        self.dir.join("retired-keys")
    }

    /// Every key on disk: the active one first, then the retired ones.
    ///
    /// # Errors
    /// When a file cannot be read; malformed files are skipped.
    pub fn load(&self) -> std::io::Result<Vec<StoredKey>> {
        let mut keys = Vec::new();
        if let Some(key) = parse_key(&std::fs::read_to_string(self.active_path())?) {
            keys.push(StoredKey { id: key_id(&key), key: Secret::new(key), active: true });
        }
        if let Ok(entries) = std::fs::read_dir(self.retired_dir()) {
            for entry in entries.flatten() {
                if let Some(key) = std::fs::read_to_string(entry.path()).ok().as_deref().and_then(parse_key) {
                    keys.push(StoredKey { id: key_id(&key), key: Secret::new(key), active: false });
                }
            }
        }
        Ok(keys)
    }

    /// Moves the active key to `retired-keys/` and writes a fresh active key (the retired copy is
    /// written first, and the new key replaces `master.key` by an atomic rename, so a crash at
    /// any point loses no key). Returns `(old id, new id)`.
    ///
    /// # Errors
    /// When the files cannot be read or written.
    pub fn rotate(&self) -> std::io::Result<(String, String)> {
        let old_text = std::fs::read_to_string(self.active_path())?;
        let old = parse_key(&old_text).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "master.key is not base64 of 32 bytes")
        })?;
        let old_id = key_id(&old);
        std::fs::create_dir_all(self.retired_dir())?;
        write_private(&self.retired_dir().join(format!("{old_id}.key")), old_text.trim())?;
        let new: [u8; 32] = rand::random();
        let tmp = self.dir.join("master.key.new");
        write_private(&tmp, &B64.encode(new))?;
        std::fs::rename(&tmp, self.active_path())?;
        Ok((old_id, key_id(&new)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_the_old_key_and_activates_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let files = KeyFiles::new(dir.path());
        write_private(&files.active_path(), &B64.encode([5u8; 32])).unwrap();
        let (old, new) = files.rotate().unwrap();
        assert_ne!(old, new);
        let keys = files.load().unwrap();
        assert_eq!(keys.len(), 2);
        assert!(keys[0].active && keys[0].id == new);
        assert!(!keys[1].active && keys[1].id == old);
    }
}
