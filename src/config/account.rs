//! One upstream account: its dialect, endpoint, secrets and limits.

use std::{fmt, path::Path, time::Duration};

use secrecy::SecretString;

use super::{
    ConfigError, SettingDoc,
    file::{FileAccount, FileLimits},
    secret,
    upstream_tuning::{DEFAULT_CHANNEL_CACHE_TTL, RetrySettings, WebhookSubscriptions},
    value::{self, Env, ValueKind, env_value},
};

/// Placeholder for the account name in the per-account variable templates below.
pub const ACCOUNT_NAME_PLACEHOLDER: &str = "<NAME>";

/// Template of the per-account base URL override; see [`account_env_var`].
pub const ENV_ACCOUNT_BASE_URL: &str = "WGW_ACCOUNT_<NAME>_BASE_URL";
/// Template of the per-account API key (also the default of `accounts[].api_key_env`).
pub const ENV_ACCOUNT_API_KEY: &str = "WGW_ACCOUNT_<NAME>_API_KEY";
/// Template of the per-account API key file path.
pub const ENV_ACCOUNT_API_KEY_FILE: &str = "WGW_ACCOUNT_<NAME>_API_KEY_FILE";
/// Template of the per-account webhook secret (also the default of `webhook_secret_env`).
pub const ENV_ACCOUNT_WEBHOOK_SECRET: &str = "WGW_ACCOUNT_<NAME>_WEBHOOK_SECRET";
/// Template of the per-account CRM key (also the default of `crm_key_env`).
pub const ENV_ACCOUNT_CRM_KEY: &str = "WGW_ACCOUNT_<NAME>_CRM_KEY";

/// Returns the variable `template` names for `account`: the name upper-cased, `-` → `_`.
///
/// `account_env_var(ENV_ACCOUNT_API_KEY, "main-ru")` is `WGW_ACCOUNT_MAIN_RU_API_KEY`.
pub fn account_env_var(template: &str, account: &str) -> String {
    let name = account.to_ascii_uppercase().replace('-', "_");
    template.replace(ACCOUNT_NAME_PLACEHOLDER, &name)
}

/// Default for `accounts[].limits.requests_per_window`.
pub const DEFAULT_REQUESTS_PER_WINDOW: u32 = 500;
/// Default for `accounts[].limits.rate_window`.
pub const DEFAULT_RATE_WINDOW: Duration = Duration::from_secs(5);
/// Default for `accounts[].limits.max_concurrency`.
pub const DEFAULT_MAX_CONCURRENCY: usize = 50;
/// Default for `accounts[].limits.request_timeout`.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default for `accounts[].limits.connect_timeout`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The API family an account speaks; serde uses the configuration names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dialect {
    /// Wazzup public API v3 (`wazzup_v3`).
    WazzupV3,
    /// Wazzup partner API (`wazzup_tech`).
    WazzupTech,
    /// Devino notifications API (`devino`).
    Devino,
    /// The built-in sandbox upstream (`sandbox`): no key, no network.
    Sandbox,
}

impl Dialect {
    /// Every dialect, in documentation order.
    pub const ALL: [Self; 4] = [
        Self::WazzupV3,
        Self::WazzupTech,
        Self::Devino,
        Self::Sandbox,
    ];

    /// Returns the dialect for its configuration name, e.g. `wazzup_v3`.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|dialect| dialect.as_str() == raw)
    }

    /// Returns the configuration name of the dialect.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::WazzupV3 => "wazzup_v3",
            Self::WazzupTech => "wazzup_tech",
            Self::Devino => "devino",
            Self::Sandbox => "sandbox",
        }
    }

    /// Returns the base URL used when an account does not set one.
    pub const fn default_base_url(self) -> &'static str {
        match self {
            Self::WazzupV3 => "https://api.wazzup24.com",
            Self::WazzupTech => "https://tech.wazzup24.com",
            Self::Devino => "https://api.devino.online",
            Self::Sandbox => "sandbox://local",
        }
    }

    /// Returns whether accounts of this dialect need an API key.
    pub const fn requires_api_key(self) -> bool {
        !matches!(self, Self::Sandbox)
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

const DIALECT: ValueKind<Dialect> = ValueKind::new(
    Dialect::parse,
    "one of wazzup_v3, wazzup_tech, devino, sandbox",
);

/// How hard the gateway may use one account's upstream API.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamLimits {
    /// Requests allowed per [`rate_window`](Self::rate_window).
    pub requests_per_window: u32,
    /// Length of the rate-limit window.
    pub rate_window: Duration,
    /// Upstream requests in flight at once.
    pub max_concurrency: usize,
    /// Upper bound for one upstream HTTP request.
    pub request_timeout: Duration,
    /// Upper bound for establishing an upstream connection.
    pub connect_timeout: Duration,
}

