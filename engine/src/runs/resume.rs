//! Signed resume links of `wait` nodes with `approval: true`: `POST <public_url>/resume/{runId}/
//! {nodeId}/{token}` ends the wait without an API key; the token is the credential. It is the
//! AES-GCM seal (under the server's master key, like every secret) of a fixed text bound to the
//! tenant, the run and the node, so it opens that one wait only, survives a key rotation (old
//! keys stay to decrypt), and a token for another run or node does not verify.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::sync::Arc;

use serde_json::Value;

use super::engine::{RunEngine, RunError};
use super::status::{RunStatus, StepStatus};
use crate::flows::graph::{FlowGraph, NodeKind};
use crate::secrets::cipher::{Binding, Keyring};
use crate::store::runs::{self, Run};
use crate::store::waits;

const SEALED_TEXT: &str = "resume";

/// What resume links are made with: the master keys, and the server's public base URL.
#[derive(Clone)]
pub struct ResumeLinks {
    keyring: Keyring,
    /// `https://bacon.example.com`, or empty for links relative to the server.
    base: String,
}

fn field(run_id: &str, node_id: &str) -> String {
    format!("resume:{run_id}:{node_id}")
}

impl ResumeLinks {
    pub fn new(keyring: Keyring, public_url: Option<&str>) -> Self {
        Self { keyring, base: public_url.unwrap_or_default().trim_end_matches('/').to_string() }
    }

    /// The link that ends `node_id`'s wait in `run`.
    pub fn url(&self, run: &Run, node_id: &str) -> String {
        let field = field(&run.id, node_id);
        let sealed = self.keyring.encrypt(SEALED_TEXT, &Binding::tenant(&run.tenant_id, "wait", &field));
        format!("{}/resume/{}/{node_id}/{}", self.base, run.id, URL_SAFE_NO_PAD.encode(sealed))
    }

    /// Whether `token` was made for `node_id`'s wait in `run`.
    pub fn verify(&self, run: &Run, node_id: &str, token: &str) -> bool {
        let Ok(sealed) = URL_SAFE_NO_PAD.decode(token) else { return false };
        let Ok(sealed) = String::from_utf8(sealed) else { return false };
        let field = field(&run.id, node_id);
        self.keyring
            .decrypt(&sealed, &Binding::tenant(&run.tenant_id, "wait", &field))
            .is_ok_and(|text| text.expose() == SEALED_TEXT)
    }

    /// What templates see as `resume`: `resume.<node id>` is the link of that approval wait of
    /// `graph`. Made when a template reads it, so a step whose payload names no link costs
    /// nothing (no scan of the graph, no sealing).
    pub fn for_run(&self, graph: Arc<FlowGraph>, run: &Run) -> minijinja::Value {
        minijinja::Value::from_object(RunLinks { links: self.clone(), graph, run: run.clone() })
    }
}

/// The resume links of one run's approval waits, made on access.
struct RunLinks {
    links: ResumeLinks,
    graph: Arc<FlowGraph>,
    run: Run,
}

impl std::fmt::Debug for RunLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunLinks").field("run", &self.run.id).finish_non_exhaustive()
    }
}

impl minijinja::value::Object for RunLinks {
    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        let node_id = key.as_str()?;
        match &self.graph.node(node_id)?.kind {
            NodeKind::Wait(w) if w.approval => Some(minijinja::Value::from(self.links.url(&self.run, node_id))),
            _ => None,
        }
    }
}

impl RunEngine {
    /// Ends `node_id`'s approval wait in run `run_id` with `body` as its output, when `token` is
    /// its link's. `Ok(None)` when the run, the node or the token is not one (the caller answers
    /// 404 and learns nothing more).
    ///
    /// # Errors
    /// `WrongState` when the run has ended; `NotWaiting` when the node is not waiting now.
    pub async fn resume_by_link(
        &self,
        run_id: &str,
        node_id: &str,
        token: &str,
        body: Value,
    ) -> Result<Option<Run>, RunError> {
        let Some(links) = self.resume_links() else { return Ok(None) };
        let run = match runs::get_any(self.db(), run_id).await {
            Ok(run) => run,
            Err(crate::StoreError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if !links.verify(&run, node_id, token) {
            return Ok(None);
        }
        if run.status != RunStatus::Running {
            return Err(RunError::WrongState { status: run.status, expected: RunStatus::Running, action: "resumed" });
        }
        let Some(wait) = waits::for_node(self.db(), &run.id, node_id).await? else {
            return Err(RunError::NotWaiting(node_id.to_string()));
        };
        if !self.close_wait(&run, &wait.step_id, StepStatus::Succeeded, Some(body), None).await? {
            return Err(RunError::NotWaiting(node_id.to_string()));
        }
        Ok(Some(runs::get_any(self.db(), &run.id).await?))
    }
}
