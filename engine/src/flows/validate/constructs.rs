//! The rules of `map`, `subflow`, `wait` and `respond` nodes (issue #16), each fault with its
//! pointer under the node's `config` (`at`).

use serde_json::Value;

use super::{ActionCatalog, problem, unknown_node};
use crate::flows::graph::{MapConfig, RespondConfig, SubflowConfig, WaitConfig};
use crate::flows::template;
use crate::inbound::PLAIN_WEBHOOK;
use crate::plugins::settings::FieldProblem;

/// The longest a wait (or a run) may last: 30 days.
pub const MAX_WAIT_MS: u64 = 30 * 24 * 3_600_000;

/// An expression at `pointer`: it parses and names only known nodes.
fn expression(source: &str, pointer: String, known: &dyn Fn(&str) -> bool, problems: &mut Vec<FieldProblem>) {
    if let Err(e) = template::check_expression(source) {
        problems.push(problem(pointer, format!("the expression does not parse: {}", e.message)));
        return;
    }
    for id in template::nodes_named(source, true) {
        if !known(&id) {
            problems.push(problem(pointer.clone(), unknown_node(&id)));
        }
    }
}

/// Templates in `value` at `pointer`: they parse and name only known nodes.
fn templates(value: &Value, pointer: String, known: &dyn Fn(&str) -> bool, problems: &mut Vec<FieldProblem>) {
    if let Err(e) = template::check(value) {
        problems
            .push(problem(format!("{pointer}{}", e.pointer), format!("the template does not parse: {}", e.message)));
        return;
    }
    for (at, id) in template::node_references(value) {
        if !known(&id) {
            problems.push(problem(format!("{pointer}{at}"), unknown_node(&id)));
        }
    }
}

pub(super) fn map(m: &MapConfig, at: &str, known: &dyn Fn(&str) -> bool) -> Vec<FieldProblem> {
    let mut problems = Vec::new();
    expression(&m.items, format!("{at}/items"), known, &mut problems);
    if m.concurrency.is_some_and(|c| !(1..=MapConfig::MAX_CONCURRENCY).contains(&c)) {
        problems.push(problem(
            format!("{at}/concurrency"),
            format!("must be between 1 and {}", MapConfig::MAX_CONCURRENCY),
        ));
    }
    problems
}

pub(super) fn subflow(f: &SubflowConfig, at: &str, known: &dyn Fn(&str) -> bool) -> Vec<FieldProblem> {
    let mut problems = Vec::new();
    if f.flow_id.parse::<crate::ids::FlowId>().is_err() {
        problems.push(problem(format!("{at}/flowId"), format!("`{}` is not a flow id", f.flow_id)));
    }
    if f.version.is_some_and(|v| v < 1) {
        problems.push(problem(format!("{at}/version"), "a flow version is 1 or more"));
    }
    templates(&f.input, format!("{at}/input"), known, &mut problems);
    problems
}

pub(super) fn wait(
    w: &WaitConfig,
    at: &str,
    known: &dyn Fn(&str) -> bool,
    catalog: &dyn ActionCatalog,
) -> Vec<FieldProblem> {
    let mut problems = Vec::new();
    if let Some(event) = &w.event
        && (event.is_empty() || event.len() > 100 || event.contains('/'))
    {
        problems.push(problem(format!("{at}/event"), "an event name has 1 to 100 characters and no `/`"));
    }
    if w.timeout_ms.is_some_and(|ms| !(1..=MAX_WAIT_MS).contains(&ms)) {
        problems.push(problem(format!("{at}/timeoutMs"), format!("must be between 1 and {MAX_WAIT_MS} milliseconds")));
    }
    if let Some(c) = &w.correlation {
        if c.plugin_id != PLAIN_WEBHOOK && !catalog.has_plugin(&c.plugin_id) {
            problems.push(problem(
                format!("{at}/correlation/pluginId"),
                format!("no plugin `{}` is loaded (`{PLAIN_WEBHOOK}` for plain webhooks)", c.plugin_id),
            ));
        }
        expression(&c.key, format!("{at}/correlation/key"), known, &mut problems);
        // Without `eventKey`, `key` is read from the delivery too, where only `trigger` exists.
        if c.event_key.is_none() && template::root_names(&c.key).iter().any(|name| name != "trigger") {
            problems.push(problem(
                format!("{at}/correlation/eventKey"),
                "`key` reads more than `trigger`: set `eventKey`, the expression a delivery is keyed by",
            ));
        }
        if let Some(event_key) = &c.event_key {
            // Evaluated over the delivery alone: it names no node.
            expression(event_key, format!("{at}/correlation/eventKey"), &|_| false, &mut problems);
        }
    }
    problems
}

pub(super) fn respond(r: &RespondConfig, at: &str, known: &dyn Fn(&str) -> bool) -> Vec<FieldProblem> {
    let mut problems = Vec::new();
    if !(100..=599).contains(&r.status) {
        problems.push(problem(format!("{at}/status"), "an HTTP status is between 100 and 599"));
    }
    for (name, value) in &r.headers {
        if !value.is_string() {
            problems.push(problem(format!("{at}/headers/{name}"), "a header's value is a string (a template)"));
        } else if !is_header_name(name) {
            problems.push(problem(format!("{at}/headers/{name}"), format!("`{name}` is not a header name")));
        } else if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            problems.push(problem(format!("{at}/headers/{name}"), format!("`{name}` is set by the server")));
        }
    }
    templates(&Value::Object(r.headers.clone()), format!("{at}/headers"), known, &mut problems);
    templates(&r.body, format!("{at}/body"), known, &mut problems);
    problems
}

/// Headers the server sets on a synchronous answer: a flow may not.
const RESERVED_HEADERS: [&str; 5] = ["content-length", "transfer-encoding", "connection", "x-bacon-run-id", "host"];

/// A header name is a token (RFC 9110 §5.1).
fn is_header_name(name: &str) -> bool {
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    !name.is_empty() && name.chars().all(token)
}
