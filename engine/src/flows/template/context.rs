//! [`Context`]: what a template sees, `{ trigger, input, vars, nodes: { <id>: { output } } }`
//! (`{ error }` for a node that failed and whose run went on),
//! built up one value at a time.
//!
//! Each value is converted to a template value once, when it is added: adding a node's output or
//! a variable does not copy the others, and rendering does not re-serialise the context. (The
//! planner used to rebuild the whole context as JSON for every node, which made a run's planning
//! quadratic in its graph's size: issue #13.)

use std::collections::BTreeMap;
use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectExt};
use serde_json::{Map, Value};

/// A map of template values: entries are added without copying the others, as long as no
/// render holds on to the map (none does once it has returned).
#[derive(Debug, Clone, Default)]
struct Entries(BTreeMap<String, minijinja::Value>);

impl Object for Entries {
    fn get_value(self: &Arc<Self>, key: &minijinja::Value) -> Option<minijinja::Value> {
        self.0.get(key.as_str()?).cloned()
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<minijinja::Value> {
        self.0.get(key).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        self.mapped_enumerator(|this| Box::new(this.0.keys().map(|k| minijinja::Value::from(k.as_str()))))
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.0.len())
    }
}

/// A run's template context, and its variables as JSON (they are stored on the run).
#[derive(Debug, Clone)]
pub struct Context {
    trigger: minijinja::Value,
    input: minijinja::Value,
    vars: Map<String, Value>,
    /// The JSON size of each variable (its name included), and their sum.
    var_bytes: BTreeMap<String, usize>,
    vars_bytes: usize,
    vars_view: Arc<Entries>,
    nodes: Arc<Entries>,
    /// Inside a `map`'s graph: the item (`item`) and its position (`index`).
    item: Option<(minijinja::Value, usize)>,
    /// For a step's payload: the resume links of the flow's approval waits (`resume.<id>`).
    resume: Option<minijinja::Value>,
}

impl Context {
    /// A context with the run's trigger and input, no variables and no node outputs yet.
    pub fn new(trigger: &Value, input: &Value) -> Self {
        Self {
            trigger: minijinja::Value::from_serialize(trigger),
            input: minijinja::Value::from_serialize(input),
            vars: Map::new(),
            var_bytes: BTreeMap::new(),
            vars_bytes: 0,
            vars_view: Arc::default(),
            nodes: Arc::default(),
            item: None,
            resume: None,
        }
    }

    /// Sets `resume`: the resume links of the flow's approval waits, by node id.
    pub fn set_resume(&mut self, links: minijinja::Value) {
        self.resume = Some(links);
    }

    /// This context as a `map` item's graph sees it: `item` and `index` set. (Its nodes'
    /// outputs and variables stay the item's own.)
    pub fn for_item(&self, item: &Value, index: usize) -> Self {
        let mut context = self.clone();
        context.item = Some((minijinja::Value::from_serialize(item), index));
        context
    }

    /// Sets variable `name` (`vars.<name>`), replacing any earlier value.
    pub fn set_var(&mut self, name: &str, value: Value) {
        // `"name":value,`
        let bytes = name.len() + 4 + super::json_len(&value, usize::MAX - 1);
        if let Some(old) = self.var_bytes.insert(name.to_string(), bytes) {
            self.vars_bytes -= old;
        }
        self.vars_bytes += bytes;
        Arc::make_mut(&mut self.vars_view).0.insert(name.to_string(), minijinja::Value::from_serialize(&value));
        self.vars.insert(name.to_string(), value);
    }

    /// Records node `id`'s output (`nodes.<id>.output`).
    pub fn set_output(&mut self, id: &str, output: &Value) {
        let entry = minijinja::context! { output => minijinja::Value::from_serialize(output) };
        Arc::make_mut(&mut self.nodes).0.insert(id.to_string(), entry);
    }

    /// Records that node `id` failed for good (`nodes.<id>.error`; its output is undefined).
    pub fn set_error(&mut self, id: &str, error: &Value) {
        let entry = minijinja::context! { error => minijinja::Value::from_serialize(error) };
        Arc::make_mut(&mut self.nodes).0.insert(id.to_string(), entry);
    }

    /// The variables set so far.
    pub fn vars(&self) -> &Map<String, Value> {
        &self.vars
    }

