//! The append-only audit log. Callers pass already-redacted errors.

use bacon_entities::audit_log;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use serde_json::Value;

use super::{Page, into_page};
use crate::StoreError;
use crate::ids::{AuditId, TenantId};

/// The outcome of an attempt whose worker died before recording it (written when the
/// reconciler takes its lease over).
pub const LOST: &str = "lost";

/// The outcome of a `test_connection` the plugin ran and that answered `ok: false` (a wrong
/// credential, an unreachable vendor): the call worked, the connection did not.
pub const CONNECTION_FAILED: &str = "connection_failed";

/// A row to append.
#[derive(Debug, Clone)]
pub struct NewAuditEntry {
    pub tenant_id: TenantId,
    /// `plugin_action`, `test_connection`, …
    pub kind: String,
    pub plugin_id: Option<String>,
    pub action: Option<String>,
    pub run_id: Option<String>,
    pub step_id: Option<String>,
    pub attempt: u32,
    /// `success`, or the kind of failure.
    pub outcome: String,
    pub duration_ms: u64,
    /// Redacted.
    pub error: Option<String>,
    pub details: Option<Value>,
}

/// A stored row.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: String,
    pub tenant_id: String,
    pub kind: String,
    pub plugin_id: Option<String>,
    pub action: Option<String>,
    pub run_id: Option<String>,
    pub step_id: Option<String>,
    pub attempt: i32,
    pub outcome: String,
    pub duration_ms: i64,
    pub error: Option<String>,
    pub details: Option<Value>,
    pub created_at: DateTime<Utc>,
}

fn to_domain(m: audit_log::Model) -> AuditEntry {
    AuditEntry {
        id: m.id,
        tenant_id: m.tenant_id,
        kind: m.kind,
        plugin_id: m.plugin_id,
        action: m.action,
        run_id: m.run_id,
        step_id: m.step_id,
        attempt: m.attempt,
        outcome: m.outcome,
        duration_ms: m.duration_ms,
        error: m.error,
        details: m.details,
        created_at: m.created_at,
    }
}

/// Appends one row.
///
/// # Errors
/// On a database failure.
pub async fn append(db: &impl ConnectionTrait, entry: NewAuditEntry) -> Result<AuditEntry, StoreError> {
    let model = audit_log::ActiveModel {
        id: Set(AuditId::generate().to_string()),
        tenant_id: Set(entry.tenant_id.to_string()),
        kind: Set(entry.kind),
        plugin_id: Set(entry.plugin_id),
        action: Set(entry.action),
        run_id: Set(entry.run_id),
        step_id: Set(entry.step_id),
        attempt: Set(entry.attempt as i32),
        outcome: Set(entry.outcome),
        duration_ms: Set(entry.duration_ms.min(i64::MAX as u64) as i64),
        error: Set(entry.error),
        details: Set(entry.details),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await?;
    Ok(to_domain(model))
}

/// Filters of [`list`]; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub run_id: Option<String>,
    pub plugin_id: Option<String>,
    pub action: Option<String>,
    pub outcome: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// The tenant's rows matching `filter`, oldest first.
///
/// # Errors
/// On a database failure.
pub async fn list(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    filter: &AuditFilter,
    cursor: Option<&str>,
    limit: u64,
) -> Result<Page<AuditEntry>, StoreError> {
    let mut query = audit_log::Entity::find()
        .filter(audit_log::Column::TenantId.eq(tenant.to_string()))
        .order_by_asc(audit_log::Column::Id)
        .limit(limit + 1);
    if let Some(v) = &filter.run_id {
        query = query.filter(audit_log::Column::RunId.eq(v.as_str()));
    }
    if let Some(v) = &filter.plugin_id {
        query = query.filter(audit_log::Column::PluginId.eq(v.as_str()));
    }
    if let Some(v) = &filter.action {
        query = query.filter(audit_log::Column::Action.eq(v.as_str()));
    }
    if let Some(v) = &filter.outcome {
        query = query.filter(audit_log::Column::Outcome.eq(v.as_str()));
    }
    if let Some(v) = filter.since {
        query = query.filter(audit_log::Column::CreatedAt.gte(v));
    }
    if let Some(v) = filter.until {
        query = query.filter(audit_log::Column::CreatedAt.lt(v));
    }
    if let Some(cursor) = cursor {
        query = query.filter(audit_log::Column::Id.gt(cursor));
    }
    let rows = query.all(db).await?.into_iter().map(to_domain).collect();
    Ok(into_page(rows, limit, |e: &AuditEntry| e.id.clone()))
}
