//! The template machine: minijinja, with every way a template can build a value going through
//! the render's [`budget`](super::budget).
//!
//! minijinja bounds the work of a render (fuel) but not the memory: one `'A' * 100000000` is
//! 100 MB, and `~` doubles a string per step. So a template is compiled here rather than by
//! `Environment::render_str`:
//!
//! 1. parsed, then its constant subexpressions are folded first under the budget ([`fold`]),
//!    because minijinja's code generator folds them at compile time (`{{ 'A' * 100000000 }}`
//!    would allocate while the flow is being validated);
//! 2. compiled, then its instructions rewritten: `~`, `+`, `*`, slices and list and map literals
//!    call the checked functions below, and raw text is printed like `{{ }}` output, so all
//!    output passes the formatter, which charges it;
//! 3. run against an environment whose filters and functions check what they are about to
//!    build (a bound worked out from their arguments) and charge what they built.
//!
//! Anything else a template can do returns a value it was given or a small one (a number, a
//! boolean, a loop variable), at most once per instruction, and instructions are bounded by fuel.
//!
//! Adding a filter or a function to [`ENVIRONMENT`]: give it a bound in [`FILTERS`] (or wrap it
//! like `range`), never register it bare.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::LazyLock;

use minijinja::machinery::{self, CodeGenerator, Instruction, Instructions, Vm};
use minijinja::value::{Rest, ValueKind};
use minijinja::{AutoEscape, Environment, Error, ErrorKind, Expression, State, Value, filters, functions};

use super::budget::{self, ITEM_BYTES};
use super::fold;

/// The fuel one render may burn: enough for real payloads, not for a runaway loop.
const FUEL: u64 = 50_000;

const CONCAT: &str = "__bacon_concat";
const ADD: &str = "__bacon_add";
const MUL: &str = "__bacon_mul";
const SLICE: &str = "__bacon_slice";
const LIST: &str = "__bacon_list";
const MAP: &str = "__bacon_map";

/// The environment templates run in: fuel-limited, every filter and function checked, and
/// undefined values semi-strict: printing, iterating or reading a field of one fails (a misspelt
/// `{{ input.ordr }}` is an error, not ""), while `{% if x %}`, `x is defined` and
/// `x | default(…)` still test for one.
pub(super) static ENVIRONMENT: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_fuel(Some(FUEL));
    env.set_undefined_behavior(minijinja::UndefinedBehavior::SemiStrict);
    env.set_formatter(|out, state, value| {
        budget::charge(budget::printed_len(value)?)?;
        minijinja::escape_formatter(out, state, value)
    });
    env.add_function(CONCAT, |a: Value, b: Value| concat(&a, &b));
    env.add_function(ADD, |a: Value, b: Value| add(a, b));
    env.add_function(MUL, |a: Value, b: Value| mul(a, b));
    env.add_function(SLICE, |a: Value, start: Value, stop: Value, step: Value| slice(a, start, stop, step));
    env.add_function(LIST, |items: Rest<Value>| {
        budget::charge(budget::times(items.len(), ITEM_BYTES))?;
        Ok::<_, Error>(Value::from(items.0))
    });
    env.add_function(MAP, |pairs: Rest<Value>| {
        budget::charge(budget::times(pairs.len(), ITEM_BYTES))?;
        Ok::<_, Error>(Value::from_iter(
            pairs.0.chunks(2).map(|kv| (kv[0].clone(), kv.get(1).cloned().unwrap_or_default())),
        ))
    });
    for &(name, filter, bound) in FILTERS {
        env.add_filter(name, move |state: &State, args: Rest<Value>| {
            bound.check(&args.0)?;
            let built = filter(state, args)?;
            budget::charge(budget::size_of(&built))?;
            Ok::<_, Error>(built)
        });
    }
    for (name, function) in [
        ("range", Value::from_function(functions::range)),
        ("dict", Value::from_function(functions::dict)),
        ("namespace", Value::from_function(functions::namespace)),
    ] {
        env.add_function(name, move |state: &State, args: Rest<Value>| {
            let built = function.call(state, &args.0)?;
            budget::charge(budget::size_of(&built))?;
            Ok::<_, Error>(built)
        });
    }
    env.add_function("debug", || -> Result<Value, Error> {
        Err(Error::new(ErrorKind::InvalidOperation, "debug() is not available in flow templates"))
    });
    env
});

