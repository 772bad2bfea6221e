//! Flows and their immutable versions. Updating a flow writes a new version; the flow row's
//! `current_version` moves with a guarded UPDATE, so two concurrent editors cannot both win.

use bacon_entities::{flow_versions, flows};
use chrono::{DateTime, Utc};
use sea_orm::TransactionSession;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use serde_json::Value;

use super::{Page, into_page};
use crate::StoreError;
use crate::ids::{BotId, FlowId, FlowVersionId, TenantId};

/// A flow with its current graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    pub id: FlowId,
    pub tenant_id: TenantId,
    pub bot_id: Option<String>,
    pub name: String,
    pub description: Option<String>,
    pub version: i32,
    pub active: bool,
    pub graph: Value,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One immutable version.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowVersion {
    pub version: i32,
    pub graph: Value,
    pub created_at: DateTime<Utc>,
}

/// The fields a create or update sets.
#[derive(Debug, Clone)]
pub struct FlowFields {
    pub name: String,
    pub description: Option<String>,
    pub bot_id: Option<BotId>,
    pub graph: Value,
}

fn broken(id: &str) -> StoreError {
    StoreError::not_found("flow", id)
}

fn to_flow(m: flows::Model, graph: Value) -> Result<Flow, StoreError> {
    Ok(Flow {
        id: m.id.parse().map_err(|_| broken(&m.id))?,
        tenant_id: m.tenant_id.parse().map_err(|_| broken(&m.id))?,
        bot_id: m.bot_id,
        name: m.name,
        description: m.description,
        version: m.current_version,
        active: m.active,
        graph,
        created_at: m.created_at,
        updated_at: m.updated_at,
    })
}

async fn insert_version(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    flow: FlowId,
    version: i32,
    graph: Value,
) -> Result<(), StoreError> {
    flow_versions::ActiveModel {
        id: Set(FlowVersionId::generate().to_string()),
        flow_id: Set(flow.to_string()),
        tenant_id: Set(tenant.to_string()),
        version: Set(version),
        graph: Set(graph),
        created_at: Set(Utc::now()),
    }
    .insert(db)
    .await
    .map_err(|e| StoreError::from_db("flow version", e))?;
    Ok(())
}

/// Creates a flow at version 1.
///
/// # Errors
/// On a database failure.
pub async fn create<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    tenant: TenantId,
    fields: FlowFields,
) -> Result<Flow, StoreError> {
    let txn = db.begin().await?;
    let id = FlowId::generate();
    let now = Utc::now();
    let model = flows::ActiveModel {
        id: Set(id.to_string()),
        tenant_id: Set(tenant.to_string()),
        bot_id: Set(fields.bot_id.map(|b| b.to_string())),
        name: Set(fields.name),
        description: Set(fields.description),
        current_version: Set(1),
        active: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    }
    .insert(&txn)
    .await
    .map_err(|e| StoreError::from_db("flow", e))?;
    insert_version(&txn, tenant, id, 1, fields.graph.clone()).await?;
    txn.commit().await?;
    to_flow(model, fields.graph)
}

async fn find_row(db: &impl ConnectionTrait, tenant: TenantId, id: FlowId) -> Result<flows::Model, StoreError> {
    flows::Entity::find_by_id(id.to_string())
        .filter(flows::Column::TenantId.eq(tenant.to_string()))
        .filter(flows::Column::DeletedAt.is_null())
        .one(db)
        .await?
        .ok_or_else(|| StoreError::not_found("flow", id))
}

/// What starting and running a flow needs of it: its current version and its bot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowHead {
    pub version: i32,
    pub bot_id: Option<String>,
}

/// The flow's [`FlowHead`], in one query.
///
/// # Errors
/// [`StoreError::NotFound`] when it does not exist for this tenant (or was deleted).
pub async fn head(db: &impl ConnectionTrait, tenant: TenantId, id: FlowId) -> Result<FlowHead, StoreError> {
    let row = find_row(db, tenant, id).await?;
    Ok(FlowHead { version: row.current_version, bot_id: row.bot_id })
}

/// A version of a flow of this tenant.
///
/// # Errors
/// [`StoreError::NotFound`] when the flow or the version does not exist.
pub async fn get_version(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: FlowId,
    version: i32,
) -> Result<FlowVersion, StoreError> {
    find_row(db, tenant, id).await?;
    let row = flow_versions::Entity::find()
        .filter(flow_versions::Column::FlowId.eq(id.to_string()))
        .filter(flow_versions::Column::Version.eq(version))
        .one(db)
        .await?
        .ok_or_else(|| StoreError::not_found("flow version", format!("{id}@{version}")))?;
    Ok(FlowVersion { version: row.version, graph: row.graph, created_at: row.created_at })
}

/// A version of a flow of this tenant, even when the flow has been deleted since: the version a
/// run is pinned to (runs of a deleted flow finish on it).
///
/// # Errors
/// [`StoreError::NotFound`] when the version does not exist for this tenant.
pub async fn pinned_version(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: FlowId,
    version: i32,
) -> Result<FlowVersion, StoreError> {
    let row = flow_versions::Entity::find()
        .filter(flow_versions::Column::FlowId.eq(id.to_string()))
        .filter(flow_versions::Column::TenantId.eq(tenant.to_string()))
        .filter(flow_versions::Column::Version.eq(version))
        .one(db)
        .await?
        .ok_or_else(|| StoreError::not_found("flow version", format!("{id}@{version}")))?;
    Ok(FlowVersion { version: row.version, graph: row.graph, created_at: row.created_at })
}

