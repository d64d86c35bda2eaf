//! `[nats]`: the NATS JetStream backend (`events.backend = "nats"`): the servers, how the gateway
//! authenticates to them, TLS, and the names and shape of the stream and key-value buckets.
//!
//! ```toml
//! [nats]
//! url = "nats://nats-0:4222,nats://nats-1:4222"
//! user = "gateway"
//! password_file = "/var/run/secrets/wgw/nats.password"
//! stream = "WGW_EVENTS"
//! replicas = 3
//! ```
//!
//! Secrets (the password, the token, the `.creds` file's JWT and seed) are read from the
//! environment or from mounted files and held as [`SecretString`]; errors and the summary never
//! show them.

use std::path::PathBuf;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use super::{
    ConfigError,
    doc::SettingDoc,
    secret,
    value::{self, DurationText, Env, ValueKind, env_value, layered, layered_opt},
};

/// Comma-separated NATS server URLs.
pub(crate) const ENV_NATS_URL: &str = "WGW_NATS_URL";
/// User name for user/password authentication.
pub(crate) const ENV_NATS_USER: &str = "WGW_NATS_USER";
/// Password for user/password authentication (the secret itself).
pub(crate) const ENV_NATS_PASSWORD: &str = "WGW_NATS_PASSWORD";
/// Token authentication (the secret itself).
pub(crate) const ENV_NATS_TOKEN: &str = "WGW_NATS_TOKEN";
/// Path of a `.creds` file (JWT and NKey seed).
pub(crate) const ENV_NATS_CREDENTIALS_FILE: &str = "WGW_NATS_CREDENTIALS_FILE";
/// PEM CA bundle the servers' certificates must chain to.
pub(crate) const ENV_NATS_TLS_CA_FILE: &str = "WGW_NATS_TLS_CA_FILE";
/// Name of the JetStream stream holding the events.
pub(crate) const ENV_NATS_STREAM: &str = "WGW_NATS_STREAM";
/// Replicas of the stream and buckets.
pub(crate) const ENV_NATS_REPLICAS: &str = "WGW_NATS_REPLICAS";
/// Key-value bucket mapping event ids to stream sequences.
pub(crate) const ENV_NATS_EVENT_IDS_BUCKET: &str = "WGW_NATS_EVENT_IDS_BUCKET";
/// Key-value bucket holding the named consumers' records.
pub(crate) const ENV_NATS_CONSUMERS_BUCKET: &str = "WGW_NATS_CONSUMERS_BUCKET";
/// Key-value bucket holding the idempotency records.
pub(crate) const ENV_NATS_IDEMPOTENCY_BUCKET: &str = "WGW_NATS_IDEMPOTENCY_BUCKET";
/// Key-value bucket holding the per-account upstream rate budgets shared by the replicas.
pub(crate) const ENV_NATS_RATE_BUDGET_BUCKET: &str = "WGW_NATS_RATE_BUDGET_BUCKET";
/// JetStream's duplicate window: a repeated `Nats-Msg-Id` within it is not stored again.
pub(crate) const ENV_NATS_DEDUPE_WINDOW: &str = "WGW_NATS_DEDUPE_WINDOW";

/// Default of [`ENV_NATS_STREAM`].
pub(crate) const DEFAULT_NATS_STREAM: &str = "WGW_EVENTS";
/// Default of [`ENV_NATS_DEDUPE_WINDOW`] (JetStream's own default).
pub(crate) const DEFAULT_NATS_DEDUPE_WINDOW: &str = "2m";

