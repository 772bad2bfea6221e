//! Runs and their steps. Step transitions are guarded UPDATEs (`WHERE status IN (...)`), so a
//! duplicate or late job finds nothing to claim and does nothing.

use bacon_entities::{runs, steps};
use chrono::{DateTime, Duration as ChronoDuration, SubsecRound, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, OnConflict};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, TryIntoModel,
};
use serde_json::{Map, Value};

use super::{Page, into_page};
use crate::StoreError;
use crate::ids::{FlowId, RunId, StepId, TenantId};
use crate::runs::status::{self, RunStatus, RunTrigger, StepStatus};

/// A run as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub id: String,
    pub tenant_id: String,
    pub flow_id: String,
    pub flow_version: i32,
    /// The bot the run resolves settings for: its flow's bot when it started.
    pub bot_id: Option<String>,
    pub status: RunStatus,
    pub idempotency_key: Option<String>,
    pub input: Value,
    pub trigger: Option<Value>,
    pub vars: Value,
    pub error: Option<Value>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// How it was started; `None` for runs started before this was recorded.
    pub trigger_kind: Option<RunTrigger>,
    /// A child run's parent: the run and the `subflow` step that started it.
    pub parent: Option<ParentLink>,
    /// A synchronous webhook's answer (`{status, headers, body}`), once a `respond` node set it.
    pub response: Option<Value>,
    /// Its flow's run timeout, from its start (or its last retry).
    pub deadline_at: Option<DateTime<Utc>>,
}

/// Where a child run reports its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentLink {
    pub run_id: String,
    pub step_id: String,
}

/// Now, at the precision the databases store (microseconds), for rows returned without being
/// read back: the same values a later read gives.
fn stored_now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// A step as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub id: String,
    pub run_id: String,
    pub tenant_id: String,
    pub node_id: String,
    pub node_type: String,
    pub status: StepStatus,
    pub attempt: i32,
    pub max_attempts: i32,
    pub input: Option<Value>,
    pub output: Option<Value>,
    pub error: Option<Value>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub lease_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

fn run_of(m: runs::Model) -> Run {
    let status = status::stored("runs", &m.id, &m.status, RunStatus::Failed);
    Run {
        id: m.id,
        tenant_id: m.tenant_id,
        flow_id: m.flow_id,
        flow_version: m.flow_version,
        bot_id: m.bot_id,
        status,
        idempotency_key: m.idempotency_key,
        input: m.input,
        trigger: m.trigger,
        vars: m.vars,
        error: m.error,
        created_at: m.created_at,
        updated_at: m.updated_at,
        started_at: m.started_at,
        finished_at: m.finished_at,
        trigger_kind: m.trigger_kind.as_deref().and_then(|k| k.parse().ok()),
        parent: match (m.parent_run_id, m.parent_step_id) {
            (Some(run_id), Some(step_id)) => Some(ParentLink { run_id, step_id }),
            _ => None,
        },
        response: m.response,
        deadline_at: m.deadline_at,
    }
}

fn step_of(m: steps::Model) -> Step {
    let status = status::stored("steps", &m.id, &m.status, StepStatus::Failed);
    Step {
        id: m.id,
        run_id: m.run_id,
        tenant_id: m.tenant_id,
        node_id: m.node_id,
        node_type: m.node_type,
        status,
        attempt: m.attempt,
        max_attempts: m.max_attempts,
        input: m.input,
        output: m.output,
        error: m.error,
        next_attempt_at: m.next_attempt_at,
        lease_until: m.lease_until,
        created_at: m.created_at,
        updated_at: m.updated_at,
        started_at: m.started_at,
        finished_at: m.finished_at,
    }
}

/// A new run.
pub struct NewRun {
    pub tenant_id: TenantId,
    pub flow_id: FlowId,
    pub flow_version: i32,
    pub bot_id: Option<String>,
    pub idempotency_key: Option<String>,
    pub input: Value,
    pub trigger: Option<Value>,
    pub trigger_kind: RunTrigger,
    pub parent: Option<ParentLink>,
    pub deadline_at: Option<DateTime<Utc>>,
}