/// minijinja's own operators, for the cases the checked ones hand back (numbers, and lists
/// once their size is paid for): variables on both sides, so nothing is folded.
static PLAIN: LazyLock<Environment<'static>> = LazyLock::new(Environment::new);

static PLAIN_OPS: LazyLock<HashMap<&'static str, Expression<'static, 'static>>> = LazyLock::new(|| {
    ["a + b", "a * b", "a ~ b", "a - b", "a / b", "a // b", "a % b", "a ** b", "a in b", "-a", "a[b:c:d]"]
        .into_iter()
        .filter_map(|source| PLAIN.compile_expression(source).ok().map(|e| (source, e)))
        .collect()
});

pub(super) fn plain(source: &'static str, a: Value, b: Value, c: Value, d: Value) -> Result<Value, Error> {
    let expression =
        PLAIN_OPS.get(source).ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "unknown operator"))?;
    expression.eval(minijinja::context! { a, b, c, d })
}

fn is_seq(v: &Value) -> bool {
    matches!(v.kind(), ValueKind::Seq | ValueKind::Iterable)
}

/// `a ~ b`: both printed into a string no longer than the budget allows.
pub(super) fn concat(a: &Value, b: &Value) -> Result<Value, Error> {
    Ok(Value::from(budget::print_bounded(format_args!("{a}{b}"))?))
}

/// `a + b`: strings are joined within the budget; two lists pay for the items of the result (it
/// is built lazily, but anything may iterate or copy it later).
pub(super) fn add(a: Value, b: Value) -> Result<Value, Error> {
    if let (Some(x), Some(y)) = (a.as_str(), b.as_str()) {
        budget::charge(x.len().saturating_add(y.len()))?;
        return Ok(Value::from([x, y].concat()));
    }
    if is_seq(&a) && is_seq(&b) {
        let cap = budget::remaining() / ITEM_BYTES;
        let items = budget::items_in(&a, cap).saturating_add(budget::items_in(&b, cap));
        budget::charge(budget::times(items, ITEM_BYTES))?;
    }
    plain("a + b", a, b, Value::UNDEFINED, Value::UNDEFINED)
}

/// `a * b`: a repeated string is checked before it is built; a repeated list pays for its items.
pub(super) fn mul(a: Value, b: Value) -> Result<Value, Error> {
    let (text, count) = match (a.as_str(), b.as_str()) {
        (Some(s), _) => (Some(s), &b),
        (_, Some(s)) => (Some(s), &a),
        _ => (None, &b),
    };
    if let Some(s) = text {
        if let Some(n) = count.as_usize() {
            budget::charge(s.len().saturating_mul(n))?;
            return Ok(Value::from(s.repeat(n)));
        }
    } else {
        let (seq, n) = if is_seq(&a) { (&a, b.as_usize()) } else { (&b, a.as_usize()) };
        if is_seq(seq)
            && let Some(n) = n
        {
            let items = budget::items_in(seq, budget::remaining() / ITEM_BYTES);
            budget::charge(budget::times(items.saturating_mul(n), ITEM_BYTES))?;
        }
    }
    plain("a * b", a, b, Value::UNDEFINED, Value::UNDEFINED)
}

/// `a[start:stop:step]`: a slice is at most as long as what it is cut from.
fn slice(a: Value, start: Value, stop: Value, step: Value) -> Result<Value, Error> {
    if a.as_str().is_some() {
        budget::charge(budget::size_of(&a))?;
    } else {
        let items = budget::items_in(&a, budget::remaining() / ITEM_BYTES);
        budget::charge(budget::times(items, ITEM_BYTES))?;
    }
    plain("a[b:c:d]", a, start, stop, step)
}

