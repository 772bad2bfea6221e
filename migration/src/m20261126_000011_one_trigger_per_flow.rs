//! One active trigger subscription per flow: two concurrent activations cannot both register (the
//! loser undoes its vendor webhook and returns the winner's). Deactivation deletes the row.

use sea_orm_migration::prelude::*;

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                index("uq_trigger_subscriptions_flow", Alias::new("trigger_subscriptions"), &["tenant_id", "flow_id"])
                    .unique()
                    .take(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("uq_trigger_subscriptions_flow")
                    .table(Alias::new("trigger_subscriptions"))
                    .to_owned(),
            )
            .await
    }
}
