//! The TOML file layout, as written by operators: every key optional, unknown keys rejected.
//!
//! Values that need checking (addresses, durations, URLs, names) are kept as text here and parsed
//! by the same parsers as the environment, so both report errors the same way.

use std::fmt;
use std::ops::Deref;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

use super::ConfigError;
use super::upstream_tuning::{FileRetry, FileWebhooks};

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
    pub(super) events: super::events::FileEvents,
    #[serde(default)]
    pub(super) auth: FileAuth,
    #[serde(default)]
    pub(super) accounts: Vec<FileAccount>,
    #[serde(default)]
    pub(super) webhooks: super::webhooks::FileWebhooks,
    #[serde(default)]
    pub(super) tls: super::tls::FileTls,
}

/// `[listeners]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileListeners {
    pub(super) grpc: Option<String>,
    pub(super) webhook: Option<String>,
    pub(super) admin: Option<String>,
}

/// `[server]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileServer {
    pub(super) drain_timeout: Option<DurationText>,
    pub(super) handler_timeout: Option<DurationText>,
    pub(super) max_in_flight_per_connection: Option<usize>,
    pub(super) public_webhook_base_url: Option<String>,
    pub(super) sandbox_latency: Option<DurationText>,
    pub(super) worker_threads: Option<usize>,
    pub(super) sandbox_export_rows: Option<u64>,
}

/// `[storage]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileStorage {
    pub(super) data_dir: Option<String>,
    pub(super) idempotency_retention: Option<DurationText>,
}

/// `[telemetry]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileTelemetry {
    pub(super) log: Option<String>,
    pub(super) log_format: Option<String>,
}

/// `[auth]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileAuth {
    pub(super) open_health_and_reflection: Option<bool>,
    #[serde(default)]
    pub(super) tokens: Vec<FileToken>,
}

/// `[[auth.tokens]]`: names where the token is, never the token itself.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileToken {
    pub(super) name: String,
    pub(super) token_env: Option<String>,
    pub(super) token_file: Option<PathBuf>,
    #[serde(default)]
    pub(super) accounts: Vec<String>,
    #[serde(default)]
    pub(super) services: Vec<String>,
}

/// `[[accounts]]`: names where the secrets are, never the secrets themselves.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileAccount {
    pub(super) name: String,
    pub(super) dialect: Option<String>,
    #[serde(default)]
    pub(super) default: bool,
    pub(super) base_url: Option<String>,
    pub(super) api_key_env: Option<String>,
    pub(super) api_key_file: Option<PathBuf>,
    pub(super) webhook_secret_env: Option<String>,
    pub(super) webhook_secret_file: Option<PathBuf>,
    pub(super) crm_key_env: Option<String>,
    pub(super) crm_key_file: Option<PathBuf>,
    pub(super) refresh_token_env: Option<String>,
    pub(super) refresh_token_file: Option<PathBuf>,
    pub(super) partner_credentials_env: Option<String>,
    pub(super) partner_credentials_file: Option<PathBuf>,
    pub(super) oauth_client_id: Option<String>,
    pub(super) channel_cache_ttl: Option<DurationText>,
    #[serde(default)]
    pub(super) limits: FileLimits,
    #[serde(default)]
    pub(super) retry: FileRetry,
    #[serde(default)]
    pub(super) webhooks: FileWebhooks,
}

/// `[accounts.limits]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileLimits {
    pub(super) requests_per_window: Option<u32>,
    pub(super) rate_window: Option<DurationText>,
    pub(super) max_concurrency: Option<usize>,
    pub(super) request_timeout: Option<DurationText>,
    pub(super) connect_timeout: Option<DurationText>,
}

/// A duration as the file writes it, text such as `"10s"`: kept as text and parsed later by the
/// environment's parser; anything but text (`drain_timeout = 10`) is refused naming what is meant.
#[derive(Debug)]
pub(super) struct DurationText(String);

impl Deref for DurationText {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for DurationText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        /// Accepts text only, and says what text in its error.
        struct TextVisitor;

        impl serde::de::Visitor<'_> for TextVisitor {
            type Value = DurationText;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                // Single quotes: errors drop double-quoted text (see `without_quoted_values`).
                formatter.write_str("a duration with its unit, in quotes, such as '10s' or '250ms'")
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<DurationText, E> {
                Ok(DurationText(text.to_owned()))
            }
        }

        deserializer.deserialize_str(TextVisitor)
    }
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
