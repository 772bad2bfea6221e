//! Run search (`GET /v1/runs` with a time range, newest first): an index on `(tenant_id, id)`
//! so a tenant's runs are read in id order — ids are ULIDs, so in creation order — without a
//! sort, and a creation-time range is an id range.

use sea_orm_migration::prelude::*;

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_index(index("idx_runs_tenant_id", Alias::new("runs"), &["tenant_id", "id"])).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("idx_runs_tenant_id").table(Alias::new("runs")).to_owned()).await
    }
}
