//! `[events]`: how long and how much the event log keeps, and the limits and defaults of event
//! streams.
//!
//! ```toml
//! [events]
//! backend = "embedded"
//! retention_max_age = "7d"
//! retention_max_bytes = "1GiB"
//! max_streams = 1024
//! ```

use std::time::Duration;

use serde::Deserialize;

use super::{
    ConfigError,
    doc::{SettingDoc, file_only},
    value::{self, DurationText, Env, ValueKind, layered},
};

/// Which backend stores the event log, the consumer groups and the idempotency records.
pub(crate) const ENV_EVENTS_BACKEND: &str = "WGW_EVENTS_BACKEND";
/// Default for [`ENV_EVENTS_BACKEND`].
pub(crate) const DEFAULT_EVENTS_BACKEND: &str = "embedded";

/// Events received longer ago than this are dropped from the log.
pub(crate) const ENV_EVENTS_RETENTION_MAX_AGE: &str = "WGW_EVENTS_RETENTION_MAX_AGE";
/// Default for [`ENV_EVENTS_RETENTION_MAX_AGE`].
pub(crate) const DEFAULT_EVENTS_RETENTION_MAX_AGE: &str = "7d";

/// Once retained events take more bytes than this, the oldest are dropped.
pub(crate) const ENV_EVENTS_RETENTION_MAX_BYTES: &str = "WGW_EVENTS_RETENTION_MAX_BYTES";
/// Default for [`ENV_EVENTS_RETENTION_MAX_BYTES`].
pub(crate) const DEFAULT_EVENTS_RETENTION_MAX_BYTES: &str = "1GiB";

/// Default of `events.retention_check_interval` (file only).
pub(crate) const DEFAULT_EVENTS_RETENTION_CHECK_INTERVAL: &str = "1m";
/// Default of `events.max_streams` (file only).
pub(crate) const DEFAULT_EVENTS_MAX_STREAMS: usize = 1024;
/// Default of `events.default_max_in_flight` (file only).
pub(crate) const DEFAULT_EVENTS_MAX_IN_FLIGHT: u32 = 256;
/// Largest `max_in_flight` a subscription may ask for.
pub(crate) const MAX_EVENTS_MAX_IN_FLIGHT: u32 = 10_000;
/// Default of `events.default_ack_wait` (file only).
pub(crate) const DEFAULT_EVENTS_ACK_WAIT: &str = "30s";
/// Default of `events.default_heartbeat_interval` (file only).
pub(crate) const DEFAULT_EVENTS_HEARTBEAT_INTERVAL: &str = "15s";

/// The `[events]` settings, for [`SETTINGS`](super::SETTINGS): the three with an environment
/// variable first.
pub(super) const EVENTS_SETTINGS: [SettingDoc; 8] = [
    SettingDoc {
        env: ENV_EVENTS_BACKEND,
        file_key: "events.backend",
        default: DEFAULT_EVENTS_BACKEND,
        description: "Where events, consumer groups and idempotency records are stored: embedded \
                      (redb files in storage.data_dir) or nats (NATS JetStream, see [nats]).",
    },
    SettingDoc {
        env: ENV_EVENTS_RETENTION_MAX_AGE,
        file_key: "events.retention_max_age",
        default: DEFAULT_EVENTS_RETENTION_MAX_AGE,
        description: "Events received longer ago than this are dropped from the log (> 0).",
    },
    SettingDoc {
        env: ENV_EVENTS_RETENTION_MAX_BYTES,
        file_key: "events.retention_max_bytes",
        default: DEFAULT_EVENTS_RETENTION_MAX_BYTES,
        description: "Bytes the event log may take: beyond it the oldest events are dropped, \
                      and each retention pass compacts the file back within it, e.g. 1GiB \
                      (> 0).",
    },
    file_only(
        "events.retention_check_interval",
        DEFAULT_EVENTS_RETENTION_CHECK_INTERVAL,
        "How often the retention pass runs: age retention, then compaction when worth it (> 0).",
    ),
    file_only(
        "events.max_streams",
        "1024",
        "Event streams open at once; more subscriptions get RESOURCE_EXHAUSTED (> 0).",
    ),
    file_only(
        "events.default_max_in_flight",
        "256",
        "Unacked events per subscription when the request names none (1 to 10000).",
    ),
    file_only(
        "events.default_ack_wait",
        DEFAULT_EVENTS_ACK_WAIT,
        "Time to ack before redelivery when the request names none (> 0).",
    ),
    file_only(
        "events.default_heartbeat_interval",
        DEFAULT_EVENTS_HEARTBEAT_INTERVAL,
        "Longest stream silence before a heartbeat when the request names none (> 0).",
    ),
];

/// An events backend name.
const BACKEND: ValueKind<EventsBackend> = ValueKind::new(
    |raw| match raw.trim() {
        "embedded" => Some(EventsBackend::Embedded),
        "nats" => Some(EventsBackend::Nats),
        _ => None,
    },
    "embedded or nats",
);

