//! One upstream account: its dialect, endpoint, secrets and limits.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use crate::model::Dialect;

mod devino;

pub(super) use devino::{
    DEVINO_SETTINGS, ENV_ACCOUNT_DEVINO_AUTH, ENV_ACCOUNT_DEVINO_BATCH_CHUNK_SIZE,
    ENV_ACCOUNT_DEVINO_SENDERS,
};
pub(crate) use devino::{DevinoAuth, DevinoSettings};

use self::devino::FileDevino;
use super::{
    ConfigError,
    doc::{SettingDoc, file_only},
    secret,
    upstream_tuning::{
        DEFAULT_CHANNEL_CACHE_TTL, FileRetry, FileWebhooks, RetrySettings, WebhookSubscriptions,
    },
    value::{self, DurationText, Env, ValueKind, env_value},
};

/// Placeholder for the account name in the per-account variable templates below.
pub(crate) const ACCOUNT_NAME_PLACEHOLDER: &str = "<NAME>";

/// Template of the per-account base URL override; see [`account_env_var`].
pub(crate) const ENV_ACCOUNT_BASE_URL: &str = "WGW_ACCOUNT_<NAME>_BASE_URL";
/// Template of the per-account API key (also the default of `accounts[].api_key_env`).
pub(crate) const ENV_ACCOUNT_API_KEY: &str = "WGW_ACCOUNT_<NAME>_API_KEY";
/// Template of the per-account API key file path.
pub(crate) const ENV_ACCOUNT_API_KEY_FILE: &str = "WGW_ACCOUNT_<NAME>_API_KEY_FILE";
/// Template of the per-account webhook secret (also the default of `webhook_secret_env`).
pub(crate) const ENV_ACCOUNT_WEBHOOK_SECRET: &str = "WGW_ACCOUNT_<NAME>_WEBHOOK_SECRET";
/// Template of the per-account CRM key (also the default of `crm_key_env`).
pub(crate) const ENV_ACCOUNT_CRM_KEY: &str = "WGW_ACCOUNT_<NAME>_CRM_KEY";
/// Template of a `wazzup_tech` account's OAuth refresh token (also the default of
/// `refresh_token_env`).
pub(crate) const ENV_ACCOUNT_REFRESH_TOKEN: &str = "WGW_ACCOUNT_<NAME>_REFRESH_TOKEN";
/// Template of a `wazzup_tech` account's partner credentials, `email:password` (also the default
/// of `partner_credentials_env`).
pub(crate) const ENV_ACCOUNT_PARTNER_CREDENTIALS: &str = "WGW_ACCOUNT_<NAME>_PARTNER_CREDENTIALS";

/// Returns the variable `template` names for `account`: the name upper-cased, `-` → `_`.
///
/// `account_env_var(ENV_ACCOUNT_API_KEY, "main-ru")` is `WGW_ACCOUNT_MAIN_RU_API_KEY`.
pub(crate) fn account_env_var(template: &str, account: &str) -> String {
    let name = account.to_ascii_uppercase().replace('-', "_");
    template.replace(ACCOUNT_NAME_PLACEHOLDER, &name)
}

/// Default for `accounts[].limits.requests_per_window`.
pub(crate) const DEFAULT_REQUESTS_PER_WINDOW: u32 = 500;
/// Default for `accounts[].limits.rate_window`.
pub(crate) const DEFAULT_RATE_WINDOW: Duration = Duration::from_secs(5);
/// Default for `accounts[].limits.max_concurrency`.
pub(crate) const DEFAULT_MAX_CONCURRENCY: usize = 50;
/// Default for `accounts[].limits.request_timeout`.
pub(crate) const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default for `accounts[].limits.connect_timeout`.
pub(crate) const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

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
        let duration = |raw: &Option<DurationText>, default: Duration, name: &str| match raw {
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
    /// How a `wazzup_tech` account renews its access token (the API key).
    pub token_refresh: TokenRefresh,
    /// A `devino` account's senders, authorization and batch size (`[accounts.devino]`).
    pub devino: DevinoSettings,
}

/// What a `wazzup_tech` account needs to renew its `client_access_token`: the refresh token and
/// the partner credentials the OAuth route is called with. Without both, the configured token
/// is used as it is.
#[derive(Clone, Debug, Default)]
pub struct TokenRefresh {
    /// The OAuth refresh token issued with the access token.
    pub refresh_token: Option<SecretString>,
    /// The partner account's `email:password`, sent as HTTP Basic to `POST /v2/oauth/token`.
    pub partner_credentials: Option<SecretString>,
    /// The partner's OAuth `client_id`, sent with the refresh token when set.
    pub client_id: Option<String>,
}

