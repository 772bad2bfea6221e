//! [`WorkRunner`]: executes any [`WorkItem`] a worker fetched, and reconciles every kind.

use crate::channels::ChannelOutbox;
use crate::hooks::HookDispatcher;
use crate::inbound::Inbound;
use crate::retention::{self, Retention};
use crate::runs::engine::{RunEngine, RunError};

use super::item::WorkItem;

/// Everything background work needs. Cheap to clone.
#[derive(Clone)]
pub struct WorkRunner {
    runs: RunEngine,
    channels: ChannelOutbox,
    hooks: HookDispatcher,
    inbound: Inbound,
    retention: Retention,
}

impl WorkRunner {
    pub fn new(runs: RunEngine, channels: ChannelOutbox, hooks: HookDispatcher, inbound: Inbound) -> Self {
        Self { runs, channels, hooks, inbound, retention: Retention::default() }
    }

    /// How long deliveries, runs and audit rows are kept.
    pub fn with_retention(mut self, retention: Retention) -> Self {
        self.retention = retention;
        self
    }

    /// One retention pass: deletes what is older than its retention (see [`retention`]).
    pub async fn purge_expired(&self) {
        match retention::purge(self.runs.db(), &self.retention, chrono::Utc::now()).await {
            Ok(purged) if purged != retention::Purged::default() => {
                tracing::info!(
                    inbound_events = purged.inbound_events,
                    runs = purged.runs,
                    audit_rows = purged.audit_rows,
                    "Purged what is past its retention."
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "The retention purge failed; will try again."),
        }
    }

    pub fn runs(&self) -> &RunEngine {
        &self.runs
    }

    pub fn channels(&self) -> &ChannelOutbox {
        &self.channels
    }

    pub fn inbound(&self) -> &Inbound {
        &self.inbound
    }

    /// Executes one item. A duplicate or late job finds its item no longer claimable and does
    /// nothing.
    ///
    /// # Errors
    /// Store or queue failures: the queue delivers the job again.
    pub async fn execute(&self, item: &WorkItem) -> Result<(), RunError> {
        match item {
            WorkItem::Step { id, run_id } => self.runs.execute_step(&run_id.to_string(), &id.to_string()).await,
            WorkItem::ChannelMessage { id } => self.channels.send(&id.to_string()).await,
            WorkItem::RestHookDelivery { id } => self.hooks.deliver(&id.to_string()).await,
            WorkItem::InboundDelivery { id } => self.inbound.process(&id.to_string()).await.map(|_| ()),
            WorkItem::RunDeadline { id } => self.runs.run_deadline(&id.to_string()).await,
        }
    }

    /// One reconciliation pass over every kind: items whose worker died (lease over) are
    /// released, their lost attempt audited, and re-enqueued; items long past due whose job is
    /// gone are enqueued again. Returns how many items it touched. A kind that fails is logged
    /// and the others still run.
    pub async fn reconcile(&self) -> usize {
        let mut count = 0;
        let passes = [
            ("steps", self.runs.reconcile().await),
            ("channel messages", self.channels.reconcile().await),
            ("REST-hook deliveries", self.hooks.reconcile().await),
            ("inbound deliveries", self.inbound.reconcile().await),
        ];
        for (what, result) in passes {
            match result {
                Ok(n) => count += n,
                Err(e) => tracing::warn!(error = %e, "Reconciling {what} failed; will try again."),
            }
        }
        count
    }
}
