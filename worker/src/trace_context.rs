//! Traces across the queue: a job carries the W3C `traceparent` of the span that enqueued it
//! (an API request, or the job before it), and the span that executes the job continues it, in
//! whichever process fetches the job. When no OpenTelemetry layer is installed (traces are off)
//! spans have no context: nothing is written into jobs and nothing is read back.

use std::collections::HashMap;

use opentelemetry::global;
use opentelemetry::propagation::{Extractor, Injector};
use opentelemetry::trace::TraceContextExt as _;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

/// The W3C Trace Context headers.
const TRACE_HEADERS: [&str; 2] = ["traceparent", "tracestate"];

/// The `traceparent` of the current span, when it belongs to an exported trace.
pub fn current_traceparent() -> Option<String> {
    let context = tracing::Span::current().context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    global::get_text_map_propagator(|propagator| propagator.inject_context(&context, &mut Carrier(&mut carrier)));
    carrier.remove("traceparent")
}

/// Makes `span` a child of the span `headers` name (W3C `traceparent`/`tracestate`; anything
/// else is ignored), and records its trace id in the span's `trace_id` field, so log lines
/// inside it carry the id. A `span` with no `trace_id` field still gets its parent.
pub fn continue_trace<'a>(span: &tracing::Span, headers: impl Iterator<Item = (&'a str, &'a str)>) {
    let carrier: HashMap<String, String> = headers
        .filter(|(name, _)| TRACE_HEADERS.iter().any(|h| name.eq_ignore_ascii_case(h)))
        .map(|(name, value)| (name.to_ascii_lowercase(), value.to_string()))
        .collect();
    if !carrier.is_empty() {
        let parent = global::get_text_map_propagator(|propagator| propagator.extract(&ReadCarrier(&carrier)));
        if parent.span().span_context().is_valid() {
            let _ = span.set_parent(parent);
        }
    }
    let trace_id = span.context().span().span_context().trace_id();
    if trace_id != opentelemetry::TraceId::INVALID {
        span.record("trace_id", tracing::field::display(trace_id));
    }
}

struct Carrier<'a>(&'a mut HashMap<String, String>);

impl Injector for Carrier<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }
}

struct ReadCarrier<'a>(&'a HashMap<String, String>);

impl Extractor for ReadCarrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}
