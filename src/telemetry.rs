//! Logging (tracing to stderr, text or JSON), OpenTelemetry trace export, and the Prometheus
//! metrics registry.
//!
//! Secrets never reach a log line or a span: they are held in `secrecy::SecretString`, spans record
//! an explicit list of fields, and the caller's `authorization` metadata is never recorded.

pub(crate) mod event_links;
pub(crate) mod metrics;
pub(crate) mod trace_context;
pub(crate) mod trace_export;

use std::io::IsTerminal as _;

use tracing::Level;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

use crate::config::{LogFormat, TelemetryConfig};

pub(crate) use metrics::Metrics;
pub(crate) use trace_export::TraceExport;

/// The target of spans that exist only for the trace export (one per event delivery): the log
/// filter turns it off, so without an export nothing records them and they cost nothing on the
/// hot paths that open them.
pub(crate) const TRACE_ONLY_TARGET: &str = "wazzup_gateway::trace_only";

/// Installs the global tracing subscriber and, when the `OTEL_*` variables ask for it, the
/// OpenTelemetry trace export; call once, inside the Tokio runtime, before anything logs.
///
/// Text lines are coloured only when stderr is a terminal, so a log file holds plain text. The
/// log filter applies to log lines only: the gateway's spans at INFO and above are exported
/// whatever the log level.
///
/// Returns the running export, to be shut down last so the final spans leave the process.
pub fn init(config: &TelemetryConfig) -> Option<TraceExport> {
    let filter = log_filter(&config.log_filter);
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

/// The filter of log lines: `directives` (or `info` when they do not parse), with the
/// trace-only spans off.
fn log_filter(directives: &str) -> EnvFilter {
    let filter = EnvFilter::try_new(directives).unwrap_or_else(|_| EnvFilter::new("info"));
    match format!("{TRACE_ONLY_TARGET}=off").parse() {
        Ok(trace_only_off) => filter.add_directive(trace_only_off),
        Err(_) => filter,
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::Registry;

    use super::*;

    #[test]
    fn the_log_filter_keeps_trace_only_spans_off_whatever_the_directives() {
        for directives in [
            "info",
            "wazzup_gateway=debug",
            "trace",
            "warn,wazzup_gateway=info",
        ] {
            let subscriber = Registry::default()
                .with(tracing_subscriber::fmt::layer().with_filter(log_filter(directives)));
            tracing::subscriber::with_default(subscriber, || {
                let trace_only = tracing::info_span!(target: TRACE_ONLY_TARGET, "event deliver");
                assert!(trace_only.is_disabled(), "{directives}");
                let logged = tracing::info_span!("gateway span");
                assert!(!logged.is_disabled(), "{directives}");
            });
        }
    }
}
