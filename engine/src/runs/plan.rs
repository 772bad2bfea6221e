//! Planning a run: given the graph, the run's input and what its steps have done so far, which
//! nodes are done, which steps must be created, and whether the run has finished.
//!
//! Pure and deterministic, so every advance replays the graph from the trigger: inline nodes
//! (`condition`, `transform`, `end`) are evaluated again from the same inputs, and durable nodes
//! (`plugin_action`, `delay`, `ai_context`) take their recorded step outcome; an `ai_context`
//! step's `snippets` become `vars.aiContext`. Nodes are visited
//! in topological order; a node runs once all its predecessors are settled and at least one
//! incoming edge was taken (a condition takes only its `when` edge).

use std::collections::{HashMap, VecDeque};

use serde_json::{Map, Value, json};

use crate::flows::graph::{FlowGraph, NodeKind};
use crate::flows::template;

/// What a durable node's step has done.
#[derive(Debug, Clone, PartialEq)]
pub enum StepState {
    /// Created, running or waiting to retry.
    InFlight,
    Succeeded(Value),
    Failed(Value),
}

/// A step the planner wants created.
#[derive(Debug, Clone, PartialEq)]
pub struct NewStep {
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

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub new_steps: Vec<NewStep>,
    pub vars: Map<String, Value>,
    pub outcome: Outcome,
}

#[derive(Clone, PartialEq)]
enum NodeState {
    Pending,
    Done(Value),
    Skipped,
}

fn topological(graph: &FlowGraph) -> Vec<&str> {
    let mut indegree: HashMap<&str, usize> = graph.nodes.iter().map(|n| (n.id.as_str(), 0)).collect();
    for e in &graph.edges {
        *indegree.entry(e.target.as_str()).or_default() += 1;
    }
    let mut queue: VecDeque<&str> = graph.nodes.iter().map(|n| n.id.as_str()).filter(|id| indegree[id] == 0).collect();
    let mut order = Vec::new();
    while let Some(id) = queue.pop_front() {
        order.push(id);
        for e in graph.outgoing(id) {
            if let Some(d) = indegree.get_mut(e.target.as_str()) {
                *d -= 1;
                if *d == 0 {
                    queue.push_back(e.target.as_str());
                }
            }
        }
    }
    order
}

/// Plans the next move of a run.
pub fn plan(graph: &FlowGraph, input: &Value, trigger: &Value, steps: &HashMap<String, StepState>) -> Plan {
    let mut vars = Map::new();
    let mut outputs = Map::new();
    let mut state: HashMap<&str, NodeState> = HashMap::new();
    let mut new_steps = Vec::new();
    let mut failure: Option<Value> = None;
    let mut waiting = false;
    let context = |vars: &Map<String, Value>, outputs: &Map<String, Value>| json!({"trigger": trigger, "input": input, "vars": vars, "nodes": outputs});
    for id in topological(graph) {
        let Some(node) = graph.node(id) else { continue };
        let reached = if matches!(node.kind, NodeKind::Trigger(_)) {
            true
        } else {
            let incoming: Vec<_> = graph.edges.iter().filter(|e| e.target == id).collect();
            if incoming.iter().any(|e| matches!(state.get(e.source.as_str()), Some(NodeState::Pending) | None)) {
                state.insert(id, NodeState::Pending);
                continue;
            }
            incoming.iter().any(|e| match state.get(e.source.as_str()) {
                Some(NodeState::Done(out)) => match &graph.node(&e.source).map(|n| &n.kind) {
                    Some(NodeKind::Condition(_)) => {
                        e.when.as_deref() == Some(if out["result"] == Value::Bool(true) { "true" } else { "false" })
                    }
                    _ => true,
                },
                _ => false,
            })
        };
        if !reached {
            state.insert(id, NodeState::Skipped);
            continue;
        }
        let ctx = context(&vars, &outputs);
        let result: Result<Option<Value>, Value> = match &node.kind {
            NodeKind::Trigger(_) => Ok(Some(trigger.clone())),
            NodeKind::Condition(c) => template::evaluate_condition(&c.expression, &ctx)
                .map(|r| Some(json!({"result": r})))
                .map_err(|e| json!({"node": id, "message": format!("the condition failed: {}", e.message)})),
            NodeKind::Transform(t) => template::render(&Value::Object(t.set.clone()), &ctx)
                .map(|v| {
                    if let Value::Object(set) = &v {
                        vars.extend(set.clone());
                    }
                    Some(v)
                })
                .map_err(|e| json!({"node": id, "pointer": e.pointer, "message": format!("the transform failed: {}", e.message)})),
            NodeKind::End(_) => Ok(Some(json!({}))),
            NodeKind::PluginAction(_) | NodeKind::Delay(_) | NodeKind::AiContext(_) => match steps.get(id) {
                None => {
                    let delay_ms = if let NodeKind::Delay(d) = &node.kind { d.duration_ms } else { 0 };
                    new_steps.push(NewStep { node_id: id.to_string(), node_type: node.kind.type_name(), delay_ms });
                    Ok(None)
                }
                Some(StepState::InFlight) => Ok(None),
                Some(StepState::Succeeded(out)) => {
                    if matches!(node.kind, NodeKind::AiContext(_)) {
                        vars.insert("aiContext".into(), crate::enrich::snippets_of(out));
                    }
                    Ok(Some(out.clone()))
                }
                Some(StepState::Failed(err)) => Err(err.clone()),
            },
        };
        match result {
            Ok(Some(out)) => {
                outputs.insert(id.to_string(), json!({"output": out}));
                state.insert(id, NodeState::Done(out));
            }
            Ok(None) => {
                waiting = true;
                state.insert(id, NodeState::Pending);
            }
            Err(err) => {
                failure.get_or_insert(err);
                state.insert(id, NodeState::Pending);
            }
        }
    }
    let outcome = match (failure, waiting) {
        (Some(err), _) => Outcome::Failed(err),
        (None, true) => Outcome::Waiting,
        (None, false) => Outcome::Succeeded,
    };
    Plan { new_steps, vars, outcome }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(p.vars["greeting"], "hi Ada");

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
        assert_eq!(p.vars["aiContext"], snippets);
        assert_eq!(p.outcome, Outcome::Succeeded);
    }

    #[test]
    fn a_failed_step_fails_the_run() {
        let mut steps = HashMap::new();
        steps.insert("call".to_string(), StepState::Failed(json!({"message": "boom"})));
        let p = plan(&graph(), &json!({}), &json!({}), &steps);
        assert_eq!(p.outcome, Outcome::Failed(json!({"message": "boom"})));
    }
}
