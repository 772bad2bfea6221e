//! The flow graph as the OpenAPI document describes it, so generated clients get typed nodes.
//!
//! Requests keep the graph as JSON and hand it to `bacon_engine::flows::validate`, which knows
//! the rules a schema cannot say (one trigger, no cycles, known plugins) and points at each fault;
//! these types only document the shape. The test below keeps them in step with the engine's
//! model: a graph these types accept, the engine parses too, and the other way round.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// A flow's node graph: at most 10,000 nodes and 20,000 edges, exactly one `trigger`, edges
/// between existing nodes, no cycles, every node reachable from the trigger.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FlowGraph {
    // The caps are the engine's `validate::MAX_NODES` and `MAX_EDGES`, which enforce them.
    #[schema(max_items = 10_000)]
    pub nodes: Vec<FlowNode>,
    #[serde(default)]
    #[schema(max_items = 20_000)]
    pub edges: Vec<FlowEdge>,
    /// A run still going this long after it started fails with a `timeout` error; its waits
    /// and child runs are cancelled (at most 30 days). Not on a `map`'s graph.
    #[serde(default, rename = "timeoutMs", skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 2_592_000_000_u64)]
    pub timeout_ms: Option<u64>,
}

/// A node: an id unique in the graph, its `type` and that type's `config`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
#[schema(discriminator(property_name = "type", mapping(
    ("trigger" = "#/components/schemas/TriggerNode"),
    ("plugin_action" = "#/components/schemas/PluginActionNode"),
    ("condition" = "#/components/schemas/ConditionNode"),
    ("transform" = "#/components/schemas/TransformNode"),
    ("delay" = "#/components/schemas/DelayNode"),
    ("ai_context" = "#/components/schemas/AiContextNode"),
    ("end" = "#/components/schemas/EndNode"),
    ("map" = "#/components/schemas/MapNode"),
    ("subflow" = "#/components/schemas/SubflowNode"),
    ("wait" = "#/components/schemas/WaitNode"),
    ("respond" = "#/components/schemas/RespondNode"),
)))]
pub enum FlowNode {
    Trigger(TriggerNode),
    PluginAction(PluginActionNode),
    Condition(ConditionNode),
    Transform(TransformNode),
    Delay(DelayNode),
    AiContext(AiContextNode),
    End(EndNode),
    Map(MapNode),
    Subflow(SubflowNode),
    Wait(WaitNode),
    Respond(RespondNode),
}

/// One node type: a struct with `id`, a one-value `type` enum (the discriminator) and `config`.
macro_rules! node {
    ($(#[$doc:meta])* $node:ident, $type_enum:ident, $variant:ident, $config:ident) => {
        $(#[$doc])*
        #[derive(Debug, Serialize, Deserialize, ToSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $node {
            pub id: String,
            #[serde(rename = "type")]
            pub node_type: $type_enum,
            pub config: $config,
            /// When the node fails for good and has no `error` edge, the run goes on along its
            /// normal edges with the error in `nodes.<id>.error` (a condition takes `false`).
            #[serde(default, rename = "continueOnFail", skip_serializing_if = "std::ops::Not::not")]
            pub continue_on_fail: bool,
        }

        #[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $type_enum {
            $variant,
        }
    };
}