/// The run with this idempotency key, if any.
///
/// # Errors
/// On a database failure.
pub async fn find_by_idempotency_key(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    flow: FlowId,
    key: &str,
) -> Result<Option<Run>, StoreError> {
    Ok(runs::Entity::find()
        .filter(runs::Column::TenantId.eq(tenant.to_string()))
        .filter(runs::Column::FlowId.eq(flow.to_string()))
        .filter(runs::Column::IdempotencyKey.eq(key))
        .one(db)
        .await?
        .map(run_of))
}

/// Creates a run (status `running`). With an idempotency key already used for this flow, returns
/// the existing run and `false`.
///
/// # Errors
/// On a database failure.
pub async fn create(db: &impl ConnectionTrait, new: NewRun) -> Result<(Run, bool), StoreError> {
    if let Some(key) = &new.idempotency_key
        && let Some(existing) = find_by_idempotency_key(db, new.tenant_id, new.flow_id, key).await?
    {
        return Ok((existing, false));
    }
    let (tenant, flow, key) = (new.tenant_id, new.flow_id, new.idempotency_key.clone());
    match insert(db, new).await {
        Ok(run) => Ok((run, true)),
        // Two requests with the same key raced: the other one won.
        Err(StoreError::Conflict { .. }) if key.is_some() => {
            let key = key.unwrap_or_default();
            find_by_idempotency_key(db, tenant, flow, &key)
                .await?
                .map(|r| (r, false))
                .ok_or_else(|| StoreError::not_found("run", key))
        }
        Err(e) => Err(e),
    }
}

/// Inserts a run (status `running`); `Conflict` when its idempotency key is taken (inside a
/// PostgreSQL transaction, the transaction is then aborted: roll it back and look the run up).
///
/// # Errors
/// `Conflict`, or a database failure.
pub async fn insert(db: &impl ConnectionTrait, new: NewRun) -> Result<Run, StoreError> {
    let now = stored_now();
    let run = runs::ActiveModel {
        id: Set(RunId::generate().to_string()),
        tenant_id: Set(new.tenant_id.to_string()),
        flow_id: Set(new.flow_id.to_string()),
        flow_version: Set(new.flow_version),
        bot_id: Set(new.bot_id),
        status: Set(RunStatus::Running.as_str().into()),
        idempotency_key: Set(new.idempotency_key.clone()),
        input: Set(new.input),
        trigger: Set(new.trigger),
        vars: Set(Value::Object(Map::new())),
        error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        started_at: Set(Some(now)),
        finished_at: Set(None),
        trigger_kind: Set(Some(new.trigger_kind.as_str().into())),
        parent_run_id: Set(new.parent.as_ref().map(|p| p.run_id.clone())),
        parent_step_id: Set(new.parent.as_ref().map(|p| p.step_id.clone())),
        response: Set(None),
        deadline_at: Set(new.deadline_at),
    };
    runs::Entity::insert(run.clone()).exec_without_returning(db).await.map_err(|e| StoreError::from_db("run", e))?;
    // Every column was set above: the row is known without reading it back.
    Ok(run_of(run.try_into_model()?))
}

/// A run of this tenant.
///
/// # Errors
/// `NotFound` when it does not exist for this tenant.
pub async fn get(db: &impl ConnectionTrait, tenant: TenantId, id: RunId) -> Result<Run, StoreError> {
    runs::Entity::find_by_id(id.to_string())
        .filter(runs::Column::TenantId.eq(tenant.to_string()))
        .one(db)
        .await?
        .map(run_of)
        .ok_or_else(|| StoreError::not_found("run", id))
}

/// A run by id, whatever its tenant (workers only).
///
/// # Errors
/// `NotFound` when it does not exist.
pub async fn get_any(db: &impl ConnectionTrait, id: &str) -> Result<Run, StoreError> {
    runs::Entity::find_by_id(id.to_string()).one(db).await?.map(run_of).ok_or_else(|| StoreError::not_found("run", id))
}

