//! Planning a run: given the graph, the run's input and what its steps have done so far, which
//! nodes are done, which steps must be created, and whether the run has finished.
//!
//! Pure and deterministic, so every advance replays the graph from the trigger: inline nodes
//! (`condition`, `transform`, `end`) are evaluated again from the same inputs, and durable nodes
//! (`plugin_action`, `delay`, `ai_context`) take their recorded step outcome; an `ai_context`
//! step's `snippets` become `vars.aiContext`. Nodes are visited
//! in topological order; a node runs once all its predecessors are settled and at least one
//! incoming edge was taken (a condition takes only its `when` edge). A node that fails for good
//! takes its `error` edges when it has any, or its normal edges when it is `continueOnFail`
//! (a condition: its `false` edge), its error in `nodes.<id>.error`; otherwise the run fails.
//!
//! Linear in the graph: each node and edge is looked at once, through the graph's
//! [`GraphIndex`](crate::flows::graph::GraphIndex), and the template [`Context`] grows by one
//! value per node done instead of being rebuilt for each (issue #13).

use std::borrow::Cow;
use std::collections::HashMap;

use serde_json::{Map, Value, json};

use crate::flows::graph::{EdgeKind, FlowGraph, MapConfig, NodeKind, TransformConfig};
use crate::flows::template::{self, Context, TemplateLimits};

/// What a durable node's step has done.
#[derive(Debug, Clone, PartialEq)]
pub enum StepState {
    /// Created, running, waiting to retry, or suspended (a wait, a child run).
    InFlight,
    Succeeded(Value),
    Failed(Value),
}

/// A step the planner wants created.
#[derive(Debug, Clone, PartialEq)]
pub struct NewStep {
    /// The node's id, or for an item of a `map`, `<map>[<index>].<node>`.
    pub node_id: String,
    pub node_type: &'static str,
    /// For `delay` nodes: how long to wait.
    pub delay_ms: u64,
}

/// The result of planning.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Steps are in flight (or about to be created).
    Waiting,
    Succeeded,
    /// A step failed or an inline node could not be evaluated.
    Failed(Value),
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub new_steps: Vec<NewStep>,
    /// The template context the plan reached: the run's variables and the outputs of the nodes
    /// done so far (what a step's payload is rendered against).
    pub context: Context,
    pub outcome: Outcome,
    /// What the first `respond` node reached rendered: `{status, headers, body}`.
    pub response: Option<Value>,
    /// The context the focused step's node saw (see [`context_for`]).
    focused: Option<Context>,
}

impl Plan {
    /// The run's variables as the plan left them.
    pub fn vars(&self) -> &Map<String, Value> {
        self.context.vars()
    }
}

#[derive(Clone, Copy, PartialEq)]
enum NodeState {
    /// Not settled yet (or never visited: a node on a cycle).
    Pending,
    /// Done; for a condition, its result.
    Done(Option<bool>),
    /// Failed for good, with an `error` edge to take.
    Errored,
    /// A wait that timed out, with a `timeout` edge to take.
    TimedOut,
    Skipped,
}

/// Plans the next move of a run; its templates are held to `limits`.
pub fn plan(
    graph: &FlowGraph,
    input: &Value,
    trigger: &Value,
    steps: &HashMap<String, StepState>,
    limits: &TemplateLimits,
) -> Plan {
    plan_focused(graph, input, trigger, steps, limits, None)
}

/// The context a step's node is rendered against: for a top-level node, the whole plan's; for
/// an item of a `map`, the item's (with `item`, `index` and the item's own node outputs).
pub fn context_for(
    graph: &FlowGraph,
    input: &Value,
    trigger: &Value,
    steps: &HashMap<String, StepState>,
    limits: &TemplateLimits,
    step_node_id: &str,
) -> Context {
    let plan = plan_focused(graph, input, trigger, steps, limits, Some(step_node_id));
    plan.focused.unwrap_or(plan.context)
}

