//! Parsers for setting values, and the layering of environment over file over default.

use std::{collections::HashMap, fmt, net::SocketAddr, ops::Deref, path::PathBuf, time::Duration};

use serde::{Deserialize, Deserializer};

use super::{ConfigError, doc::SettingDoc};
use crate::model::http_url;

/// The process environment as handed to the loader.
pub(super) type Env = HashMap<String, String>;

/// What one kind of value looks like: its parser and the description used in errors.
#[derive(Debug)]
pub(super) struct ValueKind<T> {
    /// Returns the typed value, or `None` when the text is not acceptable.
    parse: fn(&str) -> Option<T>,
    /// Completes "expected ..." in [`ConfigError::Invalid`].
    expected: &'static str,
}

impl<T> ValueKind<T> {
    /// Returns a kind for values `parse` accepts, described as `expected` in errors.
    pub(super) const fn new(parse: fn(&str) -> Option<T>, expected: &'static str) -> Self {
        Self { parse, expected }
    }

    /// Parses `raw` (surrounding whitespace ignored), naming `key` when it is not acceptable.
    pub(super) fn parse_at(&self, raw: &str, key: &str) -> Result<T, ConfigError> {
        (self.parse)(raw.trim()).ok_or_else(|| ConfigError::invalid(key, self.expected))
    }
}

/// A socket address such as `127.0.0.1:50051`.
pub(super) const SOCKET_ADDR: ValueKind<SocketAddr> = ValueKind {
    parse: |raw| raw.parse().ok(),
    expected: "a socket address such as 127.0.0.1:50051",
};

/// A humantime duration such as `10s`; zero allowed.
pub(super) const DURATION: ValueKind<Duration> = ValueKind {
    parse: |raw| humantime::parse_duration(raw).ok(),
    expected: "a duration such as 0s, 250ms or 10s",
};

/// A humantime duration greater than zero.
pub(super) const POSITIVE_DURATION: ValueKind<Duration> = ValueKind {
    parse: |raw| {
        humantime::parse_duration(raw)
            .ok()
            .filter(|value| !value.is_zero())
    },
    expected: "a duration greater than zero such as 250ms or 10s",
};

/// A whole number, zero included.
pub(super) const COUNT: ValueKind<usize> = ValueKind {
    parse: |raw| raw.parse().ok(),
    expected: "a whole number such as 0, 1 or 4",
};

/// A boolean flag.
pub(super) const BOOL: ValueKind<bool> = ValueKind {
    parse: parse_bool,
    expected: "true, false, 1 or 0",
};

/// An http or https URL without credentials, query or fragment; trailing `/` removed.
pub(super) const HTTP_URL: ValueKind<String> = ValueKind {
    parse: parse_http_url,
    expected: "an http or https URL without credentials, such as https://gw.example.com",
};

/// Any non-empty text.
pub(super) const NON_EMPTY: ValueKind<String> = ValueKind {
    parse: |raw| (!raw.is_empty()).then(|| raw.to_owned()),
    expected: "a non-empty value",
};

/// A non-empty filesystem path.
pub(super) const PATH: ValueKind<PathBuf> = ValueKind {
    parse: |raw| (!raw.is_empty()).then(|| PathBuf::from(raw)),
    expected: "a non-empty path",
};

/// The name of an account or a caller token.
pub(super) const NAME: ValueKind<String> = ValueKind {
    parse: |raw| is_valid_name(raw).then(|| raw.to_owned()),
    expected: "1 to 63 characters of a-z, 0-9, `_` and `-`, starting with a letter or digit",
};

/// Returns the value of `key` in `env`; a variable set to blank text counts as unset, which is
/// what a Helm chart produces for an empty value.
pub(super) fn env_value<'env>(env: &'env Env, key: &str) -> Option<&'env str> {
    env.get(key)
        .map(String::as_str)
        .filter(|value| !value.trim().is_empty())
}