impl Default for UpstreamLimits {
    fn default() -> Self {
        Self {
            requests_per_window: DEFAULT_REQUESTS_PER_WINDOW,
            rate_window: DEFAULT_RATE_WINDOW,
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

impl UpstreamLimits {
    /// Resolves `[accounts.limits]` (file only); `prefix` is e.g. `accounts[0]`.
    fn resolve(file: &FileLimits, prefix: &str) -> Result<Self, ConfigError> {
        let duration = |raw: &Option<String>, default: Duration, name: &str| match raw {
            Some(raw) => value::POSITIVE_DURATION.parse_at(raw, &format!("{prefix}.limits.{name}")),
            None => Ok(default),
        };
        let count_key = |name: &str| format!("{prefix}.limits.{name}");
        Ok(Self {
            requests_per_window: value::positive(
                file.requests_per_window,
                DEFAULT_REQUESTS_PER_WINDOW,
                &count_key("requests_per_window"),
            )?,
            rate_window: duration(&file.rate_window, DEFAULT_RATE_WINDOW, "rate_window")?,
            max_concurrency: value::positive(
                file.max_concurrency,
                DEFAULT_MAX_CONCURRENCY,
                &count_key("max_concurrency"),
            )?,
            request_timeout: duration(
                &file.request_timeout,
                DEFAULT_REQUEST_TIMEOUT,
                "request_timeout",
            )?,
            connect_timeout: duration(
                &file.connect_timeout,
                DEFAULT_CONNECT_TIMEOUT,
                "connect_timeout",
            )?,
        })
    }
}

/// One upstream account the gateway can act for.
///
/// `Debug` is safe to log: the secrets print as `[REDACTED]`.
#[derive(Clone, Debug)]
pub struct AccountConfig {
    /// Unique name callers use to pick the account (`[a-z0-9][a-z0-9_-]{0,62}`).
    pub name: String,
    /// The API the account speaks.
    pub dialect: Dialect,
    /// Whether requests that name no account use this one.
    pub default: bool,
    /// Upstream base URL without trailing `/` (http or https, except for the sandbox).
    pub base_url: String,
    /// Upstream API key; always set for dialects other than the sandbox.
    pub api_key: Option<SecretString>,
    /// Secret the upstream signs or authenticates its webhooks with.
    pub webhook_secret: Option<SecretString>,
    /// Key the upstream presents when it calls the CRM side of the integration.
    pub crm_key: Option<SecretString>,
    /// Rate, concurrency and timeout limits for the upstream.
    pub limits: UpstreamLimits,
    /// How failed upstream attempts are retried (`[accounts.retry]`).
    pub retry: RetrySettings,
    /// How long the channel list is reused to validate sends (`channel_cache_ttl`).
    pub channel_cache_ttl: Duration,
    /// What `RegisterWebhooks` subscribes to (`[accounts.webhooks]`).
    pub webhooks: WebhookSubscriptions,
}

/// The three secrets of an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SecretKind {
    ApiKey,
    WebhookSecret,
    CrmKey,
}

impl SecretKind {
    /// Returns the file key stem, the variable template and the file entry's `_env`/`_file`.
    fn parts(self, raw: &FileAccount) -> (&'static str, &'static str, Option<&str>, Option<&Path>) {
        let (stem, template, env_name, file) = match self {
            Self::ApiKey => (
                "api_key",
                ENV_ACCOUNT_API_KEY,
                &raw.api_key_env,
                &raw.api_key_file,
            ),
            Self::WebhookSecret => (
                "webhook_secret",
                ENV_ACCOUNT_WEBHOOK_SECRET,
                &raw.webhook_secret_env,
                &raw.webhook_secret_file,
            ),
            Self::CrmKey => (
                "crm_key",
                ENV_ACCOUNT_CRM_KEY,
                &raw.crm_key_env,
                &raw.crm_key_file,
            ),
        };
        (stem, template, env_name.as_deref(), file.as_deref())
    }
}

impl AccountConfig {
    /// Resolves one account entry; `prefix` (e.g. `accounts[0]`) names its keys in errors.
    ///
    /// Per-account variables win over the entry's keys, which win over the dialect defaults.
    pub(super) fn resolve(raw: &FileAccount, prefix: &str, env: &Env) -> Result<Self, ConfigError> {
        let name = value::NAME.parse_at(&raw.name, &format!("{prefix}.name"))?;
        let dialect = match &raw.dialect {
            Some(text) => DIALECT.parse_at(text, &format!("{prefix}.dialect"))?,
            None => Dialect::WazzupV3,
        };
        if name == super::SANDBOX_ACCOUNT && dialect != Dialect::Sandbox {
            return Err(ConfigError::invalid(
                format!("{prefix}.dialect"),
                "sandbox, because the name `sandbox` is reserved for the built-in sandbox",
            ));
        }
        let api_key = resolve_secret(SecretKind::ApiKey, raw, prefix, env)?;
        if api_key.is_none() && dialect.requires_api_key() {
            let env_key = account_env_var(ENV_ACCOUNT_API_KEY, &name);
            return Err(ConfigError::missing(
                format!("{prefix}.api_key (or {env_key})"),
                format!("dialect {dialect} calls an upstream API that needs a key"),
            ));
        }
        Ok(Self {
            base_url: resolve_base_url(raw, dialect, prefix, env)?,
            webhook_secret: resolve_secret(SecretKind::WebhookSecret, raw, prefix, env)?,
            crm_key: resolve_secret(SecretKind::CrmKey, raw, prefix, env)?,
            limits: UpstreamLimits::resolve(&raw.limits, prefix)?,
            retry: RetrySettings::resolve(&raw.retry, prefix)?,
            channel_cache_ttl: match &raw.channel_cache_ttl {
                Some(text) => {
                    value::DURATION.parse_at(text, &format!("{prefix}.channel_cache_ttl"))?
                }
                None => DEFAULT_CHANNEL_CACHE_TTL,
            },
            webhooks: WebhookSubscriptions::resolve(&raw.webhooks),
            default: raw.default,
            api_key,
            dialect,
            name,
        })
    }
}

/// Per-account variable, then the entry's `base_url`, then the dialect default.
fn resolve_base_url(
    raw: &FileAccount,
    dialect: Dialect,
    prefix: &str,
    env: &Env,
) -> Result<String, ConfigError> {
    let env_key = account_env_var(ENV_ACCOUNT_BASE_URL, &raw.name);
    let (text, key) = match (env_value(env, &env_key), &raw.base_url) {
        (Some(text), _) => (text, env_key),
        (None, Some(text)) => (text.as_str(), format!("{prefix}.base_url")),
        (None, None) => return Ok(dialect.default_base_url().to_owned()),
    };
    if dialect == Dialect::Sandbox {
        return value::NON_EMPTY.parse_at(text, &key);
    }
    value::HTTP_URL.parse_at(text, &key)
}

/// Per-account variable (`WGW_ACCOUNT_<NAME>_API_KEY`, then `..._API_KEY_FILE` for the API
/// key), then the entry's `<stem>_env` / `<stem>_file`, else none.
fn resolve_secret(
    kind: SecretKind,
    raw: &FileAccount,
    prefix: &str,
    env: &Env,
) -> Result<Option<SecretString>, ConfigError> {
    let (stem, template, env_name, file) = kind.parts(raw);
    let env_key = account_env_var(template, &raw.name);
    if let Some(text) = env_value(env, &env_key) {
        return secret::from_text(text, &env_key).map(Some);
    }
    if kind == SecretKind::ApiKey {
        let file_env_key = account_env_var(ENV_ACCOUNT_API_KEY_FILE, &raw.name);
        if let Some(path) = env_value(env, &file_env_key) {
            return secret::read_file(Path::new(path), &file_env_key).map(Some);
        }
    }
    let key_prefix = format!("{prefix}.{stem}");
    let Some(source) = secret::pick(env_name, file, &key_prefix)? else {
        return Ok(None);
    };
    secret::read(&source, &key_prefix, env).map(Some)
}

/// The per-account settings, for [`SETTINGS`](super::SETTINGS).
pub(super) const ACCOUNT_SETTINGS: [SettingDoc; 5] = [
    SettingDoc {
        env: ENV_ACCOUNT_BASE_URL,
        file_key: "accounts[].base_url",
        default: "the dialect's URL",
        description: "Upstream base URL of the account (http or https).",
    },
    SettingDoc {
        env: ENV_ACCOUNT_API_KEY,
        file_key: "accounts[].api_key_env",
        default: "",
        description: "Upstream API key of the account; required except for the sandbox dialect.",
    },
    SettingDoc {
        env: ENV_ACCOUNT_API_KEY_FILE,
        file_key: "accounts[].api_key_file",
        default: "",
        description: "File holding the account's API key (trailing whitespace trimmed).",
    },
    SettingDoc {
        env: ENV_ACCOUNT_WEBHOOK_SECRET,
        file_key: "accounts[].webhook_secret_env",
        default: "",
        description: "Secret the upstream authenticates its webhooks with.",
    },
    SettingDoc {
        env: ENV_ACCOUNT_CRM_KEY,
        file_key: "accounts[].crm_key_env",
        default: "",
        description: "Key the upstream presents when it calls the CRM side.",
    },
];