/// The `[nats]` settings with an environment variable, in the order of the README table.
pub(super) const NATS_SETTINGS: [SettingDoc; 13] = [
    SettingDoc {
        env: ENV_NATS_URL,
        file_key: "nats.url",
        default: "",
        description: "NATS servers, comma-separated nats:// or tls:// URLs without credentials; \
                      required when events.backend is nats.",
    },
    SettingDoc {
        env: ENV_NATS_USER,
        file_key: "nats.user",
        default: "",
        description: "User name for NATS user/password authentication (with a password).",
    },
    SettingDoc {
        env: ENV_NATS_PASSWORD,
        file_key: "nats.password_file",
        default: "",
        description: "NATS password: the variable holds it, the file key names a file holding it \
                      (or nats.password_env names another variable).",
    },
    SettingDoc {
        env: ENV_NATS_TOKEN,
        file_key: "nats.token_file",
        default: "",
        description: "NATS token: the variable holds it, the file key names a file holding it \
                      (or nats.token_env names another variable).",
    },
    SettingDoc {
        env: ENV_NATS_CREDENTIALS_FILE,
        file_key: "nats.credentials_file",
        default: "",
        description: "NATS .creds file (JWT and NKey seed); at most one of credentials, token, \
                      user/password.",
    },
    SettingDoc {
        env: ENV_NATS_TLS_CA_FILE,
        file_key: "nats.tls_ca_file",
        default: "",
        description: "PEM CA bundle for the NATS servers' certificates; set, TLS is required.",
    },
    SettingDoc {
        env: ENV_NATS_STREAM,
        file_key: "nats.stream",
        default: DEFAULT_NATS_STREAM,
        description: "JetStream stream of the events (subjects STREAM.events.ACCOUNT.TYPE); \
                      its limits are the events retention settings.",
    },
    SettingDoc {
        env: ENV_NATS_REPLICAS,
        file_key: "nats.replicas",
        default: "1",
        description: "Replicas of the stream and buckets: 1, or 3 on a JetStream cluster.",
    },
    SettingDoc {
        env: ENV_NATS_EVENT_IDS_BUCKET,
        file_key: "nats.event_ids_bucket",
        default: "wgw_event_ids",
        description: "Key-value bucket mapping event ids to stream sequences (GetEvent, dedupe).",
    },
    SettingDoc {
        env: ENV_NATS_CONSUMERS_BUCKET,
        file_key: "nats.consumers_bucket",
        default: "wgw_consumers",
        description: "Key-value bucket of the named consumers' records (owner, filters, start); \
                      their progress is kept by their JetStream durable consumers.",
    },
    SettingDoc {
        env: ENV_NATS_IDEMPOTENCY_BUCKET,
        file_key: "nats.idempotency_bucket",
        default: "wgw_idempotency",
        description: "Key-value bucket of the idempotency records (TTL storage.idempotency_retention).",
    },
    SettingDoc {
        env: ENV_NATS_RATE_BUDGET_BUCKET,
        file_key: "nats.rate_budget_bucket",
        default: "wgw_rate_budget",
        description: "Key-value bucket of the per-account upstream rate budgets all replicas \
                      share (one entry per account: the current window's granted requests).",
    },
    SettingDoc {
        env: ENV_NATS_DEDUPE_WINDOW,
        file_key: "nats.dedupe_window",
        default: DEFAULT_NATS_DEDUPE_WINDOW,
        description: "JetStream duplicate window: an event id repeated within it is not stored \
                      again (> 0, at most events.retention_max_age).",
    },
];

/// A stream or bucket name JetStream accepts everywhere (also as a subject token).
const RESOURCE_NAME: ValueKind<String> = ValueKind::new(
    |raw| is_resource_name(raw).then(|| raw.to_owned()),
    "1 to 32 characters of A-Z, a-z, 0-9, `_` and `-`",
);

/// Stream and bucket replicas.
const REPLICAS: ValueKind<usize> = ValueKind::new(
    |raw| match raw {
        "1" => Some(1),
        "3" => Some(3),
        _ => None,
    },
    "1 or 3",
);

/// One or more NATS server URLs.
const SERVER_URLS: ValueKind<Vec<String>> = ValueKind::new(
    parse_server_urls,
    "comma-separated nats:// or tls:// URLs with a host and no credentials, path or query \
     (credentials go in nats.user / password / token / credentials_file)",
);

