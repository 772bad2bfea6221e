//! Per-tenant retention (issue #18): a tenant may keep its inbound deliveries, and its finished
//! runs and audit rows, for a number of days other than the server's `retention.*` settings.
//! Both columns are null (the server's setting) for every existing tenant.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(Iden)]
enum Tenants {
    Table,
    InboundRetentionDays,
    RunsRetentionDays,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for column in [Tenants::InboundRetentionDays, Tenants::RunsRetentionDays] {
            manager
                .alter_table(
                    Table::alter().table(Tenants::Table).add_column(ColumnDef::new(column).integer().null()).take(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Tenants::InboundRetentionDays, Tenants::RunsRetentionDays] {
            manager.alter_table(Table::alter().table(Tenants::Table).drop_column(column).take()).await?;
        }
        Ok(())
    }
}
