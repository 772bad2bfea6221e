//! One step row per node of a run: concurrent advances of the same run cannot create a node's
//! step twice (a retry reuses the row).

use sea_orm_migration::prelude::*;

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(index("uq_steps_run_node", Alias::new("steps"), &["run_id", "node_id"]).unique().take())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("uq_steps_run_node").table(Alias::new("steps")).to_owned()).await
    }
}
