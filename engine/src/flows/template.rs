//! Payload templates: minijinja, sandboxed (no filesystem, no includes) and fuel-limited.
//!
//! The context is `{ trigger, input, vars, nodes: { <id>: { output } } }`; secrets are never in it.
//! A string that is exactly one `{{ expr }}` yields the expression's JSON value (a number stays a
//! number, an object an object); any other string renders to a string. Objects and arrays are
//! rendered recursively.
//!
//! - [`context`]: [`Context`], the context built up value by value as a run's plan proceeds;
//!   render against it with [`render_in`] and [`evaluate_condition_in`].

mod context;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use minijinja::{Environment, Expression};
use serde_json::{Map, Value};

pub use context::Context;

/// The fuel one render may burn: enough for real payloads, not for a runaway loop.
const FUEL: u64 = 50_000;

/// A template that does not parse or does not render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    /// JSON pointer inside the templated value.
    pub pointer: String,
    pub message: String,
}

/// One environment for every render: it holds no templates, only settings (fuel is counted per
/// render), so building it per call was wasted work.
static ENVIRONMENT: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_fuel(Some(FUEL));
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
    env
});

/// Compiled expressions kept before the cache starts over: far more than the distinct
/// expressions of the flows a server runs at once, and a bound on memory whatever their number.
const EXPRESSIONS_KEPT: usize = 4096;

type CompiledExpression = Arc<Expression<'static, 'static>>;

/// Expressions by source: every advance of a run evaluates its graph's conditions and lone
/// `{{ expr }}` templates again, from the same sources.
static EXPRESSIONS: LazyLock<Mutex<HashMap<String, CompiledExpression>>> = LazyLock::new(Mutex::default);

/// `expression` compiled, from the cache or compiled now and kept.
fn compiled(expression: &str) -> Result<CompiledExpression, minijinja::Error> {
    if let Some(compiled) = EXPRESSIONS.lock().unwrap_or_else(PoisonError::into_inner).get(expression) {
        return Ok(compiled.clone());
    }
    let compiled = Arc::new(ENVIRONMENT.compile_expression_owned(expression.to_string())?);
    let mut kept = EXPRESSIONS.lock().unwrap_or_else(PoisonError::into_inner);
    if kept.len() >= EXPRESSIONS_KEPT {
        kept.clear();
    }
    kept.insert(expression.to_string(), compiled.clone());
    Ok(compiled)
}

/// The expression of a string that is exactly one `{{ expr }}`.
fn single_expression(s: &str) -> Option<&str> {
    let inner = s.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}")).then_some(inner.trim())
}

fn walk<F>(value: &Value, pointer: &str, f: &mut F) -> Result<Value, TemplateError>
where
    F: FnMut(&str, &str) -> Result<Value, TemplateError>,
{
    match value {
        Value::String(s) if s.contains("{{") || s.contains("{%") => f(s, pointer),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| walk(v, &format!("{pointer}/{i}"), f))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        Value::Object(map) => {
            let mut out = Map::new();
            for (k, v) in map {
                let key = k.replace('~', "~0").replace('/', "~1");
                out.insert(k.clone(), walk(v, &format!("{pointer}/{key}"), f)?);
            }
            Ok(Value::Object(out))
        }
        other => Ok(other.clone()),
    }
}

/// Checks that every template in `value` parses.
///
/// # Errors
/// The first template that does not, with its pointer inside `value`.
pub fn check(value: &Value) -> Result<(), TemplateError> {
    let env = &*ENVIRONMENT;
    walk(value, "", &mut |s, pointer| {
        let result = match single_expression(s) {
            Some(expr) => env.compile_expression(expr).map(|_| ()),
            None => env.template_from_str(s).map(|_| ()),
        };
        result.map(|()| Value::Null).map_err(|e| TemplateError { pointer: pointer.to_string(), message: e.to_string() })
    })
    .map(|_| ())
}

/// Checks that `expression` parses.
///
/// # Errors
/// When it does not.
pub fn check_expression(expression: &str) -> Result<(), TemplateError> {
    ENVIRONMENT
        .compile_expression(expression)
        .map(|_| ())
        .map_err(|e| TemplateError { pointer: String::new(), message: e.to_string() })
}

/// Renders every template in `value` against `context` given as JSON.
///
/// # Errors
/// When a template fails (bad syntax, a runtime error, fuel exhausted), with its pointer.
pub fn render(value: &Value, context: &Value) -> Result<Value, TemplateError> {
    render_with(value, &minijinja::Value::from_serialize(context))
}

/// Renders every template in `value` against `context`.
///
/// # Errors
/// As [`render`].
pub fn render_in(value: &Value, context: &Context) -> Result<Value, TemplateError> {
    render_with(value, &context.root())
}

fn render_with(value: &Value, ctx: &minijinja::Value) -> Result<Value, TemplateError> {
    let env = &*ENVIRONMENT;
    walk(value, "", &mut |s, pointer| {
        let err = |e: minijinja::Error| TemplateError { pointer: pointer.to_string(), message: e.to_string() };
        match single_expression(s) {
            Some(expr) => {
                let value = compiled(expr).map_err(err)?.eval(ctx.clone()).map_err(err)?;
                if value.is_undefined() {
                    return Ok(Value::Null);
                }
                serde_json::to_value(&value)
                    .map_err(|e| TemplateError { pointer: pointer.to_string(), message: e.to_string() })
            }
            None => env.render_str(s, ctx.clone()).map(Value::String).map_err(err),
        }
    })
}

/// Evaluates a condition expression to a boolean (minijinja truthiness) against `context` given
/// as JSON.
///
/// # Errors
/// When the expression fails.
pub fn evaluate_condition(expression: &str, context: &Value) -> Result<bool, TemplateError> {
    evaluate_with(expression, minijinja::Value::from_serialize(context))
}

/// Evaluates a condition expression to a boolean (minijinja truthiness) against `context`.
///
/// # Errors
/// When the expression fails.
pub fn evaluate_condition_in(expression: &str, context: &Context) -> Result<bool, TemplateError> {
    evaluate_with(expression, context.root())
}

fn evaluate_with(expression: &str, ctx: minijinja::Value) -> Result<bool, TemplateError> {
    let err = |e: minijinja::Error| TemplateError { pointer: String::new(), message: e.to_string() };
    let value = compiled(expression).map_err(err)?.eval(ctx).map_err(err)?;
    Ok(value.is_true())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_lone_expression_yields_json_and_mixed_text_yields_a_string() {
        let ctx = json!({"input": {"n": 3, "order": {"id": 7}}, "vars": {}, "nodes": {"a": {"output": {"ok": true}}}});
        let out = render(
            &json!({"count": "{{ input.n + 1 }}", "order": "{{ input.order }}", "text": "n={{ input.n }}", "flag": "{{ nodes.a.output.ok }}", "plain": 5}),
            &ctx,
        )
        .unwrap();
        assert_eq!(out, json!({"count": 4, "order": {"id": 7}, "text": "n=3", "flag": true, "plain": 5}));
        assert!(evaluate_condition("input.n > 2", &ctx).unwrap());
    }

    #[test]
    fn syntax_errors_point_at_the_field_and_runaway_loops_run_out_of_fuel() {
        let err = check(&json!({"a": {"b": ["ok", "{{ 1 + }}"]}})).unwrap_err();
        assert_eq!(err.pointer, "/a/b/1");
        let err = render(&json!({"x": "{% for i in range(100000) %}{{ i }}{% endfor %}"}), &json!({})).unwrap_err();
        assert_eq!(err.pointer, "/x");
    }
}
