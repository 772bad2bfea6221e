//! A tenant: the unit of isolation; every other row belongs to one.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub created_at: DateTimeUtc,
    /// Days its inbound deliveries are kept; null: the server's `retention.inbound_days`.
    pub inbound_retention_days: Option<i32>,
    /// Days its finished runs and audit rows are kept; null: the server's `retention.runs_days`.
    pub runs_retention_days: Option<i32>,
    /// API requests a second its keys may send; null: the server's `http.tenant_requests_per_second`.
    pub requests_per_second: Option<i32>,
    /// Runs it may start a second; null: the server's `http.tenant_runs_per_second`.
    pub runs_per_second: Option<i32>,
    /// Steps of its runs running at once; null: the server's `workers.tenant_concurrent_steps`.
    pub concurrent_steps: Option<i32>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
