//! The plugin's actions, one file each. To add one: a file with its input/output types and an
//! `async fn run(ctx, settings, input)`, then a line in `crate::definition`.

pub mod create_case;
pub mod find_contact;
pub mod query;
pub mod test_connection;
