//! Configuration: one [`Config`] tree built from defaults, an optional TOML file, the
//! environment and command-line overrides, then validated once.
//!
//! Precedence is command line, then environment (`WGW_*`), then file, then default. The loader
//! never reads the process environment itself: `main` passes `std::env::vars()` in
//! [`ConfigSources::env`], tests pass their own map. [`SETTINGS`] lists every setting.
//!
//! Defaults make `cargo run` work on a fresh machine: listeners on 127.0.0.1, data in `./data`,
//! and the built-in sandbox account when no upstream account is configured.
//!
//! Secrets (API keys, webhook secrets, CRM keys, caller tokens) come from environment variables
//! or files, never from the TOML file itself, and are held as
//! [`SecretString`](secrecy::SecretString): `Debug`, [`Config::summary`] and every
//! [`ConfigError`] leave them out.
//!
//! ```toml
//! [listeners]
//! grpc = "127.0.0.1:50051"
//!
//! [server]
//! drain_timeout = "10s"
//!
//! [storage]
//! data_dir = "/var/lib/wazzup-gateway"
//! idempotency_retention = "24h"
//!
//! [[auth.tokens]]
//! name = "billing"
//! token_env = "WGW_TOKEN_BILLING"
//! services = ["wazzup_gateway.v1.MessageService"]
//!
//! [[accounts]]
//! name = "main"
//! dialect = "wazzup_v3"
//! default = true
//! # API key from WGW_ACCOUNT_MAIN_API_KEY unless api_key_env / api_key_file say otherwise
//! [accounts.limits]
//! requests_per_window = 500
//! ```

mod account;
mod auth;
mod doc;
mod error;
mod events;
mod file;
mod limits;
mod nats;
mod process;
mod roster;
mod secret;
mod settings;
mod sources;
mod summary;
mod tls;
mod upstream_tuning;
mod value;
mod webhooks;

use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
};

#[cfg(test)]
pub(crate) use self::limits::CallerLimitOverrides;
/// The upstream retry tests check the retry policy against this bound.
#[cfg(test)]
pub(crate) use self::upstream_tuning::MAX_RETRY_TOTAL_BUDGET;
pub(crate) use self::{
    account::{AccountConfig, DevinoAuth, TokenRefresh, UpstreamLimits},
    auth::{AuthConfig, CallerToken},
    doc::SettingDoc,
    events::{EventsBackend, EventsConfig, StreamDefaults},
    limits::{CallerLimits, LimitsConfig},
    nats::{NatsAuth, NatsConfig},
    process::{Listeners, LogFormat, ServerConfig, StorageConfig, TelemetryConfig},
    sources::{CliOverrides, ConfigSources},
    tls::TlsFiles,
    upstream_tuning::WebhookSubscriptions,
    webhooks::WebhookConfig,
};
pub(crate) use self::{
    account::{ENV_ACCOUNT_CRM_KEY, ENV_ACCOUNT_WEBHOOK_SECRET, account_env_var},
    events::MAX_EVENTS_MAX_IN_FLIGHT,
    process::ENV_PUBLIC_WEBHOOK_BASE_URL,
    settings::settings_help,
};
pub use self::{error::ConfigError, settings::SETTINGS, upstream_tuning::RetrySettings};
use self::{
    file::FileConfig,
    value::{Env, env_value},
};
use crate::model::Dialect;

/// Path of the TOML configuration file (the `--config` argument wins).
pub(crate) const ENV_CONFIG_FILE: &str = "WGW_CONFIG_FILE";
const CONFIG_FILE: SettingDoc = SettingDoc {
    env: ENV_CONFIG_FILE,
    file_key: "",
    default: "",
    description: "Path of the TOML configuration file (--config wins); no file is fine.",
};

/// The validated configuration of the gateway.
///
/// `Debug` is safe to log: every secret prints as `[REDACTED]`.
#[derive(Clone, Debug)]
pub struct Config {
    /// Addresses the servers bind.
    pub listeners: Listeners,
    /// How the gRPC server treats requests and shuts down.
    pub server: ServerConfig,
    /// Where local state lives.
    pub storage: StorageConfig,
    /// How the gateway logs.
    pub telemetry: TelemetryConfig,
    /// The event log's retention and the event streams' limits.
    pub events: EventsConfig,
    /// Who may call the gateway.
    pub auth: AuthConfig,
    /// How the webhook ingress treats upstream requests.
    pub webhooks: WebhookConfig,
    /// TLS on the gRPC listener; `None` serves plain-text HTTP/2.
    pub grpc_tls: Option<TlsFiles>,
    /// TLS on the webhook listener; `None` serves plain HTTP/1.1.
    pub webhook_tls: Option<TlsFiles>,
    /// What callers and connections may take of the gRPC listener.
    pub limits: LimitsConfig,
    /// The NATS JetStream connection; set when `nats.url` is, required by the nats backend.
    pub nats: Option<NatsConfig>,
    /// Upstream accounts; never empty (the sandbox account is added when none is configured).
    pub accounts: Vec<AccountConfig>,
    /// Whether an account uses the built-in sandbox dialect (the added sandbox account or one
    /// configured with `dialect = "sandbox"`), so the sandbox service should be served.
    pub sandbox: bool,
}

