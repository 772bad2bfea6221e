//! A `wait` node's open wait: ended by an event posted to its run, a delivery whose correlation
//! key matches, or its timeout; deleted when it ends.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "waits")]
pub struct Model {
    /// The step's id: one wait per step.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub tenant_id: String,
    pub run_id: String,
    pub step_id: String,
    pub node_id: String,
    /// The name `POST /v1/runs/{id}/events/{name}` resumes it by.
    pub event_name: String,
    /// Deliveries of this plugin (`webhook` for plain webhooks) may resume it.
    pub plugin_id: Option<String>,
    /// The expression a delivery's event is keyed by (`trigger` is the delivery's event).
    pub event_key: Option<String>,
    /// The key a delivery must have: the run's value of its correlation expression, as JSON.
    pub correlation_key: Option<String>,
    pub due_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
