//! The TOML file layout, as written by operators: every key optional, unknown keys rejected.
//!
//! Values that need checking (addresses, durations, URLs, names) are kept as text here and parsed
//! by the same parsers as the environment, so both report errors the same way.

use std::path::Path;

use serde::Deserialize;

use super::{
    ConfigError,
    account::FileAccount,
    auth::FileAuth,
    events::FileEvents,
    limits::FileLimits,
    nats::FileNats,
    process::{FileListeners, FileServer, FileStorage, FileTelemetry},
    tls::FileTls,
    webhooks::FileWebhooks,
};

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileConfig {
    #[serde(default)]
    pub(super) listeners: FileListeners,
    #[serde(default)]
    pub(super) server: FileServer,
    #[serde(default)]
    pub(super) storage: FileStorage,
    #[serde(default)]
    pub(super) telemetry: FileTelemetry,
    #[serde(default)]
    pub(super) events: FileEvents,
    #[serde(default)]
    pub(super) auth: FileAuth,
    #[serde(default)]
    pub(super) accounts: Vec<FileAccount>,
    #[serde(default)]
    pub(super) webhooks: FileWebhooks,
    #[serde(default)]
    pub(super) tls: FileTls,
    #[serde(default)]
    pub(super) limits: FileLimits,
    #[serde(default)]
    pub(super) nats: FileNats,
}

impl FileConfig {
    /// Parses the file text; `path` only labels errors.
    ///
    /// The error keeps toml's message (which names the offending key) and its position, but
    /// not toml's excerpt of the offending line, and drops double-quoted values from the
    /// message: an operator who pasted a secret into the wrong key must not see it echoed.
    pub(super) fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|error| ConfigError::Parse {
            path: path.to_owned(),
            message: describe(text, &error),
        })
    }
}

/// Renders `line L, column C: message` with quoted values removed.
fn describe(text: &str, error: &toml::de::Error) -> String {
    let message = without_quoted_values(error.message());
    let Some(span) = error.span() else {
        return message;
    };
    let before = text.get(..span.start).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map_or(0, |last| last.chars().count())
        + 1;
    format!("line {line}, column {column}: {message}")
}

/// Removes `"..."` segments (serde quotes the rejected value that way, e.g. `invalid type:
/// string "..."`); backquoted key and variant names are kept.
fn without_quoted_values(message: &str) -> String {
    let mut kept = String::with_capacity(message.len());
    let mut inside_quotes = false;
    for ch in message.chars() {
        if ch == '"' {
            inside_quotes = !inside_quotes;
        } else if !inside_quotes {
            kept.push(ch);
        }
    }
    kept.replace(" ,", ",").replace("  ", " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duration_without_quotes_and_unit_is_refused_saying_what_a_duration_looks_like() {
        let error = FileConfig::parse("[server]\ndrain_timeout = 10\n", Path::new("gw.toml"))
            .unwrap_err()
            .to_string();

        assert!(error.starts_with("gw.toml: line 2, column 17: "), "{error}");
        assert!(
            error
                .contains("expected a duration with its unit, in quotes, such as '10s' or '250ms'"),
            "{error}"
        );
    }

    #[test]
    fn parse_errors_drop_quoted_values_and_keep_the_position() {
        let text = "[[accounts]]\nname = \"main\"\n[accounts.limits]\n\
                    requests_per_window = \"sk-live-123\"\n";

        let error = FileConfig::parse(text, Path::new("gw.toml")).unwrap_err();

        let shown = error.to_string();
        assert!(!shown.contains("sk-live-123"), "{shown}");
        assert!(
            shown.starts_with("gw.toml: line 4, column 23: invalid type: string"),
            "{shown}"
        );
    }
}
