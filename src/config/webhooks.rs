//! `[webhooks]`: how the webhook ingress treats upstream requests (body and event size, time
//! limits, how long CRM entity requests are held open for a subscriber's answer) and what its
//! listener allows a connection.

use std::time::Duration;

use serde::Deserialize;

use super::{
    ConfigError,
    doc::SettingDoc,
    value::{self, DurationText, Env, ValueKind, env_value, layered},
};

/// Largest webhook body accepted, in bytes; larger bodies are answered 413 and not stored.
pub(crate) const ENV_WEBHOOK_MAX_BODY_BYTES: &str = "WGW_WEBHOOK_MAX_BODY_BYTES";
/// Default for [`ENV_WEBHOOK_MAX_BODY_BYTES`] (1 MiB).
pub(crate) const DEFAULT_WEBHOOK_MAX_BODY_BYTES: usize = 1024 * 1024;
pub(super) const WEBHOOK_MAX_BODY_BYTES: SettingDoc = SettingDoc {
    env: ENV_WEBHOOK_MAX_BODY_BYTES,
    file_key: "webhooks.max_body_bytes",
    default: "1048576",
    description: "Largest webhook body accepted, in bytes; larger ones get 413 (> 0).",
};

/// Largest event accepted, in bytes of its JSON as delivered in `Event.raw` (a protobuf `Struct`);
/// a webhook with a larger event is answered 413 and nothing of it is stored.
pub(crate) const ENV_WEBHOOK_MAX_EVENT_BYTES: &str = "WGW_WEBHOOK_MAX_EVENT_BYTES";
/// Default for [`ENV_WEBHOOK_MAX_EVENT_BYTES`] (1.5 MiB): even when the typed payload repeats
/// all of `raw` (CRM requests), a delivered event stays near 3 MiB, under gRPC's 4 MiB default.
pub(crate) const DEFAULT_WEBHOOK_MAX_EVENT_BYTES: usize = 1536 * 1024;
pub(super) const WEBHOOK_MAX_EVENT_BYTES: SettingDoc = SettingDoc {
    env: ENV_WEBHOOK_MAX_EVENT_BYTES,
    file_key: "webhooks.max_event_bytes",
    default: "1572864",
    description: "Largest event accepted, in bytes of its raw JSON as a protobuf Struct; \
                  larger ones get 413 (> 0).",
};

/// Upper bound for receiving and storing one webhook (the CRM hold is bounded separately).
pub(crate) const ENV_WEBHOOK_REQUEST_TIMEOUT: &str = "WGW_WEBHOOK_REQUEST_TIMEOUT";
/// Default for [`ENV_WEBHOOK_REQUEST_TIMEOUT`].
pub(crate) const DEFAULT_WEBHOOK_REQUEST_TIMEOUT: &str = "10s";
pub(super) const WEBHOOK_REQUEST_TIMEOUT: SettingDoc = SettingDoc {
    env: ENV_WEBHOOK_REQUEST_TIMEOUT,
    file_key: "webhooks.request_timeout",
    default: DEFAULT_WEBHOOK_REQUEST_TIMEOUT,
    description: "Upper bound for reading and storing one webhook; 408 or 503 after it (> 0).",
};

/// Time a connection to the webhook (or admin) listener has to send a request's headers, from
/// when it connects or its previous answer was written; it is closed after it. This is also how
/// long an idle keep-alive connection stays open.
pub(crate) const ENV_WEBHOOK_HEADER_READ_TIMEOUT: &str = "WGW_WEBHOOK_HEADER_READ_TIMEOUT";
/// Default for [`ENV_WEBHOOK_HEADER_READ_TIMEOUT`].
pub(crate) const DEFAULT_WEBHOOK_HEADER_READ_TIMEOUT: &str = "10s";
pub(super) const WEBHOOK_HEADER_READ_TIMEOUT: SettingDoc = SettingDoc {
    env: ENV_WEBHOOK_HEADER_READ_TIMEOUT,
    file_key: "webhooks.header_read_timeout",
    default: DEFAULT_WEBHOOK_HEADER_READ_TIMEOUT,
    description: "Time a webhook or admin connection has to send a request's headers, also \
                  how long an idle keep-alive connection stays open (> 0).",
};