node!(
    /// Where a run starts (exactly one per flow).
    TriggerNode, TriggerNodeType, Trigger, TriggerNodeConfig
);
node!(
    /// Runs a plugin action as a durable step.
    PluginActionNode, PluginActionNodeType, PluginAction, PluginActionNodeConfig
);
node!(
    /// Evaluates an expression; outgoing edges are labelled `when: "true"` / `"false"`.
    ConditionNode, ConditionNodeType, Condition, ConditionNodeConfig
);
node!(
    /// Sets run variables from templates.
    TransformNode, TransformNodeType, Transform, TransformNodeConfig
);
node!(
    /// Waits durably.
    DelayNode, DelayNodeType, Delay, DelayNodeConfig
);
node!(
    /// Collects AI-context snippets into the run's variables.
    AiContextNode, AiContextNodeType, AiContext, AiContextNodeConfig
);
node!(
    /// Ends the run successfully.
    EndNode, EndNodeType, End, EndNodeConfig
);
node!(
    /// Runs its own graph once per item of an array, a few items at a time; each item's steps
    /// are durable steps of the run (`<map>[<index>].<node>`). Output: `{results, failures}`.
    MapNode, MapNodeType, Map, MapNodeConfig
);
node!(
    /// Starts a run of another flow as a child and waits for it without holding a worker; its
    /// output is `{runId, status, vars}` of the child.
    SubflowNode, SubflowNodeType, Subflow, SubflowNodeConfig
);
node!(
    /// Suspends the run until an event is posted to it, a matching delivery arrives, or its
    /// timeout passes (then its `timeout` edges are taken).
    WaitNode, WaitNodeType, Wait, WaitNodeConfig
);
node!(
    /// Answers the caller of a `respond: "sync"` webhook (the first one reached answers).
    RespondNode, RespondNodeType, Respond, RespondNodeConfig
);

/// How runs of a flow start.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    /// Started through the API (`POST /v1/flows/{flowId}/runs`).
    #[default]
    Manual,
    /// Started by a delivery to the flow's `/hooks/{hookId}` URL.
    Webhook,
    /// Started by a plugin trigger (`pluginId`, `triggerKey`).
    Plugin,
    /// Started on a `cron` schedule.
    Schedule,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TriggerNodeConfig {
    #[serde(default)]
    pub kind: TriggerKind,
    /// For `plugin` triggers.
    pub plugin_id: Option<String>,
    /// For `plugin` triggers: the plugin's trigger key.
    pub trigger_key: Option<String>,
    /// For `schedule` triggers: six fields, seconds first (`0 0 9 * * Mon-Fri`).
    pub cron: Option<String>,
    /// For `schedule` triggers: an IANA time zone (default `UTC`).
    pub timezone: Option<String>,
    /// For `webhook` triggers: deliveries must be signed with the secret the activation returns
    /// once: `X-Bacon-Timestamp` (Unix seconds, within 5 minutes) and `X-Bacon-Signature:
    /// v1=<hex HMAC-SHA256 of v1:{timestamp}:{body}>`; a replay of a signature starts nothing.
    pub signed: Option<bool>,
    /// For `webhook` triggers: `sync` holds the caller's request until the run reaches a
    /// `respond` node, and answers with it (default `async`: answered at once).
    pub respond: Option<RespondMode>,
    /// For `respond: "sync"`: how long the caller waits before a 202 with the run id (default
    /// 10 s).
    #[schema(minimum = 1, maximum = 60000)]
    pub respond_timeout_ms: Option<u64>,
}

