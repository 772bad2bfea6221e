//! Inbound deliveries at rest (issue #18): the inbox keeps the SHA-256 of a delivery's body and
//! its header names, never the body or header values (a Salesforce `SessionId`, customers'
//! messages); the event a run starts from is sealed until the run has it, then cleared.
//!
//! `body` becomes `body_sha256`. Rows stored before this migration lose their plaintext body,
//! header values and, once processed, their event (the run holds what it needs).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(Iden)]
enum InboundEvents {
    Table,
    Body,
    BodySha256,
    Headers,
    Event,
    Status,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(InboundEvents::Table)
                    .rename_column(InboundEvents::Body, InboundEvents::BodySha256)
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute(
            &Query::update()
                .table(InboundEvents::Table)
                .value(InboundEvents::BodySha256, Vec::<u8>::new())
                .value(InboundEvents::Headers, sea_orm_migration::sea_orm::JsonValue::Array(Vec::new()))
                .to_owned(),
        )
        .await?;
        db.execute(
            &Query::update()
                .table(InboundEvents::Table)
                .value(InboundEvents::Event, Option::<sea_orm_migration::sea_orm::JsonValue>::None)
                .and_where(Expr::col(InboundEvents::Status).ne("received"))
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(InboundEvents::Table)
                    .rename_column(InboundEvents::BodySha256, InboundEvents::Body)
                    .to_owned(),
            )
            .await
    }
}
