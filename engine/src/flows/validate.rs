//! What a flow graph must satisfy to be saved. Every fault carries a JSON pointer into the
//! request body (`/graph/nodes/3/config/actionName`), so a client can highlight the node.
//!
//! Rules: at most [`MAX_NODES`] nodes and [`MAX_EDGES`] edges; exactly one trigger, with no
//! incoming edge; unique node and edge ids; edges between existing nodes; no cycles; every node
//! reachable from the trigger; known plugin and action; templates that parse; condition edges
//! labelled `true`/`false` (and only those labelled).

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use super::graph::{EdgeKind, FlowGraph, NodeKind, RespondMode, TriggerKind};
use super::template;
use crate::plugins::settings::FieldProblem;

mod constructs;

/// Which plugins and actions exist (the registry implements it; tests may supply their own).
pub trait ActionCatalog {
    fn has_plugin(&self, plugin_id: &str) -> bool;
    fn has_action(&self, plugin_id: &str, action: &str) -> bool;
    /// Whether the plugin declares a webhook trigger `key` (the default accepts any).
    fn has_webhook_trigger(&self, _plugin_id: &str, _key: &str) -> bool {
        true
    }
}

impl ActionCatalog for crate::plugins::registry::PluginRegistry {
    fn has_plugin(&self, plugin_id: &str) -> bool {
        self.get(plugin_id).is_some()
    }

    fn has_action(&self, plugin_id: &str, action: &str) -> bool {
        self.get(plugin_id).is_some_and(|p| p.definition.find_action(action).is_some())
    }

    fn has_webhook_trigger(&self, plugin_id: &str, key: &str) -> bool {
        self.get(plugin_id)
            .is_some_and(|p| p.definition.triggers.iter().any(|t| t.key == key && t.kind_name() == "webhook"))
    }
}

/// The most nodes a flow may have. Planning a run is linear in the graph, so this bounds the
/// work one advance of a run does (a 10,000-node flow plans in milliseconds), and the rows one
/// run can create.
pub const MAX_NODES: usize = 10_000;

/// The most edges a flow may have (two per node: a fan-out and its join).
pub const MAX_EDGES: usize = 20_000;

/// The longest a synchronous webhook's caller is held.
pub const MAX_RESPOND_TIMEOUT_MS: u64 = 60_000;

fn problem(pointer: String, message: impl Into<String>) -> FieldProblem {
    FieldProblem { pointer, message: message.into() }
}

/// Parses and validates a graph given as JSON at `base` (e.g. `/graph`).
///
/// # Errors
/// Every problem found, each with a pointer.
pub fn parse(value: &Value, base: &str, catalog: &dyn ActionCatalog) -> Result<FlowGraph, Vec<FieldProblem>> {
    let graph: FlowGraph = serde_path_to_error_like(value, base)?;
    let problems = validate(&graph, base, catalog);
    if problems.is_empty() { Ok(graph) } else { Err(problems) }
}

/// Deserialises with a pointer to the first field that does not fit.
fn serde_path_to_error_like(value: &Value, base: &str) -> Result<FlowGraph, Vec<FieldProblem>> {
    serde_json::from_value::<FlowGraph>(value.clone()).map_err(|e| {
        // Locate the node whose shape is wrong, so the pointer is useful without a path tracker.
        let pointer = value["nodes"]
            .as_array()
            .and_then(|nodes| {
                nodes.iter().position(|n| serde_json::from_value::<super::graph::Node>(n.clone()).is_err())
            })
            .map(|i| format!("{base}/nodes/{i}"))
            .unwrap_or_else(|| base.to_string());
        vec![problem(pointer, format!("the graph does not match the flow model: {e}"))]
    })
}

/// Every rule violation of `graph`.
pub fn validate(graph: &FlowGraph, base: &str, catalog: &dyn ActionCatalog) -> Vec<FieldProblem> {
    validate_in(graph, base, catalog, None)
}