/// What a filter may build, worked out from its arguments before it runs.
#[derive(Clone, Copy)]
enum Bound {
    /// Returns one of its arguments, a part of one, or a scalar.
    Small,
    /// At most `k` times the printed size of its arguments (case mapping can triple UTF-8).
    Printed(usize),
    /// A list or map: at most twice the items of its arguments (and counts it is given).
    Items,
    Replace,
    Indent,
    Join,
    ToJson,
    PrettyPrint,
    /// Printed arguments plus the widths written in the format string.
    Format,
}

type FilterFn = fn(&State, Rest<Value>) -> Result<Value, Error>;

macro_rules! filter {
    ($f:path) => {
        |state: &State, args: Rest<Value>| -> Result<Value, Error> { Value::from_function($f).call(state, &args.0) }
    };
}

/// Every built-in filter, with the bound checked before it runs.
static FILTERS: &[(&str, FilterFn, Bound)] = &[
    ("safe", filter!(filters::safe), Bound::Small),
    ("escape", filter!(filters::escape), Bound::Printed(6)),
    ("e", filter!(filters::escape), Bound::Printed(6)),
    ("lower", filter!(filters::lower), Bound::Printed(3)),
    ("upper", filter!(filters::upper), Bound::Printed(3)),
    ("title", filter!(filters::title), Bound::Printed(3)),
    ("capitalize", filter!(filters::capitalize), Bound::Printed(3)),
    ("replace", filter!(filters::replace), Bound::Replace),
    ("length", filter!(filters::length), Bound::Small),
    ("count", filter!(filters::length), Bound::Small),
    ("dictsort", filter!(filters::dictsort), Bound::Items),
    ("items", filter!(filters::items), Bound::Items),
    ("reverse", filter!(filters::reverse), Bound::Items),
    ("trim", filter!(filters::trim), Bound::Printed(1)),
    ("join", filter!(filters::join), Bound::Join),
    ("split", filter!(filters::split), Bound::Items),
    ("lines", filter!(filters::lines), Bound::Items),
    ("default", filter!(filters::default), Bound::Small),
    ("d", filter!(filters::default), Bound::Small),
    ("round", filter!(filters::round), Bound::Small),
    ("abs", filter!(filters::abs), Bound::Small),
    ("int", filter!(filters::int), Bound::Small),
    ("float", filter!(filters::float), Bound::Small),
    ("attr", filter!(filters::attr), Bound::Small),
    ("first", filter!(filters::first), Bound::Small),
    ("last", filter!(filters::last), Bound::Small),
    ("min", filter!(filters::min), Bound::Small),
    ("max", filter!(filters::max), Bound::Small),
    ("sort", filter!(filters::sort), Bound::Items),
    ("list", filter!(filters::list), Bound::Items),
    ("string", filter!(filters::string), Bound::Printed(1)),
    ("bool", filter!(filters::bool), Bound::Small),
    ("batch", filter!(filters::batch), Bound::Items),
    ("slice", filter!(filters::slice), Bound::Items),
    ("sum", filter!(filters::sum), Bound::Small),
    ("indent", filter!(filters::indent), Bound::Indent),
    ("select", filter!(filters::select), Bound::Items),
    ("reject", filter!(filters::reject), Bound::Items),
    ("selectattr", filter!(filters::selectattr), Bound::Items),
    ("rejectattr", filter!(filters::rejectattr), Bound::Items),
    ("map", filter!(filters::map), Bound::Items),
    ("groupby", filter!(filters::groupby), Bound::Items),
    ("unique", filter!(filters::unique), Bound::Items),
    ("chain", filter!(filters::chain), Bound::Items),
    ("zip", filter!(filters::zip), Bound::Items),
    ("pprint", filter!(filters::pprint), Bound::PrettyPrint),
    ("format", filter!(filters::format), Bound::Format),
    ("tojson", filter!(filters::tojson), Bound::ToJson),
];