    /// What [`Context::vars_bytes`] would be after setting every variable of `set`.
    pub fn vars_bytes_with(&self, set: &Map<String, Value>) -> usize {
        let mut total = self.vars_bytes;
        for (name, value) in set {
            total -= self.var_bytes.get(name).copied().unwrap_or(0);
            total += name.len() + 4 + super::json_len(value, usize::MAX - 1);
        }
        total + 2
    }

    /// The size of the variables as a JSON object, about (each counted once, however often set).
    pub fn vars_bytes(&self) -> usize {
        self.vars_bytes + 2
    }

    /// The variables set so far, taken out of the context.
    pub fn into_vars(self) -> Map<String, Value> {
        self.vars
    }

    /// The root value templates are rendered against (cheap: it shares the context's values).
    pub(super) fn root(&self) -> minijinja::Value {
        let root = minijinja::context! {
            trigger => self.trigger.clone(),
            input => self.input.clone(),
            vars => minijinja::Value::from_dyn_object(self.vars_view.clone()),
            nodes => minijinja::Value::from_dyn_object(self.nodes.clone()),
        };
        let root = match &self.item {
            None => root,
            Some((item, index)) => minijinja::context! { item => item.clone(), index => *index, ..root },
        };
        match &self.resume {
            None => root,
            Some(links) => minijinja::context! { resume => links.clone(), ..root },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::flows::template::TemplateLimits;

    fn limits() -> TemplateLimits {
        TemplateLimits::default()
    }

    #[test]
    fn templates_see_the_same_context_as_its_json_form() {
        let mut ctx = Context::new(&json!({"event": "e"}), &json!({"n": 2}));
        ctx.set_var("a", json!(1));
        ctx.set_var("a", json!(5));
        ctx.set_output("fetch", &json!({"status": 200, "body": {"ok": true}}));
        let json_form = json!({
            "trigger": {"event": "e"}, "input": {"n": 2}, "vars": {"a": 5},
            "nodes": {"fetch": {"output": {"status": 200, "body": {"ok": true}}}}
        });
        let template = json!({
            "sum": "{{ vars.a + input.n }}",
            "status": "{{ nodes.fetch.output.status }}",
            "all": "{{ nodes }}",
            "vars": "{{ vars }}",
            "text": "{% for k in nodes %}{{ k }}{% endfor %}/{{ nodes | length }}/{{ trigger.event }}",
            "optional": "{% if nodes.ghost is defined %}x{% endif %}{{ input.absent | default('-') }}"
        });
        let rendered = super::super::render_in(&template, &ctx, &limits(), limits().step_input_cap()).unwrap();
        assert_eq!(rendered, super::super::render(&template, &json_form).unwrap());
        assert_eq!(rendered["all"], json!({"fetch": {"output": {"status": 200, "body": {"ok": true}}}}));
        assert_eq!(rendered["text"], "fetch/1/e");
        assert_eq!(rendered["optional"], "-", "an absent value can be tested for");
        assert_eq!(ctx.vars(), json_form["vars"].as_object().unwrap());
    }

    #[test]
    fn an_undefined_reference_fails_naming_it() {
        let mut ctx = Context::new(&json!({}), &json!({"order": {"id": 7}}));
        ctx.set_output("fetch", &json!({"status": 200}));
        for (template, named) in [
            ("{{ input.ordr }}", "`input.ordr`"),
            ("order {{ input.order.number }}!", "`input.order.number`"),
            ("{{ nodes.ghost.output.x }}", "`nodes.ghost.output"),
            ("{{ nodes.fetch.output.body.id }}", "`nodes.fetch.output.body"),
        ] {
            let err = super::super::render_in(&json!({"x": template}), &ctx, &limits(), limits().step_input_cap())
                .expect_err(template);
            assert_eq!(err.pointer, "/x");
            assert!(err.message.contains(named), "{template}: {}", err.message);
        }
    }

    #[test]
    fn adding_a_value_does_not_copy_the_others() {
        let mut ctx = Context::new(&json!({}), &json!({}));
        ctx.set_output("a", &json!(1));
        let before = Arc::as_ptr(&ctx.nodes);
        super::super::render_in(&json!("{{ nodes }}"), &ctx, &limits(), limits().step_input_cap()).unwrap();
        ctx.set_output("b", &json!(2));
        assert_eq!(Arc::as_ptr(&ctx.nodes), before, "the map was extended in place after a render");
    }
}
