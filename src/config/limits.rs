//! `[limits]`: what one caller may take of the gRPC listener (requests per second, open server
//! streams), with per-token overrides in `[[auth.tokens]]`, and how many HTTP/2 streams one
//! connection may open at once.

use std::num::NonZeroU32;

use serde::Deserialize;

use super::{
    ConfigError,
    doc::SettingDoc,
    value::{Env, ValueKind, env_value},
};

/// Requests per second each caller token may make (token bucket); 0 turns the limit off.
pub(crate) const ENV_CALLER_REQUESTS_PER_SECOND: &str = "WGW_CALLER_REQUESTS_PER_SECOND";
pub(super) const CALLER_REQUESTS_PER_SECOND: SettingDoc = SettingDoc {
    env: ENV_CALLER_REQUESTS_PER_SECOND,
    file_key: "limits.caller_requests_per_second",
    default: "0",
    description: "gRPC calls per second each caller token may make (token bucket; 0: no limit); \
                  over it RESOURCE_EXHAUSTED, reason CALLER_RATE_LIMITED, with RetryInfo.",
};

/// Calls a caller may make at once above its rate (the bucket's size); 0 means one second's worth.
pub(crate) const ENV_CALLER_REQUEST_BURST: &str = "WGW_CALLER_REQUEST_BURST";
pub(super) const CALLER_REQUEST_BURST: SettingDoc = SettingDoc {
    env: ENV_CALLER_REQUEST_BURST,
    file_key: "limits.caller_request_burst",
    default: "0",
    description: "Calls a caller token may make in a burst (the bucket's size; 0: the per-second rate).",
};

/// Server streams (Subscribe, WatchMessageExport, ReadMessageExport) each caller token may hold
/// open at once; 0 turns the limit off.
pub(crate) const ENV_CALLER_MAX_STREAMS: &str = "WGW_CALLER_MAX_STREAMS";
pub(super) const CALLER_MAX_STREAMS: SettingDoc = SettingDoc {
    env: ENV_CALLER_MAX_STREAMS,
    file_key: "limits.caller_max_streams",
    default: "0",
    description: "Server streams (Subscribe, WatchMessageExport, ReadMessageExport) each caller token \
                  may hold open (0: no limit); over it RESOURCE_EXHAUSTED, reason CALLER_STREAMS_EXHAUSTED.",
};

/// HTTP/2 streams one gRPC connection may have open at once (announced in SETTINGS); a client
/// over it waits for one of its streams to end.
pub(crate) const ENV_GRPC_MAX_CONCURRENT_STREAMS: &str = "WGW_GRPC_MAX_CONCURRENT_STREAMS";
/// Default for [`ENV_GRPC_MAX_CONCURRENT_STREAMS`].
pub(crate) const DEFAULT_GRPC_MAX_CONCURRENT_STREAMS: NonZeroU32 = NonZeroU32::new(256).unwrap();
pub(super) const GRPC_MAX_CONCURRENT_STREAMS: SettingDoc = SettingDoc {
    env: ENV_GRPC_MAX_CONCURRENT_STREAMS,
    file_key: "limits.grpc_max_concurrent_streams",
    default: "256",
    description: "HTTP/2 streams one gRPC connection may open at once (SETTINGS_MAX_CONCURRENT_STREAMS; > 0); \
                  a client over it waits.",
};

/// A limit where 0 means none.
const LIMIT: ValueKind<Option<NonZeroU32>> = ValueKind::new(
    |raw| raw.parse().ok().map(NonZeroU32::new),
    "a whole number (0: no limit)",
);

/// A count greater than zero.
const POSITIVE: ValueKind<NonZeroU32> =
    ValueKind::new(|raw| raw.parse().ok(), "a whole number greater than zero");

/// `[limits]` as written in the file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileLimits {
    pub(super) caller_requests_per_second: Option<u32>,
    pub(super) caller_request_burst: Option<u32>,
    pub(super) caller_max_streams: Option<u32>,
    pub(super) grpc_max_concurrent_streams: Option<u32>,
}

/// The limits of one caller token; `None` is no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallerLimits {
    /// Calls per second, refilled continuously.
    pub requests_per_second: Option<NonZeroU32>,
    /// Calls that may be made at once above the rate; `None` is one second's worth.
    pub request_burst: Option<NonZeroU32>,
    /// Server streams held open at once.
    pub max_streams: Option<NonZeroU32>,
}

/// Per-token replacements of the [`CallerLimits`] defaults, as `[[auth.tokens]]` gives them:
/// `None` keeps the default, `Some(0)` lifts the limit for this token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallerLimitOverrides {
    /// Replaces [`CallerLimits::requests_per_second`].
    pub requests_per_second: Option<u32>,
    /// Replaces [`CallerLimits::request_burst`].
    pub request_burst: Option<u32>,
    /// Replaces [`CallerLimits::max_streams`].
    pub max_streams: Option<u32>,
}

impl CallerLimits {
    /// Returns these limits with `overrides` applied.
    pub fn overridden_by(self, overrides: &CallerLimitOverrides) -> Self {
        let pick = |default: Option<NonZeroU32>, replacement: Option<u32>| match replacement {
            Some(value) => NonZeroU32::new(value),
            None => default,
        };
        Self {
            requests_per_second: pick(self.requests_per_second, overrides.requests_per_second),
            request_burst: pick(self.request_burst, overrides.request_burst),
            max_streams: pick(self.max_streams, overrides.max_streams),
        }
    }
}

