//! The plugin's actions, one module each; `lib.rs` declares them.

pub mod create_note;
pub mod create_ticket;
pub mod find_contact;
pub mod test_connection;
pub mod upsert_contact;