/// A byte size such as `1073741824`, `512MiB` or `1GB`.
const BYTE_SIZE: ValueKind<u64> = ValueKind::new(
    |raw| parse_byte_size(raw).filter(|bytes| *bytes > 0),
    "a byte size greater than zero such as 1073741824, 512MiB or 1GB",
);

/// `[events]` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileEvents {
    backend: Option<String>,
    retention_max_age: Option<DurationText>,
    retention_max_bytes: Option<FileByteSize>,
    retention_check_interval: Option<DurationText>,
    max_streams: Option<usize>,
    default_max_in_flight: Option<u32>,
    default_ack_wait: Option<DurationText>,
    default_heartbeat_interval: Option<DurationText>,
}

/// A byte size written as a number or as text with a unit.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum FileByteSize {
    Number(u64),
    Text(String),
}

/// The event log and event stream settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventsConfig {
    /// Which backend stores events, consumer groups and idempotency records.
    pub backend: EventsBackend,
    /// Events received longer ago than this are dropped.
    pub retention_max_age: Duration,
    /// Once retained events take more bytes than this, the oldest are dropped.
    pub retention_max_bytes: u64,
    /// How often age retention runs.
    pub retention_check_interval: Duration,
    /// Event streams open at once.
    pub max_streams: usize,
    /// Defaults for subscriptions that leave a setting unset.
    pub stream_defaults: StreamDefaults,
}

/// The storage backend of events, consumer groups and idempotency records
/// (`events.backend`). A new backend is one variant here and one arm where the gateway builds
/// its stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventsBackend {
    /// redb files in `storage.data_dir`, consumer groups dispatched in process.
    Embedded,
    /// NATS JetStream (`[nats]`): a stream of events, key-value buckets beside it.
    Nats,
}

impl EventsBackend {
    /// Returns the name the setting uses.
    pub fn name(self) -> &'static str {
        match self {
            Self::Embedded => "embedded",
            Self::Nats => "nats",
        }
    }
}

/// Defaults for subscriptions that leave a setting unset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamDefaults {
    /// Unacked events outstanding per subscription.
    pub max_in_flight: u32,
    /// Time to ack before an event is redelivered.
    pub ack_wait: Duration,
    /// Longest stream silence before a heartbeat.
    pub heartbeat_interval: Duration,
}

impl EventsConfig {
    /// Resolves the `[events]` settings: environment, then file, then default.
    pub(super) fn resolve(file: &FileEvents, env: &Env) -> Result<Self, ConfigError> {
        let [
            backend,
            max_age,
            max_bytes,
            check_interval,
            _,
            _,
            ack_wait,
            heartbeat,
        ] = &EVENTS_SETTINGS;
        let bytes_text = file.retention_max_bytes.as_ref().map(|size| match size {
            FileByteSize::Number(bytes) => bytes.to_string(),
            FileByteSize::Text(text) => text.clone(),
        });
        let duration = |setting: &SettingDoc, raw: &Option<DurationText>| {
            layered(env, setting, raw.as_deref(), &value::POSITIVE_DURATION)
        };
        let max_in_flight = default_max_in_flight(file.default_max_in_flight)?;
        let backend = layered(env, backend, file.backend.as_deref(), &BACKEND)?;
        Ok(Self {
            backend,
            retention_max_age: duration(max_age, &file.retention_max_age)?,
            retention_max_bytes: layered(env, max_bytes, bytes_text.as_deref(), &BYTE_SIZE)?,
            retention_check_interval: duration(check_interval, &file.retention_check_interval)?,
            max_streams: value::positive(
                file.max_streams,
                DEFAULT_EVENTS_MAX_STREAMS,
                "events.max_streams",
            )?,
            stream_defaults: StreamDefaults {
                max_in_flight,
                ack_wait: duration(ack_wait, &file.default_ack_wait)?,
                heartbeat_interval: duration(heartbeat, &file.default_heartbeat_interval)?,
            },
        })
    }
}

/// Resolves `events.default_max_in_flight`: 1 to [`MAX_EVENTS_MAX_IN_FLIGHT`].
fn default_max_in_flight(file_value: Option<u32>) -> Result<u32, ConfigError> {
    let key = "events.default_max_in_flight";
    let max_in_flight = value::positive(file_value, DEFAULT_EVENTS_MAX_IN_FLIGHT, key)?;
    if max_in_flight > MAX_EVENTS_MAX_IN_FLIGHT {
        return Err(ConfigError::invalid(key, "at most 10000"));
    }
    Ok(max_in_flight)
}