impl Bound {
    fn check(self, args: &[Value]) -> Result<(), Error> {
        let printed = |args: &[Value]| -> Result<usize, Error> {
            args.iter().try_fold(0usize, |sum, a| Ok(sum.saturating_add(budget::printed_len(a)?)))
        };
        let first = args.first().cloned().unwrap_or_default();
        let text = first.as_str().unwrap_or_default();
        match self {
            Self::Small => Ok(()),
            Self::Printed(k) => budget::need(printed(args)?.saturating_mul(k)),
            Self::Items => {
                let cap = budget::remaining() / ITEM_BYTES;
                let items = args.iter().fold(0usize, |sum, a| {
                    sum.saturating_add(a.as_usize().unwrap_or_else(|| budget::items_in(a, cap)))
                });
                budget::need(budget::times(items.saturating_mul(2), ITEM_BYTES))
            }
            Self::Replace => {
                let from = args.get(1).and_then(Value::as_str).unwrap_or_default();
                let to = args.get(2).and_then(Value::as_str).unwrap_or_default();
                let hits = if from.is_empty() { text.chars().count() + 1 } else { text.matches(from).count() };
                budget::need(printed(&args[..1.min(args.len())])?.saturating_add(hits.saturating_mul(to.len())))
            }
            Self::Indent => {
                let width = args.get(1).map_or(0, |w| w.as_usize().or_else(|| w.as_str().map(str::len)).unwrap_or(0));
                let lines = text.lines().count() + 1;
                budget::need(text.len().saturating_add(lines.saturating_mul(width)))
            }
            Self::Join => {
                let separator = args.get(1).and_then(Value::as_str).unwrap_or_default();
                let items = budget::items_in(&first, budget::remaining() / ITEM_BYTES);
                budget::need(budget::printed_len(&first)?.saturating_add(items.saturating_mul(separator.len())))
            }
            Self::ToJson => {
                let indent = args
                    .get(1)
                    .and_then(|v| v.as_usize().or_else(|| v.get_attr("indent").ok()?.as_usize()))
                    .unwrap_or(0);
                budget::need(indent)?;
                let mut counter = budget::Counter::new(budget::remaining());
                let spaces = " ".repeat(indent);
                let written = if indent == 0 {
                    serde_json::to_writer(&mut counter, &first)
                } else {
                    let formatter = serde_json::ser::PrettyFormatter::with_indent(spaces.as_bytes());
                    serde::Serialize::serialize(
                        &first,
                        &mut serde_json::Serializer::with_formatter(&mut counter, formatter),
                    )
                };
                let bytes = if written.is_err() { budget::remaining().saturating_add(1) } else { counter.bytes };
                // `<`, `>`, `&` and `'` are written as six-byte escapes.
                budget::need(bytes.saturating_mul(6))
            }
            Self::PrettyPrint => {
                let mut counter = budget::Counter::new(budget::remaining());
                let bytes = match write!(counter, "{first:#?}") {
                    Ok(()) => counter.bytes,
                    Err(_) => budget::remaining().saturating_add(1),
                };
                budget::need(bytes)
            }
            Self::Format => {
                let widths: usize = text
                    .split(|c: char| !c.is_ascii_digit())
                    .filter_map(|digits| digits.parse::<usize>().ok())
                    .fold(0usize, usize::saturating_add);
                budget::need(printed(args)?.saturating_add(widths))
            }
        }
    }
}

