//! The flow graph model. JSON field names are camelCase; node `type`s are snake_case.
//!
//! - [`index`]: the graph's adjacency and topological order, built once per graph.

mod index;

use bacon_plugin_sdk::RetryPolicy;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use index::GraphIndex;
use index::IndexCell;

/// A flow's graph. Not changed once parsed: its [`GraphIndex`] is built on first use and kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FlowGraph {
    pub nodes: Vec<Node>,
    #[serde(default)]
    pub edges: Vec<Edge>,
    /// A run still going this long after it started fails with a `timeout` error (its waits and
    /// child runs are cancelled). Only on a flow's graph, not on a `map`'s.
    #[serde(default, rename = "timeoutMs", skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[serde(skip)]
    index: IndexCell,
}

/// A node: an id unique in the graph, a type and its config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub id: String,
    /// When the node fails for good and has no `error` edge, the run goes on along its normal
    /// edges with the error in `nodes.<id>.error` (a condition takes its `false` edge).
    #[serde(default, rename = "continueOnFail", skip_serializing_if = "std::ops::Not::not")]
    pub continue_on_fail: bool,
    #[serde(flatten)]
    pub kind: NodeKind,
}

/// What a node does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "config", rename_all = "snake_case")]
pub enum NodeKind {
    /// Where a run starts (exactly one per flow).
    Trigger(TriggerConfig),
    /// Runs a plugin action as a durable step.
    PluginAction(PluginActionConfig),
    /// Evaluates an expression; outgoing edges are labelled `when: "true"` / `"false"`.
    Condition(ConditionConfig),
    /// Sets run variables from templates.
    Transform(TransformConfig),
    /// Waits durably.
    Delay(DelayConfig),
    /// Collects AI-context snippets into the run's variables.
    AiContext(AiContextConfig),
    /// Ends the run successfully.
    End(EndConfig),
    /// Runs its own graph once per item of an array, durably, a few items at a time.
    Map(MapConfig),
    /// Starts a run of another flow as a child and takes its result.
    Subflow(SubflowConfig),
    /// Suspends the run until an event, a matching delivery or its timeout.
    Wait(WaitConfig),
    /// Answers the caller of a synchronous webhook.
    Respond(RespondConfig),
}

impl NodeKind {
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Trigger(_) => "trigger",
            Self::PluginAction(_) => "plugin_action",
            Self::Condition(_) => "condition",
            Self::Transform(_) => "transform",
            Self::Delay(_) => "delay",
            Self::AiContext(_) => "ai_context",
            Self::End(_) => "end",
            Self::Map(_) => "map",
            Self::Subflow(_) => "subflow",
            Self::Wait(_) => "wait",
            Self::Respond(_) => "respond",
        }
    }

    /// Whether the node runs as a durable step of the run (else the planner evaluates it).
    pub fn is_step(&self) -> bool {
        matches!(self, Self::PluginAction(_) | Self::Delay(_) | Self::AiContext(_) | Self::Subflow(_) | Self::Wait(_))
    }
}

/// How runs of the flow start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    #[default]
    Manual,
    Webhook,
    Plugin,
    Schedule,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TriggerConfig {
    #[serde(default)]
    pub kind: TriggerKind,
    /// For `plugin` triggers.
    pub plugin_id: Option<String>,
    /// For `plugin` triggers: the plugin's trigger key.
    pub trigger_key: Option<String>,
    /// For `schedule` triggers.
    pub cron: Option<String>,
    pub timezone: Option<String>,
    /// For `webhook` triggers: deliveries must be signed with the secret issued on activation.
    pub signed: Option<bool>,
    /// For `webhook` triggers: `sync` holds the caller's request until the run reaches a
    /// `respond` node (or `respondTimeoutMs` passes: then 202 with the run id).
    pub respond: Option<RespondMode>,
    /// For `respond: "sync"`: how long the caller waits, 10 s unless set (at most 60 s).
    pub respond_timeout_ms: Option<u64>,
}

