//! Bacon's database migrations, portable to SQLite and PostgreSQL.
//!
//! One file per migration, named `mYYYYMMDD_NNNNNN_<what>.rs`, listed in order in [`Migrator`].
//! To add one: create the file, add it to `migrations()` at the end, never edit a migration that has shipped.
//! Ids are text (prefixed ULIDs), timestamps are `timestamp with time zone`, documents are JSON
//! (`jsonb` on PostgreSQL, text on SQLite). This crate never depends on `bacon-entities`.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_create_tenancy;
mod m20261125_000002_create_plugin_settings;
mod m20261125_000003_create_flows;
mod m20261125_000004_create_runs;
mod m20261125_000005_create_audit_log;
mod m20261125_000006_create_inbound;
mod m20261125_000007_unique_step_per_node;
mod m20261126_000008_create_rest_hooks;
mod m20261126_000009_inbound_event_payload;
mod m20261126_000010_create_channels;
mod m20261126_000011_one_trigger_per_flow;
mod m20261205_000012_run_bot;
mod m20261207_000013_run_search;
mod m20261207_000014_inbound_at_rest;
mod m20261207_000015_tenant_retention;
mod m20261207_000016_run_trigger_kind;
mod m20261207_000017_tenant_limits;
mod m20261208_000018_flow_constructs;

/// Applies Bacon's migrations in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_create_tenancy::Migration),
            Box::new(m20261125_000002_create_plugin_settings::Migration),
            Box::new(m20261125_000003_create_flows::Migration),
            Box::new(m20261125_000004_create_runs::Migration),
            Box::new(m20261125_000005_create_audit_log::Migration),
            Box::new(m20261125_000006_create_inbound::Migration),
            Box::new(m20261125_000007_unique_step_per_node::Migration),
            Box::new(m20261126_000008_create_rest_hooks::Migration),
            Box::new(m20261126_000009_inbound_event_payload::Migration),
            Box::new(m20261126_000010_create_channels::Migration),
            Box::new(m20261126_000011_one_trigger_per_flow::Migration),
            Box::new(m20261205_000012_run_bot::Migration),
            Box::new(m20261207_000013_run_search::Migration),
            Box::new(m20261207_000014_inbound_at_rest::Migration),
            Box::new(m20261207_000015_tenant_retention::Migration),
            Box::new(m20261207_000016_run_trigger_kind::Migration),
            Box::new(m20261207_000017_tenant_limits::Migration),
            Box::new(m20261208_000018_flow_constructs::Migration),
        ]
    }
}

/// Builds a `CREATE INDEX IF NOT EXISTS` on `table(cols...)`.
pub(crate) fn index(name: &str, table: impl IntoIden, cols: &[&'static str]) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table).if_not_exists();
    for c in cols {
        stmt.col(Alias::new(*c));
    }
    stmt.take()
}
