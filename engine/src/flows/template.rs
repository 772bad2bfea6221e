//! Payload templates: minijinja, sandboxed (no filesystem, no includes), fuel-limited and
//! size-limited.
//!
//! The context is `{ trigger, input, vars, nodes: { <id>: { output } } }`; secrets are never in it.
//! A string that is exactly one `{{ expr }}` yields the expression's JSON value (a number stays a
//! number, an object an object); any other string renders to a string. Objects and arrays are
//! rendered recursively.
//!
//! What a render may hold is bounded by [`TemplateLimits`]: each templated string renders to at
//! most `max_template_bytes` and builds at most [`WORK_FACTOR`] times that in values on the way
//! (the [`budget`]); the value a whole render produces (a transform's `set`, an action's payload)
//! is capped by the caller. A template past a limit fails with a [`TemplateError`] naming it,
//! before anything larger is allocated.
//!
//! - [`context`]: [`Context`], the context built up value by value as a run's plan proceeds;
//!   render against it with [`render_in`] and [`evaluate_condition_in`].
//! - [`sandbox`]: how templates are compiled and run so that the budget holds; [`fold`]: the
//!   constants minijinja folds while compiling, checked first.
//! - [`budget`]: the byte budget of one render.

mod budget;
mod context;
mod fold;
mod sandbox;

use std::io;

use serde_json::{Map, Value};

pub use context::Context;

/// How many times its rendered size a template may build in values while it renders (partial
/// strings of a `~` chain, lists a loop walks): room for real templates, a bound for the rest.
pub const WORK_FACTOR: usize = 16;

/// What templates and the values they render may hold, in bytes (`flows.*` in the server's
/// configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateLimits {
    /// Largest value one templated string may render to (as JSON for a lone `{{ expr }}`).
    pub max_template_bytes: usize,
    /// Largest total, as JSON, of a run's variables.
    pub max_vars_bytes: usize,
    /// Largest rendered action payload (a step's input), as JSON.
    pub max_step_input_bytes: usize,
}

impl Default for TemplateLimits {
    fn default() -> Self {
        Self { max_template_bytes: 256 * 1024, max_vars_bytes: 1024 * 1024, max_step_input_bytes: 1024 * 1024 }
    }
}

/// A cap on a whole rendered value, and the setting that sets it (named in the error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cap {
    pub bytes: usize,
    pub setting: &'static str,
}

impl TemplateLimits {
    /// The cap on a transform's values (they become run variables).
    pub fn vars_cap(&self) -> Cap {
        Cap { bytes: self.max_vars_bytes, setting: "flows.max_vars_bytes" }
    }

    /// The cap on an action's rendered payload.
    pub fn step_input_cap(&self) -> Cap {
        Cap { bytes: self.max_step_input_bytes, setting: "flows.max_step_input_bytes" }
    }

    /// The budget of one templated string.
    fn work_bytes(&self) -> usize {
        self.max_template_bytes.saturating_mul(WORK_FACTOR)
    }
}

/// A template that does not parse or does not render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    /// JSON pointer inside the templated value.
    pub pointer: String,
    pub message: String,
}

impl TemplateError {
    fn at(pointer: &str, message: impl Into<String>) -> Self {
        Self { pointer: pointer.to_string(), message: message.into() }
    }
}

/// The error of a failed compile or render: the budget's own words when it was the budget.
fn failure(pointer: &str, limits: &TemplateLimits, error: &minijinja::Error, source: &str) -> TemplateError {
    if error.kind() == minijinja::ErrorKind::UndefinedError {
        let named = error.range().and_then(|range| path_at(source, range)).filter(|n| !n.is_empty());
        return TemplateError::at(pointer, undefined(named.unwrap_or(source.trim())));
    }
    if budget::exceeded() {
        TemplateError::at(
            pointer,
            format!(
                "the template would build more than {} bytes of values ({WORK_FACTOR} times flows.max_template_bytes)",
                limits.work_bytes()
            ),
        )
    } else {
        TemplateError::at(pointer, error.to_string())
    }
}

/// The whole path an error's `range` points into: minijinja marks the failing lookup
/// (`.ordr` of `input.ordr`), the message names `input.ordr`.
fn path_at(source: &str, range: std::ops::Range<usize>) -> Option<&str> {
    let in_path = |c: char| c.is_alphanumeric() || matches!(c, '_' | '.' | '[' | ']' | '\'' | '"');
    let end = range.end.min(source.len());
    let head = source.get(..range.start.min(end))?;
    let start = head.rfind(|c: char| !in_path(c)).map_or(0, |i| i + head[i..].chars().next().map_or(1, char::len_utf8));
    source.get(start..end).map(str::trim)
}

