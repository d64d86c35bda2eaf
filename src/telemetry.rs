//! Logging (tracing to stderr, text or JSON) and the Prometheus metrics registry.
//!
//! Secrets never reach a log line: they are held in `secrecy::SecretString`, spans record an
//! explicit list of fields, and the caller's `authorization` metadata is never recorded.

pub mod metrics;

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, TelemetryConfig};

pub use metrics::Metrics;

/// Installs the global tracing subscriber; call once, before anything logs.
///
/// Text lines are coloured only when stderr is a terminal, so a log file holds plain text.
pub fn init(config: &TelemetryConfig) {
    let filter = EnvFilter::try_new(&config.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.init(),
    }
}