/// How a webhook trigger answers its caller.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RespondMode {
    Async,
    Sync,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PluginActionNodeConfig {
    /// `bacon-plugin-<name>`.
    pub plugin_id: String,
    /// One of the plugin's action keys.
    pub action_name: String,
    /// The action input (usually an object; default `{}`); strings are minijinja templates over
    /// `{ trigger, input, vars, nodes: { <id>: { output } } }`.
    #[serde(default = "empty_object")]
    pub payload: Value,
    /// Overrides the action's retry policy.
    pub retry: Option<RetryPolicy>,
    /// Overrides the action's timeout, in milliseconds (at most 4 minutes: below the step lease).
    #[schema(minimum = 1, maximum = 240000)]
    pub timeout_ms: Option<u64>,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConditionNodeConfig {
    /// A minijinja expression: `nodes.fetch.output.status == 200`.
    pub expression: String,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TransformNodeConfig {
    /// Variable name -> template.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub set: Map<String, Value>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DelayNodeConfig {
    #[schema(minimum = 0)]
    pub duration_ms: u64,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AiContextNodeConfig {
    #[schema(minimum = 0)]
    pub max_tokens: Option<u32>,
    #[schema(minimum = 0)]
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EndNodeConfig {}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MapNodeConfig {
    /// An expression giving the array: `trigger.order.lineItems`. At most 1,000 items.
    pub items: String,
    /// Items in flight at once (default 10).
    #[schema(minimum = 1, maximum = 100)]
    pub concurrency: Option<u32>,
    /// How many items may fail before the map fails (default 0); a failed item's result is null.
    #[serde(default)]
    #[schema(minimum = 0)]
    pub tolerated_failures: u32,
    /// What runs for each item: no trigger; it starts at the nodes no edge enters, which see
    /// `item` and `index` besides the run's context. A `subflow` node here runs a flow per item.
    /// Each item's result is the output of the last node of this graph that ran.
    #[schema(no_recursion)]
    pub graph: Box<FlowGraph>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubflowNodeConfig {
    /// The child flow (`flow_…`).
    pub flow_id: String,
    /// The child flow's version (default: its current one when the node runs).
    #[schema(minimum = 1)]
    pub version: Option<i32>,
    /// The child's input; strings are templates.
    #[serde(default = "empty_object")]
    pub input: Value,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WaitNodeConfig {
    /// The name `POST /v1/runs/{runId}/events/{name}` resumes it by (default: the node's id);
    /// the request body becomes the node's output.
    pub event: Option<String>,
    /// Which deliveries resume it: their event becomes the node's output.
    pub correlation: Option<Correlation>,
    /// Issues a signed resume link: `resume.<nodeId>` in the templates of the steps before it
    /// (send it to the approver; it is shown nowhere else). A POST to it ends the
    /// wait with its JSON body as the output; no API key needed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub approval: bool,
    /// After this long the wait takes its `timeout` edges (without any, it fails with
    /// `kind: "timeout"`). At most 30 days; none waits for good.
    #[schema(minimum = 1, maximum = 2_592_000_000_u64)]
    pub timeout_ms: Option<u64>,
}

/// A delivery resumes the wait when its event, keyed by `eventKey`, equals this run's `key`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Correlation {
    /// Deliveries verified by this plugin (`webhook` for plain webhooks).
    pub plugin_id: String,
    /// An expression over the run: `trigger.conversationId`.
    pub key: String,
    /// An expression over the delivery, whose event is `trigger` (default: `key`).
    pub event_key: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RespondNodeConfig {
    /// The HTTP status (default 200).
    #[serde(default = "ok_status")]
    #[schema(minimum = 100, maximum = 599)]
    pub status: u16,
    /// Header name -> template.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub headers: Map<String, Value>,
    /// The body: a string is sent as text, anything else as JSON; strings are templates.
    #[serde(default)]
    pub body: Value,
}

fn ok_status() -> u16 {
    200
}

/// A directed edge; `when` labels the outgoing edges of a condition (`"true"` / `"false"`);
/// an `error` edge is taken only when its source fails for good.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FlowEdge {
    pub id: String,
    pub source: String,
    pub target: String,
    pub when: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<EdgeKind>,
}

/// Which outcome of its source an edge follows: `next` (the default) when it succeeded, `error`
/// when it failed for good (its error is `nodes.<id>.error`, and the run goes on instead of
/// failing), `timeout` when its source, a `wait`, timed out.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    Next,
    Error,
    Timeout,
}

/// A retry policy; `maxAttempts` counts every attempt, the first included.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
#[schema(discriminator(property_name = "kind", mapping(
    ("none" = "#/components/schemas/NoRetry"),
    ("fixed" = "#/components/schemas/FixedRetry"),
    ("exponential" = "#/components/schemas/ExponentialRetry"),
)))]
pub enum RetryPolicy {
    None(NoRetry),
    Fixed(FixedRetry),
    Exponential(ExponentialRetry),
}

/// One attempt, no retry.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoRetry {
    pub kind: NoRetryKind,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoRetryKind {
    None,
}

/// The same wait between attempts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FixedRetry {
    pub kind: FixedRetryKind,
    #[schema(minimum = 0)]
    pub interval_ms: u64,
    #[schema(minimum = 0)]
    pub max_attempts: u32,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FixedRetryKind {
    Fixed,
}

