//! Secrets at rest and their resolution.
//!
//! - [`cipher`]: AES-256-GCM under a [`cipher::Keyring`]; values stored as `v1:<keyId>:<base64>`,
//!   a fresh 96-bit nonce per value, associated data binding tenant, plugin and field.
//! - [`keyfiles`]: the active and retired master keys on disk (embedded default).
//! - [`rotation`]: re-encrypting every stored secret under the active key.
//! - [`manager`]: the [`manager::SecretsManager`] trait and its two implementations: the encrypted
//!   database store (default) and the environment (`env:NAME` reads `BACON_SECRET_NAME`).
//! - [`redact`]: scrubbing known secret values out of text and JSON.

pub mod cipher;
pub mod keyfiles;
pub mod manager;
pub mod redact;
pub mod rotation;
