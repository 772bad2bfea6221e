//! The append-only audit log: one row per plugin action attempt (and other audited events).
//!
//! Ids are ULIDs, so ordering by id is ordering by time; the indexes serve the `GET /v1/audit` filters.

use sea_orm_migration::{prelude::*, schema::*};

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    TenantId,
    Kind,
    PluginId,
    Action,
    RunId,
    StepId,
    Attempt,
    Outcome,
    DurationMs,
    Error,
    Details,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .if_not_exists()
                    .col(string(AuditLog::Id).primary_key())
                    .col(string(AuditLog::TenantId))
                    .col(string(AuditLog::Kind))
                    .col(string_null(AuditLog::PluginId))
                    .col(string_null(AuditLog::Action))
                    .col(string_null(AuditLog::RunId))
                    .col(string_null(AuditLog::StepId))
                    .col(integer(AuditLog::Attempt).default(1))
                    .col(string(AuditLog::Outcome))
                    .col(big_integer(AuditLog::DurationMs).default(0))
                    .col(text_null(AuditLog::Error))
                    .col(json_binary_null(AuditLog::Details))
                    .col(timestamp_with_time_zone(AuditLog::CreatedAt))
                    .take(),
            )
            .await?;
        for (name, cols) in [
            ("idx_audit_tenant_id", &["tenant_id", "id"][..]),
            ("idx_audit_tenant_run", &["tenant_id", "run_id", "id"][..]),
            ("idx_audit_tenant_plugin_action", &["tenant_id", "plugin_id", "action", "id"][..]),
            ("idx_audit_tenant_outcome", &["tenant_id", "outcome", "id"][..]),
            ("idx_audit_tenant_created", &["tenant_id", "created_at"][..]),
        ] {
            manager.create_index(index(name, AuditLog::Table, cols)).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(AuditLog::Table).if_exists().take()).await
    }
}
