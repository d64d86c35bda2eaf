//! Settings of the gateway process itself: listeners, request handling, storage and logs.

use std::{fmt, net::SocketAddr, num::NonZeroUsize, path::PathBuf, time::Duration};

use serde::Deserialize;

use super::{
    ConfigError,
    doc::SettingDoc,
    sources::CliOverrides,
    value::{self, DurationText, Env, ValueKind, layered, layered_opt},
};

// === listeners ===

/// Address the gRPC server listens on.
pub(crate) const ENV_GRPC_LISTEN_ADDR: &str = "WGW_GRPC_LISTEN_ADDR";
/// Default for [`ENV_GRPC_LISTEN_ADDR`].
pub(crate) const DEFAULT_GRPC_LISTEN_ADDR: &str = "127.0.0.1:50051";
pub(super) const GRPC_LISTEN_ADDR: SettingDoc = SettingDoc {
    env: ENV_GRPC_LISTEN_ADDR,
    file_key: "listeners.grpc",
    default: DEFAULT_GRPC_LISTEN_ADDR,
    description: "Address the gRPC server listens on.",
};

/// Address the HTTP server that receives upstream webhooks listens on.
pub(crate) const ENV_WEBHOOK_LISTEN_ADDR: &str = "WGW_WEBHOOK_LISTEN_ADDR";
/// Default for [`ENV_WEBHOOK_LISTEN_ADDR`].
pub(crate) const DEFAULT_WEBHOOK_LISTEN_ADDR: &str = "127.0.0.1:8080";
pub(super) const WEBHOOK_LISTEN_ADDR: SettingDoc = SettingDoc {
    env: ENV_WEBHOOK_LISTEN_ADDR,
    file_key: "listeners.webhook",
    default: DEFAULT_WEBHOOK_LISTEN_ADDR,
    description: "Address the webhook HTTP server listens on.",
};

/// Address the admin HTTP server (health, metrics) listens on.
pub(crate) const ENV_ADMIN_LISTEN_ADDR: &str = "WGW_ADMIN_LISTEN_ADDR";
/// Default for [`ENV_ADMIN_LISTEN_ADDR`].
pub(crate) const DEFAULT_ADMIN_LISTEN_ADDR: &str = "127.0.0.1:9090";
pub(super) const ADMIN_LISTEN_ADDR: SettingDoc = SettingDoc {
    env: ENV_ADMIN_LISTEN_ADDR,
    file_key: "listeners.admin",
    default: DEFAULT_ADMIN_LISTEN_ADDR,
    description: "Address the admin HTTP server (health, metrics) listens on.",
};

/// Addresses the gateway binds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listeners {
    /// Where gRPC callers connect.
    pub grpc: SocketAddr,
    /// Where the upstream APIs deliver webhooks.
    pub webhook: SocketAddr,
    /// Where health probes and metrics scrapers connect.
    pub admin: SocketAddr,
}

impl Listeners {
    /// Resolves the listeners: command line, then environment, then file, then default.
    pub(super) fn resolve(
        file: &FileListeners,
        env: &Env,
        overrides: &CliOverrides,
    ) -> Result<Self, ConfigError> {
        let pick = |cli: Option<SocketAddr>, setting: &SettingDoc, file: &Option<String>| {
            cli.map_or_else(
                || layered(env, setting, file.as_deref(), &value::SOCKET_ADDR),
                Ok,
            )
        };
        Ok(Self {
            grpc: pick(overrides.grpc_listen, &GRPC_LISTEN_ADDR, &file.grpc)?,
            webhook: pick(
                overrides.webhook_listen,
                &WEBHOOK_LISTEN_ADDR,
                &file.webhook,
            )?,
            admin: pick(overrides.admin_listen, &ADMIN_LISTEN_ADDR, &file.admin)?,
        })
    }
}

// === server ===

/// How long shutdown waits for in-flight requests and streams.
pub(crate) const ENV_DRAIN_TIMEOUT: &str = "WGW_DRAIN_TIMEOUT";
/// Default for [`ENV_DRAIN_TIMEOUT`].
pub(crate) const DEFAULT_DRAIN_TIMEOUT: &str = "10s";
pub(super) const DRAIN_TIMEOUT: SettingDoc = SettingDoc {
    env: ENV_DRAIN_TIMEOUT,
    file_key: "server.drain_timeout",
    default: DEFAULT_DRAIN_TIMEOUT,
    description: "How long shutdown waits for in-flight requests and streams (> 0).",
};

/// Upper bound for one unary RPC, upstream retries included.
pub(crate) const ENV_HANDLER_TIMEOUT: &str = "WGW_HANDLER_TIMEOUT";
/// Default for [`ENV_HANDLER_TIMEOUT`].
pub(crate) const DEFAULT_HANDLER_TIMEOUT: &str = "60s";
pub(super) const HANDLER_TIMEOUT: SettingDoc = SettingDoc {
    env: ENV_HANDLER_TIMEOUT,
    file_key: "server.handler_timeout",
    default: DEFAULT_HANDLER_TIMEOUT,
    description: "Upper bound for one unary RPC, upstream retries included (> 0).",
};