/// Connections the webhook (and admin) listener serves at once; more wait in the listen backlog.
pub(crate) const ENV_WEBHOOK_MAX_CONNECTIONS: &str = "WGW_WEBHOOK_MAX_CONNECTIONS";
/// Default for [`ENV_WEBHOOK_MAX_CONNECTIONS`].
pub(crate) const DEFAULT_WEBHOOK_MAX_CONNECTIONS: usize = 512;
pub(super) const WEBHOOK_MAX_CONNECTIONS: SettingDoc = SettingDoc {
    env: ENV_WEBHOOK_MAX_CONNECTIONS,
    file_key: "webhooks.max_connections",
    default: "512",
    description: "Connections the webhook listener (and the admin listener) serves at once; \
                  more wait unaccepted (> 0).",
};

/// How long a `createContact` / `createDeal` webhook is held open for `EventService.Respond`.
pub(crate) const ENV_CRM_RESPONSE_TIMEOUT: &str = "WGW_CRM_RESPONSE_TIMEOUT";
/// Default for [`ENV_CRM_RESPONSE_TIMEOUT`]; below the upstream's 30 s webhook timeout.
pub(crate) const DEFAULT_CRM_RESPONSE_TIMEOUT: &str = "25s";
pub(super) const CRM_RESPONSE_TIMEOUT: SettingDoc = SettingDoc {
    env: ENV_CRM_RESPONSE_TIMEOUT,
    file_key: "webhooks.crm_response_timeout",
    default: DEFAULT_CRM_RESPONSE_TIMEOUT,
    description: "How long CRM entity webhooks wait for EventService.Respond (> 0, < 30s).",
};

/// The upstream gives up on a webhook after 30 s (wazzup-api.md §5), so holding a CRM request
/// open that long would only make it see a timeout instead of the documented fallback.
const UPSTREAM_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(30);

/// A byte count greater than zero.
const BYTE_COUNT: ValueKind<usize> = ValueKind::new(
    |raw| raw.parse().ok().filter(|bytes: &usize| *bytes > 0),
    "a number of bytes greater than zero",
);

/// A connection count greater than zero.
const CONNECTION_COUNT: ValueKind<usize> = ValueKind::new(
    |raw| raw.parse().ok().filter(|count: &usize| *count > 0),
    "a number of connections greater than zero",
);

/// `[webhooks]` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileWebhooks {
    pub(super) max_body_bytes: Option<usize>,
    pub(super) max_event_bytes: Option<usize>,
    pub(super) request_timeout: Option<DurationText>,
    pub(super) crm_response_timeout: Option<DurationText>,
    pub(super) header_read_timeout: Option<DurationText>,
    pub(super) max_connections: Option<usize>,
}

/// How the webhook ingress treats upstream requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookConfig {
    /// Largest body accepted; larger ones are answered 413 and nothing is stored.
    pub max_body_bytes: usize,
    /// Largest event accepted, measured as delivered (`raw` as a protobuf `Struct`); a webhook
    /// with a larger one is answered 413 and nothing of it is stored.
    pub max_event_bytes: usize,
    /// Upper bound for reading the body (408 after it) and storing its events (503 after it).
    pub request_timeout: Duration,
    /// How long a CRM entity request waits for a subscriber's answer before the fallback.
    pub crm_response_timeout: Duration,
    /// Time a connection has to send a request's headers (from connecting, or from its previous
    /// answer: also the idle keep-alive timeout); it is closed after it.
    pub header_read_timeout: Duration,
    /// Connections served at once by the webhook and admin listeners; more wait unaccepted.
    pub max_connections: usize,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_WEBHOOK_MAX_BODY_BYTES,
            max_event_bytes: DEFAULT_WEBHOOK_MAX_EVENT_BYTES,
            request_timeout: Duration::from_secs(10),
            crm_response_timeout: Duration::from_secs(25),
            header_read_timeout: Duration::from_secs(10),
            max_connections: DEFAULT_WEBHOOK_MAX_CONNECTIONS,
        }
    }
}

