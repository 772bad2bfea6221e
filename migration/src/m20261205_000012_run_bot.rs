//! A run keeps the bot its flow had when it started (`runs.bot_id`): settings are resolved for
//! that bot for the whole run, whatever happens to the flow later. Existing runs take their
//! flow's current bot, which is what they used until now.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("runs"))
                    .add_column(ColumnDef::new(Alias::new("bot_id")).text().null())
                    .take(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE runs SET bot_id = (SELECT flows.bot_id FROM flows WHERE flows.id = runs.flow_id)",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Alias::new("runs")).drop_column(Alias::new("bot_id")).take()).await
    }
}