/// `[nats]` as written in the file: names where secrets are, never the secrets.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileNats {
    url: Option<String>,
    user: Option<String>,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
    token_env: Option<String>,
    token_file: Option<PathBuf>,
    credentials_file: Option<String>,
    tls_ca_file: Option<String>,
    stream: Option<String>,
    replicas: Option<FileReplicas>,
    event_ids_bucket: Option<String>,
    consumers_bucket: Option<String>,
    idempotency_bucket: Option<String>,
    rate_budget_bucket: Option<String>,
    dedupe_window: Option<DurationText>,
}

/// Replicas written as a number or as text.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum FileReplicas {
    Number(u64),
    Text(String),
}

/// How the gateway connects to NATS JetStream.
///
/// `Debug` is safe to log: secrets print as `[REDACTED]`.
#[derive(Clone, Debug)]
pub struct NatsConfig {
    /// Server URLs; the client picks one and fails over to the others.
    pub servers: Vec<String>,
    /// How the gateway authenticates.
    pub auth: NatsAuth,
    /// CA bundle for the servers' certificates; `None` uses TLS only when a URL asks for it.
    pub tls_ca_file: Option<PathBuf>,
    /// The stream of the events.
    pub stream: String,
    /// Replicas of the stream and buckets.
    pub replicas: usize,
    /// Bucket mapping event ids to stream sequences.
    pub event_ids_bucket: String,
    /// Bucket of the named consumers' records.
    pub consumers_bucket: String,
    /// Bucket of the idempotency records.
    pub idempotency_bucket: String,
    /// Bucket of the upstream rate budgets shared by the replicas.
    pub rate_budget_bucket: String,
    /// JetStream's duplicate window for `Nats-Msg-Id`.
    pub dedupe_window: Duration,
}

/// How the gateway authenticates to NATS.
#[derive(Clone, Debug)]
pub enum NatsAuth {
    /// No credentials.
    None,
    /// User and password.
    UserPassword {
        /// The user name.
        user: String,
        /// The password.
        password: SecretString,
    },
    /// A token.
    Token(SecretString),
    /// The content of a `.creds` file: a JWT and an NKey seed.
    Credentials(SecretString),
}

impl NatsAuth {
    /// Returns how the summary describes it: the method and the user, never a secret.
    pub(super) fn describe(&self) -> String {
        match self {
            Self::None => "none".to_owned(),
            Self::UserPassword { user, .. } => format!("user {user} with password (set)"),
            Self::Token(_) => "token (set)".to_owned(),
            Self::Credentials(_) => "credentials file (set)".to_owned(),
        }
    }
}

impl NatsConfig {
    /// Resolves `[nats]`: `None` when no server URL is configured.
    ///
    /// # Errors
    ///
    /// Fails naming the setting when a value is unusable, a secret cannot be read, or more than
    /// one authentication method (or half of user/password) is configured.
    pub(super) fn resolve(file: &FileNats, env: &Env) -> Result<Option<Self>, ConfigError> {
        let [
            url,
            _,
            _,
            _,
            _,
            tls_ca,
            stream,
            replicas,
            ids,
            consumers,
            idempotency,
            rate_budget,
            dedupe,
        ] = &NATS_SETTINGS;
        let Some(servers) = layered_opt(env, url, file.url.as_deref(), &SERVER_URLS)? else {
            return Ok(None);
        };
        let name = |setting: &SettingDoc, raw: &Option<String>| {
            layered(env, setting, raw.as_deref(), &RESOURCE_NAME)
        };
        let replicas_text = file.replicas.as_ref().map(|replicas| match replicas {
            FileReplicas::Number(number) => number.to_string(),
            FileReplicas::Text(text) => text.clone(),
        });
        Ok(Some(Self {
            servers,
            auth: resolve_auth(file, env)?,
            tls_ca_file: layered_opt(env, tls_ca, file.tls_ca_file.as_deref(), &value::PATH)?,
            stream: name(stream, &file.stream)?,
            replicas: layered(env, replicas, replicas_text.as_deref(), &REPLICAS)?,
            event_ids_bucket: name(ids, &file.event_ids_bucket)?,
            consumers_bucket: name(consumers, &file.consumers_bucket)?,
            idempotency_bucket: name(idempotency, &file.idempotency_bucket)?,
            rate_budget_bucket: name(rate_budget, &file.rate_budget_bucket)?,
            dedupe_window: layered(
                env,
                dedupe,
                file.dedupe_window.as_deref(),
                &value::POSITIVE_DURATION,
            )?,
        }))
    }
}

