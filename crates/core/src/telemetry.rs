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
//!
//! JSON log lines (`log.format = json`) written inside an exported span also carry its
//! `trace_id` and `span_id` (lowercase hex, as W3C and OTLP write them) as top-level fields, so
//! a line can be joined to its trace; the rest of the line is tracing-subscriber's JSON format.
//! An `https://` collector is verified against `telemetry.otlp_ca_file` (ring, as everywhere).

use std::sync::OnceLock;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanId, TraceContextExt, TraceId, TracerProvider};
use opentelemetry_otlp::{WithExportConfig, WithTonicConfig};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::fmt;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

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
            .event_format(JsonWithTraceIds::default())
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
            let service_name = telemetry.service_name_or(default_service_name);
            match exporting_provider(&endpoint, telemetry, &service_name) {
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
    telemetry: &TelemetryConfig,
    service_name: &str,
) -> Result<SdkTracerProvider, String> {
    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint);
    if endpoint.starts_with("https://") {
        exporter = exporter.with_tls_config(collector_tls(telemetry)?);
    }
    let exporter = exporter.build().map_err(|error| error.to_string())?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service_name.to_owned())
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// The TLS towards an `https://` collector: its CA and, for mTLS, the client certificate.
fn collector_tls(telemetry: &TelemetryConfig) -> Result<tonic::transport::ClientTlsConfig, String> {
    let read = |key: &str, path: &std::path::Path| {
        std::fs::read(path).map_err(|error| format!("{key}: {}: {error}", path.display()))
    };
    let Some(ca_file) = &telemetry.otlp_ca_file else {
        return Err(
            "telemetry.otlp_ca_file is not set (the CA to verify an https:// collector)".to_owned(),
        );
    };
    // assume_http2: a collector behind a proxy may not negotiate ALPN; OTLP/gRPC is HTTP/2.
    let mut tls = tonic::transport::ClientTlsConfig::new()
        .assume_http2(true)
        .ca_certificate(tonic::transport::Certificate::from_pem(read(
            "telemetry.otlp_ca_file",
            ca_file,
        )?));
    if let (Some(cert_file), Some(key_file)) = (
        &telemetry.otlp_client_cert_file,
        &telemetry.otlp_client_key_file,
    ) {
        tls = tls.identity(tonic::transport::Identity::from_pem(
            read("telemetry.otlp_client_cert_file", cert_file)?,
            read("telemetry.otlp_client_key_file", key_file)?,
        ));
    }
    Ok(tls)
}

/// tracing-subscriber's JSON event format (`timestamp`, `level`, `fields`, `target`, `span`,
/// `spans`) plus `trace_id` and `span_id` of the innermost exported span entered on this thread
/// (tracing-opentelemetry makes an entered span's context the current OpenTelemetry context).
/// Lines outside any exported span are unchanged.
struct JsonWithTraceIds {
    json: fmt::format::Format<fmt::format::Json>,
}

impl Default for JsonWithTraceIds {
    fn default() -> Self {
        JsonWithTraceIds {
            json: fmt::format().json(),
        }
    }
}

impl<S, N> FormatEvent<S, N> for JsonWithTraceIds
where
    S: tracing::Subscriber + for<'lookup> LookupSpan<'lookup>,
    N: for<'writer> FormatFields<'writer> + 'static,
{
    fn format_event(
        &self,
        context: &fmt::FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let Some((trace_id, span_id)) = current_trace_ids() else {
            return self.json.format_event(context, writer, event);
        };
        let mut line = String::new();
        self.json
            .format_event(context, Writer::new(&mut line), event)?;
        // The line is one JSON object and a newline: the ids go before its closing brace.
        if let Some(end) = line.rfind('}') {
            line.insert_str(
                end,
                &format!(r#","trace_id":"{trace_id}","span_id":"{span_id}""#),
            );
        }
        writer.write_str(&line)
    }
}

/// Trace and span id of the current OpenTelemetry context, when it holds a valid span.
fn current_trace_ids() -> Option<(TraceId, SpanId)> {
    let context = opentelemetry::Context::current();
    let span = context.span();
    let span_context = span.span_context();
    span_context
        .is_valid()
        .then(|| (span_context.trace_id(), span_context.span_id()))
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

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A log output that keeps what is written.
    #[derive(Clone, Default)]
    struct Output(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Output {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("output lock").extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn json_lines_inside_an_exported_span_carry_its_trace_and_span_ids() {
        let output = Output::default();
        let writer = output.clone();
        // No exporter: spans still get W3C ids, which is all the log format needs.
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(
                fmt::layer()
                    .json()
                    .event_format(JsonWithTraceIds::default())
                    .with_writer(move || writer.clone()),
            )
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        let (trace_id, span_id) = tracing::subscriber::with_default(subscriber, || {
            tracing::info!(port = 4317, "outside any span");
            let span = tracing::info_span!("request", method = "CreateSession");
            let span_context = span.context().span().span_context().clone();
            span.in_scope(|| tracing::warn!(user = "ada", "sign-in refused"));
            (
                span_context.trace_id().to_string(),
                span_context.span_id().to_string(),
            )
        });
        let text = String::from_utf8(output.0.lock().expect("output lock").clone())
            .expect("utf-8 log output");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        let (outside, inside) = (&lines[0], &lines[1]);
        assert_eq!(outside["fields"]["message"], "outside any span");
        assert!(outside.get("trace_id").is_none(), "{outside}");
        assert!(outside.get("span_id").is_none(), "{outside}");

        assert_eq!(trace_id.len(), 32);
        assert_eq!(span_id.len(), 16);
        assert_eq!(inside["trace_id"], trace_id.as_str(), "{inside}");
        assert_eq!(inside["span_id"], span_id.as_str(), "{inside}");
        // The usual shape is kept.
        assert_eq!(inside["level"], "WARN");
        assert_eq!(inside["fields"]["message"], "sign-in refused");
        assert_eq!(inside["fields"]["user"], "ada");
        assert_eq!(inside["span"]["name"], "request");
        assert_eq!(inside["spans"][0]["method"], "CreateSession");
        assert!(inside["timestamp"].is_string() && inside["target"].is_string());
    }
}