/// `instructions` with the operators that build values calling the checked functions, and raw
/// text printed through the formatter. Jump targets move with the instructions they point at.
fn rewrite<'s>(instructions: &Instructions<'s>) -> Instructions<'s> {
    let mut out = Instructions::new(instructions.name(), instructions.source());
    let mut moved = Vec::with_capacity(instructions.len() + 1);
    let count = u32::try_from(instructions.len()).unwrap_or(u32::MAX);
    for at in 0..count {
        moved.push(u32::try_from(out.len()).unwrap_or(u32::MAX));
        let Some(instruction) = instructions.get(at) else { break };
        let line = instructions.get_line(at).and_then(|l| u16::try_from(l).ok()).unwrap_or(0);
        let span = instructions.get_span(at);
        let mut push = |i: Instruction<'s>| match span {
            Some(span) => out.add_with_span(i, span),
            None => out.add_with_line(i, line),
        };
        match instruction {
            Instruction::EmitRaw(raw) => {
                push(Instruction::LoadConst(Value::from_safe_string((*raw).to_string())));
                push(Instruction::Emit);
            }
            Instruction::StringConcat => {
                push(Instruction::CallFunction(CONCAT, Some(2)));
            }
            Instruction::Add => {
                push(Instruction::CallFunction(ADD, Some(2)));
            }
            Instruction::Mul => {
                push(Instruction::CallFunction(MUL, Some(2)));
            }
            Instruction::Slice => {
                push(Instruction::CallFunction(SLICE, Some(4)));
            }
            Instruction::BuildList(n) if (*n).is_none_or(|n| u16::try_from(n).is_ok()) => {
                push(Instruction::CallFunction(LIST, n.and_then(|n| u16::try_from(n).ok())));
            }
            Instruction::BuildMap(n) if u16::try_from(n.saturating_mul(2)).is_ok() => {
                push(Instruction::CallFunction(MAP, u16::try_from(n * 2).ok()));
            }
            other => {
                push(other.clone());
            }
        }
    }
    moved.push(u32::try_from(out.len()).unwrap_or(u32::MAX));
    let target = |t: &mut u32| *t = moved.get(*t as usize).copied().unwrap_or(*t);
    for at in 0..u32::try_from(out.len()).unwrap_or(u32::MAX) {
        if let Some(
            Instruction::Jump(t)
            | Instruction::JumpIfFalse(t)
            | Instruction::JumpIfFalseOrPop(t)
            | Instruction::JumpIfTrueOrPop(t)
            | Instruction::Iterate(t),
        ) = out.get_mut(at)
        {
            target(t);
        }
    }
    out
}

/// Compiles `source` as one expression (`nodes.a.output.ok`), checked and rewritten.
///
/// # Errors
/// A syntax error, or a constant past the budget.
pub(super) fn compile_expression(source: &str) -> Result<Instructions<'_>, Error> {
    let expr = machinery::parse_expr(source)?;
    fold::fold(&expr)?;
    let mut generator = CodeGenerator::new("<expression>", source);
    generator.compile_expr(&expr);
    Ok(rewrite(&generator.finish().0))
}

/// Compiles `source` as a template (`Hello {{ name }}`), checked and rewritten.
///
/// # Errors
/// As [`compile_expression`].
pub(super) fn compile_template(source: &str) -> Result<Instructions<'_>, Error> {
    let stmt = machinery::parse(source, "<string>", Default::default(), Default::default())?;
    fold::fold_stmt(&stmt)?;
    let mut generator = CodeGenerator::new("<string>", source);
    generator.compile_stmt(&stmt);
    Ok(rewrite(&generator.finish().0))
}

/// Runs compiled instructions against `root`: the value left on the stack (an expression's) and
/// the text printed (a template's).
///
/// # Errors
/// When the render fails (a runtime error, fuel or budget exhausted).
pub(super) fn run(instructions: &Instructions<'_>, root: minijinja::Value) -> Result<(Option<Value>, String), Error> {
    let mut text = String::new();
    let blocks = BTreeMap::new();
    let value = {
        let mut out = machinery::make_string_output(&mut text);
        Vm::new(&ENVIRONMENT).eval(instructions, root, &blocks, &mut out, AutoEscape::None)?.0
    };
    Ok((value, text))
}