impl TokenRefresh {
    /// Resolves the refresh settings of one account entry: both secrets or neither, and only for
    /// `wazzup_tech` accounts.
    fn resolve(
        raw: &FileAccount,
        name: &str,
        dialect: Dialect,
        prefix: &str,
        env: &Env,
    ) -> Result<Self, ConfigError> {
        let refresh = Self {
            refresh_token: resolve_secret(SecretKind::RefreshToken, raw, prefix, env)?,
            partner_credentials: resolve_secret(SecretKind::PartnerCredentials, raw, prefix, env)?,
            client_id: raw
                .oauth_client_id
                .clone()
                .filter(|id| !id.trim().is_empty()),
        };
        let any_set = refresh.refresh_token.is_some()
            || refresh.partner_credentials.is_some()
            || refresh.client_id.is_some();
        if any_set && dialect != Dialect::WazzupTech {
            return Err(ConfigError::invalid(
                format!("{prefix}.dialect"),
                "wazzup_tech, because only wazzup_tech accounts refresh their token",
            ));
        }
        if let Some(credentials) = &refresh.partner_credentials
            && !credentials.expose_secret().contains(':')
        {
            return Err(ConfigError::invalid(
                format!("{prefix}.partner_credentials"),
                "email:password (the value is not shown)",
            ));
        }
        let (missing, template) = match (&refresh.refresh_token, &refresh.partner_credentials) {
            (Some(_), None) => ("partner_credentials", ENV_ACCOUNT_PARTNER_CREDENTIALS),
            (None, Some(_)) => ("refresh_token", ENV_ACCOUNT_REFRESH_TOKEN),
            _ => return Ok(refresh),
        };
        Err(ConfigError::missing(
            format!(
                "{prefix}.{missing} (or {})",
                account_env_var(template, name)
            ),
            "a token refresh needs both the refresh token and the partner credentials",
        ))
    }

    /// Tells whether the token can be refreshed (both secrets are set).
    pub(crate) fn is_configured(&self) -> bool {
        self.refresh_token.is_some() && self.partner_credentials.is_some()
    }
}

/// The secrets of an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SecretKind {
    ApiKey,
    WebhookSecret,
    CrmKey,
    RefreshToken,
    PartnerCredentials,
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
            Self::RefreshToken => (
                "refresh_token",
                ENV_ACCOUNT_REFRESH_TOKEN,
                &raw.refresh_token_env,
                &raw.refresh_token_file,
            ),
            Self::PartnerCredentials => (
                "partner_credentials",
                ENV_ACCOUNT_PARTNER_CREDENTIALS,
                &raw.partner_credentials_env,
                &raw.partner_credentials_file,
            ),
        };
        (stem, template, env_name.as_deref(), file.as_deref())
    }
}