/// A run by id, locked for the rest of the transaction (`SELECT … FOR UPDATE` on PostgreSQL;
/// SQLite's `BEGIN IMMEDIATE` already serialises writers). Completions of one run's steps take
/// this lock first, so each one's replay sees every step the others finished.
///
/// # Errors
/// `NotFound` when it does not exist.
pub async fn lock_run(db: &impl ConnectionTrait, id: &str) -> Result<Run, StoreError> {
    runs::Entity::find_by_id(id.to_string())
        .lock_exclusive()
        .one(db)
        .await?
        .map(run_of)
        .ok_or_else(|| StoreError::not_found("run", id))
}

/// What [`list`] looks for: all of it optional.
#[derive(Debug, Clone, Default)]
pub struct RunQuery {
    pub flow: Option<FlowId>,
    pub status: Option<RunStatus>,
    /// Created at or after (by the run id's timestamp: ids are ULIDs made at creation).
    pub since: Option<DateTime<Utc>>,
    /// Created before.
    pub until: Option<DateTime<Utc>>,
    /// Text the run's error contains (case-insensitive).
    pub error_contains: Option<String>,
    /// How it was started.
    pub trigger_kind: Option<RunTrigger>,
    /// Children of this run (started by its `subflow` nodes).
    pub parent: Option<RunId>,
    /// Oldest first instead of newest first.
    pub oldest_first: bool,
    /// The last id of the previous page, in the same order.
    pub cursor: Option<RunId>,
}

/// The lowest id a run created at `at` can have: a time bound as an id bound.
fn id_bound(at: DateTime<Utc>) -> String {
    let ms = Ord::min(u64::try_from(at.timestamp_millis()).unwrap_or(0), (1 << 48) - 1);
    format!("{}_{}", RunId::PREFIX, ulid::Ulid::from_parts(ms, 0))
}

/// The tenant's runs matching `query`, newest first unless asked otherwise. Every filter but
/// the error text is served by an index in id order (`idx_runs_tenant_id`, `_flow`,
/// `_status`); a page never shifts under inserts, since the cursor is an id.
///
/// # Errors
/// On a database failure.
pub async fn list(
    db: &impl ConnectionTrait,
    tenant: TenantId,
    query: RunQuery,
    limit: u64,
) -> Result<Page<Run>, StoreError> {
    let mut select = runs::Entity::find().filter(runs::Column::TenantId.eq(tenant.to_string())).limit(limit + 1);
    select =
        if query.oldest_first { select.order_by_asc(runs::Column::Id) } else { select.order_by_desc(runs::Column::Id) };
    if let Some(flow) = query.flow {
        select = select.filter(runs::Column::FlowId.eq(flow.to_string()));
    }
    if let Some(status) = query.status {
        select = select.filter(runs::Column::Status.eq(status.as_str()));
    }
    if let Some(kind) = query.trigger_kind {
        select = select.filter(runs::Column::TriggerKind.eq(kind.as_str()));
    }
    if let Some(parent) = query.parent {
        select = select.filter(runs::Column::ParentRunId.eq(parent.to_string()));
    }
    if let Some(since) = query.since {
        select = select.filter(runs::Column::Id.gte(id_bound(since)));
    }
    if let Some(until) = query.until {
        select = select.filter(runs::Column::Id.lt(id_bound(until)));
    }
    if let Some(text) = query.error_contains.filter(|t| !t.is_empty()) {
        let escaped = text.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        let error_text = Func::lower(Expr::cust("CAST(error AS TEXT)"));
        select = select.filter(Expr::expr(error_text).like(LikeExpr::new(format!("%{escaped}%")).escape('\\')));
    }
    if let Some(cursor) = query.cursor {
        let cursor = cursor.to_string();
        select = if query.oldest_first {
            select.filter(runs::Column::Id.gt(cursor))
        } else {
            select.filter(runs::Column::Id.lt(cursor))
        };
    }
    let rows = select.all(db).await?.into_iter().map(run_of).collect();
    Ok(into_page(rows, limit, |r: &Run| r.id.clone()))
}