/// Public http(s) URL under which the webhook listener is reachable from the upstream APIs.
pub(crate) const ENV_PUBLIC_WEBHOOK_BASE_URL: &str = "WGW_PUBLIC_WEBHOOK_BASE_URL";
pub(super) const PUBLIC_WEBHOOK_BASE_URL: SettingDoc = SettingDoc {
    env: ENV_PUBLIC_WEBHOOK_BASE_URL,
    file_key: "server.public_webhook_base_url",
    default: "",
    description: "Public http(s) URL of the webhook listener, used to register webhooks upstream.",
};

/// Simulated upstream latency of every sandbox operation.
pub(crate) const ENV_SANDBOX_LATENCY: &str = "WGW_SANDBOX_LATENCY";
/// Default for [`ENV_SANDBOX_LATENCY`].
pub(crate) const DEFAULT_SANDBOX_LATENCY: &str = "0s";
pub(super) const SANDBOX_LATENCY: SettingDoc = SettingDoc {
    env: ENV_SANDBOX_LATENCY,
    file_key: "server.sandbox_latency",
    default: DEFAULT_SANDBOX_LATENCY,
    description: "Simulated upstream latency of every sandbox operation.",
};

/// Threads that run the gateway's async work.
pub(crate) const ENV_WORKER_THREADS: &str = "WGW_WORKER_THREADS";
pub(super) const WORKER_THREADS: SettingDoc = SettingDoc {
    env: ENV_WORKER_THREADS,
    file_key: "server.worker_threads",
    default: "0",
    description: "Threads running the async work; 0 means one per available CPU. \
                  See docs/benchmarks.md for when fewer pay off.",
};

/// Most synthetic rows `server.sandbox_export_rows` may ask for (file only).
pub(super) const MAX_SANDBOX_EXPORT_ROWS: u64 = 100_000_000;

/// Default for `server.max_in_flight_per_connection` (file only).
pub(crate) const DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION: usize = 256;

/// How the gRPC server treats requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerConfig {
    /// How long shutdown waits for in-flight requests and streams before cutting them.
    pub drain_timeout: Duration,
    /// Upper bound for one unary RPC, upstream retries included.
    pub handler_timeout: Duration,
    /// Requests one connection may have in flight; more are rejected, not queued.
    pub max_in_flight_per_connection: usize,
    /// Public http(s) base URL of the webhook listener, without trailing `/`; used to register
    /// webhooks upstream. `None` when webhooks are registered by hand.
    pub public_webhook_base_url: Option<String>,
    /// Simulated upstream latency of every sandbox operation (zero: answer at once).
    pub sandbox_latency: Duration,
    /// Threads running the async work; `None` means one per available CPU.
    pub worker_threads: Option<NonZeroUsize>,
    /// Synthetic rows the sandbox appends to every export's CSV (file only; for load tests of
    /// `ReadMessageExport`).
    pub sandbox_export_rows: u64,
}

impl ServerConfig {
    /// Resolves the server settings: environment, then file, then default.
    pub(super) fn resolve(file: &FileServer, env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            drain_timeout: layered(
                env,
                &DRAIN_TIMEOUT,
                file.drain_timeout.as_deref(),
                &value::POSITIVE_DURATION,
            )?,
            handler_timeout: layered(
                env,
                &HANDLER_TIMEOUT,
                file.handler_timeout.as_deref(),
                &value::POSITIVE_DURATION,
            )?,
            max_in_flight_per_connection: value::positive(
                file.max_in_flight_per_connection,
                DEFAULT_MAX_IN_FLIGHT_PER_CONNECTION,
                "server.max_in_flight_per_connection",
            )?,
            public_webhook_base_url: layered_opt(
                env,
                &PUBLIC_WEBHOOK_BASE_URL,
                file.public_webhook_base_url.as_deref(),
                &value::HTTP_URL,
            )?,
            worker_threads: NonZeroUsize::new(layered(
                env,
                &WORKER_THREADS,
                file.worker_threads
                    .map(|count| count.to_string())
                    .as_deref(),
                &value::COUNT,
            )?),
            sandbox_latency: layered(
                env,
                &SANDBOX_LATENCY,
                file.sandbox_latency.as_deref(),
                &value::DURATION,
            )?,
            sandbox_export_rows: match file.sandbox_export_rows {
                Some(rows) if rows > MAX_SANDBOX_EXPORT_ROWS => {
                    return Err(ConfigError::invalid(
                        "server.sandbox_export_rows",
                        "a number of rows up to 100000000",
                    ));
                }
                rows => rows.unwrap_or(0),
            },
        })
    }
}