fn plan_focused(
    graph: &FlowGraph,
    input: &Value,
    trigger: &Value,
    steps: &HashMap<String, StepState>,
    limits: &TemplateLimits,
    focus: Option<&str>,
) -> Plan {
    let mut walker = Walker { trigger, steps, limits, new_steps: Vec::new(), response: None, focus, focused: None };
    let walked = walker.walk(graph, Context::new(trigger, input), "");
    Plan {
        new_steps: walker.new_steps,
        context: walked.context,
        outcome: walked.outcome,
        response: walker.response,
        focused: walker.focused,
    }
}

/// One pass over a graph (a flow's, or a `map` item's).
struct Walker<'a> {
    trigger: &'a Value,
    steps: &'a HashMap<String, StepState>,
    limits: &'a TemplateLimits,
    new_steps: Vec<NewStep>,
    response: Option<Value>,
    focus: Option<&'a str>,
    focused: Option<Context>,
}

struct Walked {
    context: Context,
    outcome: Outcome,
    /// The output of the last node done, in topological order (a `map` item's result).
    last_output: Value,
}

impl Walker<'_> {
    /// Walks `graph` in topological order from its trigger (or, in a `map`'s graph, from the
    /// nodes no edge enters); `prefix` is prepended to node ids to name their steps.
    fn walk(&mut self, graph: &FlowGraph, mut context: Context, prefix: &str) -> Walked {
        let index = graph.index();
        let limits = self.limits;
        let mut state = vec![NodeState::Pending; graph.nodes.len()];
        let mut failure: Option<Value> = None;
        let mut waiting = false;
        let mut last_output = Value::Null;
        for &i in index.topological() {
            let node = &graph.nodes[i];
            let id = node.id.as_str();
            let incoming = index.incoming(i);
            let reached = if matches!(node.kind, NodeKind::Trigger(_)) || (!prefix.is_empty() && incoming.is_empty()) {
                true
            } else {
                let sources = || incoming.iter().filter_map(|&j| Some((j, index.ends(j)?.0)));
                if sources().any(|(_, s)| state[s] == NodeState::Pending) {
                    continue;
                }
                sources().any(|(j, s)| {
                    let edge = &graph.edges[j];
                    match state[s] {
                        NodeState::Done(None) => edge.kind == EdgeKind::Next,
                        NodeState::Done(Some(result)) => {
                            edge.kind == EdgeKind::Next
                                && edge.when.as_deref() == Some(if result { "true" } else { "false" })
                        }
                        NodeState::Errored => edge.kind == EdgeKind::Error,
                        NodeState::TimedOut => edge.kind == EdgeKind::Timeout,
                        NodeState::Pending | NodeState::Skipped => false,
                    }
                })
            };
            if !reached {
                state[i] = NodeState::Skipped;
                continue;
            }
            let step_id: Cow<'_, str> =
                if prefix.is_empty() { Cow::Borrowed(id) } else { Cow::Owned(format!("{prefix}{id}")) };
            let result: Result<Option<Value>, Value> = match &node.kind {
                NodeKind::Trigger(_) => Ok(Some(self.trigger.clone())),
                NodeKind::Condition(c) => template::evaluate_condition_in(&c.expression, &context, limits)
                    .map(|r| Some(json!({"result": r})))
                    .map_err(|e| json!({"node": id, "message": format!("the condition failed: {}", e.message)})),
                NodeKind::Transform(t) => transform(id, t, &mut context, limits),
                NodeKind::End(_) => Ok(Some(json!({}))),
                NodeKind::Respond(r) => {
                    let rendered = template::render_in(
                        &json!({"status": r.status, "headers": r.headers, "body": r.body}),
                        &context,
                        limits,
                        limits.step_input_cap(),
                    );
                    match rendered {
                        Ok(response) => {
                            if prefix.is_empty() && self.response.is_none() {
                                self.response = Some(response.clone());
                            }
                            Ok(Some(response))
                        }
                        Err(e) => Err(
                            json!({"node": id, "pointer": e.pointer, "message": format!("the response failed: {}", e.message)}),
                        ),
                    }
                }
                NodeKind::Map(m) => self.map(id, &step_id, m, &context),
                _ => {
                    if self.focus == Some(step_id.as_ref()) && !prefix.is_empty() {
                        self.focused = Some(context.clone());
                    }
                    match self.steps.get(step_id.as_ref()) {
                        None => {
                            let delay_ms = if let NodeKind::Delay(d) = &node.kind { d.duration_ms } else { 0 };
                            self.new_steps.push(NewStep {
                                node_id: step_id.into_owned(),
                                node_type: node.kind.type_name(),
                                delay_ms,
                            });
                            Ok(None)
                        }
                        Some(StepState::InFlight) => Ok(None),
                        Some(StepState::Succeeded(out)) => {
                            if matches!(node.kind, NodeKind::AiContext(_)) {
                                context.set_var("aiContext", crate::enrich::snippets_of(out));
                            }
                            Ok(Some(out.clone()))
                        }
                        Some(StepState::Failed(err)) => Err(err.clone()),
                    }
                }
            };
            match result {
                Ok(Some(out)) => {
                    let condition =
                        matches!(node.kind, NodeKind::Condition(_)).then(|| out["result"] == Value::Bool(true));
                    context.set_output(id, &out);
                    last_output = out;
                    state[i] = NodeState::Done(condition);
                }
                Ok(None) => waiting = true,
                Err(err) => {
                    let takes = |kind: EdgeKind| index.outgoing(i).iter().any(|&j| graph.edges[j].kind == kind);
                    let timed_out = matches!(node.kind, NodeKind::Wait(_)) && err["kind"] == "timeout";
                    if timed_out && takes(EdgeKind::Timeout) {
                        context.set_error(id, &err);
                        state[i] = NodeState::TimedOut;
                        continue;
                    }
                    let handled = takes(EdgeKind::Error);
                    if handled || node.continue_on_fail {
                        context.set_error(id, &err);
                        state[i] = if handled {
                            NodeState::Errored
                        } else {
                            NodeState::Done(matches!(node.kind, NodeKind::Condition(_)).then_some(false))
                        };
                    } else {
                        failure.get_or_insert(err);
                    }
                }
            }
        }
        let outcome = match (failure, waiting) {
            (Some(err), _) => Outcome::Failed(err),
            (None, true) => Outcome::Waiting,
            (None, false) => Outcome::Succeeded,
        };
        Walked { context, outcome, last_output }
    }

    /// A `map`: walks its graph once per item, starting items in order while fewer than its
    /// concurrency are in flight. Done when every item is; fails when more items failed than
    /// it tolerates.
    fn map(&mut self, id: &str, step_id: &str, m: &MapConfig, context: &Context) -> Result<Option<Value>, Value> {
        let failed = |message: String| json!({"node": id, "message": message});
        let items = match template::evaluate_in(&m.items, context, self.limits) {
            Ok(Value::Array(items)) => items,
            Ok(other) => {
                let kind = match other {
                    Value::Null => "null",
                    Value::Bool(_) => "a boolean",
                    Value::Number(_) => "a number",
                    Value::String(_) => "a string",
                    _ => "an object",
                };
                return Err(failed(format!("the map's items (`{}`) are {kind}, not an array", m.items)));
            }
            Err(e) => return Err(failed(format!("the map's items failed: {}", e.message))),
        };
        if items.len() > MapConfig::MAX_ITEMS {
            return Err(failed(format!(
                "the map has {} items; a map may have at most {}",
                items.len(),
                MapConfig::MAX_ITEMS
            )));
        }
        // Only step nodes say whether an item has started: an item of inline nodes only is
        // settled in the pass that reaches it.
        let step_nodes: Vec<&str> = m
            .graph
            .nodes
            .iter()
            .filter(|n| n.kind.is_step() || matches!(n.kind, NodeKind::Map(_)))
            .map(|n| n.id.as_str())
            .collect();
        let concurrency = m.concurrency();
        let mut results = vec![Value::Null; items.len()];
        let mut failures = Vec::new();
        let mut in_flight = 0;
        let mut pending = false;
        for (i, item) in items.iter().enumerate() {
            let prefix = format!("{step_id}[{i}].");
            let started = step_nodes.iter().any(|node| self.started(&format!("{prefix}{node}")));
            if !started && in_flight >= concurrency {
                // Items start in order: no later item has started either.
                pending = true;
                break;
            }
            let walked = self.walk(&m.graph, context.for_item(item, i), &prefix);
            match walked.outcome {
                Outcome::Waiting => {
                    in_flight += 1;
                    pending = true;
                }
                Outcome::Succeeded => results[i] = walked.last_output,
                Outcome::Failed(error) => failures.push(json!({"index": i, "error": error})),
            }
        }
        if failures.len() > m.tolerated_failures as usize {
            let first = failures[0]["error"]["message"].as_str().unwrap_or("an item failed").to_string();
            return Err(json!({
                "node": id,
                "message": format!("{} of the map's items failed (it tolerates {}); the first: {first}", failures.len(), m.tolerated_failures),
                "failures": failures,
            }));
        }
        if pending {
            return Ok(None);
        }
        Ok(Some(json!({"results": results, "failures": failures})))
    }

    /// Whether a step (or, for a nested map, any step under it) exists for `step_id`.
    fn started(&self, step_id: &str) -> bool {
        self.steps.contains_key(step_id) || {
            let nested = format!("{step_id}[");
            self.steps.keys().any(|k| k.starts_with(&nested))
        }
    }
}

