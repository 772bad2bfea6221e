//! Plugin settings of a tenant (`scope_key` empty) or of one bot (`scope_key` = bot id); secrets are ciphertexts.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "plugin_settings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub bot_id: Option<String>,
    pub scope_key: String,
    pub plugin_id: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub values: Json,
    #[sea_orm(column_type = "JsonBinary")]
    pub secrets: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
