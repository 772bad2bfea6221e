//! Planning `map`, `wait` and `respond` nodes (issue #16).

use std::collections::HashMap;

use serde_json::{Value, json};

use super::{NewStep, Outcome, StepState, context_for, plan};
use crate::flows::graph::FlowGraph;
use crate::flows::template::{self, TemplateLimits};

fn graph(value: Value) -> FlowGraph {
    serde_json::from_value(value).unwrap()
}

/// `t -> loop -> after`; `loop` maps `input.items` through `lookup` (a step) then `shape`.
fn mapping(concurrency: u32, tolerated: u32) -> FlowGraph {
    graph(json!({
        "nodes": [
            {"id": "t", "type": "trigger", "config": {}},
            {"id": "loop", "type": "map", "config": {
                "items": "input.items", "concurrency": concurrency, "toleratedFailures": tolerated,
                "graph": {
                    "nodes": [
                        {"id": "lookup", "type": "plugin_action", "config": {"pluginId": "p", "actionName": "a",
                            "payload": {"sku": "{{ item.sku }}", "at": "{{ index }}"}}},
                        {"id": "shape", "type": "transform", "config": {"set": {
                            "stock": "{{ nodes.lookup.output.stock }}", "sku": "{{ item.sku }}"}}}
                    ],
                    "edges": [{"id": "m1", "source": "lookup", "target": "shape"}]
                }}},
            {"id": "after", "type": "transform", "config": {"set": {"count": "{{ nodes.loop.output.results | length }}"}}}
        ],
        "edges": [{"id": "1", "source": "t", "target": "loop"}, {"id": "2", "source": "loop", "target": "after"}]
    }))
}

fn items(n: usize) -> Value {
    json!({"items": (0..n).map(|i| json!({"sku": format!("s{i}")})).collect::<Vec<_>>()})
}

fn ids(steps: &[NewStep]) -> Vec<String> {
    steps.iter().map(|s| s.node_id.clone()).collect()
}

fn run(g: &FlowGraph, input: &Value, steps: &HashMap<String, StepState>) -> super::Plan {
    plan(g, input, &json!({}), steps, &TemplateLimits::default())
}

#[test]
fn a_map_starts_items_in_order_up_to_its_concurrency_and_collects_results_in_item_order() {
    let g = mapping(2, 0);
    let input = items(5);
    let mut steps = HashMap::new();
    let p = run(&g, &input, &steps);
    assert_eq!(ids(&p.new_steps), ["loop[0].lookup", "loop[1].lookup"]);
    assert_eq!(p.outcome, Outcome::Waiting);

    for id in ids(&p.new_steps) {
        steps.insert(id, StepState::InFlight);
    }
    assert!(run(&g, &input, &steps).new_steps.is_empty(), "two in flight: no third");

    // Item 1 ends first: item 2 starts; item 0 still holds its slot.
    steps.insert("loop[1].lookup".into(), StepState::Succeeded(json!({"stock": 1})));
    let p = run(&g, &input, &steps);
    assert_eq!(ids(&p.new_steps), ["loop[2].lookup"]);

    for i in 0..5 {
        steps.insert(format!("loop[{i}].lookup"), StepState::Succeeded(json!({"stock": i * 10})));
    }
    let p = run(&g, &input, &steps);
    assert_eq!(p.outcome, Outcome::Succeeded);
    assert_eq!(p.vars()["count"], 5);
    let results: Vec<Value> = (0..5).map(|i| json!({"stock": i * 10, "sku": format!("s{i}")})).collect();
    assert!(!p.vars().contains_key("stock"), "an item's vars stay its own");
    let context = p.context;
    let out = template::evaluate_in("nodes.loop.output", &context, &TemplateLimits::default()).unwrap();
    assert_eq!(out, json!({"results": results, "failures": []}));
}

#[test]
fn an_item_step_is_rendered_against_its_item() {
    let g = mapping(10, 0);
    let input = items(3);
    let context = context_for(&g, &input, &json!({}), &HashMap::new(), &TemplateLimits::default(), "loop[2].lookup");
    let rendered = template::render_in(
        &json!({"sku": "{{ item.sku }}", "at": "{{ index }}"}),
        &context,
        &TemplateLimits::default(),
        TemplateLimits::default().step_input_cap(),
    )
    .unwrap();
    assert_eq!(rendered, json!({"sku": "s2", "at": 2}));
}