/// The steps of a run, in creation order.
///
/// # Errors
/// On a database failure.
pub async fn steps_of(db: &impl ConnectionTrait, run_id: &str) -> Result<Vec<Step>, StoreError> {
    Ok(steps::Entity::find()
        .filter(steps::Column::RunId.eq(run_id))
        .order_by_asc(steps::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(step_of)
        .collect())
}

/// Creates a `pending` step for a node unless the run already has one; returns it when created.
///
/// # Errors
/// On a database failure.
pub async fn insert_step(
    db: &impl ConnectionTrait,
    run: &Run,
    node_id: &str,
    node_type: &str,
    max_attempts: i32,
    due: Option<DateTime<Utc>>,
) -> Result<Option<Step>, StoreError> {
    let now = stored_now();
    let id = StepId::generate().to_string();
    let step = steps::ActiveModel {
        id: Set(id.clone()),
        run_id: Set(run.id.clone()),
        tenant_id: Set(run.tenant_id.clone()),
        node_id: Set(node_id.to_string()),
        node_type: Set(node_type.to_string()),
        status: Set(StepStatus::Pending.as_str().into()),
        attempt: Set(0),
        max_attempts: Set(max_attempts),
        input: Set(None),
        output: Set(None),
        error: Set(None),
        next_attempt_at: Set(due),
        lease_until: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        started_at: Set(None),
        finished_at: Set(None),
        parked_at: Set(None),
    };
    // ON CONFLICT DO NOTHING rather than catching the violation: inside a PostgreSQL transaction
    // a failed statement would abort the whole transaction.
    let inserted = steps::Entity::insert(step.clone())
        .on_conflict(OnConflict::columns([steps::Column::RunId, steps::Column::NodeId]).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    if inserted == 0 {
        return Ok(None);
    }
    // Every column was set above: the row is known without reading it back.
    Ok(Some(step_of(step.try_into_model()?)))
}

/// Claims a step for one attempt: `pending|retrying -> running`, attempt + 1, with a lease.
/// `None` when it is not claimable (done, running elsewhere, or not yet due).
///
/// # Errors
/// On a database failure.
pub async fn claim_step(
    db: &impl ConnectionTrait,
    step_id: &str,
    lease: ChronoDuration,
) -> Result<Option<Step>, StoreError> {
    let now = Utc::now();
    let claimed = steps::Entity::update_many()
        .col_expr(steps::Column::Status, Expr::value(StepStatus::Running.as_str()))
        .col_expr(steps::Column::Attempt, Expr::col(steps::Column::Attempt).add(1))
        .col_expr(steps::Column::LeaseUntil, Expr::value(Some(now + lease)))
        .col_expr(steps::Column::StartedAt, Expr::value(Some(now)))
        .col_expr(steps::Column::UpdatedAt, Expr::value(now))
        .col_expr(steps::Column::ParkedAt, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(steps::Column::Id.eq(step_id))
        .filter(steps::Column::Status.is_in([StepStatus::Pending.as_str(), StepStatus::Retrying.as_str()]))
        .filter(Condition::any().add(steps::Column::NextAttemptAt.is_null()).add(steps::Column::NextAttemptAt.lte(now)))
        .exec_with_returning(db)
        .await?;
    Ok(claimed.into_iter().next().map(step_of))
}

/// A step by id (workers only).
///
/// # Errors
/// On a database failure.
pub async fn get_step(db: &impl ConnectionTrait, step_id: &str) -> Result<Option<Step>, StoreError> {
    Ok(steps::Entity::find_by_id(step_id.to_string()).one(db).await?.map(step_of))
}

/// Records the outcome of `step`'s claimed attempt. `false` (nothing changed) when that attempt
/// is no longer the running one: its outcome was recorded already, or its lease was taken over.
///
/// # Errors
/// On a database failure.
pub async fn finish_step(
    db: &impl ConnectionTrait,
    step: &Step,
    status: StepStatus,
    input: Option<Value>,
    output: Option<Value>,
    error: Option<Value>,
    next_attempt_at: Option<DateTime<Utc>>,
) -> Result<bool, StoreError> {
    let now = Utc::now();
    let finished = status.is_final().then_some(now);
    let result = steps::Entity::update_many()
        .col_expr(steps::Column::Status, Expr::value(status.as_str()))
        .col_expr(steps::Column::Input, Expr::value(input))
        .col_expr(steps::Column::Output, Expr::value(output))
        .col_expr(steps::Column::Error, Expr::value(error))
        .col_expr(steps::Column::NextAttemptAt, Expr::value(next_attempt_at))
        .col_expr(steps::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(steps::Column::FinishedAt, Expr::value(finished))
        .col_expr(steps::Column::UpdatedAt, Expr::value(now))
        .filter(steps::Column::Id.eq(step.id.as_str()))
        .filter(steps::Column::Status.eq(StepStatus::Running.as_str()))
        .filter(steps::Column::Attempt.eq(step.attempt))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Ends a `running` run with `status` (and its vars and error); `run` then holds what was
/// written. `false` (and `run` unchanged) when it had already ended.
///
/// # Errors
/// On a database failure.
pub async fn end_run(
    db: &impl ConnectionTrait,
    run: &mut Run,
    status: RunStatus,
    vars: Value,
    error: Option<Value>,
) -> Result<bool, StoreError> {
    let now = stored_now();
    let result = runs::Entity::update_many()
        .col_expr(runs::Column::Status, Expr::value(status.as_str()))
        .col_expr(runs::Column::Vars, Expr::value(vars.clone()))
        .col_expr(runs::Column::Error, Expr::value(error.clone()))
        .col_expr(runs::Column::FinishedAt, Expr::value(Some(now)))
        .col_expr(runs::Column::UpdatedAt, Expr::value(now))
        .filter(runs::Column::Id.eq(run.id.as_str()))
        .filter(runs::Column::Status.eq(RunStatus::Running.as_str()))
        .exec(db)
        .await?;
    if result.rows_affected != 1 {
        return Ok(false);
    }
    run.status = status;
    run.vars = vars;
    run.error = error;
    run.finished_at = Some(now);
    run.updated_at = now;
    Ok(true)
}

/// Puts a finished run back to `running` (retry from the failed step).
///
/// # Errors
/// On a database failure.
pub async fn reopen_run(db: &impl ConnectionTrait, run_id: &str) -> Result<bool, StoreError> {
    let result = runs::Entity::update_many()
        .col_expr(runs::Column::Status, Expr::value(RunStatus::Running.as_str()))
        .col_expr(runs::Column::Error, Expr::value(Option::<Value>::None))
        .col_expr(runs::Column::FinishedAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(runs::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(runs::Column::Id.eq(run_id))
        .filter(runs::Column::Status.eq(RunStatus::Failed.as_str()))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Resets the run's failed steps (and those its failure cancelled) to `pending` with fresh
/// attempts; returns their ids.
///
/// # Errors
/// On a database failure.
pub async fn reset_failed_steps(db: &impl ConnectionTrait, run_id: &str) -> Result<Vec<String>, StoreError> {
    let failed: Vec<String> = steps::Entity::find()
        .filter(steps::Column::RunId.eq(run_id))
        .filter(steps::Column::Status.is_in([StepStatus::Failed.as_str(), StepStatus::Cancelled.as_str()]))
        .all(db)
        .await?
        .into_iter()
        .map(|s| s.id)
        .collect();
    steps::Entity::update_many()
        .col_expr(steps::Column::Status, Expr::value(StepStatus::Pending.as_str()))
        .col_expr(steps::Column::Attempt, Expr::value(0))
        .col_expr(steps::Column::Error, Expr::value(Option::<Value>::None))
        .col_expr(steps::Column::NextAttemptAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(steps::Column::FinishedAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(steps::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(steps::Column::RunId.eq(run_id))
        .filter(steps::Column::Status.is_in([StepStatus::Failed.as_str(), StepStatus::Cancelled.as_str()]))
        .exec(db)
        .await?;
    Ok(failed)
}

/// Cancels a run and its unfinished steps.
///
/// # Errors
/// On a database failure.
pub async fn cancel(db: &impl ConnectionTrait, run_id: &str) -> Result<bool, StoreError> {
    let now = Utc::now();
    let result = runs::Entity::update_many()
        .col_expr(runs::Column::Status, Expr::value(RunStatus::Cancelled.as_str()))
        .col_expr(runs::Column::FinishedAt, Expr::value(Some(now)))
        .col_expr(runs::Column::UpdatedAt, Expr::value(now))
        .filter(runs::Column::Id.eq(run_id))
        .filter(runs::Column::Status.eq(RunStatus::Running.as_str()))
        .exec(db)
        .await?;
    if result.rows_affected == 1 {
        cancel_unfinished_steps(db, run_id).await?;
    }
    Ok(result.rows_affected == 1)
}

/// Cancels a run's steps that have not started or are suspended, and closes its waits: none of
/// them runs again. A running attempt finishes, and nothing follows it.
///
/// # Errors
/// On a database failure.
pub async fn cancel_unfinished_steps(db: &impl ConnectionTrait, run_id: &str) -> Result<(), StoreError> {
    let now = Utc::now();
    steps::Entity::update_many()
        .col_expr(steps::Column::Status, Expr::value(StepStatus::Cancelled.as_str()))
        .col_expr(steps::Column::UpdatedAt, Expr::value(now))
        .col_expr(steps::Column::FinishedAt, Expr::value(Some(now)))
        .col_expr(steps::Column::ParkedAt, Expr::value(Option::<DateTime<Utc>>::None))
        .filter(steps::Column::RunId.eq(run_id))
        .filter(steps::Column::Status.is_in([
            StepStatus::Pending.as_str(),
            StepStatus::Retrying.as_str(),
            StepStatus::Waiting.as_str(),
        ]))
        .exec(db)
        .await?;
    super::waits::delete_of_run(db, run_id).await?;
    Ok(())
}

/// The ids of `run_id`'s child runs still running.
///
/// # Errors
/// On a database failure.
pub async fn running_children(db: &impl ConnectionTrait, run_id: &str) -> Result<Vec<String>, StoreError> {
    Ok(runs::Entity::find()
        .select_only()
        .column(runs::Column::Id)
        .filter(runs::Column::ParentRunId.eq(run_id))
        .filter(runs::Column::Status.eq(RunStatus::Running.as_str()))
        .into_tuple::<String>()
        .all(db)
        .await?)
}

/// The latest child run a `subflow` step started, and how many it started (more than one when
/// its run was retried after a child ended).
///
/// # Errors
/// On a database failure.
pub async fn latest_child_of_step(db: &impl ConnectionTrait, step_id: &str) -> Result<Option<(Run, u64)>, StoreError> {
    use sea_orm::PaginatorTrait;
    let latest = runs::Entity::find()
        .filter(runs::Column::ParentStepId.eq(step_id))
        .order_by_desc(runs::Column::Id)
        .one(db)
        .await?;
    let Some(latest) = latest else { return Ok(None) };
    let count = runs::Entity::find().filter(runs::Column::ParentStepId.eq(step_id)).count(db).await?;
    Ok(Some((run_of(latest), count)))
}

/// `subflow` steps still `waiting` whose latest child ended more than `grace` ago: the job its
/// end pushed was lost (a worker killed while handling it).
///
/// # Errors
/// On a database failure.
pub async fn waiting_on_ended_children(
    db: &impl ConnectionTrait,
    grace: ChronoDuration,
    limit: u64,
) -> Result<Vec<Step>, StoreError> {
    use sea_orm::sea_query::Query;
    let ended_children = Query::select()
        .column(runs::Column::ParentStepId)
        .from(runs::Entity)
        .and_where(runs::Column::ParentStepId.is_not_null())
        .and_where(runs::Column::Status.ne(RunStatus::Running.as_str()))
        .and_where(runs::Column::FinishedAt.lt(Utc::now() - grace))
        .to_owned();
    let running_children = Query::select()
        .column(runs::Column::ParentStepId)
        .from(runs::Entity)
        .and_where(runs::Column::ParentStepId.is_not_null())
        .and_where(runs::Column::Status.eq(RunStatus::Running.as_str()))
        .to_owned();
    Ok(steps::Entity::find()
        .filter(steps::Column::Status.eq(StepStatus::Waiting.as_str()))
        .filter(steps::Column::NodeType.eq("subflow"))
        .filter(steps::Column::UpdatedAt.lt(Utc::now() - grace))
        .filter(steps::Column::Id.in_subquery(ended_children))
        .filter(steps::Column::Id.not_in_subquery(running_children))
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(step_of)
        .collect())
}

/// Sets a run's deadline (a retry starts its run timeout again).
///
/// # Errors
/// On a database failure.
pub async fn set_deadline(db: &impl ConnectionTrait, run_id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
    runs::Entity::update_many()
        .col_expr(runs::Column::DeadlineAt, Expr::value(Some(at)))
        .filter(runs::Column::Id.eq(run_id))
        .exec(db)
        .await?;
    Ok(())
}

/// Running runs more than `grace` past their deadline: their deadline's job was lost.
///
/// # Errors
/// On a database failure.
pub async fn past_deadline(
    db: &impl ConnectionTrait,
    grace: ChronoDuration,
    limit: u64,
) -> Result<Vec<String>, StoreError> {
    Ok(runs::Entity::find()
        .select_only()
        .column(runs::Column::Id)
        .filter(runs::Column::DeadlineAt.lt(Utc::now() - grace))
        .filter(runs::Column::Status.eq(RunStatus::Running.as_str()))
        .limit(limit)
        .into_tuple::<String>()
        .all(db)
        .await?)
}

/// Keeps a synchronous webhook's answer on its run, unless one is kept already (the first
/// `respond` node reached answers). `true` when this one was kept.
///
/// # Errors
/// On a database failure.
pub async fn set_response(db: &impl ConnectionTrait, run_id: &str, response: &Value) -> Result<bool, StoreError> {
    let result = runs::Entity::update_many()
        .col_expr(runs::Column::Response, Expr::value(Some(response.clone())))
        .filter(runs::Column::Id.eq(run_id))
        .filter(runs::Column::Response.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Ends a `waiting` step (a wait resumed or timed out, a child run ended) with `status`, its
/// output and error. `false` when it was not waiting (another event ended it first).
///
/// # Errors
/// On a database failure.
pub async fn end_wait(
    db: &impl ConnectionTrait,
    step_id: &str,
    status: StepStatus,
    output: Option<Value>,
    error: Option<Value>,
) -> Result<bool, StoreError> {
    let now = Utc::now();
    let result = steps::Entity::update_many()
        .col_expr(steps::Column::Status, Expr::value(status.as_str()))
        .col_expr(steps::Column::Output, Expr::value(output))
        .col_expr(steps::Column::Error, Expr::value(error))
        .col_expr(steps::Column::NextAttemptAt, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(steps::Column::FinishedAt, Expr::value(status.is_final().then_some(now)))
        .col_expr(steps::Column::UpdatedAt, Expr::value(now))
        .filter(steps::Column::Id.eq(step_id))
        .filter(steps::Column::Status.eq(StepStatus::Waiting.as_str()))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Puts a claimed step (its attempt still running) into `waiting`, due again at `due` (a wait's
/// timeout) or never. `false` when the attempt is no longer the running one.
///
/// # Errors
/// On a database failure.
pub async fn start_waiting(
    db: &impl ConnectionTrait,
    step: &Step,
    input: Option<Value>,
    output: Option<Value>,
    due: Option<DateTime<Utc>>,
) -> Result<bool, StoreError> {
    let result = steps::Entity::update_many()
        .col_expr(steps::Column::Status, Expr::value(StepStatus::Waiting.as_str()))
        .col_expr(steps::Column::Input, Expr::value(input))
        .col_expr(steps::Column::Output, Expr::value(output))
        .col_expr(steps::Column::NextAttemptAt, Expr::value(due))
        .col_expr(steps::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(steps::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(steps::Column::Id.eq(step.id.as_str()))
        .filter(steps::Column::Status.eq(StepStatus::Running.as_str()))
        .filter(steps::Column::Attempt.eq(step.attempt))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// Steps a crashed process left behind: `running` past their lease, or `pending`/`retrying`
/// more than `grace` past due (their job may never have been pushed).
///
/// # Errors
/// On a database failure.
pub async fn orphaned_steps(
    db: &impl ConnectionTrait,
    grace: ChronoDuration,
    limit: u64,
) -> Result<Vec<Step>, StoreError> {
    let now = Utc::now();
    let stale = now - grace;
    Ok(steps::Entity::find()
        .filter(
            Condition::any()
                .add(
                    Condition::all()
                        .add(steps::Column::Status.eq(StepStatus::Running.as_str()))
                        .add(steps::Column::LeaseUntil.lt(now)),
                )
                .add(
                    Condition::all()
                        .add(steps::Column::Status.is_in([StepStatus::Pending.as_str(), StepStatus::Retrying.as_str()]))
                        // A parked step has no job on purpose: a step of its tenant ending (or
                        // the reconciler's `promote_parked`) gives it one.
                        .add(steps::Column::ParkedAt.is_null())
                        .add(
                            Condition::any()
                                .add(
                                    Condition::all()
                                        .add(steps::Column::NextAttemptAt.is_null())
                                        .add(steps::Column::UpdatedAt.lt(stale)),
                                )
                                .add(steps::Column::NextAttemptAt.lt(stale)),
                        ),
                )
                // A wait whose timeout passed long ago: its timeout job was lost.
                .add(
                    Condition::all()
                        .add(steps::Column::Status.eq(StepStatus::Waiting.as_str()))
                        .add(steps::Column::NextAttemptAt.lt(stale)),
                ),
        )
        // Longest-waiting first, so a truly orphaned step never waits behind a backlog of
        // queued ones beyond the limit.
        .order_by_asc(steps::Column::UpdatedAt)
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(step_of)
        .collect())
}

/// Runs still `running` with no step in flight, older than `grace`: a process stopped between
/// recording a step's outcome and planning the next steps. Advancing them again is safe.
///
/// # Errors
/// On a database failure.
pub async fn stalled_runs(
    db: &impl ConnectionTrait,
    grace: ChronoDuration,
    limit: u64,
) -> Result<Vec<String>, StoreError> {
    use sea_orm::sea_query::Query;
    let in_flight = Query::select()
        .column(steps::Column::RunId)
        .from(steps::Entity)
        .and_where(steps::Column::Status.is_in([
            StepStatus::Pending.as_str(),
            StepStatus::Running.as_str(),
            StepStatus::Retrying.as_str(),
            StepStatus::Waiting.as_str(),
        ]))
        .to_owned();
    Ok(runs::Entity::find()
        .filter(runs::Column::Status.eq(RunStatus::Running.as_str()))
        .filter(runs::Column::UpdatedAt.lt(Utc::now() - grace))
        .filter(runs::Column::Id.not_in_subquery(in_flight))
        .limit(limit)
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.id)
        .collect())
}

/// Returns a `running` step whose lease expired to `retrying` so it can be claimed again.
///
/// # Errors
/// On a database failure.
pub async fn release_expired(db: &impl ConnectionTrait, step_id: &str) -> Result<bool, StoreError> {
    let now = Utc::now();
    let result = steps::Entity::update_many()
        .col_expr(steps::Column::Status, Expr::value(StepStatus::Retrying.as_str()))
        .col_expr(steps::Column::LeaseUntil, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(steps::Column::UpdatedAt, Expr::value(now))
        .filter(steps::Column::Id.eq(step_id))
        .filter(steps::Column::Status.eq(StepStatus::Running.as_str()))
        .filter(steps::Column::LeaseUntil.lt(now))
        .exec(db)
        .await?;
    Ok(result.rows_affected == 1)
}

/// How many of the tenant's runs are going, counting at most `cap` (served by
/// `idx_runs_tenant_status`): a tenant's share of the workers.
///
/// # Errors
/// On a database failure.
pub async fn running_count(db: &impl ConnectionTrait, tenant_id: &str, cap: u64) -> Result<u64, StoreError> {
    use sea_orm::PaginatorTrait;
    // sea-orm counts over the limited query as a subquery: at most `cap` index entries are read.
    Ok(runs::Entity::find()
        .select_only()
        .column(runs::Column::Id)
        .filter(runs::Column::TenantId.eq(tenant_id))
        .filter(runs::Column::Status.eq(RunStatus::Running.as_str()))
        .limit(cap)
        .count(db)
        .await?)
}