/// How a webhook trigger answers its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RespondMode {
    /// At once, with the delivery's receipt; the run starts after.
    #[default]
    Async,
    /// With what the run's `respond` node renders.
    Sync,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PluginActionConfig {
    pub plugin_id: String,
    pub action_name: String,
    /// The action input; strings are templates.
    #[serde(default = "empty_object")]
    pub payload: Value,
    /// Overrides the action's retry policy.
    pub retry: Option<RetryPolicy>,
    /// Overrides the action's timeout.
    pub timeout_ms: Option<u64>,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConditionConfig {
    /// A minijinja expression: `nodes.fetch.output.status == 200`.
    pub expression: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransformConfig {
    /// Variable name -> template.
    #[serde(default)]
    pub set: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DelayConfig {
    pub duration_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AiContextConfig {
    pub max_tokens: Option<u32>,
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndConfig {}

/// A loop over items: the map's own graph runs once per item of `items`, its steps durable
/// steps of the run (node ids `<map>[<index>].<node>`). Its nodes see `item` and `index`, and
/// start at the nodes no edge enters. The map's output is `{results, failures}`: each item's
/// result (the output of the last node of its graph that ran, `null` for a failed item) in
/// item order, and `{index, error}` for each item that failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MapConfig {
    /// An expression giving the array: `trigger.order.lineItems`.
    pub items: String,
    /// Items in flight at once (default 10, at most 100).
    pub concurrency: Option<u32>,
    /// How many items may fail before the map fails (default 0).
    #[serde(default)]
    pub tolerated_failures: u32,
    /// What runs for each item (a `subflow` node runs another flow per item).
    pub graph: FlowGraph,
}

impl MapConfig {
    pub const DEFAULT_CONCURRENCY: u32 = 10;
    pub const MAX_CONCURRENCY: u32 = 100;
    /// Items a map may have. Each advance of the run replays every item (linear in the items),
    /// so a map costs O(items²) plans over its run: bounded here, at about 10 s of planning CPU.
    pub const MAX_ITEMS: usize = 1_000;

    pub fn concurrency(&self) -> usize {
        self.concurrency.unwrap_or(Self::DEFAULT_CONCURRENCY).clamp(1, Self::MAX_CONCURRENCY) as usize
    }
}

/// Starts a run of `flowId` (at `version`, or its current one) with `input` as a child of this
/// run, and waits for it without holding a worker. Its output is `{runId, status, vars}` of the
/// child; a child that fails or is cancelled fails the node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubflowConfig {
    pub flow_id: String,
    pub version: Option<i32>,
    /// The child's input; strings are templates.
    #[serde(default = "empty_object")]
    pub input: Value,
}

/// Suspends the run (a row, no worker, no poll) until one of:
/// - `POST /v1/runs/{id}/events/{event}` (its body is the node's output);
/// - a delivery of `correlation.pluginId` whose `correlation.eventKey` equals this run's
///   `correlation.key` (the delivery's event is the output);
/// - with `approval`, a POST to its signed resume link;
/// - `timeoutMs` passes: the node's `timeout` edges are taken (without any, it fails).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaitConfig {
    /// The event name that resumes it (default: the node's id).
    pub event: Option<String>,
    pub correlation: Option<Correlation>,
    /// Issues a signed resume link (`resume.<id>` in the templates of the steps before it): a
    /// POST to it ends the wait, no API key needed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub approval: bool,
    pub timeout_ms: Option<u64>,
}

/// Which deliveries resume a wait.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Correlation {
    /// Deliveries verified by this plugin (`webhook` for plain webhooks).
    pub plugin_id: String,
    /// An expression over the run: `trigger.conversationId`.
    pub key: String,
    /// An expression over the delivery, whose event is `trigger` (default: `key`).
    pub event_key: Option<String>,
}

impl Correlation {
    pub fn event_key(&self) -> &str {
        self.event_key.as_deref().unwrap_or(&self.key)
    }
}

/// Answers a synchronous webhook's caller (the first `respond` node reached answers); its
/// strings are templates. Elsewhere it only records its output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RespondConfig {
    #[serde(default = "ok_status")]
    pub status: u16,
    #[serde(default)]
    pub headers: Map<String, Value>,
    #[serde(default)]
    pub body: Value,
}

fn ok_status() -> u16 {
    200
}

/// A directed edge; `when` labels the outgoing edges of a condition; an `error` edge is taken
/// only when its source fails for good.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Edge {
    pub id: String,
    pub source: String,
    pub target: String,
    pub when: Option<String>,
    #[serde(default, skip_serializing_if = "EdgeKind::is_next")]
    pub kind: EdgeKind,
}