/// Every rule violation of a flow's graph (`outer: None`) or of a `map`'s graph, whose
/// templates may also name the nodes in `outer`.
fn validate_in(
    graph: &FlowGraph,
    base: &str,
    catalog: &dyn ActionCatalog,
    outer: Option<&HashSet<String>>,
) -> Vec<FieldProblem> {
    let mut problems = Vec::new();
    // Checked first and alone: the other rules would cost time on a graph refused anyway.
    if graph.nodes.len() > MAX_NODES {
        problems.push(problem(
            format!("{base}/nodes"),
            format!("a flow may have at most {MAX_NODES} nodes; this one has {}", graph.nodes.len()),
        ));
    }
    if graph.edges.len() > MAX_EDGES {
        problems.push(problem(
            format!("{base}/edges"),
            format!("a flow may have at most {MAX_EDGES} edges; this one has {}", graph.edges.len()),
        ));
    }
    if !problems.is_empty() {
        return problems;
    }
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, node) in graph.nodes.iter().enumerate() {
        if node.id.trim().is_empty() {
            problems.push(problem(format!("{base}/nodes/{i}/id"), "a node id must not be empty"));
        }
        if index.insert(node.id.as_str(), i).is_some() {
            problems.push(problem(format!("{base}/nodes/{i}/id"), format!("node id `{}` is used twice", node.id)));
        }
        if node.id.contains(['[', ']']) {
            // `<map>[<index>].<node>` names a map item's step.
            problems.push(problem(format!("{base}/nodes/{i}/id"), "a node id may not contain `[` or `]`"));
        }
    }
    let known = |id: &str| index.contains_key(id) || outer.is_some_and(|o| o.contains(id));
    let triggers: Vec<usize> = graph
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| matches!(n.kind, NodeKind::Trigger(_)))
        .map(|(i, _)| i)
        .collect();
    if outer.is_some() {
        for i in &triggers {
            problems.push(problem(
                format!("{base}/nodes/{i}"),
                "a map's graph has no trigger: it starts at the nodes no edge enters",
            ));
        }
        if graph.nodes.is_empty() {
            problems.push(problem(format!("{base}/nodes"), "a map's graph needs at least one node"));
        }
        if graph.timeout_ms.is_some() {
            problems.push(problem(format!("{base}/timeoutMs"), "only a flow's graph has a run timeout"));
        }
    } else if let Some(ms) = graph.timeout_ms
        && !(1..=constructs::MAX_WAIT_MS).contains(&ms)
    {
        problems.push(problem(
            format!("{base}/timeoutMs"),
            format!("must be between 1 and {} milliseconds", constructs::MAX_WAIT_MS),
        ));
    }
    match triggers.as_slice() {
        _ if outer.is_some() => {}
        [] => problems.push(problem(format!("{base}/nodes"), "a flow needs exactly one trigger node; it has none")),
        [_] => {}
        [_, rest @ ..] => {
            for i in rest {
                problems
                    .push(problem(format!("{base}/nodes/{i}"), "a flow has exactly one trigger node; this is another"));
            }
        }
    }
    let mut edge_ids = HashSet::new();
    for (j, edge) in graph.edges.iter().enumerate() {
        if !edge_ids.insert(edge.id.as_str()) {
            problems.push(problem(format!("{base}/edges/{j}/id"), format!("edge id `{}` is used twice", edge.id)));
        }
        for (field, end) in [("source", &edge.source), ("target", &edge.target)] {
            if !index.contains_key(end.as_str()) {
                problems.push(problem(format!("{base}/edges/{j}/{field}"), format!("no node has the id `{end}`")));
            }
        }
        let source_is_condition =
            index.get(edge.source.as_str()).is_some_and(|i| matches!(graph.nodes[*i].kind, NodeKind::Condition(_)));
        if edge.kind == EdgeKind::Timeout {
            if edge.when.is_some() {
                problems.push(problem(format!("{base}/edges/{j}/when"), "a `timeout` edge has no `when`"));
            }
            match index.get(edge.source.as_str()).map(|i| &graph.nodes[*i].kind) {
                Some(NodeKind::Wait(w)) if w.timeout_ms.is_none() => problems.push(problem(
                    format!("{base}/edges/{j}/kind"),
                    "a `timeout` edge needs its `wait` to have `timeoutMs`",
                )),
                Some(NodeKind::Wait(_)) | None => {}
                Some(_) => {
                    problems.push(problem(format!("{base}/edges/{j}/kind"), "only a `wait` node has `timeout` edges"))
                }
            }
        } else if edge.kind == EdgeKind::Error {
            if edge.when.is_some() {
                problems.push(problem(format!("{base}/edges/{j}/when"), "an `error` edge has no `when`"));
            }
            if index.get(edge.source.as_str()).is_some_and(|i| matches!(graph.nodes[*i].kind, NodeKind::Trigger(_))) {
                problems.push(problem(
                    format!("{base}/edges/{j}/kind"),
                    "the trigger cannot fail: no `error` edge leaves it",
                ));
            }
        } else {
            match (&edge.when, source_is_condition) {
                (Some(w), true) if w == "true" || w == "false" => {}
                (_, true) => problems.push(problem(
                    format!("{base}/edges/{j}/when"),
                    "an edge leaving a condition must have `when: \"true\"` or `when: \"false\"`",
                )),
                (Some(_), false) => problems.push(problem(
                    format!("{base}/edges/{j}/when"),
                    "only edges leaving a condition node may have `when`",
                )),
                (None, false) => {}
            }
        }
        if index.get(edge.target.as_str()).is_some_and(|i| matches!(graph.nodes[*i].kind, NodeKind::Trigger(_))) {
            problems.push(problem(format!("{base}/edges/{j}/target"), "no edge may lead into the trigger"));
        }
    }
    for (i, node) in graph.nodes.iter().enumerate() {
        let at = format!("{base}/nodes/{i}/config");
        match &node.kind {
            NodeKind::Trigger(t) => {
                if t.kind == TriggerKind::Plugin && t.plugin_id.as_deref().is_none_or(|p| !catalog.has_plugin(p)) {
                    problems.push(problem(format!("{at}/pluginId"), "a plugin trigger needs a loaded `pluginId`"));
                } else if t.kind == TriggerKind::Plugin
                    && let Some(plugin) = t.plugin_id.as_deref()
                    && t.trigger_key.as_deref().is_none_or(|k| !catalog.has_webhook_trigger(plugin, k))
                {
                    problems.push(problem(
                        format!("{at}/triggerKey"),
                        format!(
                            "plugin `{plugin}` has no webhook trigger `{}`",
                            t.trigger_key.as_deref().unwrap_or("")
                        ),
                    ));
                }
                if t.respond == Some(RespondMode::Sync) && t.kind != TriggerKind::Webhook {
                    problems.push(problem(format!("{at}/respond"), "only a `webhook` trigger answers its caller"));
                }
                if let Some(ms) = t.respond_timeout_ms
                    && !(1..=MAX_RESPOND_TIMEOUT_MS).contains(&ms)
                {
                    problems.push(problem(
                        format!("{at}/respondTimeoutMs"),
                        format!("must be between 1 and {MAX_RESPOND_TIMEOUT_MS} milliseconds"),
                    ));
                }
                if t.kind == TriggerKind::Schedule {
                    match t.cron.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
                        None => {
                            problems.push(problem(format!("{at}/cron"), "a schedule trigger needs a `cron` expression"))
                        }
                        Some(cron) => {
                            if let Err(message) = crate::schedules::parse_cron(cron) {
                                problems.push(problem(format!("{at}/cron"), message));
                            }
                        }
                    }
                    if let Err(message) = crate::schedules::parse_timezone(t.timezone.as_deref()) {
                        problems.push(problem(format!("{at}/timezone"), message));
                    }
                }
            }
            NodeKind::PluginAction(a) => {
                if !catalog.has_plugin(&a.plugin_id) {
                    problems.push(problem(format!("{at}/pluginId"), format!("no plugin `{}` is loaded", a.plugin_id)));
                } else if !catalog.has_action(&a.plugin_id, &a.action_name) {
                    problems.push(problem(
                        format!("{at}/actionName"),
                        format!("plugin `{}` has no action `{}`", a.plugin_id, a.action_name),
                    ));
                }
                // Above the lease (300 s) another worker would take the step over and run it twice.
                const MAX_TIMEOUT_MS: u64 = 240_000;
                if a.timeout_ms.is_some_and(|ms| !(1..=MAX_TIMEOUT_MS).contains(&ms)) {
                    problems.push(problem(
                        format!("{at}/timeoutMs"),
                        format!("must be between 1 and {MAX_TIMEOUT_MS} milliseconds"),
                    ));
                }
                if let Err(e) = template::check(&a.payload) {
                    problems.push(problem(
                        format!("{at}/payload{}", e.pointer),
                        format!("the template does not parse: {}", e.message),
                    ));
                }
                for (pointer, id) in template::node_references(&a.payload) {
                    if !known(id.as_str()) {
                        problems.push(problem(format!("{at}/payload{pointer}"), unknown_node(&id)));
                    }
                }
            }
            NodeKind::Condition(c) => {
                if let Err(e) = template::check_expression(&c.expression) {
                    problems.push(problem(
                        format!("{at}/expression"),
                        format!("the expression does not parse: {}", e.message),
                    ));
                }
                for id in template::nodes_named(&c.expression, true) {
                    if !known(id.as_str()) {
                        problems.push(problem(format!("{at}/expression"), unknown_node(&id)));
                    }
                }
            }
            NodeKind::Transform(t) => {
                let set = Value::Object(t.set.clone());
                if let Err(e) = template::check(&set) {
                    problems.push(problem(
                        format!("{at}/set{}", e.pointer),
                        format!("the template does not parse: {}", e.message),
                    ));
                }
                for (pointer, id) in template::node_references(&set) {
                    if !known(id.as_str()) {
                        problems.push(problem(format!("{at}/set{pointer}"), unknown_node(&id)));
                    }
                }
            }
            NodeKind::Delay(_) | NodeKind::AiContext(_) | NodeKind::End(_) => {}
            NodeKind::Map(m) => {
                problems.extend(constructs::map(m, &at, &known));
                let mut visible: HashSet<String> = outer.cloned().unwrap_or_default();
                visible.extend(graph.nodes.iter().map(|n| n.id.clone()));
                problems.extend(validate_in(&m.graph, &format!("{at}/graph"), catalog, Some(&visible)));
            }
            NodeKind::Subflow(f) => problems.extend(constructs::subflow(f, &at, &known)),
            NodeKind::Wait(w) => problems.extend(constructs::wait(w, &at, &known, catalog)),
            NodeKind::Respond(r) => {
                if outer.is_some() {
                    problems.push(problem(
                        format!("{base}/nodes/{i}"),
                        "a `respond` node answers the flow's caller: it cannot be in a map",
                    ));
                }
                problems.extend(constructs::respond(r, &at, &known));
            }
        }
    }
    if !problems.is_empty() {
        return problems;
    }
    // Cycles (depth-first, colouring) and reachability from the trigger (in a map's graph, from
    // the nodes no edge enters). Iterative: a long chain must not overflow the stack. Every edge
    // joins two nodes here, and node ids are unique.
    let graph_index = graph.index();
    let starts: Vec<usize> = if outer.is_some() {
        (0..graph.nodes.len()).filter(|&i| graph_index.incoming(i).is_empty()).collect()
    } else {
        let Some(trigger) = graph.trigger() else { return problems };
        let Some(start) = graph_index.position(&trigger.id) else { return problems };
        vec![start]
    };
    #[derive(Clone, Copy, PartialEq)]
    enum Visit {
        Not,
        Open,
        Done,
    }
    let mut state = vec![Visit::Not; graph.nodes.len()];
    for start in starts {
        // Each open node with how many of its outgoing edges have been followed.
        let mut stack = vec![(start, 0usize)];
        state[start] = Visit::Open;
        while let Some((node, followed)) = stack.last_mut() {
            let Some(&edge) = graph_index.outgoing(*node).get(*followed) else {
                state[*node] = Visit::Done;
                stack.pop();
                continue;
            };
            *followed += 1;
            let Some((_, target)) = graph_index.ends(edge) else { continue };
            if state[target] == Visit::Open {
                let id = &graph.nodes[target].id;
                problems.push(problem(format!("{base}/nodes/{target}"), format!("node `{id}` is part of a cycle")));
                return problems;
            }
            if state[target] == Visit::Not {
                state[target] = Visit::Open;
                stack.push((target, 0));
            }
        }
    }
    for (i, node) in graph.nodes.iter().enumerate() {
        if state[i] == Visit::Not {
            let message = if outer.is_some() {
                format!("node `{}` is part of a cycle", node.id)
            } else {
                format!("node `{}` cannot be reached from the trigger", node.id)
            };
            problems.push(problem(format!("{base}/nodes/{i}"), message));
        }
    }
    problems
}

