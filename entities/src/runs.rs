//! One execution of a flow, pinned to a flow version.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "runs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub flow_id: String,
    pub flow_version: i32,
    /// The bot the run resolves settings for (its flow's bot when it started).
    pub bot_id: Option<String>,
    pub status: String,
    pub idempotency_key: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub input: Json,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub trigger: Option<Json>,
    #[sea_orm(column_type = "JsonBinary")]
    pub vars: Json,
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub error: Option<Json>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    /// How the run was started: `manual`, `webhook`, `plugin`, `schedule` (null before 2026-12-07).
    pub trigger_kind: Option<String>,
    /// For a child run started by a `subflow` node: the parent run and its step.
    pub parent_run_id: Option<String>,
    pub parent_step_id: Option<String>,
    /// A synchronous webhook's answer, `{status, headers, body}`, once a `respond` node set it.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub response: Option<Json>,
    /// When a run of a flow with a run timeout fails unless it has ended.
    pub deadline_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
