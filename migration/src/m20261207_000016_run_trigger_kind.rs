//! How a run was started (issue #19, run search by trigger kind): `manual` (the API, a rerun),
//! `webhook`, `plugin` (a vendor's webhook through its plugin) or `schedule`. Null for runs
//! started before this migration.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(Iden)]
enum Runs {
    Table,
    TriggerKind,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(Runs::Table).add_column(ColumnDef::new(Runs::TriggerKind).text().null()).take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Runs::Table).drop_column(Runs::TriggerKind).take()).await
    }
}