/// A template naming a node the flow does not have (a typo, or a node since removed).
fn unknown_node(id: &str) -> String {
    format!("the template names node `{id}`, which this flow does not have")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Catalog;

    impl ActionCatalog for Catalog {
        fn has_plugin(&self, p: &str) -> bool {
            p == "bacon-plugin-http"
        }
        fn has_action(&self, p: &str, a: &str) -> bool {
            p == "bacon-plugin-http" && a == "request"
        }
    }

    fn pointers(graph: Value) -> Vec<String> {
        match parse(&graph, "/graph", &Catalog) {
            Ok(_) => Vec::new(),
            Err(problems) => problems.into_iter().map(|p| p.pointer).collect(),
        }
    }

    fn action(id: &str, action: &str, payload: Value) -> Value {
        json!({"id": id, "type": "plugin_action", "config": {"pluginId": "bacon-plugin-http", "actionName": action, "payload": payload}})
    }

    #[test]
    fn a_valid_branching_flow_passes() {
        let graph = json!({
            "nodes": [
                {"id": "t", "type": "trigger", "config": {}},
                action("call", "request", json!({"method": "GET", "url": "{{ input.url }}"})),
                {"id": "c", "type": "condition", "config": {"expression": "nodes.call.output.status == 200"}},
                {"id": "yes", "type": "end", "config": {}},
                {"id": "no", "type": "end", "config": {}}
            ],
            "edges": [
                {"id": "e1", "source": "t", "target": "call"},
                {"id": "e2", "source": "call", "target": "c"},
                {"id": "e3", "source": "c", "target": "yes", "when": "true"},
                {"id": "e4", "source": "c", "target": "no", "when": "false"}
            ]
        });
        assert_eq!(pointers(graph), Vec::<String>::new());
    }

    #[test]
    fn each_rule_points_at_the_offending_node_or_edge() {
        assert_eq!(pointers(json!({"nodes": [{"id": "e", "type": "end", "config": {}}]})), ["/graph/nodes"]);
        assert_eq!(
            pointers(
                json!({"nodes": [{"id": "a", "type": "trigger", "config": {}}, {"id": "b", "type": "trigger", "config": {}}]})
            ),
            ["/graph/nodes/1"]
        );
        assert_eq!(
            pointers(
                json!({"nodes": [{"id": "t", "type": "trigger", "config": {}}], "edges": [{"id": "e", "source": "t", "target": "ghost"}]})
            ),
            ["/graph/edges/0/target"]
        );
        assert_eq!(
            pointers(json!({"nodes": [{"id": "t", "type": "trigger", "config": {}}, action("a", "nope", json!({}))],
                "edges": [{"id": "e", "source": "t", "target": "a"}]})),
            ["/graph/nodes/1/config/actionName"]
        );
        assert_eq!(
            pointers(
                json!({"nodes": [{"id": "t", "type": "trigger", "config": {}}, action("a", "request", json!({"x": ["{{ 1 + }}"]}))],
                "edges": [{"id": "e", "source": "t", "target": "a"}]})
            ),
            ["/graph/nodes/1/config/payload/x/0"]
        );
        assert_eq!(
            pointers(
                json!({"nodes": [{"id": "t", "type": "trigger", "config": {}}, {"id": "c", "type": "condition", "config": {"expression": "true"}}, {"id": "z", "type": "end", "config": {}}],
                "edges": [{"id": "e", "source": "t", "target": "c"}, {"id": "f", "source": "c", "target": "z"}]})
            ),
            ["/graph/edges/1/when"]
        );
        assert_eq!(
            pointers(
                json!({"nodes": [{"id": "t", "type": "trigger", "config": {}}, action("a", "request", json!({})), action("b", "request", json!({}))],
                "edges": [{"id": "e1", "source": "t", "target": "a"}, {"id": "e2", "source": "a", "target": "b"}, {"id": "e3", "source": "b", "target": "a"}]})
            ),
            ["/graph/nodes/1"]
        );
        assert_eq!(
            pointers(
                json!({"nodes": [{"id": "t", "type": "trigger", "config": {}}, {"id": "lonely", "type": "end", "config": {}}]})
            ),
            ["/graph/nodes/1"]
        );
        assert_eq!(pointers(json!({"nodes": [{"id": "t", "type": "teleport", "config": {}}]})), ["/graph/nodes/0"]);
    }

    fn chain(n: usize) -> Value {
        let mut nodes = vec![json!({"id": "n0", "type": "trigger", "config": {}})];
        nodes.extend((1..n).map(|i| json!({"id": format!("n{i}"), "type": "delay", "config": {"durationMs": 0}})));
        let edges: Vec<Value> = (1..n)
            .map(|i| json!({"id": format!("e{i}"), "source": format!("n{}", i - 1), "target": format!("n{i}")}))
            .collect();
        json!({"nodes": nodes, "edges": edges})
    }

    #[test]
    fn a_chain_as_long_as_the_cap_passes_and_its_cycle_is_found_without_recursion() {
        assert_eq!(pointers(chain(MAX_NODES)), Vec::<String>::new());
        let mut looped = chain(MAX_NODES);
        looped["edges"]
            .as_array_mut()
            .unwrap()
            .push(json!({"id": "back", "source": format!("n{}", MAX_NODES - 1), "target": "n1"}));
        assert_eq!(pointers(looped), ["/graph/nodes/1"]);
    }

    #[test]
    fn more_nodes_or_edges_than_the_cap_point_at_the_list() {
        assert_eq!(pointers(chain(MAX_NODES + 1)), ["/graph/nodes"]);
        let mut graph = chain(2);
        let edges: Vec<Value> =
            (0..=MAX_EDGES).map(|i| json!({"id": format!("x{i}"), "source": "n0", "target": "n1"})).collect();
        graph["edges"] = Value::Array(edges);
        assert_eq!(pointers(graph), ["/graph/edges"]);
    }

    #[test]
    fn a_template_naming_a_node_the_flow_lacks_points_at_it() {
        let graph = json!({
            "nodes": [
                {"id": "t", "type": "trigger", "config": {}},
                action("call", "request", json!({"url": "{{ nodes.call.output.url }}", "body": {"x": "{{ nodes['fecth'].output }}"}})),
                {"id": "c", "type": "condition", "config": {"expression": "nodes.cal.output.status == 200 and 'nodes.x' != ''"}},
                {"id": "set", "type": "transform", "config": {"set": {"a": "{% if nodes.ghost is defined %}{{ nodes.t.output }}{% endif %}"}}},
                {"id": "yes", "type": "end", "config": {}}
            ],
            "edges": [
                {"id": "e1", "source": "t", "target": "call"},
                {"id": "e2", "source": "call", "target": "c"},
                {"id": "e3", "source": "c", "target": "set", "when": "true"},
                {"id": "e4", "source": "set", "target": "yes"}
            ]
        });
        assert_eq!(
            pointers(graph),
            ["/graph/nodes/1/config/payload/body/x", "/graph/nodes/2/config/expression", "/graph/nodes/3/config/set/a"],
            "a string literal naming `nodes.x` is not a reference"
        );
    }
}