/// A flow of this tenant with its current graph.
///
/// # Errors
/// [`StoreError::NotFound`] when it does not exist for this tenant (or was deleted).
pub async fn get(db: &impl ConnectionTrait, tenant: TenantId, id: FlowId) -> Result<Flow, StoreError> {
    let row = find_row(db, tenant, id).await?;
    let version = get_version(db, tenant, id, row.current_version).await?;
    to_flow(row, version.graph)
}

/// The tenant's flows by creation (graphs included).
///
/// # Errors
/// On a database failure.
pub async fn list(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    cursor: Option<&str>,
    limit: u64,
) -> Result<Page<Flow>, StoreError> {
    let mut query = flows::Entity::find()
        .filter(flows::Column::TenantId.eq(tenant.to_string()))
        .filter(flows::Column::DeletedAt.is_null())
        .order_by_asc(flows::Column::Id)
        .limit(limit + 1);
    if let Some(cursor) = cursor {
        query = query.filter(flows::Column::Id.gt(cursor));
    }
    let rows = query.all(db).await?;
    let mut flows_out = Vec::with_capacity(rows.len());
    for row in rows {
        let id: FlowId = row.id.parse().map_err(|_| broken(&row.id))?;
        let graph = get_version(db, tenant, id, row.current_version).await?.graph;
        flows_out.push(to_flow(row, graph)?);
    }
    Ok(into_page(flows_out, limit, |f| f.id.to_string()))
}

/// Writes a new version. With `expected`, fails with [`StoreError::Stale`] unless the flow is
/// still at that version.
///
/// # Errors
/// `NotFound`, `Stale`, or a database failure.
pub async fn update<C: ConnectionTrait + TransactionTrait>(
    db: &C,
    tenant: TenantId,
    id: FlowId,
    expected: Option<i32>,
    fields: FlowFields,
) -> Result<Flow, StoreError> {
    // Reads, then writes: on SQLite the transaction must take the write lock up front (and wait
    // for it), or a concurrent save makes the upgrade fail with `database is locked`.
    let txn = db
        .begin_with_options(TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        })
        .await?;
    let row = find_row(&txn, tenant, id).await?;
    let current = row.current_version;
    if let Some(expected) = expected
        && expected != current
    {
        return Err(StoreError::Stale { kind: "flow", expected, current });
    }
    let next = current + 1;
    let now = Utc::now();
    let result = flows::Entity::update_many()
        .col_expr(flows::Column::CurrentVersion, Expr::value(next))
        .col_expr(flows::Column::Name, Expr::value(fields.name.clone()))
        .col_expr(flows::Column::Description, Expr::value(fields.description.clone()))
        .col_expr(flows::Column::BotId, Expr::value(fields.bot_id.map(|b| b.to_string())))
        .col_expr(flows::Column::UpdatedAt, Expr::value(now))
        .filter(flows::Column::Id.eq(id.to_string()))
        .filter(flows::Column::CurrentVersion.eq(current))
        .exec(&txn)
        .await?;
    if result.rows_affected == 0 {
        let latest = find_row(&txn, tenant, id).await?.current_version;
        return Err(StoreError::Stale { kind: "flow", expected: expected.unwrap_or(current), current: latest });
    }
    insert_version(&txn, tenant, id, next, fields.graph.clone()).await?;
    txn.commit().await?;
    get(db, tenant, id).await
}

/// Marks a flow active (its trigger is subscribed) or inactive.
///
/// # Errors
/// `NotFound` when it does not exist for this tenant.
pub async fn set_active(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    id: FlowId,
    active: bool,
) -> Result<(), StoreError> {
    let result = flows::Entity::update_many()
        .col_expr(flows::Column::Active, Expr::value(active))
        .filter(flows::Column::Id.eq(id.to_string()))
        .filter(flows::Column::TenantId.eq(tenant.to_string()))
        .filter(flows::Column::DeletedAt.is_null())
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(StoreError::not_found("flow", id));
    }
    Ok(())
}

/// Soft-deletes a flow (its versions and runs stay for the record).
///
/// # Errors
/// `NotFound` when it does not exist for this tenant.
pub async fn delete(db: &impl ConnectionTrait, tenant: TenantId, id: FlowId) -> Result<(), StoreError> {
    let result = flows::Entity::update_many()
        .col_expr(flows::Column::DeletedAt, Expr::value(Some(Utc::now())))
        .filter(flows::Column::Id.eq(id.to_string()))
        .filter(flows::Column::TenantId.eq(tenant.to_string()))
        .filter(flows::Column::DeletedAt.is_null())
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(StoreError::not_found("flow", id));
    }
    Ok(())
}

/// Every version of a flow, oldest first.
///
/// # Errors
/// `NotFound` when the flow does not exist for this tenant.
pub async fn versions(db: &impl ConnectionTrait, tenant: TenantId, id: FlowId) -> Result<Vec<FlowVersion>, StoreError> {
    find_row(db, tenant, id).await?;
    Ok(flow_versions::Entity::find()
        .filter(flow_versions::Column::FlowId.eq(id.to_string()))
        .order_by_asc(flow_versions::Column::Version)
        .all(db)
        .await?
        .into_iter()
        .map(|r| FlowVersion { version: r.version, graph: r.graph, created_at: r.created_at })
        .collect())
}