/// Which outcome of its source an edge follows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// The source succeeded (for a condition: with the edge's `when`).
    #[default]
    Next,
    /// The source failed for good: its error is `nodes.<id>.error`, and the run goes on here
    /// instead of failing.
    Error,
    /// The source, a `wait`, timed out.
    Timeout,
}

impl EdgeKind {
    pub fn is_next(&self) -> bool {
        *self == Self::Next
    }
}

impl FlowGraph {
    /// The graph's adjacency and topological order, built on the first call (O(nodes + edges)).
    pub fn index(&self) -> &GraphIndex {
        self.index.get_or_build(self)
    }

    pub fn node(&self, id: &str) -> Option<&Node> {
        self.index().position(id).map(|i| &self.nodes[i])
    }

    /// The node a step stands for: a node of this graph, or of a `map`'s graph for an item's
    /// step (`<map>[<index>].<node>`, nested maps alike).
    pub fn step_node(&self, step_node_id: &str) -> Option<&Node> {
        if let Some(node) = self.node(step_node_id) {
            return Some(node);
        }
        let (map_id, rest) = step_node_id.split_once('[')?;
        let (_, inner) = rest.split_once("].")?;
        match &self.node(map_id)?.kind {
            NodeKind::Map(m) => m.graph.step_node(inner),
            _ => None,
        }
    }

    /// The trigger node, when there is exactly one.
    pub fn trigger(&self) -> Option<&Node> {
        let mut triggers = self.nodes.iter().filter(|n| matches!(n.kind, NodeKind::Trigger(_)));
        let first = triggers.next()?;
        triggers.next().is_none().then_some(first)
    }

    /// Edges leaving `node`, in edge order.
    pub fn outgoing<'a>(&'a self, node: &str) -> impl Iterator<Item = &'a Edge> + 'a {
        self.edges_at(self.index().position(node).map(|i| self.index().outgoing(i)))
    }

    /// Edges entering `node`, in edge order.
    pub fn incoming<'a>(&'a self, node: &str) -> impl Iterator<Item = &'a Edge> + 'a {
        self.edges_at(self.index().position(node).map(|i| self.index().incoming(i)))
    }

    fn edges_at<'a>(&'a self, positions: Option<&'a [usize]>) -> impl Iterator<Item = &'a Edge> + 'a {
        positions.unwrap_or_default().iter().map(|&j| &self.edges[j])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn graph() -> FlowGraph {
        serde_json::from_value(json!({
            "nodes": [
                {"id": "t", "type": "trigger", "config": {}},
                {"id": "b", "type": "end", "config": {}},
                {"id": "a", "type": "delay", "config": {"durationMs": 0}}
            ],
            "edges": [
                {"id": "1", "source": "t", "target": "a"},
                {"id": "2", "source": "a", "target": "b"},
                {"id": "3", "source": "t", "target": "b"},
                {"id": "4", "source": "t", "target": "ghost"}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn the_index_finds_nodes_edges_and_a_topological_order() {
        let g = graph();
        assert_eq!(g.node("a").map(|n| n.kind.type_name()), Some("delay"));
        assert!(g.node("ghost").is_none());
        fn ids<'a>(edges: impl Iterator<Item = &'a Edge>) -> Vec<&'a str> {
            edges.map(|e| e.id.as_str()).collect()
        }
        assert_eq!(ids(g.outgoing("t")), ["1", "3"], "an edge to no node is left out");
        assert_eq!(ids(g.incoming("b")), ["2", "3"]);
        assert_eq!(g.outgoing("ghost").count(), 0);
        let order: Vec<&str> = g.index().topological().iter().map(|&i| g.nodes[i].id.as_str()).collect();
        assert_eq!(order, ["t", "a", "b"]);
    }

    #[test]
    fn the_index_is_not_part_of_the_value() {
        let g = graph();
        g.index();
        let clone = g.clone();
        assert_eq!(clone, graph());
        assert_eq!(serde_json::to_value(&g).unwrap(), serde_json::to_value(graph()).unwrap());
        assert_eq!(clone.incoming("b").count(), 2, "a clone builds its own index");
    }
}