/// Waits of `initialMs`, then times `multiplier`, capped at `maxIntervalMs`; with `jitter`, each
/// wait is drawn from its upper half, so retries of many runs spread out.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExponentialRetry {
    pub kind: ExponentialRetryKind,
    #[schema(minimum = 0)]
    pub initial_ms: u64,
    pub multiplier: f64,
    #[schema(minimum = 0)]
    pub max_interval_ms: u64,
    #[schema(minimum = 0)]
    pub max_attempts: u32,
    pub jitter: bool,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExponentialRetryKind {
    Exponential,
}

#[cfg(test)]
mod tests {
    use bacon_engine::flows::graph as engine;
    use serde_json::json;

    use super::*;

    fn every_node_type() -> Value {
        json!({
            "nodes": [
                {"id": "start", "type": "trigger", "config": {"kind": "plugin", "pluginId": "p", "triggerKey": "t", "respond": "sync", "respondTimeoutMs": 5}},
                {"id": "call", "type": "plugin_action", "config": {"pluginId": "p", "actionName": "a",
                    "payload": {"x": "{{ input.x }}"}, "timeoutMs": 5,
                    "retry": {"kind": "exponential", "initialMs": 1, "multiplier": 2.0, "maxIntervalMs": 9,
                        "maxAttempts": 3, "jitter": true}}},
                {"id": "check", "type": "condition", "config": {"expression": "1 == 1"}},
                {"id": "set", "type": "transform", "config": {"set": {"a": "{{ 1 }}"}}},
                {"id": "wait", "type": "delay", "config": {"durationMs": 10}},
                {"id": "ai", "type": "ai_context", "config": {"maxTokens": 100}},
                {"id": "done", "type": "end", "config": {}},
                {"id": "lenient", "type": "plugin_action", "continueOnFail": true, "config": {"pluginId": "p", "actionName": "a"}},
                {"id": "each", "type": "map", "config": {"items": "input.items", "concurrency": 5, "toleratedFailures": 1,
                    "graph": {"nodes": [{"id": "one", "type": "subflow", "config": {"flowId": "flow_x", "version": 2, "input": {"i": "{{ item }}"}}}],
                              "edges": []}}},
                {"id": "reply", "type": "wait", "config": {"event": "reply", "timeoutMs": 100, "approval": true,
                    "correlation": {"pluginId": "p", "key": "trigger.conversationId", "eventKey": "trigger.conversationId"}}},
                {"id": "answer", "type": "respond", "config": {"status": 201, "headers": {"x-a": "b"}, "body": {"ok": true}}}
            ],
            "edges": [{"id": "e1", "source": "start", "target": "call", "when": null},
                      {"id": "e2", "source": "check", "target": "set", "when": "true"},
                      {"id": "e3", "source": "call", "target": "done", "when": null, "kind": "error"},
                      {"id": "e4", "source": "reply", "target": "done", "when": null, "kind": "timeout"}],
            "timeoutMs": 60000
        })
    }

    #[test]
    fn the_documented_graph_is_the_engine_graph() {
        let value = every_node_type();
        let documented: FlowGraph = serde_json::from_value(value.clone()).expect("the API type reads it");
        let parsed: engine::FlowGraph = serde_json::from_value(value).expect("the engine reads it");
        assert_eq!(
            serde_json::to_value(&parsed).expect("serialises"),
            serde_json::to_value(
                serde_json::from_value::<engine::FlowGraph>(serde_json::to_value(&documented).expect("serialises"))
                    .expect("the engine reads what the API type writes")
            )
            .expect("serialises"),
        );
        for wrong in [
            json!({"nodes": [{"id": "a", "type": "end", "config": {"x": 1}}]}),
            json!({"nodes": [{"id": "a", "type": "teleport", "config": {}}]}),
            json!({"nodes": [], "extra": 1}),
            json!({"edges": []}),
        ] {
            assert!(serde_json::from_value::<FlowGraph>(wrong.clone()).is_err(), "API type accepted {wrong}");
            assert!(serde_json::from_value::<engine::FlowGraph>(wrong.clone()).is_err(), "engine accepted {wrong}");
        }
    }
}