/// Resolves the one authentication method: credentials file, token or user/password.
fn resolve_auth(file: &FileNats, env: &Env) -> Result<NatsAuth, ConfigError> {
    let [_, user, password, token, credentials, ..] = &NATS_SETTINGS;
    let user = layered_opt(env, user, file.user.as_deref(), &value::NON_EMPTY)?;
    let password = secret_setting(env, password, &file.password_env, &file.password_file)?;
    let token = secret_setting(env, token, &file.token_env, &file.token_file)?;
    let credentials_path = layered_opt(
        env,
        credentials,
        file.credentials_file.as_deref(),
        &value::PATH,
    )?;
    let credentials = credentials_path
        .map(|path| secret::read_file(&path, "nats.credentials_file"))
        .transpose()?;
    let methods = [
        user.is_some() || password.is_some(),
        token.is_some(),
        credentials.is_some(),
    ];
    if methods.into_iter().filter(|used| *used).count() > 1 {
        return Err(ConfigError::invalid(
            "nats.user / password, nats.token, nats.credentials_file",
            "at most one NATS authentication method",
        ));
    }
    match (user, password, token, credentials) {
        (Some(user), Some(password), _, _) => Ok(NatsAuth::UserPassword { user, password }),
        (Some(_), None, _, _) => Err(ConfigError::missing(
            "nats.password_file (or WGW_NATS_PASSWORD)",
            "nats.user is set",
        )),
        (None, Some(_), _, _) => Err(ConfigError::missing(
            "nats.user (or WGW_NATS_USER)",
            "a NATS password is set",
        )),
        (None, None, Some(token), _) => Ok(NatsAuth::Token(token)),
        (None, None, None, Some(credentials)) => Ok(NatsAuth::Credentials(credentials)),
        (None, None, None, None) => Ok(NatsAuth::None),
    }
}

/// Reads a secret from its variable (`setting.env`, holding the secret), or else from what the
/// file's `<key>_env` / `<key>_file` pair names.
fn secret_setting(
    env: &Env,
    setting: &SettingDoc,
    file_env: &Option<String>,
    file_path: &Option<PathBuf>,
) -> Result<Option<SecretString>, ConfigError> {
    if let Some(raw) = env_value(env, setting.env) {
        return secret::from_text(raw, setting.env).map(Some);
    }
    let prefix = setting.file_key.trim_end_matches("_file");
    secret::pick(file_env.as_deref(), file_path.as_deref(), prefix)?
        .map(|source| secret::read(&source, prefix, env))
        .transpose()
}

/// Checks `[A-Za-z0-9_-]{1,32}`: valid as a stream name, a bucket name and a subject token.
fn is_resource_name(raw: &str) -> bool {
    (1..=32).contains(&raw.len())
        && raw
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
}

/// Splits and checks comma-separated server URLs.
fn parse_server_urls(raw: &str) -> Option<Vec<String>> {
    raw.split(',')
        .map(str::trim)
        .map(|one| is_server_url(one).then(|| one.to_owned()))
        .collect()
}

/// Accepts `nats://host[:port]` and `tls://host[:port]` without credentials, path or query.
fn is_server_url(raw: &str) -> bool {
    let Ok(url) = url::Url::parse(raw) else {
        return false;
    };
    matches!(url.scheme(), "nats" | "tls")
        && url.host_str().is_some_and(|host| !host.is_empty())
        && url.username().is_empty()
        && url.password().is_none()
        && matches!(url.path(), "" | "/")
        && url.query().is_none()
        && url.fragment().is_none()
}

#[cfg(test)]
mod tests;