/// Resolves a setting: the environment wins over the file, which wins over the default.
///
/// Errors name the environment variable or the file key the rejected value came from.
pub(super) fn layered<T>(
    env: &Env,
    setting: &SettingDoc,
    file_value: Option<&str>,
    kind: &ValueKind<T>,
) -> Result<T, ConfigError> {
    if let Some(raw) = env_value(env, setting.env) {
        return kind.parse_at(raw, setting.env);
    }
    if let Some(raw) = file_value {
        return kind.parse_at(raw, setting.file_key);
    }
    kind.parse_at(setting.default, setting.env)
}

/// Resolves a setting that has no default: environment, then file, then `None`.
pub(super) fn layered_opt<T>(
    env: &Env,
    setting: &SettingDoc,
    file_value: Option<&str>,
    kind: &ValueKind<T>,
) -> Result<Option<T>, ConfigError> {
    if let Some(raw) = env_value(env, setting.env) {
        return kind.parse_at(raw, setting.env).map(Some);
    }
    file_value
        .map(|raw| kind.parse_at(raw, setting.file_key))
        .transpose()
}

/// Returns `value` (or `default` when absent) if it is greater than zero; errors name `key`.
pub(super) fn positive<T>(value: Option<T>, default: T, key: &str) -> Result<T, ConfigError>
where
    T: PartialOrd + Default,
{
    let value = value.unwrap_or(default);
    if value > T::default() {
        Ok(value)
    } else {
        Err(ConfigError::invalid(key, "a number greater than zero"))
    }
}

/// Accepts `true`, `false`, `1` and `0` (letters in any case).
fn parse_bool(raw: &str) -> Option<bool> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// Checks `[a-z0-9][a-z0-9_-]{0,62}`.
fn is_valid_name(raw: &str) -> bool {
    let mut chars = raw.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let allowed_first = first.is_ascii_lowercase() || first.is_ascii_digit();
    let allowed_rest =
        chars.all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_' || ch == '-');
    allowed_first && allowed_rest && raw.len() <= 63
}

/// Returns the URL without trailing `/` when it is an http(s) URL with a host
/// ([`crate::model::http_url`]) and no credentials, query or fragment (credentials would end up
/// in logs and summaries).
fn parse_http_url(raw: &str) -> Option<String> {
    let url = http_url::parse(raw)?;
    let plain = url.username().is_empty()
        && url.password().is_none()
        && url.query().is_none()
        && url.fragment().is_none();
    plain.then(|| raw.trim_end_matches('/').to_owned())
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
                // Single quotes: errors drop double-quoted text (see `file::without_quoted_values`).
                formatter.write_str("a duration with its unit, in quotes, such as '10s' or '250ms'")
            }

            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<DurationText, E> {
                Ok(DurationText(text.to_owned()))
            }
        }

        deserializer.deserialize_str(TextVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls_are_accepted_only_with_http_scheme_and_host() {
        let cases = [
            ("https://api.wazzup24.com", Some("https://api.wazzup24.com")),
            ("http://127.0.0.1:8080/", Some("http://127.0.0.1:8080")),
            (
                "HTTPS://gw.example.com/base/",
                Some("HTTPS://gw.example.com/base"),
            ),
            ("http://[::1]:9000", Some("http://[::1]:9000")),
            ("ftp://example.com", None),
            ("https://", None),
            ("https:///path", None),
            ("example.com", None),
            ("https://user:pass@example.com", None),
            ("https://example.com?x=1", None),
            ("https://example.com:port", None),
            ("https://exa mple.com", None),
            ("https://[::1", None),
        ];
        for (raw, expected) in cases {
            assert_eq!(parse_http_url(raw).as_deref(), expected, "{raw}");
        }
    }

    #[test]
    fn names_follow_the_documented_pattern() {
        for good in ["main", "a", "0", "acct-1_x", &"a".repeat(63)] {
            assert!(is_valid_name(good), "{good}");
        }
        for bad in ["", "Main", "-a", "_a", "a.b", "a b", &"a".repeat(64)] {
            assert!(!is_valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn booleans_accept_words_and_digits() {
        assert_eq!(parse_bool("TRUE"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("yes"), None);
    }
}