#[test]
fn a_map_fails_past_its_tolerated_failures_and_not_before() {
    let input = items(3);
    let mut steps: HashMap<String, StepState> =
        (0..3).map(|i| (format!("loop[{i}].lookup"), StepState::Succeeded(json!({"stock": i})))).collect();
    steps.insert("loop[1].lookup".into(), StepState::Failed(json!({"message": "out of stock"})));

    let p = run(&mapping(5, 1), &input, &steps);
    assert_eq!(p.outcome, Outcome::Succeeded, "one failure is tolerated");
    let out = template::evaluate_in("nodes.loop.output", &p.context, &TemplateLimits::default()).unwrap();
    assert_eq!(out["results"][1], Value::Null);
    assert_eq!(out["failures"], json!([{"index": 1, "error": {"message": "out of stock"}}]));

    let p = run(&mapping(5, 0), &input, &steps);
    let Outcome::Failed(error) = p.outcome else { panic!("{:?}", p.outcome) };
    assert!(error["message"].as_str().unwrap().contains("1 of the map's items failed"), "{error}");
    assert!(error["message"].as_str().unwrap().contains("out of stock"), "{error}");
}

#[test]
fn a_map_over_something_not_an_array_fails_naming_it() {
    let p = run(&mapping(5, 0), &json!({"items": "nope"}), &HashMap::new());
    let Outcome::Failed(error) = p.outcome else { panic!("{:?}", p.outcome) };
    assert_eq!(error["message"], "the map's items (`input.items`) are a string, not an array");
    let p = run(&mapping(5, 0), &json!({"items": []}), &HashMap::new());
    assert_eq!(p.outcome, Outcome::Succeeded, "an empty map is done at once");
}

fn waiting() -> FlowGraph {
    graph(json!({
        "nodes": [
            {"id": "t", "type": "trigger", "config": {}},
            {"id": "reply", "type": "wait", "config": {"timeoutMs": 1000}},
            {"id": "thanks", "type": "transform", "config": {"set": {"said": "{{ nodes.reply.output.text }}"}}},
            {"id": "ticket", "type": "transform", "config": {"set": {"ticket": "{{ nodes.reply.error.kind }}"}}},
            {"id": "answer", "type": "respond", "config": {"status": 201, "headers": {"x-said": "{{ vars.said }}"}, "body": {"ok": "{{ vars.said }}"}}}
        ],
        "edges": [
            {"id": "1", "source": "t", "target": "reply"},
            {"id": "2", "source": "reply", "target": "thanks"},
            {"id": "3", "source": "reply", "target": "ticket", "kind": "timeout"},
            {"id": "4", "source": "thanks", "target": "answer"}
        ]
    }))
}

#[test]
fn a_wait_goes_on_with_its_event_or_takes_its_timeout_edge() {
    let g = waiting();
    let p = run(&g, &json!({}), &HashMap::new());
    assert_eq!(p.new_steps, [NewStep { node_id: "reply".into(), node_type: "wait", delay_ms: 0 }]);

    let resumed: HashMap<String, StepState> = [("reply".into(), StepState::Succeeded(json!({"text": "yes"})))].into();
    let p = run(&g, &json!({}), &resumed);
    assert_eq!(p.outcome, Outcome::Succeeded);
    assert_eq!(p.vars()["said"], "yes");
    assert!(!p.vars().contains_key("ticket"));
    assert_eq!(p.response, Some(json!({"status": 201, "headers": {"x-said": "yes"}, "body": {"ok": "yes"}})));

    let timed_out: HashMap<String, StepState> =
        [("reply".into(), StepState::Failed(json!({"kind": "timeout", "message": "no event"})))].into();
    let p = run(&g, &json!({}), &timed_out);
    assert_eq!(p.outcome, Outcome::Succeeded, "the timeout edge handled it");
    assert_eq!(p.vars()["ticket"], "timeout");
    assert_eq!(p.response, None, "the respond node was not reached");
}
