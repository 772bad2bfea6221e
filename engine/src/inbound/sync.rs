//! Synchronous webhooks (`respond: "sync"` on a webhook trigger): the caller's request is held
//! until the delivery's run reaches a `respond` node (its rendered answer is kept on the run, so
//! a retried delivery gets the same one), ends, or the trigger's `respondTimeoutMs` passes.
//!
//! The delivery's work item starts the run, as for any delivery (a worker takes it at once);
//! the request watches for the run, then for its answer, on the run's row.

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::Inbound;
use crate::StoreError;
use crate::flows::graph::{FlowGraph, NodeKind, RespondMode};
use crate::ids::{FlowId, TenantId};
use crate::runs::engine::RunError;
use crate::store::runs::{self, Run};
use crate::store::{self};

use super::SyncDelivery;

/// How long a synchronous webhook's caller waits unless its trigger says otherwise.
pub const DEFAULT_RESPOND_TIMEOUT: Duration = Duration::from_secs(10);

/// What a synchronous webhook's caller gets.
#[derive(Debug, Clone, PartialEq)]
pub enum SyncAnswer {
    /// The run's `respond` node answered: `{status, headers, body}`.
    Responded { run_id: String, response: Value },
    /// The run ended without reaching a `respond` node.
    Ended(Box<Run>),
    /// Not yet: the run (if it started) goes on.
    Pending { run_id: Option<String> },
}

/// The trigger's `respondTimeoutMs` when the flow's webhook trigger answers synchronously.
pub(super) async fn respond_timeout(
    db: &sea_orm::DatabaseConnection,
    tenant: TenantId,
    flow: FlowId,
) -> Result<Option<Duration>, StoreError> {
    let flow = match store::flows::get(db, tenant, flow).await {
        Ok(flow) => flow,
        Err(StoreError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let Ok(graph) = serde_json::from_value::<FlowGraph>(flow.graph) else { return Ok(None) };
    Ok(graph.trigger().and_then(|t| match &t.kind {
        NodeKind::Trigger(c) if c.respond == Some(RespondMode::Sync) => {
            Some(c.respond_timeout_ms.map_or(DEFAULT_RESPOND_TIMEOUT, Duration::from_millis))
        }
        _ => None,
    }))
}

impl Inbound {
    /// Waits, up to the delivery's timeout or `at_most`, for the run the delivery started to
    /// answer.
    ///
    /// # Errors
    /// Store failures.
    pub async fn answer(&self, delivery: &SyncDelivery, at_most: Duration) -> Result<SyncAnswer, RunError> {
        let deadline = Instant::now() + delivery.timeout.min(at_most);
        let key = format!("inbound:{}", delivery.inbox_id);
        let mut run_id = None;
        let mut pause = Duration::from_millis(5);
        loop {
            let db = self.registry.db();
            if run_id.is_none() {
                run_id =
                    runs::find_by_idempotency_key(db, delivery.tenant_id, delivery.flow_id, &key).await?.map(|r| r.id);
            }
            if let Some(id) = &run_id {
                let run = runs::get_any(db, id).await?;
                if let Some(response) = run.response {
                    return Ok(SyncAnswer::Responded { run_id: run.id, response });
                }
                if run.status.is_final() {
                    return Ok(SyncAnswer::Ended(Box::new(run)));
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(SyncAnswer::Pending { run_id });
            }
            // The run's row is read again soon after it is written, then less often: a quick flow
            // answers within milliseconds, a slow one costs a read every 100 ms.
            tokio::time::sleep(pause.min(deadline - now)).await;
            pause = (pause * 2).min(Duration::from_millis(100));
        }
    }
}
