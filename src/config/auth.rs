//! Caller authentication: the bearer tokens gRPC callers present and what each may reach.

use std::{collections::HashSet, path::PathBuf};

use secrecy::SecretString;
use serde::Deserialize;

use super::{
    ConfigError,
    doc::SettingDoc,
    limits::CallerLimitOverrides,
    secret,
    tls::ENV_GRPC_TLS_CLIENT_CA_FILE,
    value::{self, Env, env_value},
};

/// A single caller token with access to every account and service (named [`DEFAULT_TOKEN_NAME`]).
pub(crate) const ENV_AUTH_TOKEN: &str = "WGW_AUTH_TOKEN";
pub(super) const AUTH_TOKEN: SettingDoc = SettingDoc {
    env: ENV_AUTH_TOKEN,
    file_key: "",
    default: "",
    description: "Shortcut: one caller token named \"default\" with access to everything.",
};

/// Name of the caller token defined by [`ENV_AUTH_TOKEN`].
pub(crate) const DEFAULT_TOKEN_NAME: &str = "default";

/// Default for `auth.open_health_and_reflection` (file only).
pub(crate) const DEFAULT_OPEN_HEALTH_AND_REFLECTION: bool = true;

/// Who may call the gateway.
#[derive(Clone, Debug)]
pub struct AuthConfig {
    /// Tokens accepted from callers; empty when none is configured.
    pub tokens: Vec<CallerToken>,
    /// Whether the gRPC health and reflection services answer without a token.
    pub open_health_and_reflection: bool,
}

/// A bearer token a caller presents, and what it grants.
///
/// `Debug` is safe to log: the token prints as `[REDACTED]`.
#[derive(Clone, Debug)]
pub struct CallerToken {
    /// Caller identity used in logs and metrics.
    pub name: String,
    /// The token itself.
    pub token: SecretString,
    /// Accounts the caller may use; empty means all.
    pub accounts: Vec<String>,
    /// Full gRPC service names (e.g. `wazzup_gateway.v1.MessageService`) the caller may call;
    /// empty means all.
    pub services: Vec<String>,
    /// Replacements of `[limits]`'s caller limits for this token.
    pub limits: CallerLimitOverrides,
    /// Names (subject common name, or DNS, URI or email subject alternative name) one of which
    /// the client certificate of a call presenting this token must carry; empty: any client.
    pub client_cert_names: Vec<String>,
}

impl CallerToken {
    /// Returns whether the token grants access to `account`.
    pub fn allows_account(&self, account: &str) -> bool {
        self.accounts.is_empty() || self.accounts.iter().any(|allowed| allowed == account)
    }

    /// Returns whether the token grants access to the gRPC service `service` (full name).
    pub fn allows_service(&self, service: &str) -> bool {
        self.services.is_empty() || self.services.iter().any(|allowed| allowed == service)
    }
}

impl AuthConfig {
    /// Resolves `[auth]` and [`ENV_AUTH_TOKEN`]; the variable's token comes after the file's.
    pub(super) fn resolve(file: &FileAuth, env: &Env) -> Result<Self, ConfigError> {
        let mut tokens = file
            .tokens
            .iter()
            .enumerate()
            .map(|(index, raw)| resolve_token(raw, &format!("auth.tokens[{index}]"), env))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(raw) = env_value(env, ENV_AUTH_TOKEN) {
            tokens.push(CallerToken {
                name: DEFAULT_TOKEN_NAME.to_owned(),
                token: secret::from_text(raw, ENV_AUTH_TOKEN)?,
                accounts: Vec::new(),
                services: Vec::new(),
                limits: CallerLimitOverrides::default(),
                client_cert_names: Vec::new(),
            });
        }
        Ok(Self {
            tokens,
            open_health_and_reflection: file
                .open_health_and_reflection
                .unwrap_or(DEFAULT_OPEN_HEALTH_AND_REFLECTION),
        })
    }

    /// Checks that token names are unique, that every listed account exists, and that tokens
    /// bound to a client certificate come with mutual TLS (`mutual_tls`).
    pub(super) fn validate(
        &self,
        account_names: &HashSet<&str>,
        mutual_tls: bool,
    ) -> Result<(), ConfigError> {
        let mut seen = HashSet::new();
        for (index, token) in self.tokens.iter().enumerate() {
            if !token.client_cert_names.is_empty() && !mutual_tls {
                return Err(ConfigError::invalid(
                    format!("auth.tokens[{index}].client_cert_names"),
                    format!("empty unless {ENV_GRPC_TLS_CLIENT_CA_FILE} turns on mutual TLS"),
                ));
            }
            if !seen.insert(token.name.as_str()) {
                let key = if token.name == DEFAULT_TOKEN_NAME {
                    format!("auth.tokens[].name (or {ENV_AUTH_TOKEN})")
                } else {
                    format!("auth.tokens[{index}].name")
                };
                return Err(ConfigError::duplicate(key, &token.name));
            }
            if let Some(unknown) = token
                .accounts
                .iter()
                .find(|account| !account_names.contains(account.as_str()))
            {
                return Err(ConfigError::invalid(
                    format!("auth.tokens[{index}].accounts"),
                    format!("names of configured accounts (`{unknown}` is not one)"),
                ));
            }
        }
        Ok(())
    }
}

/// Resolves one `[[auth.tokens]]` entry; `prefix` (e.g. `auth.tokens[0]`) names its keys.
fn resolve_token(raw: &FileToken, prefix: &str, env: &Env) -> Result<CallerToken, ConfigError> {
    let name = value::NAME.parse_at(&raw.name, &format!("{prefix}.name"))?;
    let token_prefix = format!("{prefix}.token");
    let source = secret::pick(
        raw.token_env.as_deref(),
        raw.token_file.as_deref(),
        &token_prefix,
    )?
    .ok_or_else(|| {
        ConfigError::missing(
            format!("{token_prefix}_env or {token_prefix}_file"),
            "every caller token needs a source",
        )
    })?;
    if let Some(service) = raw
        .services
        .iter()
        .find(|service| !is_service_name(service))
    {
        return Err(ConfigError::invalid(
            format!("{prefix}.services"),
            format!(
                "full gRPC service names such as wazzup_gateway.v1.MessageService, not `{service}`"
            ),
        ));
    }
    Ok(CallerToken {
        name,
        token: secret::read(&source, &token_prefix, env)?,
        accounts: raw.accounts.clone(),
        services: raw.services.clone(),
        limits: CallerLimitOverrides {
            requests_per_second: raw.requests_per_second,
            request_burst: raw.request_burst,
            max_streams: raw.max_streams,
        },
        client_cert_names: raw.client_cert_names.clone(),
    })
}

/// Checks the shape `package.Service`: dot-separated identifiers, at least two of them.
fn is_service_name(raw: &str) -> bool {
    let mut parts = raw.split('.');
    let all_identifiers = parts.clone().all(|part| {
        !part.is_empty()
            && part
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
    });
    parts.nth(1).is_some() && all_identifiers
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
    pub(super) requests_per_second: Option<u32>,
    pub(super) request_burst: Option<u32>,
    pub(super) max_streams: Option<u32>,
    #[serde(default)]
    pub(super) client_cert_names: Vec<String>,
}
