//! Per-tenant limits (issue #19): the server admin may give a tenant its own API request rate,
//! run start rate and cap on steps running at once, instead of the server's settings. Every
//! column is null (the server's setting) for every existing tenant.
//!
//! A step over its tenant's cap is parked (`steps.parked_at`): it has no job until a slot frees.
//! The partial index holds parked steps only, which are few or none on most servers.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(Iden, Clone, Copy)]
enum Tenants {
    Table,
    RequestsPerSecond,
    RunsPerSecond,
    ConcurrentSteps,
}

#[derive(Iden)]
enum Steps {
    Table,
    ParkedAt,
}

const COLUMNS: [Tenants; 3] = [Tenants::RequestsPerSecond, Tenants::RunsPerSecond, Tenants::ConcurrentSteps];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for column in COLUMNS {
            manager
                .alter_table(
                    Table::alter().table(Tenants::Table).add_column(ColumnDef::new(column).integer().null()).take(),
                )
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Steps::Table)
                    .add_column(ColumnDef::new(Steps::ParkedAt).timestamp_with_time_zone().null())
                    .take(),
            )
            .await?;
        // Partial indexes are the same SQL on SQLite and PostgreSQL.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS idx_steps_parked ON steps (tenant_id, parked_at) WHERE parked_at IS NOT NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.get_connection().execute_unprepared("DROP INDEX IF EXISTS idx_steps_parked").await?;
        manager.alter_table(Table::alter().table(Steps::Table).drop_column(Steps::ParkedAt).take()).await?;
        for column in COLUMNS {
            manager.alter_table(Table::alter().table(Tenants::Table).drop_column(column).take()).await?;
        }
        Ok(())
    }
}
