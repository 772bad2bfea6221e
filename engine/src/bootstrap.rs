//! What the first start of a server creates, and what later starts reuse.
//!
//! - the master encryption key: `BACON_MASTER_KEY` (base64 of 32 bytes) or `<data_dir>/master.key`
//!   created with mode 0600;
//! - the server admin key: `BACON_ADMIN_KEY` or `<data_dir>/admin.key` created with mode 0600;
//! - when no tenant exists, a first tenant with an admin API key whose plaintext is returned once.

use std::path::{Path, PathBuf};

use bacon_plugin_sdk::Secret;
use base64::Engine;
use sea_orm::{DatabaseConnection, TransactionTrait};

use crate::StoreError;
use crate::keyfile;
use crate::store;
use crate::tenancy::{ADMIN_KEY_PREFIX, ApiKey, GeneratedKey, Role, Tenant, generate_key, hash_key, is_well_formed};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Errors while preparing keys on start-up.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("a master key must be base64 of exactly 32 bytes ({origin})")]
    BadMasterKey { origin: String },
    #[error("the server admin key must look like `{ADMIN_KEY_PREFIX}` followed by 43 base64url characters ({origin})")]
    BadAdminKey { origin: String },
    #[error("could not read or create {path}")]
    KeyFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates the data directory with mode 0700 when it does not exist (an existing one is left as
/// the operator made it).
///
/// # Errors
/// When the directory cannot be created.
pub fn data_dir(path: &Path) -> std::io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}

/// The 256-bit master key and its id (derived from the key, so it never needs storing).
pub struct MasterKey {
    pub id: String,
    pub bytes: Secret<[u8; 32]>,
    /// Where it came from, for the start-up log line.
    pub origin: String,
}

/// Loads the master key from `configured` or from `<data_dir>/master.key` (created on first start).
///
/// # Errors
/// When the key is not base64 of 32 bytes, or the file cannot be read or created.
pub fn master_key(configured: Option<&Secret<String>>, data_dir: &Path) -> Result<MasterKey, BootstrapError> {
    let (text, origin) = match configured {
        Some(key) => (key.expose().trim().to_string(), "BACON_MASTER_KEY".to_string()),
        None => {
            let path = data_dir.join("master.key");
            let (text, _) = keyfile::read_or_create(&path, || B64.encode(rand::random::<[u8; 32]>()))
                .map_err(|source| BootstrapError::KeyFile { path: path.clone(), source })?;
            (text, path.display().to_string())
        }
    };
    let bytes: [u8; 32] = B64
        .decode(text.as_bytes())
        .ok()
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| BootstrapError::BadMasterKey { origin: origin.clone() })?;
    let id = crate::secrets::keyfiles::key_id(&bytes);
    Ok(MasterKey { id, bytes: Secret::new(bytes), origin })
}

/// A fleet's keyring from one setting: comma-separated base64 master keys, the first active (new
/// values are encrypted under it), the others retired (they only decrypt). Every machine given
/// the same list reads every value, whichever of them wrote it.
///
/// # Errors
/// When the list is empty or a key is not base64 of 32 bytes (named by its position, never its
/// text).
pub fn master_keys(list: &Secret<String>, origin: &str) -> Result<(MasterKey, Vec<MasterKey>), BootstrapError> {
    let mut keys = Vec::new();
    for (i, text) in list.expose().split(',').map(str::trim).filter(|t| !t.is_empty()).enumerate() {
        let origin = format!("{origin}, key {}", i + 1);
        let bytes: [u8; 32] = B64
            .decode(text.as_bytes())
            .ok()
            .and_then(|v| v.try_into().ok())
            .ok_or_else(|| BootstrapError::BadMasterKey { origin: origin.clone() })?;
        let id = crate::secrets::keyfiles::key_id(&bytes);
        keys.push(MasterKey { id, bytes: Secret::new(bytes), origin });
    }
    if keys.is_empty() {
        return Err(BootstrapError::BadMasterKey { origin: format!("{origin} holds no key") });
    }
    let active = keys.remove(0);
    Ok((active, keys))
}

/// The server admin key, kept only as its hash.
pub struct AdminKey {
    pub hash: String,
    /// `BACON_ADMIN_KEY`, or the path of the key file.
    pub origin: String,
    /// True when the key file was created by this start.
    pub created: bool,
}

/// Resolves the server admin key from config or from `<data_dir>/admin.key` (created on first start).
///
/// # Errors
/// When the configured key is malformed, or the file cannot be read or created.
pub fn admin_key(configured: Option<&Secret<String>>, data_dir: &Path) -> Result<AdminKey, BootstrapError> {
    let (text, origin, created) = match configured {
        Some(key) => (key.expose().trim().to_string(), "BACON_ADMIN_KEY".to_string(), false),
        None => {
            let path = data_dir.join("admin.key");
            let (text, created) =
                keyfile::read_or_create(&path, || generate_key(ADMIN_KEY_PREFIX).plaintext.into_inner())
                    .map_err(|source| BootstrapError::KeyFile { path: path.clone(), source })?;
            (text, path.display().to_string(), created)
        }
    };
    if !is_well_formed(&text, ADMIN_KEY_PREFIX) {
        return Err(BootstrapError::BadAdminKey { origin });
    }
    Ok(AdminKey { hash: hash_key(&text), origin, created })
}

/// The first tenant and its admin key, created because no tenant existed.
pub struct FirstTenant {
    pub tenant: Tenant,
    pub key: ApiKey,
    pub plaintext: GeneratedKey,
}

/// Creates a first tenant with an admin key when the database has no tenant; otherwise `None`.
///
/// # Errors
/// On a database failure.
pub async fn first_tenant(db: &DatabaseConnection) -> Result<Option<FirstTenant>, BootstrapError> {
    if store::tenants::count(db).await? > 0 {
        return Ok(None);
    }
    let txn = db.begin().await.map_err(StoreError::from)?;
    let tenant = store::tenants::create(&txn, "default").await?;
    let (key, plaintext) = store::api_keys::issue(&txn, tenant.id, "bootstrap admin", Role::Admin).await?;
    txn.commit().await.map_err(StoreError::from)?;
    Ok(Some(FirstTenant { tenant, key, plaintext }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_key_file_is_created_once_and_rejects_garbage() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = master_key(None, dir.path()).expect("create");
        let again = master_key(None, dir.path()).expect("read");
        assert_eq!(first.id, again.id);
        assert_eq!(first.bytes.expose(), again.bytes.expose());
        let bad = Secret::new("not base64 of 32 bytes".to_string());
        assert!(matches!(master_key(Some(&bad), dir.path()), Err(BootstrapError::BadMasterKey { .. })));
    }

    #[test]
    fn admin_key_file_is_created_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = admin_key(None, dir.path()).expect("create");
        assert!(first.created);
        let again = admin_key(None, dir.path()).expect("read");
        assert!(!again.created);
        assert_eq!(first.hash, again.hash);
    }
}