/// Parses a byte count with an optional unit: B, KB, MB, GB, TB (powers of 1000) or KiB, MiB,
/// GiB, TiB (powers of 1024), letters in any case, spaces allowed before the unit.
fn parse_byte_size(raw: &str) -> Option<u64> {
    let digits_end = raw
        .find(|ch: char| !ch.is_ascii_digit())
        .unwrap_or(raw.len());
    let (number, unit) = raw.split_at(digits_end);
    let number: u64 = number.parse().ok()?;
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => return None,
    };
    number.checked_mul(multiplier)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::config::{Config, SETTINGS};

    #[test]
    fn byte_sizes_accept_plain_numbers_and_units() {
        let table = [
            ("1073741824", Some(1 << 30)),
            ("1GiB", Some(1 << 30)),
            ("512 MiB", Some(512 << 20)),
            ("2gb", Some(2_000_000_000)),
            ("10KB", Some(10_000)),
            ("", None),
            ("GiB", None),
            ("1.5GiB", None),
            ("3 parsecs", None),
            ("99999999999TiB", None),
        ];
        for (raw, expected) in table {
            assert_eq!(parse_byte_size(raw), expected, "{raw:?}");
        }
    }

    #[test]
    fn defaults_apply_without_an_events_section() {
        let config = Config::from_toml_str("", &HashMap::new()).unwrap();

        let events = config.events;
        assert_eq!(events.retention_max_age, Duration::from_secs(7 * 24 * 3600));
        assert_eq!(events.retention_max_bytes, 1 << 30);
        assert_eq!(events.retention_check_interval, Duration::from_secs(60));
        assert_eq!(events.max_streams, 1024);
        assert_eq!(
            events.stream_defaults,
            StreamDefaults {
                max_in_flight: 256,
                ack_wait: Duration::from_secs(30),
                heartbeat_interval: Duration::from_secs(15),
            }
        );
    }

    #[test]
    fn the_environment_wins_over_the_file() {
        let file = "[events]\nretention_max_age = \"1d\"\nretention_max_bytes = 5000\n\
                    max_streams = 3\ndefault_ack_wait = \"2s\"\n";
        let env = HashMap::from([(ENV_EVENTS_RETENTION_MAX_BYTES.to_owned(), "2MiB".to_owned())]);

        let events = Config::from_toml_str(file, &env).unwrap().events;

        assert_eq!(events.retention_max_age, Duration::from_secs(86_400));
        assert_eq!(events.retention_max_bytes, 2 << 20);
        assert_eq!(events.max_streams, 3);
        assert_eq!(events.stream_defaults.ack_wait, Duration::from_secs(2));
    }

    #[test]
    fn unusable_values_name_their_setting() {
        let table = [
            (
                "[events]\nretention_max_bytes = 0\n",
                "events.retention_max_bytes",
            ),
            (
                "[events]\nretention_max_age = \"0s\"\n",
                "events.retention_max_age",
            ),
            ("[events]\nmax_streams = 0\n", "events.max_streams"),
            (
                "[events]\ndefault_max_in_flight = 10001\n",
                "events.default_max_in_flight",
            ),
        ];
        for (file, key) in table {
            let error = Config::from_toml_str(file, &HashMap::new()).unwrap_err();
            assert!(error.to_string().starts_with(key), "{file}: {error}");
        }
    }

    #[test]
    fn the_backend_is_embedded_unless_set() {
        let config = Config::from_toml_str("", &HashMap::new()).unwrap();
        assert_eq!(config.events.backend, EventsBackend::Embedded);
        assert!(config.summary().contains("\nevents backend: embedded\n"));

        let env = HashMap::from([(ENV_EVENTS_BACKEND.to_owned(), "embedded".to_owned())]);
        let file = "[events]\nbackend = \"embedded\"\n";
        let events = Config::from_toml_str(file, &env).unwrap().events;
        assert_eq!(events.backend, EventsBackend::Embedded);
    }

    #[test]
    fn the_nats_backend_is_chosen_from_the_file_or_the_environment() {
        let nats_env = (
            crate::config::nats::ENV_NATS_URL.to_owned(),
            "nats://127.0.0.1:4222".to_owned(),
        );
        let from_file = "[events]\nbackend = \"nats\"\n";
        let from_env = HashMap::from([
            (ENV_EVENTS_BACKEND.to_owned(), "nats".to_owned()),
            nats_env.clone(),
        ]);
        for config in [
            Config::from_toml_str(from_file, &HashMap::from([nats_env])).unwrap(),
            Config::from_toml_str("", &from_env).unwrap(),
        ] {
            assert_eq!(config.events.backend, EventsBackend::Nats);
            assert!(config.summary().contains("\nevents backend: nats\n"));
        }
    }

    #[test]
    fn an_unknown_backend_is_an_invalid_value() {
        let error =
            Config::from_toml_str("[events]\nbackend = \"kafka\"\n", &HashMap::new()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "events.backend: expected embedded or nats"
        );
    }

    #[test]
    fn every_events_setting_is_documented() {
        for setting in EVENTS_SETTINGS {
            assert!(SETTINGS.contains(&setting), "{}", setting.file_key);
        }
        let default_of = |key: &str| {
            EVENTS_SETTINGS
                .iter()
                .find(|s| s.file_key == key)
                .unwrap()
                .default
        };
        assert_eq!(
            default_of("events.max_streams"),
            DEFAULT_EVENTS_MAX_STREAMS.to_string()
        );
        assert_eq!(
            default_of("events.default_max_in_flight"),
            DEFAULT_EVENTS_MAX_IN_FLIGHT.to_string()
        );
    }
}
