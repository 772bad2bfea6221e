//! `bacon-plugin-sdk`: everything a Bacon plugin author needs, and nothing of the host.
//!
//! This crate depends on nothing of ours. It starts with [`Secret`], the type that carries a secret
//! value from its first byte to its last use without ever printing or serialising it.

mod secret;

pub use secret::Secret;