impl WebhookConfig {
    /// Resolves the webhook settings: environment, then file, then default.
    pub(super) fn resolve(file: &FileWebhooks, env: &Env) -> Result<Self, ConfigError> {
        let max_body_bytes = count(
            env,
            &WEBHOOK_MAX_BODY_BYTES,
            file.max_body_bytes,
            DEFAULT_WEBHOOK_MAX_BODY_BYTES,
            &BYTE_COUNT,
        )?;
        let max_event_bytes = count(
            env,
            &WEBHOOK_MAX_EVENT_BYTES,
            file.max_event_bytes,
            DEFAULT_WEBHOOK_MAX_EVENT_BYTES,
            &BYTE_COUNT,
        )?;
        let request_timeout = layered(
            env,
            &WEBHOOK_REQUEST_TIMEOUT,
            file.request_timeout.as_deref(),
            &value::POSITIVE_DURATION,
        )?;
        let crm_response_timeout = layered(
            env,
            &CRM_RESPONSE_TIMEOUT,
            file.crm_response_timeout.as_deref(),
            &value::POSITIVE_DURATION,
        )?;
        let header_read_timeout = layered(
            env,
            &WEBHOOK_HEADER_READ_TIMEOUT,
            file.header_read_timeout.as_deref(),
            &value::POSITIVE_DURATION,
        )?;
        let max_connections = count(
            env,
            &WEBHOOK_MAX_CONNECTIONS,
            file.max_connections,
            DEFAULT_WEBHOOK_MAX_CONNECTIONS,
            &CONNECTION_COUNT,
        )?;
        if crm_response_timeout >= UPSTREAM_WEBHOOK_TIMEOUT {
            let key = match env_value(env, ENV_CRM_RESPONSE_TIMEOUT) {
                Some(_) => ENV_CRM_RESPONSE_TIMEOUT,
                None => CRM_RESPONSE_TIMEOUT.file_key,
            };
            return Err(ConfigError::invalid(
                key,
                "a duration below 30s, the upstream's webhook timeout",
            ));
        }
        Ok(Self {
            max_body_bytes,
            max_event_bytes,
            request_timeout,
            crm_response_timeout,
            header_read_timeout,
            max_connections,
        })
    }
}