/// The message for a template that used `expression` while it was undefined.
fn undefined(expression: &str) -> String {
    format!(
        "`{expression}` is undefined: no such field, or a node that has not run (test with `is defined` or `| default(…)`)"
    )
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

/// Checks that every template in `value` parses (and that its constants fit the default limits).
///
/// # Errors
/// The first template that does not, with its pointer inside `value`.
pub fn check(value: &Value) -> Result<(), TemplateError> {
    let limits = TemplateLimits::default();
    walk(value, "", &mut |s, pointer| {
        let _budget = budget::Budget::install(limits.work_bytes());
        let compiled = match single_expression(s) {
            Some(expr) => sandbox::compile_expression(expr).map(drop),
            None => sandbox::compile_template(s).map(drop),
        };
        compiled.map(|()| Value::Null).map_err(|e| failure(pointer, &limits, &e, s))
    })
    .map(|_| ())
}

/// The node ids templates in `value` name as `nodes.<id>` or `nodes['<id>']`, with the pointer of
/// the string naming each (inside `value`). A template that does not tokenize names none.
pub fn node_references(value: &Value) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let _ = walk(value, "", &mut |s, pointer| {
        let in_expr = single_expression(s);
        for id in nodes_named(in_expr.unwrap_or(s), in_expr.is_some()) {
            found.push((pointer.to_string(), id));
        }
        Ok(Value::Null)
    });
    found
}

/// The node ids `source` (a template, or with `in_expr` an expression) names after `nodes`.
pub fn nodes_named(source: &str, in_expr: bool) -> Vec<String> {
    use minijinja::machinery::{Token, WhitespaceConfig, tokenize};
    let tokens: Vec<Token<'_>> =
        tokenize(source, in_expr, minijinja::syntax::SyntaxConfig, WhitespaceConfig::default())
            .map_while(Result::ok)
            .map(|(token, _)| token)
            .collect();
    let mut ids = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        if !matches!(token, Token::Ident("nodes")) || matches!(i.checked_sub(1).map(|p| &tokens[p]), Some(Token::Dot)) {
            continue;
        }
        let id = match (tokens.get(i + 1), tokens.get(i + 2), tokens.get(i + 3)) {
            (Some(Token::Dot), Some(Token::Ident(id)), _) => Some(id.to_string()),
            (Some(Token::BracketOpen), Some(Token::Str(id)), Some(Token::BracketClose)) => Some(id.to_string()),
            (Some(Token::BracketOpen), Some(Token::String(id)), Some(Token::BracketClose)) => Some(id.to_string()),
            _ => None,
        };
        ids.extend(id);
    }
    ids
}

/// The top-level names `expression` reads (`trigger`, `input`, `vars`, `nodes`, `item`, ...):
/// identifiers not after a `.`. An expression that does not tokenize names none.
pub fn root_names(expression: &str) -> Vec<String> {
    use minijinja::machinery::{Token, WhitespaceConfig, tokenize};
    let tokens: Vec<Token<'_>> =
        tokenize(expression, true, minijinja::syntax::SyntaxConfig, WhitespaceConfig::default())
            .map_while(Result::ok)
            .map(|(token, _)| token)
            .collect();
    let mut names = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let after_dot = i > 0 && matches!(tokens[i - 1], Token::Dot | Token::Pipe);
        if let Token::Ident(name) = token
            && !after_dot
            && !matches!(*name, "true" | "false" | "none" | "and" | "or" | "not" | "in" | "is" | "if" | "else")
        {
            names.push(name.to_string());
        }
    }
    names
}

/// Checks that `expression` parses.
///
/// # Errors
/// When it does not.
pub fn check_expression(expression: &str) -> Result<(), TemplateError> {
    let limits = TemplateLimits::default();
    let _budget = budget::Budget::install(limits.work_bytes());
    sandbox::compile_expression(expression).map(drop).map_err(|e| failure("", &limits, &e, expression))
}

/// Renders every template in `value` against `context` given as JSON, under the default limits.
///
/// # Errors
/// When a template fails (bad syntax, a runtime error, fuel or a limit exhausted), with its pointer.
pub fn render(value: &Value, context: &Value) -> Result<Value, TemplateError> {
    let limits = TemplateLimits::default();
    render_with(value, &minijinja::Value::from_serialize(context), &limits, limits.step_input_cap())
}

/// Renders every template in `value` against `context`; the result may be at most `cap` bytes as
/// JSON ([`TemplateLimits::vars_cap`] for a transform, [`TemplateLimits::step_input_cap`] for an
/// action's payload), and is refused as soon as its templates pass it.
///
/// # Errors
/// As [`render`].
pub fn render_in(value: &Value, context: &Context, limits: &TemplateLimits, cap: Cap) -> Result<Value, TemplateError> {
    render_with(value, &context.root(), limits, cap)
}

/// An `io::Write` into a buffer that refuses to grow past `limit`.
struct BoundedBytes {
    bytes: Vec<u8>,
    limit: usize,
}

