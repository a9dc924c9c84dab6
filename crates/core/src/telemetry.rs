//! Logging and OpenTelemetry traces, initialised once per process for every service.
//!
//! Lower-case messages with structured fields (`tracing::info!(addr = %addr, "listening")`).
//! `RUST_LOG` wins over the configured filter for the log output. With an OTLP endpoint
//! configured ([`TelemetryConfig`]), PAKE's own spans (targets `pake*`, INFO and above) are also
//! exported over OTLP/gRPC by a batch processor; [`flush`] exports what is left at shutdown.
//! The W3C trace context (`traceparent`, `tracestate`) travels in gRPC metadata
//! ([`inject_metadata`], [`set_parent_from_headers`]) and in change-feed events
//! ([`current_traceparent`], [`set_parent_from_traceparent`]). Without export, spans carry no
//! OpenTelemetry context and these helpers do nothing.

use std::sync::OnceLock;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::fmt;
use tracing_subscriber::prelude::*;

use crate::config::{LogConfig, LogFormat, TelemetryConfig};

/// The exporting tracer provider of this process, when export is on.
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// Installs the global subscriber without trace export. Calling it twice is harmless (the
/// second call is ignored), which test harnesses rely on.
pub fn init(config: &LogConfig) {
    init_with_traces(config, &TelemetryConfig::default(), "pake");
}

/// Installs the global subscriber; exports spans when `telemetry` names a collector, as
/// `telemetry.service_name` or else `default_service_name`. Must run inside a tokio runtime
/// (the exporter's gRPC channel lives there). A collector that cannot be set up is logged and
/// export stays off: telemetry never stops a service.
pub fn init_with_traces(
    config: &LogConfig,
    telemetry: &TelemetryConfig,
    default_service_name: &str,
) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let output = match config.format {
        LogFormat::Json => fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed(),
        LogFormat::Pretty => fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(filter)
            .boxed(),
    };
    let mut export_error = None;
    let provider = match telemetry.endpoint() {
        None => None,
        Some(endpoint) => {
            match exporting_provider(&endpoint, &telemetry.service_name_or(default_service_name)) {
                Ok(provider) => Some(provider),
                Err(error) => {
                    export_error = Some(format!("{endpoint}: {error}"));
                    None
                }
            }
        }
    };
    let traces = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("pake"))
            .with_filter(tracing_subscriber::filter::filter_fn(|metadata| {
                metadata.target().starts_with("pake") && *metadata.level() <= tracing::Level::INFO
            }))
    });
    let installed = tracing_subscriber::registry()
        .with(output)
        .with(traces)
        .try_init()
        .is_ok();
    // Already installed (a second harness in the same process): keep the first one.
    if installed && let Some(provider) = provider {
        let _ = PROVIDER.set(provider);
    }
    if let Some(error) = export_error {
        tracing::warn!(%error, "trace export is off: the otlp exporter could not be built");
    }
}

fn exporting_provider(
    endpoint: &str,
    service_name: &str,
) -> Result<SdkTracerProvider, opentelemetry_otlp::ExporterBuildError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service_name.to_owned())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// Exports the spans still queued and stops the exporter (SPEC §7: after the drain, before the
/// pools close). Does nothing without export; a second call does nothing either.
pub async fn flush() {
    let Some(provider) = PROVIDER.get().cloned() else {
        return;
    };
    // The batch processor's shutdown blocks until its thread has exported.
    let result = tokio::task::spawn_blocking(move || provider.shutdown()).await;
    if let Ok(Err(error)) = result {
        tracing::debug!(%error, "trace export shutdown");
    }
}

/// Logging for tests: silent unless `TEST_LOG` is set.
pub fn init_for_tests() {
    if std::env::var_os("TEST_LOG").is_some() {
        init(&LogConfig {
            format: LogFormat::Pretty,
            filter: "debug".to_owned(),
        });
    }
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct MetadataInjector<'a>(&'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            tonic::metadata::AsciiMetadataValue::try_from(value),
        ) {
            self.0.insert(key, value);
        }
    }
}

struct StringInjector(Option<String>);

impl Injector for StringInjector {
    fn set(&mut self, key: &str, value: String) {
        if key == "traceparent" {
            self.0 = Some(value);
        }
    }
}

struct StringExtractor<'a>(&'a str);

impl Extractor for StringExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        (key == "traceparent").then_some(self.0)
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent"]
    }
}

/// Makes the remote caller's trace context (W3C headers) the parent of `span`; headers without
/// a valid `traceparent` leave `span` a root.
pub fn set_parent_from_headers(span: &tracing::Span, headers: &http::HeaderMap) {
    let context = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    if context.span().span_context().is_valid() {
        let _ = span.set_parent(context);
    }
}

/// Writes the current span's trace context into outgoing gRPC metadata, replacing any
/// `traceparent`/`tracestate` there. Without an exported current span, `metadata` is unchanged
/// (a forwarded caller's header stays).
pub fn inject_metadata(metadata: &mut tonic::metadata::MetadataMap) {
    let context = tracing::Span::current().context();
    if context.span().span_context().is_valid() {
        TraceContextPropagator::new().inject_context(&context, &mut MetadataInjector(metadata));
    }
}

/// The current span's W3C `traceparent`, when it is exported.
pub fn current_traceparent() -> Option<String> {
    let context = tracing::Span::current().context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut injector = StringInjector(None);
    TraceContextPropagator::new().inject_context(&context, &mut injector);
    injector.0
}

/// Makes the span identified by a W3C `traceparent` (as recorded in a change-feed event) the
/// parent of `span`; an invalid value is ignored.
pub fn set_parent_from_traceparent(span: &tracing::Span, traceparent: &str) {
    let context = TraceContextPropagator::new().extract(&StringExtractor(traceparent));
    if context.span().span_context().is_valid() {
        let _ = span.set_parent(context);
    }
}
