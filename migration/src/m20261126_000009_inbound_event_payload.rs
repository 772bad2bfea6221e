//! The inbox keeps the verified event (what the flow sees as `trigger`) and the flow it starts, so a
//! delivery stored before a crash is processed after it without verifying again.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum InboundEvents {
    Table,
    Event,
    FlowId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite alters one column per statement.
        manager
            .alter_table(
                Table::alter().table(InboundEvents::Table).add_column(json_binary_null(InboundEvents::Event)).take(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter().table(InboundEvents::Table).add_column(string_null(InboundEvents::FlowId)).take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(InboundEvents::Table).drop_column(InboundEvents::FlowId).take())
            .await?;
        manager.alter_table(Table::alter().table(InboundEvents::Table).drop_column(InboundEvents::Event).take()).await
    }
}
