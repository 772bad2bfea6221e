//! Per-tenant limits (issue #19): the server admin may give a tenant its own API request rate
//! and run start rate, instead of the server's settings.
//! Every column is null (the server's setting) for every existing tenant.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(Iden, Clone, Copy)]
enum Tenants {
    Table,
    RequestsPerSecond,
    RunsPerSecond,
}

const COLUMNS: [Tenants; 2] = [Tenants::RequestsPerSecond, Tenants::RunsPerSecond];

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
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in COLUMNS {
            manager.alter_table(Table::alter().table(Tenants::Table).drop_column(column).take()).await?;
        }
        Ok(())
    }
}
