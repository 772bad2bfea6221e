//! REST-hook subscriptions: a subscriber (a Zap) wants `event`s of this tenant POSTed to a URL.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "rest_hook_subscriptions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub plugin_id: String,
    pub event: String,
    /// Sealed like a plugin secret (`v1:<keyId>:…`): the URL is the subscriber's credential.
    #[sea_orm(column_type = "Text")]
    pub target_url: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