impl Config {
    /// Builds and validates the configuration from `sources`.
    ///
    /// # Errors
    ///
    /// Returns [`ConfigError::File`] when the configuration file cannot be read,
    /// [`ConfigError::Parse`] when it is not valid or has unknown keys, and the other variants
    /// when a value is unusable, a required setting is missing or a name is repeated.
    pub(crate) fn load(sources: &ConfigSources) -> Result<Self, ConfigError> {
        let path_opt = sources
            .file
            .clone()
            .or_else(|| env_value(&sources.env, ENV_CONFIG_FILE).map(PathBuf::from));
        let file = match &path_opt {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        Self::build(file, &sources.env, &sources.overrides)
    }

    /// Builds and validates the configuration from TOML text and an environment, without
    /// command-line overrides; `WGW_CONFIG_FILE` is ignored. `""` gives the defaults.
    ///
    /// # Errors
    ///
    /// Returns [`ConfigError::Parse`] (with `<inline>` as the path) when the text is not valid or
    /// has unknown keys, and the other variants when a value is unusable, a required setting is
    /// missing or a name is repeated.
    pub fn from_toml_str(text: &str, env: &HashMap<String, String>) -> Result<Self, ConfigError> {
        let file = FileConfig::parse(text, Path::new("<inline>"))?;
        Self::build(file, env, &CliOverrides::default())
    }

    /// Returns the account used when a request names none: the one marked default, or the
    /// only one.
    pub(crate) fn default_account(&self) -> Option<&AccountConfig> {
        match self.accounts.iter().find(|account| account.default) {
            Some(account) => Some(account),
            None if self.accounts.len() == 1 => self.accounts.first(),
            None => None,
        }
    }

    /// Returns the account named `name`.
    pub fn account(&self, name: &str) -> Option<&AccountConfig> {
        self.accounts.iter().find(|account| account.name == name)
    }

    /// Resolves every section in file order, then validates the whole.
    fn build(file: FileConfig, env: &Env, overrides: &CliOverrides) -> Result<Self, ConfigError> {
        let listeners = Listeners::resolve(&file.listeners, env, overrides)?;
        let server = ServerConfig::resolve(&file.server, env)?;
        let storage = StorageConfig::resolve(&file.storage, env, overrides)?;
        let telemetry = TelemetryConfig::resolve(&file.telemetry, env)?;
        let events = EventsConfig::resolve(&file.events, env)?;
        let auth = AuthConfig::resolve(&file.auth, env)?;
        let webhooks = WebhookConfig::resolve(&file.webhooks, env)?;
        let grpc_tls = TlsFiles::resolve_grpc(&file.tls, env)?;
        let webhook_tls = TlsFiles::resolve_webhook(&file.tls, env)?;
        let limits = LimitsConfig::resolve(&file.limits, env)?;
        let nats = NatsConfig::resolve(&file.nats, env)?;
        let sandbox_requested = roster::sandbox_requested(env, overrides)?;
        let accounts = roster::resolve_accounts(&file.accounts, env, sandbox_requested)?;
        let config = Self {
            listeners,
            server,
            storage,
            telemetry,
            events,
            auth,
            webhooks,
            grpc_tls,
            webhook_tls,
            limits,
            nats,
            sandbox: accounts
                .iter()
                .any(|account| account.dialect == Dialect::Sandbox),
            accounts,
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks the rules that span sections: one default account, known accounts in caller
    /// tokens, unique token names, distinct listeners, NATS settings for the nats backend.
    fn validate(&self) -> Result<(), ConfigError> {
        self.check_nats()?;
        debug_assert!(!self.accounts.is_empty(), "the sandbox fills an empty list");
        roster::check_single_default(&self.accounts)?;
        let account_names: HashSet<&str> = self
            .accounts
            .iter()
            .map(|account| account.name.as_str())
            .collect();
        let mutual_tls = self
            .grpc_tls
            .as_ref()
            .is_some_and(|tls| tls.client_ca_file.is_some());
        self.auth.validate(&account_names, mutual_tls)?;
        self.check_distinct_listeners()
    }

    /// Requires `nats.url` for the nats backend, and a dedupe window JetStream accepts (at most
    /// the stream's maximum age).
    fn check_nats(&self) -> Result<(), ConfigError> {
        match (&self.nats, self.events.backend) {
            (None, EventsBackend::Nats) => Err(ConfigError::missing(
                "nats.url (or WGW_NATS_URL)",
                "events.backend is nats",
            )),
            (Some(nats), _) if nats.dedupe_window > self.events.retention_max_age => Err(
                ConfigError::invalid("nats.dedupe_window", "at most events.retention_max_age"),
            ),
            _ => Ok(()),
        }
    }

    /// Rejects two listeners on the same fixed address (port 0 asks the OS for a free port).
    fn check_distinct_listeners(&self) -> Result<(), ConfigError> {
        let Listeners {
            grpc,
            webhook,
            admin,
        } = self.listeners;
        let named = [
            (grpc, process::GRPC_LISTEN_ADDR),
            (webhook, process::WEBHOOK_LISTEN_ADDR),
            (admin, process::ADMIN_LISTEN_ADDR),
        ];
        for (index, (address, setting)) in named.iter().enumerate() {
            let repeated = named[..index]
                .iter()
                .any(|(earlier, _)| earlier == address && address.port() != 0);
            if repeated {
                return Err(ConfigError::duplicate(
                    format!("{} (or {})", setting.file_key, setting.env),
                    address.to_string(),
                ));
            }
        }
        Ok(())
    }
}

/// Reads and parses the configuration file at `path`.
fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::File {
        path: path.to_owned(),
        source,
    })?;
    FileConfig::parse(&text, path)
}

#[cfg(test)]
mod tests;
