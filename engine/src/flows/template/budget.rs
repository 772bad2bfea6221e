//! The byte budget of one render: what the values a template builds may add up to.
//!
//! A render installs a [`Budget`] on its thread ([`Budget::install`]); every operation that
//! builds a value (the `~`, `+` and `*` operators, list and map literals, filters, `range`,
//! printing) asks it first, for the bytes it is about to allocate, and is refused with an error
//! once the sum would pass the limit. Charges are never given back, so the values a render holds
//! at any moment are at most the budget, whatever it drops on the way.
//!
//! Sizes are estimates that err high: a string counts its bytes, a list [`ITEM_BYTES`] per item
//! (its items are shared, not copied), a map twice that per entry.

use std::cell::Cell;
use std::fmt;

use minijinja::value::ValueKind;
use minijinja::{Error, ErrorKind, Value};

/// What one list item costs (a `minijinja::Value` is 24 bytes, rounded up for the list itself).
pub(super) const ITEM_BYTES: usize = 32;

/// A map entry: a key and a value.
const ENTRY_BYTES: usize = 2 * ITEM_BYTES;

#[derive(Clone, Copy)]
struct State {
    limit: usize,
    used: usize,
    exceeded: bool,
}

thread_local! {
    static BUDGET: Cell<Option<State>> = const { Cell::new(None) };
}

/// The budget of the render running on this thread, removed when dropped.
pub(super) struct Budget {
    previous: Option<State>,
}

impl Budget {
    /// Installs a budget of `limit` bytes for the render about to run on this thread.
    pub(super) fn install(limit: usize) -> Self {
        let previous = BUDGET.replace(Some(State { limit, used: 0, exceeded: false }));
        Self { previous }
    }
}

/// Whether a charge was refused since the render's budget was installed.
pub(super) fn exceeded() -> bool {
    BUDGET.get().is_some_and(|s| s.exceeded)
}

impl Drop for Budget {
    fn drop(&mut self) {
        BUDGET.set(self.previous);
    }
}

fn refused(limit: usize) -> Error {
    Error::new(ErrorKind::InvalidOperation, format!("the template would build more than {limit} bytes of values"))
}

/// Bytes left; zero when no budget is installed (a render outside [`Budget::install`] builds nothing).
pub(super) fn remaining() -> usize {
    BUDGET.get().map_or(0, |s| s.limit.saturating_sub(s.used))
}

/// Checks that `bytes` more fit, without taking them.
///
/// # Errors
/// When they do not (the render then fails).
pub(super) fn need(bytes: usize) -> Result<(), Error> {
    match BUDGET.get() {
        Some(s) if s.used.checked_add(bytes).is_some_and(|total| total <= s.limit) => Ok(()),
        Some(s) => {
            BUDGET.set(Some(State { exceeded: true, ..s }));
            Err(refused(s.limit))
        }
        None => Err(refused(0)),
    }
}

/// Takes `bytes` from the budget.
///
/// # Errors
/// When they do not fit.
pub(super) fn charge(bytes: usize) -> Result<(), Error> {
    need(bytes)?;
    if let Some(s) = BUDGET.get() {
        BUDGET.set(Some(State { used: s.used + bytes, ..s }));
    }
    Ok(())
}

/// `count` items of `bytes` each, saturating (a caller compares it with the budget).
pub(super) fn times(count: usize, bytes: usize) -> usize {
    count.saturating_mul(bytes)
}

/// What holding `value` costs, as built: a string its bytes, a list or map its entries.
pub(super) fn size_of(value: &Value) -> usize {
    match value.kind() {
        ValueKind::String | ValueKind::Bytes => {
            value.as_str().map_or_else(|| value.as_bytes().map_or(0, <[u8]>::len), str::len)
        }
        ValueKind::Seq | ValueKind::Iterable => times(value.len().unwrap_or(0), ITEM_BYTES),
        ValueKind::Map => times(value.len().unwrap_or(0), ENTRY_BYTES),
        _ => 0,
    }
}

/// The number of items iterating `value` yields, counting at most `cap` (then `cap + 1`).
pub(super) fn items_in(value: &Value, cap: usize) -> usize {
    if let Some(s) = value.as_str() {
        return s.len();
    }
    if let Some(len) = value.len() {
        return len;
    }
    value.try_iter().map_or(0, |iter| iter.take(cap.saturating_add(1)).count())
}

/// A string that refuses to grow past its limit: a value is printed into it only as far as the
/// budget allows, and never allocated beyond.
///
/// A refusal sticks (`full`): a value's `Display` may carry on after an error it ignored.
pub(super) struct Bounded {
    pub(super) text: String,
    limit: usize,
    full: bool,
}

impl Bounded {
    pub(super) fn new(limit: usize) -> Self {
        Self { text: String::new(), limit, full: false }
    }
}

impl fmt::Write for Bounded {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.full || self.text.len().saturating_add(s.len()) > self.limit {
            self.full = true;
            return Err(fmt::Error);
        }
        self.text.push_str(s);
        Ok(())
    }
}

/// Counts what is written, refusing past a limit: the printed size of a value, without keeping it.
pub(super) struct Counter {
    pub(super) bytes: usize,
    limit: usize,
}

impl Counter {
    pub(super) fn new(limit: usize) -> Self {
        Self { bytes: 0, limit }
    }
}

impl fmt::Write for Counter {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.bytes = self.bytes.saturating_add(s.len());
        if self.bytes > self.limit { Err(fmt::Error) } else { Ok(()) }
    }
}

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes = self.bytes.saturating_add(buf.len());
        if self.bytes > self.limit { Err(std::io::Error::other("limit")) } else { Ok(buf.len()) }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The printed (`{{ value }}`) size of `value`, or an error once it would pass what is left of
/// the budget.
///
/// # Errors
/// When it would.
pub(super) fn printed_len(value: &Value) -> Result<usize, Error> {
    if let Some(s) = value.as_str() {
        return Ok(s.len());
    }
    let left = remaining();
    let mut counter = Counter::new(left);
    let written = fmt::write(&mut counter, format_args!("{value}"));
    if written.is_err() || counter.bytes > left {
        need(left.saturating_add(1))?;
    }
    Ok(counter.bytes)
}

/// `args` printed one after the other into a new string, charged to the budget.
///
/// # Errors
/// When the result would not fit.
pub(super) fn print_bounded(args: fmt::Arguments<'_>) -> Result<String, Error> {
    let left = remaining();
    let mut out = Bounded::new(left);
    if fmt::write(&mut out, args).is_err() || out.full {
        need(left.saturating_add(1))?;
    }
    charge(out.text.len())?;
    Ok(out.text)
}
