//! Logging (tracing to stderr, text or JSON), OpenTelemetry trace export, and the Prometheus
//! metrics registry.
//!
//! Secrets never reach a log line or a span: they are held in `secrecy::SecretString`, spans record
//! an explicit list of fields, and the caller's `authorization` metadata is never recorded.

pub mod event_links;
pub mod metrics;
pub mod trace_context;
pub mod trace_export;

use std::io::IsTerminal as _;

use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

use crate::config::{LogFormat, TelemetryConfig};

pub use metrics::Metrics;
pub use trace_export::TraceExport;

/// Installs the global tracing subscriber and, when the `OTEL_*` variables ask for it, the
/// OpenTelemetry trace export; call once, inside the Tokio runtime, before anything logs.
///
/// Text lines are coloured only when stderr is a terminal, so a log file holds plain text. The
/// log filter applies to log lines only: the gateway's spans at INFO and above are exported
/// whatever the log level.
///
/// Returns the running export, to be shut down last so the final spans leave the process.
pub fn init(config: &TelemetryConfig) -> Option<TraceExport> {
    let filter = EnvFilter::try_new(&config.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let log_lines = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let log_lines = match config.log_format {
        LogFormat::Json => log_lines.json().flatten_event(true).boxed(),
        LogFormat::Text => log_lines.boxed(),
    };
    let (export, export_error) = match TraceExport::start_from_env() {
        Ok(started) => (started, None),
        Err(error) => (None, Some(error)),
    };
    let (export, spans) = match export {
        Some((export, tracer)) => (
            Some(export),
            Some(
                tracing_opentelemetry::layer()
                    .with_tracer(tracer)
                    .with_filter(
                        // The gateway's own spans; the HTTP/2 and client libraries' spans stay local.
                        Targets::new().with_target(env!("CARGO_CRATE_NAME"), Level::INFO),
                    ),
            ),
        ),
        None => (None, None),
    };
    tracing_subscriber::registry()
        .with(log_lines.with_filter(filter))
        .with(spans)
        .init();
    if let Some(error) = export_error {
        tracing::warn!("OpenTelemetry trace export is off: {error}");
    }
    export
}
