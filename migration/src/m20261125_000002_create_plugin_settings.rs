//! Per-tenant (and per-bot) plugin settings, and the ids and states of encryption keys.
//!
//! `scope_key` is `""` for the tenant-wide row and the bot id for a bot override, so one
//! unique index covers both (NULLs would not be unique on either backend).

use sea_orm_migration::{prelude::*, schema::*};

use crate::index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PluginSettings {
    Table,
    Id,
    TenantId,
    BotId,
    ScopeKey,
    PluginId,
    Values,
    Secrets,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum EncryptionKeys {
    Table,
    Id,
    State,
    CreatedAt,
    RetiredAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PluginSettings::Table)
                    .if_not_exists()
                    .col(string(PluginSettings::Id).primary_key())
                    .col(string(PluginSettings::TenantId))
                    .col(string_null(PluginSettings::BotId))
                    .col(string(PluginSettings::ScopeKey))
                    .col(string(PluginSettings::PluginId))
                    .col(json_binary(PluginSettings::Values))
                    .col(json_binary(PluginSettings::Secrets))
                    .col(timestamp_with_time_zone(PluginSettings::CreatedAt))
                    .col(timestamp_with_time_zone(PluginSettings::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_plugin_settings_tenant")
                            .from(PluginSettings::Table, PluginSettings::TenantId)
                            .to(Alias::new("tenants"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .take(),
            )
            .await?;
        manager
            .create_index(
                index("uq_plugin_settings_scope", PluginSettings::Table, &["tenant_id", "plugin_id", "scope_key"])
                    .unique()
                    .take(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EncryptionKeys::Table)
                    .if_not_exists()
                    .col(string(EncryptionKeys::Id).primary_key())
                    .col(string(EncryptionKeys::State))
                    .col(timestamp_with_time_zone(EncryptionKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(EncryptionKeys::RetiredAt))
                    .take(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [PluginSettings::Table.into_iden(), EncryptionKeys::Table.into_iden()] {
            manager.drop_table(Table::drop().table(t).if_exists().take()).await?;
        }
        Ok(())
    }
}
