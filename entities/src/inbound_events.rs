//! A verified webhook delivery in the inbox; (tenant, plugin, delivery id) is unique.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "inbound_events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub plugin_id: String,
    pub hook_id: String,
    pub delivery_id: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub headers: Json,
    #[sea_orm(column_type = "Blob")]
    pub body: Vec<u8>,
    pub status: String,
    pub received_at: DateTimeUtc,
    pub processed_at: Option<DateTimeUtc>,
    /// The verified event, as the flow sees it in `trigger`.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub event: Option<Json>,
    /// The flow this delivery starts.
    pub flow_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
