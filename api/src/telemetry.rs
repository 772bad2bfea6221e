//! The tracing subscriber: pretty on a terminal, plain text when piped, JSON when asked; and,
//! when an OTLP endpoint is configured, an OpenTelemetry layer exporting every span.
//!
//! Traces are off by default and cost nothing then: no layer is installed, spans carry no
//! OpenTelemetry context, and jobs carry no `traceparent` (`bacon_worker::trace_context`).

use std::io::IsTerminal;
use std::time::Duration;

use anyhow::Context as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::{LogFormat, TracesConfig};

/// The span exporter, when traces are on: [`Traces::shutdown`] sends what is still buffered.
#[must_use = "dropping it without `shutdown` loses the spans not yet exported"]
pub struct Traces(Option<SdkTracerProvider>);

impl Traces {
    /// Exports the spans still buffered (waiting at most a few seconds for the collector).
    pub async fn shutdown(self) {
        if let Some(provider) = self.0 {
            let _ = tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(Duration::from_secs(5))).await;
        }
    }
}

/// Installs the global subscriber. `RUST_LOG` wins over `filter` when set.
/// Calling it twice is harmless (the second call is ignored), which tests rely on.
///
/// # Errors
/// When traces are configured with an endpoint that is not a URL.
pub fn init(format: LogFormat, filter: &str, traces: &TracesConfig) -> anyhow::Result<Traces> {
    let provider = tracer_provider(traces)?;
    let otel = provider.as_ref().map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("bacon")));
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(filter));
    let registry = tracing_subscriber::registry().with(filter).with(otel);
    let format = match format {
        LogFormat::Auto if std::io::stdout().is_terminal() => LogFormat::Pretty,
        LogFormat::Auto => LogFormat::Plain,
        other => other,
    };
    let _ = match format {
        LogFormat::Json => registry
            .with(tracing_subscriber::fmt::layer().json().flatten_event(true).with_current_span(true))
            .try_init(),
        LogFormat::Pretty => registry.with(tracing_subscriber::fmt::layer().pretty()).try_init(),
        _ => registry.with(tracing_subscriber::fmt::layer().with_ansi(false)).try_init(),
    };
    Ok(Traces(provider))
}

/// The exporter's provider, or `None` when no endpoint is configured here or in the standard
/// `OTEL_EXPORTER_OTLP_*ENDPOINT` variables.
fn tracer_provider(config: &TracesConfig) -> anyhow::Result<Option<SdkTracerProvider>> {
    let from_env = ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]
        .iter()
        .any(|name| std::env::var(name).is_ok_and(|v| !v.trim().is_empty()));
    if config.otlp_endpoint.is_none() && !from_env {
        return Ok(None);
    }
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let mut exporter = opentelemetry_otlp::SpanExporter::builder().with_http().with_protocol(Protocol::HttpJson);
    if let Some(endpoint) = &config.otlp_endpoint {
        let url =
            url::Url::parse(endpoint).with_context(|| format!("traces.otlp_endpoint `{endpoint}` is not a URL"))?;
        exporter = exporter.with_endpoint(format!("{}/v1/traces", url.as_str().trim_end_matches('/')));
    }
    let exporter = exporter.build().context("building the OTLP span exporter")?;
    let service_name = std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .or_else(|| config.service_name.clone())
        .unwrap_or_else(|| "bacon".to_string());
    let resource = Resource::builder().with_service_name(service_name).build();
    Ok(Some(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build()))
}