/// Resolves a count greater than zero: environment (read as `kind`), then file, then default.
fn count(
    env: &Env,
    setting: &SettingDoc,
    from_file: Option<usize>,
    default: usize,
    kind: &ValueKind<usize>,
) -> Result<usize, ConfigError> {
    match env_value(env, setting.env) {
        Some(raw) => kind.parse_at(raw, setting.env),
        None => value::positive(from_file, default, setting.file_key),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use crate::config::Config;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_are_one_mebibyte_ten_seconds_and_twenty_five_seconds() {
        let config = Config::from_toml_str("", &HashMap::new()).unwrap();
        assert_eq!(config.webhooks, WebhookConfig::default());
        assert_eq!(config.webhooks.max_body_bytes, 1_048_576);
        assert_eq!(config.webhooks.max_event_bytes, 1_572_864);
        assert_eq!(config.webhooks.header_read_timeout, Duration::from_secs(10));
        assert_eq!(config.webhooks.max_connections, 512);
        assert_eq!(config.webhooks.request_timeout, Duration::from_secs(10));
        assert_eq!(
            config.webhooks.crm_response_timeout,
            Duration::from_secs(25)
        );
    }

    #[test]
    fn the_environment_wins_over_the_file() {
        let text = "[webhooks]\nmax_body_bytes = 2048\nmax_event_bytes = 1024\n\
                    request_timeout = \"3s\"\ncrm_response_timeout = \"5s\"\n\
                    header_read_timeout = \"2s\"\nmax_connections = 7\n";
        let from_file = Config::from_toml_str(text, &HashMap::new()).unwrap();
        assert_eq!(from_file.webhooks.max_body_bytes, 2048);
        assert_eq!(from_file.webhooks.max_event_bytes, 1024);
        assert_eq!(
            from_file.webhooks.header_read_timeout,
            Duration::from_secs(2)
        );
        assert_eq!(from_file.webhooks.max_connections, 7);
        assert_eq!(from_file.webhooks.request_timeout, Duration::from_secs(3));
        assert_eq!(
            from_file.webhooks.crm_response_timeout,
            Duration::from_secs(5)
        );

        let overridden = Config::from_toml_str(
            text,
            &env(&[
                (ENV_WEBHOOK_MAX_BODY_BYTES, "4096"),
                (ENV_WEBHOOK_MAX_EVENT_BYTES, "8192"),
                (ENV_WEBHOOK_HEADER_READ_TIMEOUT, "1s"),
                (ENV_WEBHOOK_MAX_CONNECTIONS, "9"),
                (ENV_WEBHOOK_REQUEST_TIMEOUT, "250ms"),
                (ENV_CRM_RESPONSE_TIMEOUT, "1s"),
            ]),
        )
        .unwrap();
        assert_eq!(overridden.webhooks.max_body_bytes, 4096);
        assert_eq!(overridden.webhooks.max_event_bytes, 8192);
        assert_eq!(
            overridden.webhooks.header_read_timeout,
            Duration::from_secs(1)
        );
        assert_eq!(overridden.webhooks.max_connections, 9);
        assert_eq!(
            overridden.webhooks.request_timeout,
            Duration::from_millis(250)
        );
        assert_eq!(
            overridden.webhooks.crm_response_timeout,
            Duration::from_secs(1)
        );
    }

    #[test]
    fn unusable_values_name_their_setting() {
        let cases = [
            (ENV_WEBHOOK_MAX_BODY_BYTES, "0"),
            (ENV_WEBHOOK_MAX_BODY_BYTES, "1MiB"),
            (ENV_WEBHOOK_MAX_EVENT_BYTES, "0"),
            (ENV_WEBHOOK_HEADER_READ_TIMEOUT, "0s"),
            (ENV_WEBHOOK_MAX_CONNECTIONS, "0"),
            (ENV_WEBHOOK_REQUEST_TIMEOUT, "0s"),
            (ENV_CRM_RESPONSE_TIMEOUT, "30s"),
        ];
        for (key, raw) in cases {
            let error = Config::from_toml_str("", &env(&[(key, raw)])).unwrap_err();
            assert!(error.to_string().contains(key), "{key}={raw}: {error}");
        }
        let error =
            Config::from_toml_str("[webhooks]\nmax_body_bytes = 0\n", &HashMap::new()).unwrap_err();
        assert!(
            error.to_string().contains("webhooks.max_body_bytes"),
            "{error}"
        );
    }

    #[test]
    fn every_setting_is_documented_with_its_typed_default() {
        let declared: Vec<&str> = include_str!("webhooks.rs")
            .lines()
            .filter_map(|line| line.strip_prefix("pub(crate) const ENV_"))
            .filter_map(|rest| rest.split('"').nth(1))
            .collect();
        assert_eq!(declared.len(), 6, "{declared:?}");
        for env_name in declared {
            assert!(
                crate::config::SETTINGS
                    .iter()
                    .any(|setting| setting.env == env_name),
                "{env_name} missing from SETTINGS"
            );
        }
        let defaults = WebhookConfig::default();
        assert_eq!(
            WEBHOOK_MAX_BODY_BYTES.default,
            defaults.max_body_bytes.to_string()
        );
        assert_eq!(
            WEBHOOK_MAX_EVENT_BYTES.default,
            defaults.max_event_bytes.to_string()
        );
        let duration = |text: &str| humantime::parse_duration(text).unwrap();
        assert_eq!(
            duration(WEBHOOK_REQUEST_TIMEOUT.default),
            defaults.request_timeout
        );
        assert_eq!(
            duration(CRM_RESPONSE_TIMEOUT.default),
            defaults.crm_response_timeout
        );
        assert_eq!(
            duration(WEBHOOK_HEADER_READ_TIMEOUT.default),
            defaults.header_read_timeout
        );
        assert_eq!(
            WEBHOOK_MAX_CONNECTIONS.default,
            defaults.max_connections.to_string()
        );
    }
}