/// Name of the built-in sandbox account (reserved for the sandbox dialect).
pub(crate) const SANDBOX_ACCOUNT: &str = "sandbox";

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
        if name == SANDBOX_ACCOUNT && dialect != Dialect::Sandbox {
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
        let devino = DevinoSettings::resolve(&raw.devino, &name, dialect, prefix, env)?;
        if devino.auth == DevinoAuth::Basic
            && !api_key
                .as_ref()
                .is_some_and(|key| key.expose_secret().contains(':'))
        {
            return Err(ConfigError::invalid(
                format!(
                    "{prefix}.api_key (or {})",
                    account_env_var(ENV_ACCOUNT_API_KEY, &name)
                ),
                "login:password for devino basic authorization (the value is not shown)",
            ));
        }
        Ok(Self {
            devino,
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
            token_refresh: TokenRefresh::resolve(raw, &name, dialect, prefix, env)?,
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

/// Per-account variable (`WGW_ACCOUNT_<NAME>_API_KEY`, or `..._API_KEY_FILE` for the API key:
/// both set is an error), then the entry's `<stem>_env` / `<stem>_file`, else none.
fn resolve_secret(
    kind: SecretKind,
    raw: &FileAccount,
    prefix: &str,
    env: &Env,
) -> Result<Option<SecretString>, ConfigError> {
    let (stem, template, env_name, file) = kind.parts(raw);
    let env_key = account_env_var(template, &raw.name);
    let value_in_env = env_value(env, &env_key);
    if kind == SecretKind::ApiKey {
        let file_env_key = account_env_var(ENV_ACCOUNT_API_KEY_FILE, &raw.name);
        match (value_in_env, env_value(env, &file_env_key)) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::invalid(
                    format!("{env_key} / {file_env_key}"),
                    "at most one of the two",
                ));
            }
            (None, Some(path)) => {
                return secret::read_file(Path::new(path), &file_env_key).map(Some);
            }
            _ => {}
        }
    }
    if let Some(text) = value_in_env {
        return secret::from_text(text, &env_key).map(Some);
    }
    let key_prefix = format!("{prefix}.{stem}");
    let Some(source) = secret::pick(env_name, file, &key_prefix)? else {
        return Ok(None);
    };
    secret::read(&source, &key_prefix, env).map(Some)
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
    #[serde(default)]
    pub(super) devino: FileDevino,
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

/// The per-account settings, for [`SETTINGS`](super::SETTINGS).
pub(super) const ACCOUNT_SETTINGS: [SettingDoc; 12] = [
    SettingDoc {
        env: ENV_ACCOUNT_BASE_URL,
        file_key: "accounts[].base_url",
        default: "the dialect's URL",
        description: "Upstream base URL of the account (http or https).",
    },
    SettingDoc {
        env: ENV_ACCOUNT_API_KEY,
        file_key: "",
        default: "",
        description: "Upstream API key of the account; required except for the sandbox dialect.",
    },
    SettingDoc {
        env: ENV_ACCOUNT_API_KEY_FILE,
        file_key: "accounts[].api_key_file",
        default: "",
        description: "File holding the account's API key (trailing whitespace trimmed); setting it and WGW_ACCOUNT_<NAME>_API_KEY together is an error.",
    },
    SettingDoc {
        env: ENV_ACCOUNT_WEBHOOK_SECRET,
        file_key: "",
        default: "",
        description: "Secret the upstream authenticates its webhooks with.",
    },
    SettingDoc {
        env: ENV_ACCOUNT_CRM_KEY,
        file_key: "",
        default: "",
        description: "Key the upstream presents when it calls the CRM side.",
    },
    SettingDoc {
        env: ENV_ACCOUNT_REFRESH_TOKEN,
        file_key: "",
        default: "",
        description: "wazzup_tech: OAuth refresh token that renews the account's access token.",
    },
    SettingDoc {
        env: ENV_ACCOUNT_PARTNER_CREDENTIALS,
        file_key: "",
        default: "",
        description: "wazzup_tech: partner email:password, HTTP Basic of the token refresh.",
    },
    file_only(
        "accounts[].api_key_env",
        "",
        "Name of another environment variable holding the account's API key (instead of WGW_ACCOUNT_<NAME>_API_KEY).",
    ),
    file_only(
        "accounts[].webhook_secret_env",
        "",
        "Name of another environment variable holding the account's webhook secret (instead of WGW_ACCOUNT_<NAME>_WEBHOOK_SECRET).",
    ),
    file_only(
        "accounts[].crm_key_env",
        "",
        "Name of another environment variable holding the account's CRM key (instead of WGW_ACCOUNT_<NAME>_CRM_KEY).",
    ),
    file_only(
        "accounts[].refresh_token_env",
        "",
        "Name of another environment variable holding the account's wazzup_tech refresh token (instead of WGW_ACCOUNT_<NAME>_REFRESH_TOKEN).",
    ),
    file_only(
        "accounts[].partner_credentials_env",
        "",
        "Name of another environment variable holding the account's wazzup_tech partner credentials (instead of WGW_ACCOUNT_<NAME>_PARTNER_CREDENTIALS).",
    ),
];

#[cfg(test)]
mod token_refresh_tests {
    use std::collections::HashMap;

    use secrecy::ExposeSecret as _;

    use crate::config::Config;

    const TECH: &str = "[[accounts]]\nname = \"tech\"\ndialect = \"wazzup_tech\"\n";

    fn load(text: &str, pairs: &[(&str, &str)]) -> Result<Config, String> {
        let mut env: HashMap<String, String> = pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        env.entry("WGW_ACCOUNT_TECH_API_KEY".to_owned())
            .or_insert_with(|| "access-1".to_owned());
        Config::from_toml_str(text, &env).map_err(|error| error.to_string())
    }

    #[test]
    fn a_tech_account_reads_its_refresh_token_partner_credentials_and_client_id() {
        let text = format!("{TECH}oauth_client_id = \"client-7\"\n");
        let config = load(
            &text,
            &[
                ("WGW_ACCOUNT_TECH_REFRESH_TOKEN", "refresh-1"),
                ("WGW_ACCOUNT_TECH_PARTNER_CREDENTIALS", "p@example.com:pw"),
            ],
        )
        .unwrap();
        let refresh = &config.accounts[0].token_refresh;
        assert!(refresh.is_configured());
        assert_eq!(
            refresh.refresh_token.as_ref().unwrap().expose_secret(),
            "refresh-1"
        );
        assert_eq!(refresh.client_id.as_deref(), Some("client-7"));
        assert!(!format!("{config:?}").contains("p@example.com:pw"));
        let summary = config.summary();
        assert!(summary.contains(", token refresh set"), "{summary}");
        assert!(!summary.contains("refresh-1") && !summary.contains("p@example.com"));
    }

    #[test]
    fn refresh_needs_both_secrets_a_colon_and_a_tech_account() {
        let half = load(TECH, &[("WGW_ACCOUNT_TECH_REFRESH_TOKEN", "refresh-1")]).unwrap_err();
        assert!(
            half.contains("WGW_ACCOUNT_TECH_PARTNER_CREDENTIALS"),
            "{half}"
        );

        let no_colon = load(
            TECH,
            &[
                ("WGW_ACCOUNT_TECH_REFRESH_TOKEN", "refresh-1"),
                ("WGW_ACCOUNT_TECH_PARTNER_CREDENTIALS", "SECRET-NO-COLON"),
            ],
        )
        .unwrap_err();
        assert!(
            no_colon.contains("email:password") && !no_colon.contains("SECRET-NO-COLON"),
            "{no_colon}"
        );

        let v3 = "[[accounts]]\nname = \"tech\"\noauth_client_id = \"c\"\n";
        assert!(load(v3, &[]).unwrap_err().contains("wazzup_tech"));
        assert!(
            !load(TECH, &[]).unwrap().accounts[0]
                .token_refresh
                .is_configured()
        );
    }
}