impl io::Write for BoundedBytes {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.bytes.len().saturating_add(buf.len()) > self.limit {
            return Err(io::Error::other("too large"));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `value` as JSON, or `None` when it is larger than `limit` bytes (then never built whole).
fn json_within<T: serde::Serialize + ?Sized>(value: &T, limit: usize) -> Option<Result<Value, String>> {
    let mut out = BoundedBytes { bytes: Vec::new(), limit };
    match serde_json::to_writer(&mut out, value) {
        Ok(()) => Some(serde_json::from_slice(&out.bytes).map_err(|e| e.to_string())),
        Err(e) if e.is_io() => None,
        Err(e) => Some(Err(e.to_string())),
    }
}

/// The size of `value` as JSON, counting at most `limit + 1`.
fn json_len(value: &Value, limit: usize) -> usize {
    let mut counter = budget::Counter::new(limit);
    match serde_json::to_writer(&mut counter, value) {
        Ok(()) => counter.bytes,
        Err(_) => limit.saturating_add(1),
    }
}

/// Whether `value` is larger than `limit` bytes as JSON.
pub fn exceeds(value: &Value, limit: usize) -> bool {
    json_len(value, limit) > limit
}

fn render_with(
    value: &Value,
    ctx: &minijinja::Value,
    limits: &TemplateLimits,
    cap: Cap,
) -> Result<Value, TemplateError> {
    let max = limits.max_template_bytes;
    let over_cap = |pointer: &str| {
        TemplateError::at(pointer, format!("the rendered value passes {} bytes ({})", cap.bytes, cap.setting))
    };
    let too_large = |pointer: &str| {
        TemplateError::at(pointer, format!("the template renders to more than {max} bytes (flows.max_template_bytes)"))
    };
    let mut total = 0usize;
    let rendered = walk(value, "", &mut |s, pointer| {
        let _budget = budget::Budget::install(limits.work_bytes());
        let rendered = match single_expression(s) {
            Some(expr) => {
                let err = |e: minijinja::Error| failure(pointer, limits, &e, expr);
                let compiled = sandbox::compile_expression(expr).map_err(err)?;
                let (value, _) = sandbox::run(&compiled, ctx.clone()).map_err(err)?;
                match value {
                    None => Value::Null,
                    Some(v) if v.is_undefined() => return Err(TemplateError::at(pointer, undefined(expr))),
                    Some(v) => json_within(&v, max)
                        .ok_or_else(|| too_large(pointer))?
                        .map_err(|e| TemplateError::at(pointer, e))?,
                }
            }
            None => {
                let err = |e: minijinja::Error| failure(pointer, limits, &e, s);
                let compiled = sandbox::compile_template(s).map_err(err)?;
                let (_, text) = sandbox::run(&compiled, ctx.clone()).map_err(err)?;
                if text.len() > max {
                    return Err(too_large(pointer));
                }
                Value::String(text)
            }
        };
        total = total.saturating_add(json_len(&rendered, max));
        if total > cap.bytes {
            return Err(over_cap(pointer));
        }
        Ok(rendered)
    })?;
    if exceeds(&rendered, cap.bytes) {
        return Err(over_cap(""));
    }
    Ok(rendered)
}

/// Evaluates a condition expression to a boolean (minijinja truthiness) against `context` given
/// as JSON, under the default limits.
///
/// # Errors
/// When the expression fails.
pub fn evaluate_condition(expression: &str, context: &Value) -> Result<bool, TemplateError> {
    evaluate_with(expression, minijinja::Value::from_serialize(context), &TemplateLimits::default())
}

/// Evaluates a condition expression to a boolean (minijinja truthiness) against `context`.
///
/// # Errors
/// When the expression fails.
pub fn evaluate_condition_in(
    expression: &str,
    context: &Context,
    limits: &TemplateLimits,
) -> Result<bool, TemplateError> {
    evaluate_with(expression, context.root(), limits)
}

fn evaluate_with(expression: &str, ctx: minijinja::Value, limits: &TemplateLimits) -> Result<bool, TemplateError> {
    Ok(evaluate_value(expression, ctx, limits)?.is_some_and(|v| v.is_true()))
}

fn evaluate_value(
    expression: &str,
    ctx: minijinja::Value,
    limits: &TemplateLimits,
) -> Result<Option<minijinja::Value>, TemplateError> {
    let _budget = budget::Budget::install(limits.work_bytes());
    let err = |e: minijinja::Error| failure("", limits, &e, expression);
    let compiled = sandbox::compile_expression(expression).map_err(err)?;
    let (value, _) = sandbox::run(&compiled, ctx).map_err(err)?;
    Ok(value)
}

/// Evaluates an expression (a `map`'s items, a wait's correlation key) to JSON against
/// `context`; undefined is `null`.
///
/// # Errors
/// When the expression fails, or its value is not JSON.
pub fn evaluate_in(expression: &str, context: &Context, limits: &TemplateLimits) -> Result<Value, TemplateError> {
    match evaluate_value(expression, context.root(), limits)? {
        None => Ok(Value::Null),
        Some(v) if v.is_undefined() || v.is_none() => Ok(Value::Null),
        Some(v) => serde_json::to_value(&v).map_err(|e| TemplateError::at("", format!("the value is not JSON: {e}"))),
    }
}

#[cfg(test)]
mod tests;