/// What callers and connections may take of the gRPC listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitsConfig {
    /// Every caller token's limits unless its `[[auth.tokens]]` entry overrides them (with
    /// authentication off, all calls share these as one caller).
    pub callers: CallerLimits,
    /// HTTP/2 streams one connection may have open at once.
    pub grpc_max_concurrent_streams: NonZeroU32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            callers: CallerLimits::default(),
            grpc_max_concurrent_streams: DEFAULT_GRPC_MAX_CONCURRENT_STREAMS,
        }
    }
}

impl LimitsConfig {
    /// Resolves `[limits]`: environment, then file, then default.
    pub(super) fn resolve(file: &FileLimits, env: &Env) -> Result<Self, ConfigError> {
        let limit = |setting: &SettingDoc, from_file: Option<u32>| {
            resolve_number(env, setting, from_file, &LIMIT)
        };
        Ok(Self {
            callers: CallerLimits {
                requests_per_second: limit(
                    &CALLER_REQUESTS_PER_SECOND,
                    file.caller_requests_per_second,
                )?,
                request_burst: limit(&CALLER_REQUEST_BURST, file.caller_request_burst)?,
                max_streams: limit(&CALLER_MAX_STREAMS, file.caller_max_streams)?,
            },
            grpc_max_concurrent_streams: resolve_number(
                env,
                &GRPC_MAX_CONCURRENT_STREAMS,
                file.grpc_max_concurrent_streams,
                &POSITIVE,
            )?,
        })
    }
}

/// Resolves a number: environment, then file, then default, each read as `kind`.
fn resolve_number<T>(
    env: &Env,
    setting: &SettingDoc,
    from_file: Option<u32>,
    kind: &ValueKind<T>,
) -> Result<T, ConfigError> {
    match (env_value(env, setting.env), from_file) {
        (Some(raw), _) => kind.parse_at(raw, setting.env),
        (None, Some(value)) => kind.parse_at(&value.to_string(), setting.file_key),
        (None, None) => kind.parse_at(setting.default, setting.env),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::config::Config;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    fn nonzero(value: u32) -> Option<NonZeroU32> {
        NonZeroU32::new(value)
    }

    #[test]
    fn caller_limits_are_off_and_connections_get_256_streams_by_default() {
        let config = Config::from_toml_str("", &env(&[])).unwrap();
        assert_eq!(config.limits, LimitsConfig::default());
        assert_eq!(config.limits.callers, CallerLimits::default());
        assert_eq!(config.limits.grpc_max_concurrent_streams.get(), 256);
    }

    #[test]
    fn the_environment_wins_over_the_file() {
        let file = "[limits]\ncaller_requests_per_second = 5\ncaller_request_burst = 10\n\
                    caller_max_streams = 2\ngrpc_max_concurrent_streams = 8\n";
        let from_file = Config::from_toml_str(file, &env(&[])).unwrap().limits;
        assert_eq!(
            from_file.callers,
            CallerLimits {
                requests_per_second: nonzero(5),
                request_burst: nonzero(10),
                max_streams: nonzero(2),
            }
        );
        assert_eq!(from_file.grpc_max_concurrent_streams.get(), 8);
        let overridden = Config::from_toml_str(
            file,
            &env(&[
                (ENV_CALLER_REQUESTS_PER_SECOND, "7"),
                (ENV_CALLER_MAX_STREAMS, "0"),
                (ENV_GRPC_MAX_CONCURRENT_STREAMS, "3"),
            ]),
        )
        .unwrap()
        .limits;
        assert_eq!(overridden.callers.requests_per_second, nonzero(7));
        assert_eq!(overridden.callers.max_streams, None);
        assert_eq!(overridden.grpc_max_concurrent_streams.get(), 3);
    }

    #[test]
    fn bad_values_name_their_key() {
        let zero_streams =
            Config::from_toml_str("", &env(&[(ENV_GRPC_MAX_CONCURRENT_STREAMS, "0")])).unwrap_err();
        assert!(
            zero_streams
                .to_string()
                .contains(ENV_GRPC_MAX_CONCURRENT_STREAMS),
            "{zero_streams}"
        );
        let zero_in_file =
            Config::from_toml_str("[limits]\ngrpc_max_concurrent_streams = 0\n", &env(&[]))
                .unwrap_err();
        assert!(
            zero_in_file
                .to_string()
                .contains("limits.grpc_max_concurrent_streams"),
            "{zero_in_file}"
        );
        let words = Config::from_toml_str("", &env(&[(ENV_CALLER_REQUESTS_PER_SECOND, "many")]))
            .unwrap_err();
        assert!(
            words.to_string().contains(ENV_CALLER_REQUESTS_PER_SECOND),
            "{words}"
        );
    }

    #[test]
    fn token_overrides_replace_a_default_or_lift_it_with_zero() {
        let defaults = CallerLimits {
            requests_per_second: nonzero(10),
            request_burst: None,
            max_streams: nonzero(4),
        };
        let overridden = defaults.overridden_by(&CallerLimitOverrides {
            requests_per_second: Some(100),
            request_burst: Some(200),
            max_streams: Some(0),
        });
        assert_eq!(
            overridden,
            CallerLimits {
                requests_per_second: nonzero(100),
                request_burst: nonzero(200),
                max_streams: None,
            }
        );
        assert_eq!(
            defaults.overridden_by(&CallerLimitOverrides::default()),
            defaults
        );
    }
}