fn transform(
    id: &str,
    t: &TransformConfig,
    context: &mut Context,
    limits: &TemplateLimits,
) -> Result<Option<Value>, Value> {
    let failed = |message: String, pointer: &str| json!({"node": id, "pointer": pointer, "message": format!("the transform failed: {message}")});
    match template::render_in(&Value::Object(t.set.clone()), context, limits, limits.vars_cap()) {
        Ok(v) => {
            let set = v.as_object().cloned().unwrap_or_default();
            // Checked before anything is set: a failure an error path handles leaves the vars
            // as they were.
            if context.vars_bytes_with(&set) > limits.max_vars_bytes {
                Err(failed(
                    format!("the run's vars would pass {} bytes (flows.max_vars_bytes)", limits.max_vars_bytes),
                    "",
                ))
            } else {
                for (name, value) in set {
                    context.set_var(&name, value);
                }
                Ok(Some(v))
            }
        }
        Err(e) => Err(failed(e.message, &e.pointer)),
    }
}

#[cfg(test)]
mod constructs_tests;

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(graph: &FlowGraph, input: &Value, trigger: &Value, steps: &HashMap<String, StepState>) -> Plan {
        super::plan(graph, input, trigger, steps, &TemplateLimits::default())
    }

    fn graph() -> FlowGraph {
        serde_json::from_value(json!({
            "nodes": [
                {"id": "t", "type": "trigger", "config": {}},
                {"id": "call", "type": "plugin_action", "config": {"pluginId": "p", "actionName": "a"}},
                {"id": "c", "type": "condition", "config": {"expression": "nodes.call.output.status == 200"}},
                {"id": "note", "type": "transform", "config": {"set": {"greeting": "hi {{ input.name }}"}}},
                {"id": "yes", "type": "plugin_action", "config": {"pluginId": "p", "actionName": "a"}},
                {"id": "no", "type": "plugin_action", "config": {"pluginId": "p", "actionName": "a"}},
                {"id": "end", "type": "end", "config": {}}
            ],
            "edges": [
                {"id": "1", "source": "t", "target": "call"},
                {"id": "2", "source": "call", "target": "c"},
                {"id": "3", "source": "c", "target": "note", "when": "true"},
                {"id": "4", "source": "note", "target": "yes"},
                {"id": "5", "source": "c", "target": "no", "when": "false"},
                {"id": "6", "source": "yes", "target": "end"},
                {"id": "7", "source": "no", "target": "end"}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn walks_the_taken_branch_only() {
        let g = graph();
        let input = json!({"name": "Ada"});
        let mut steps = HashMap::new();
        let p = plan(&g, &input, &json!({}), &steps);
        assert_eq!(p.new_steps.iter().map(|s| s.node_id.as_str()).collect::<Vec<_>>(), ["call"]);
        assert_eq!(p.outcome, Outcome::Waiting);

        steps.insert("call".to_string(), StepState::Succeeded(json!({"status": 200})));
        let p = plan(&g, &input, &json!({}), &steps);
        assert_eq!(p.new_steps.iter().map(|s| s.node_id.as_str()).collect::<Vec<_>>(), ["yes"]);
        assert_eq!(p.vars()["greeting"], "hi Ada");

        steps.insert("yes".to_string(), StepState::Succeeded(json!({})));
        let p = plan(&g, &input, &json!({}), &steps);
        assert!(p.new_steps.is_empty());
        assert_eq!(p.outcome, Outcome::Succeeded, "`no` was skipped and `end` reached");
    }

    #[test]
    fn an_ai_context_node_is_a_step_whose_snippets_become_vars() {
        let g: FlowGraph = serde_json::from_value(json!({
            "nodes": [
                {"id": "t", "type": "trigger", "config": {}},
                {"id": "ctx", "type": "ai_context", "config": {"maxTokens": 100}},
                {"id": "end", "type": "end", "config": {}}
            ],
            "edges": [{"id": "1", "source": "t", "target": "ctx"}, {"id": "2", "source": "ctx", "target": "end"}]
        }))
        .unwrap();
        let mut steps = HashMap::new();
        let p = plan(&g, &json!({}), &json!({}), &steps);
        assert_eq!(p.new_steps, [NewStep { node_id: "ctx".into(), node_type: "ai_context", delay_ms: 0 }]);
        assert_eq!(p.outcome, Outcome::Waiting);

        let snippets = json!([{"pluginId": "p", "source": "s:1", "content": "c", "weight": 1.0, "tokens": 1}]);
        steps.insert("ctx".to_string(), StepState::Succeeded(json!({"snippets": snippets, "skipped": []})));
        let p = plan(&g, &json!({}), &json!({}), &steps);
        assert_eq!(p.vars()["aiContext"], snippets);
        assert_eq!(p.outcome, Outcome::Succeeded);
    }

    #[test]
    fn a_failed_step_fails_the_run() {
        let mut steps = HashMap::new();
        steps.insert("call".to_string(), StepState::Failed(json!({"message": "boom"})));
        let p = plan(&graph(), &json!({}), &json!({}), &steps);
        assert_eq!(p.outcome, Outcome::Failed(json!({"message": "boom"})));
    }

    fn chain(nodes: Vec<Value>) -> FlowGraph {
        let edges: Vec<Value> = nodes
            .windows(2)
            .enumerate()
            .map(|(i, w)| json!({"id": format!("e{i}"), "source": w[0]["id"], "target": w[1]["id"]}))
            .collect();
        serde_json::from_value(json!({"nodes": nodes, "edges": edges})).unwrap()
    }

    #[test]
    fn a_9000_node_chain_of_transforms_is_planned_in_one_pass() {
        // Issue #13: this took 77 s when each node scanned every edge and rebuilt the context.
        let mut nodes = vec![json!({"id": "t", "type": "trigger", "config": {}})];
        nodes.extend((1..9_000).map(|i| {
            json!({"id": format!("n{i}"), "type": "transform", "config": {"set": {"count": "{{ (vars.count or 0) + 1 }}", "last": "{{ nodes.t.output.kind }}"}}})
        }));
        let p = plan(&chain(nodes), &json!({}), &json!({"kind": "manual"}), &HashMap::new());
        assert_eq!(p.outcome, Outcome::Succeeded);
        assert!(p.new_steps.is_empty());
        assert_eq!(p.vars()["count"], 8_999, "every transform ran once, each after its predecessor");
        assert_eq!(p.vars()["last"], "manual");
    }

    #[test]
    fn a_9000_node_chain_of_delays_creates_one_step_at_a_time() {
        let mut nodes = vec![json!({"id": "t", "type": "trigger", "config": {}})];
        nodes.extend((1..9_000).map(|i| json!({"id": format!("d{i}"), "type": "delay", "config": {"durationMs": i}})));
        let g = chain(nodes);
        let p = plan(&g, &json!({}), &json!({}), &HashMap::new());
        assert_eq!(p.new_steps, [NewStep { node_id: "d1".into(), node_type: "delay", delay_ms: 1 }]);
        let mut steps: HashMap<String, StepState> =
            (1..8_999).map(|i| (format!("d{i}"), StepState::Succeeded(json!({})))).collect();
        let p = plan(&g, &json!({}), &json!({}), &steps);
        assert_eq!(p.new_steps, [NewStep { node_id: "d8999".into(), node_type: "delay", delay_ms: 8_999 }]);
        assert_eq!(p.outcome, Outcome::Waiting);
        steps.insert("d8999".into(), StepState::Succeeded(json!({})));
        assert_eq!(plan(&g, &json!({}), &json!({}), &steps).outcome, Outcome::Succeeded);
    }

    #[test]
    fn a_5000_wide_fan_out_starts_every_branch_and_joins_once_all_are_done() {
        let width = 5_000;
        let mut nodes = vec![json!({"id": "t", "type": "trigger", "config": {}})];
        let mut edges = Vec::new();
        for i in 0..width {
            nodes.push(
                json!({"id": format!("b{i}"), "type": "plugin_action", "config": {"pluginId": "p", "actionName": "a"}}),
            );
            edges.push(json!({"id": format!("in{i}"), "source": "t", "target": format!("b{i}")}));
            edges.push(json!({"id": format!("out{i}"), "source": format!("b{i}"), "target": "join"}));
        }
        nodes.push(json!({"id": "join", "type": "transform", "config": {"set": {"seen": "{{ nodes | length }}"}}}));
        let g: FlowGraph = serde_json::from_value(json!({"nodes": nodes, "edges": edges})).unwrap();
        let p = plan(&g, &json!({}), &json!({}), &HashMap::new());
        let ids: Vec<String> = p.new_steps.iter().map(|s| s.node_id.clone()).collect();
        assert_eq!(ids, (0..width).map(|i| format!("b{i}")).collect::<Vec<_>>(), "every branch, in graph order");

        let mut steps: HashMap<String, StepState> =
            (0..width).map(|i| (format!("b{i}"), StepState::Succeeded(json!({"i": i})))).collect();
        steps.insert("b7".into(), StepState::InFlight);
        let p = plan(&g, &json!({}), &json!({}), &steps);
        assert!(p.new_steps.is_empty());
        assert_eq!(p.outcome, Outcome::Waiting, "the join waits for its last branch");
        assert!(p.vars().is_empty());

        steps.insert("b7".into(), StepState::Succeeded(json!({"i": 7})));
        let p = plan(&g, &json!({}), &json!({}), &steps);
        assert_eq!(p.outcome, Outcome::Succeeded);
        assert_eq!(p.vars()["seen"], width + 1, "the join sees the trigger's and every branch's output");
    }

    /// `call` fails; `ok` follows it normally, `handle` on its error edge (when `error_edge`).
    fn failing_call(error_edge: bool, continue_on_fail: bool) -> FlowGraph {
        let mut edges = vec![
            json!({"id": "1", "source": "t", "target": "call"}),
            json!({"id": "2", "source": "call", "target": "ok"}),
        ];
        if error_edge {
            edges.push(json!({"id": "3", "source": "call", "target": "handle", "kind": "error"}));
        }
        serde_json::from_value(json!({
            "nodes": [
                {"id": "t", "type": "trigger", "config": {}},
                {"id": "call", "type": "plugin_action", "continueOnFail": continue_on_fail,
                    "config": {"pluginId": "p", "actionName": "a"}},
                {"id": "ok", "type": "transform", "config": {"set": {
                    "saw": "{% if nodes.call.error is defined %}{{ nodes.call.error.message }}{% endif %}"}}},
                {"id": "handle", "type": "transform", "config": {"set": {"handled": "{{ nodes.call.error.message }}"}}}
            ],
            "edges": edges
        }))
        .unwrap()
    }

    #[test]
    fn a_failure_takes_the_error_edge_or_goes_on_when_asked_or_fails_the_run() {
        let failed: HashMap<String, StepState> =
            [("call".to_string(), StepState::Failed(json!({"message": "card declined"})))].into();

        let p = plan(&failing_call(true, false), &json!({}), &json!({}), &failed);
        assert_eq!(p.outcome, Outcome::Succeeded, "the error path handled it");
        assert_eq!(p.vars()["handled"], "card declined");
        assert!(!p.vars().contains_key("saw"), "the normal edge is not taken");

        let p = plan(&failing_call(false, true), &json!({}), &json!({}), &failed);
        assert_eq!(p.outcome, Outcome::Succeeded, "continueOnFail goes on");
        assert_eq!(p.vars()["saw"], "card declined", "the next node sees the error");

        let p = plan(&failing_call(false, false), &json!({}), &json!({}), &failed);
        assert_eq!(p.outcome, Outcome::Failed(json!({"message": "card declined"})));

        let succeeded: HashMap<String, StepState> = [("call".to_string(), StepState::Succeeded(json!({})))].into();
        let p = plan(&failing_call(true, false), &json!({}), &json!({}), &succeeded);
        assert_eq!(p.outcome, Outcome::Succeeded);
        assert_eq!(p.vars()["saw"], "", "a success has no error");
        assert!(!p.vars().contains_key("handled"), "a success skips the error edge");
    }

    #[test]
    fn a_transform_past_the_vars_limit_that_goes_on_leaves_the_vars_as_they_were() {
        let g: FlowGraph = serde_json::from_value(json!({
            "nodes": [
                {"id": "t", "type": "trigger", "config": {}},
                {"id": "small", "type": "transform", "config": {"set": {"a": "{{ 1 }}"}}},
                {"id": "big", "type": "transform", "continueOnFail": true,
                    "config": {"set": {"b": "{{ 'x' * 500 }}"}}},
                {"id": "after", "type": "transform", "config": {"set": {"c": "{{ nodes.big.error.message is defined }}"}}}
            ],
            "edges": [
                {"id": "1", "source": "t", "target": "small"},
                {"id": "2", "source": "small", "target": "big"},
                {"id": "3", "source": "big", "target": "after"}
            ]
        }))
        .unwrap();
        let limits = TemplateLimits { max_vars_bytes: 100, ..TemplateLimits::default() };
        let p = super::plan(&g, &json!({}), &json!({}), &HashMap::new(), &limits);
        assert_eq!(p.outcome, Outcome::Succeeded);
        assert_eq!(p.vars().get("b"), None, "the failed transform set nothing");
        assert_eq!(p.vars()["a"], 1);
        assert_eq!(p.vars()["c"], true);
    }
}