// === storage ===

/// Directory of the embedded event log and other local state.
pub(crate) const ENV_DATA_DIR: &str = "WGW_DATA_DIR";
/// Default for [`ENV_DATA_DIR`].
pub(crate) const DEFAULT_DATA_DIR: &str = "./data";
pub(super) const DATA_DIR: SettingDoc = SettingDoc {
    env: ENV_DATA_DIR,
    file_key: "storage.data_dir",
    default: DEFAULT_DATA_DIR,
    description: "Directory of the embedded event log and other local state.",
};

/// How long the outcome of a send with an idempotency key is kept, so that repeats are answered
/// from it instead of sending again.
pub(crate) const ENV_IDEMPOTENCY_RETENTION: &str = "WGW_IDEMPOTENCY_RETENTION";
/// Default for [`ENV_IDEMPOTENCY_RETENTION`].
pub(crate) const DEFAULT_IDEMPOTENCY_RETENTION: &str = "24h";
pub(super) const IDEMPOTENCY_RETENTION: SettingDoc = SettingDoc {
    env: ENV_IDEMPOTENCY_RETENTION,
    file_key: "storage.idempotency_retention",
    default: DEFAULT_IDEMPOTENCY_RETENTION,
    description: "How long the outcome of a send with an idempotency key is kept and replayed \
                  (> 0); stored in {data_dir}/idempotency.redb.",
};

/// Where the gateway keeps local state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageConfig {
    /// Directory of the embedded event log and the idempotency store (created when missing);
    /// relative paths are relative to the working directory.
    pub data_dir: PathBuf,
    /// How long the outcome of a send with an idempotency key is kept.
    pub idempotency_retention: Duration,
}

impl StorageConfig {
    /// Resolves the storage settings: command line, then environment, then file, then default.
    pub(super) fn resolve(
        file: &FileStorage,
        env: &Env,
        overrides: &CliOverrides,
    ) -> Result<Self, ConfigError> {
        let data_dir = match &overrides.data_dir {
            Some(data_dir) => data_dir.clone(),
            None => layered(env, &DATA_DIR, file.data_dir.as_deref(), &value::PATH)?,
        };
        let idempotency_retention = layered(
            env,
            &IDEMPOTENCY_RETENTION,
            file.idempotency_retention.as_deref(),
            &value::POSITIVE_DURATION,
        )?;
        Ok(Self {
            data_dir,
            idempotency_retention,
        })
    }
}

// === telemetry ===

/// Log filter, a `tracing` `EnvFilter` directive such as `info,wazzup_gateway=debug`.
pub(crate) const ENV_LOG: &str = "WGW_LOG";
/// Default for [`ENV_LOG`].
pub(crate) const DEFAULT_LOG: &str = "info";
pub(super) const LOG: SettingDoc = SettingDoc {
    env: ENV_LOG,
    file_key: "telemetry.log",
    default: DEFAULT_LOG,
    description: "Log filter, a tracing EnvFilter directive such as info,wazzup_gateway=debug.",
};

/// Log line format: `text` or `json`.
pub(crate) const ENV_LOG_FORMAT: &str = "WGW_LOG_FORMAT";
/// Default for [`ENV_LOG_FORMAT`].
pub(crate) const DEFAULT_LOG_FORMAT: &str = "text";
pub(super) const LOG_FORMAT: SettingDoc = SettingDoc {
    env: ENV_LOG_FORMAT,
    file_key: "telemetry.log_format",
    default: DEFAULT_LOG_FORMAT,
    description: "Log line format: text or json.",
};

const LOG_FORMAT_KIND: ValueKind<LogFormat> = ValueKind::new(LogFormat::parse, "text or json");

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// Returns the format for its configuration name (`text`, `json`), in any letter case.
    pub(crate) fn parse(raw: &str) -> Option<Self> {
        match raw.to_ascii_lowercase().as_str() {
            "text" => Some(Self::Text),
            "json" => Some(Self::Json),
            _ => None,
        }
    }

    /// Returns the configuration name of the format.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Json => "json",
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// How the gateway logs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TelemetryConfig {
    /// `tracing` `EnvFilter` directive; checked when telemetry starts, not here.
    pub log_filter: String,
    /// Line format of the logs.
    pub log_format: LogFormat,
}

impl TelemetryConfig {
    /// Resolves the telemetry settings: environment, then file, then default.
    pub(super) fn resolve(file: &FileTelemetry, env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            log_filter: layered(env, &LOG, file.log.as_deref(), &value::NON_EMPTY)?,
            log_format: layered(
                env,
                &LOG_FORMAT,
                file.log_format.as_deref(),
                &LOG_FORMAT_KIND,
            )?,
        })
    }
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
