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
    /// The names of the delivery's headers (a JSON array); never their values.
    #[sea_orm(column_type = "JsonBinary")]
    pub headers: Json,
    /// The SHA-256 of the delivered body; the body itself is never stored.
    #[sea_orm(column_type = "Blob")]
    pub body_sha256: Vec<u8>,
    pub status: String,
    pub received_at: DateTimeUtc,
    pub processed_at: Option<DateTimeUtc>,
    /// The verified event, as the flow sees it in `trigger`: sealed (AES-GCM, bound to the
    /// tenant, plugin and this row) until its run starts, then cleared. Rows stored before
    /// sealing hold it as plain JSON.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub event: Option<Json>,
    /// The flow this delivery starts.
    pub flow_id: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
