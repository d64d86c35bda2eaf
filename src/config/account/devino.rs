//! The settings only a `devino` account has: its sender names (which are its channels), how it
//! authenticates, and how many messages one upstream request carries.

use serde::Deserialize;

use crate::model::Dialect;

use super::super::{
    ConfigError,
    doc::SettingDoc,
    value::{Env, env_value},
};
use super::account_env_var;

/// Template of a `devino` account's sender names, comma-separated.
pub(crate) const ENV_ACCOUNT_DEVINO_SENDERS: &str = "WGW_ACCOUNT_<NAME>_DEVINO_SENDERS";
/// Template of a `devino` account's authorization scheme, `key` or `basic`.
pub(crate) const ENV_ACCOUNT_DEVINO_AUTH: &str = "WGW_ACCOUNT_<NAME>_DEVINO_AUTH";
/// Template of a `devino` account's batch chunk size.
pub(crate) const ENV_ACCOUNT_DEVINO_BATCH_CHUNK_SIZE: &str =
    "WGW_ACCOUNT_<NAME>_DEVINO_BATCH_CHUNK_SIZE";

/// Default for `accounts[].devino.batch_chunk_size`: the legacy API's documented cap and the
/// gateway's own `BatchSendMessages` limit (whatsapp-notify-api.md §3.3).
pub(crate) const DEFAULT_DEVINO_BATCH_CHUNK_SIZE: usize = 100;
/// Largest accepted `accounts[].devino.batch_chunk_size` (a `BatchSendMessages` call carries at
/// most 100 requests, so a larger chunk never forms).
const MAX_DEVINO_BATCH_CHUNK_SIZE: usize = 100;
/// Longest sender name, in characters (a gateway bound; the document gives none).
const MAX_SENDER_CHARS: usize = 100;

/// How a `devino` account authenticates (whatsapp-notify-api.md §2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DevinoAuth {
    /// `Authorization: Key <api key>`, the key sent exactly as issued.
    #[default]
    Key,
    /// `Authorization: Basic base64(login:password)`; the account's API key holds
    /// `login:password`.
    Basic,
}

/// The `devino` part of an account.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DevinoSettings {
    /// The sender names (`from`) the account may use, in configured order; each is a channel.
    pub senders: Vec<String>,
    /// How requests authenticate.
    pub auth: DevinoAuth,
    /// Messages per `POST /whatsapp/messages` of a batch.
    pub batch_chunk_size: usize,
}

/// `[accounts.devino]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(in crate::config) struct FileDevino {
    senders: Option<Vec<String>>,
    auth: Option<String>,
    batch_chunk_size: Option<usize>,
}

impl FileDevino {
    /// Tells whether the entry sets anything.
    fn is_set(&self) -> bool {
        self.senders.is_some() || self.auth.is_some() || self.batch_chunk_size.is_some()
    }
}

impl DevinoSettings {
    /// Resolves the `devino` settings of one account entry: variables win over `[accounts.devino]`.
    /// Only `devino` accounts may set them, and a `devino` account needs at least one sender.
    pub(super) fn resolve(
        file: &FileDevino,
        name: &str,
        dialect: Dialect,
        prefix: &str,
        env: &Env,
    ) -> Result<Self, ConfigError> {
        let senders_env = account_env_var(ENV_ACCOUNT_DEVINO_SENDERS, name);
        let auth_env = account_env_var(ENV_ACCOUNT_DEVINO_AUTH, name);
        let chunk_env = account_env_var(ENV_ACCOUNT_DEVINO_BATCH_CHUNK_SIZE, name);
        let env_set = [&senders_env, &auth_env, &chunk_env]
            .iter()
            .any(|key| env_value(env, key).is_some());
        if dialect != Dialect::Devino {
            if file.is_set() || env_set {
                return Err(ConfigError::invalid(
                    format!("{prefix}.dialect"),
                    "devino, because only devino accounts have devino settings",
                ));
            }
            return Ok(Self::default());
        }
        let senders = match env_value(env, &senders_env) {
            Some(text) => parse_senders(text.split(','), &senders_env)?,
            None => parse_senders(
                file.senders.iter().flatten().map(String::as_str),
                &format!("{prefix}.devino.senders"),
            )?,
        };
        if senders.is_empty() {
            return Err(ConfigError::missing(
                format!("{prefix}.devino.senders (or {senders_env})"),
                "a devino account sends from its sender names; list at least one",
            ));
        }
        let auth = match env_value(env, &auth_env) {
            Some(text) => parse_auth(text, &auth_env)?,
            None => match &file.auth {
                Some(text) => parse_auth(text, &format!("{prefix}.devino.auth"))?,
                None => DevinoAuth::default(),
            },
        };
        let batch_chunk_size = resolve_chunk(env_value(env, &chunk_env), &chunk_env, file, prefix)?;
        Ok(Self {
            senders,
            auth,
            batch_chunk_size,
        })
    }
}

/// Trims the sender names and refuses blank, overlong and repeated ones.
fn parse_senders<'a>(
    raw: impl Iterator<Item = &'a str>,
    key: &str,
) -> Result<Vec<String>, ConfigError> {
    let mut senders: Vec<String> = Vec::new();
    for sender in raw.map(str::trim) {
        if sender.is_empty() || sender.chars().count() > MAX_SENDER_CHARS {
            return Err(ConfigError::invalid(
                key,
                format!("sender names of 1 to {MAX_SENDER_CHARS} characters, comma-separated"),
            ));
        }
        if senders.iter().any(|known| known == sender) {
            return Err(ConfigError::duplicate(key, sender));
        }
        senders.push(sender.to_owned());
    }
    Ok(senders)
}

/// Reads `key` or `basic`, case-insensitively.
fn parse_auth(raw: &str, key: &str) -> Result<DevinoAuth, ConfigError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "key" => Ok(DevinoAuth::Key),
        "basic" => Ok(DevinoAuth::Basic),
        _ => Err(ConfigError::invalid(
            key,
            "key (Authorization: Key <api key>) or basic (the API key holds login:password)",
        )),
    }
}

/// The chunk size: the variable, then the file, then the default.
fn resolve_chunk(
    env_text: Option<&str>,
    env_key: &str,
    file: &FileDevino,
    prefix: &str,
) -> Result<usize, ConfigError> {
    match (env_text, file.batch_chunk_size) {
        (Some(text), _) => parse_chunk(text.trim().parse().ok(), env_key),
        (None, Some(size)) => parse_chunk(Some(size), &format!("{prefix}.devino.batch_chunk_size")),
        (None, None) => Ok(DEFAULT_DEVINO_BATCH_CHUNK_SIZE),
    }
}

/// Accepts a chunk size of 1 to 100.
fn parse_chunk(size: Option<usize>, key: &str) -> Result<usize, ConfigError> {
    size.filter(|size| (1..=MAX_DEVINO_BATCH_CHUNK_SIZE).contains(size))
        .ok_or_else(|| {
            ConfigError::invalid(
                key,
                format!("a whole number from 1 to {MAX_DEVINO_BATCH_CHUNK_SIZE}"),
            )
        })
}

/// The `devino` settings, for [`SETTINGS`](crate::config::SETTINGS).
pub(in crate::config) const DEVINO_SETTINGS: [SettingDoc; 3] = [
    SettingDoc {
        env: ENV_ACCOUNT_DEVINO_SENDERS,
        file_key: "accounts[].devino.senders",
        default: "",
        description: "devino: the sender names (from) the account may use, comma-separated in the variable; each is a channel. Required for devino accounts.",
    },
    SettingDoc {
        env: ENV_ACCOUNT_DEVINO_AUTH,
        file_key: "accounts[].devino.auth",
        default: "key",
        description: "devino: key sends Authorization: Key <api key> as issued; basic sends HTTP Basic with the API key holding login:password.",
    },
    SettingDoc {
        env: ENV_ACCOUNT_DEVINO_BATCH_CHUNK_SIZE,
        file_key: "accounts[].devino.batch_chunk_size",
        default: "100",
        description: "devino: messages per POST /whatsapp/messages when BatchSendMessages sends natively (1 to 100).",
    },
];

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use secrecy::ExposeSecret as _;

    use super::*;
    use crate::config::Config;

    const DEVINO: &str = "[[accounts]]\nname = \"notify\"\ndialect = \"devino\"\n";

    fn load(text: &str, pairs: &[(&str, &str)]) -> Result<Config, String> {
        let mut env: HashMap<String, String> = pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect();
        env.entry("WGW_ACCOUNT_NOTIFY_API_KEY".to_owned())
            .or_insert_with(|| "key-1".to_owned());
        Config::from_toml_str(text, &env).map_err(|error| error.to_string())
    }

    #[test]
    fn a_devino_account_reads_senders_auth_and_chunk_size_from_file_and_variables() {
        let text = format!(
            "{DEVINO}[accounts.devino]\nsenders = [\"MyCompany\", \" Alerts \"]\nauth = \"basic\"\nbatch_chunk_size = 20\n"
        );
        let config = load(&text, &[("WGW_ACCOUNT_NOTIFY_API_KEY", "login:pw")]).unwrap();
        let account = &config.accounts[0];
        assert_eq!(account.base_url, "https://api.devino.online");
        assert_eq!(
            account.devino,
            DevinoSettings {
                senders: vec!["MyCompany".to_owned(), "Alerts".to_owned()],
                auth: DevinoAuth::Basic,
                batch_chunk_size: 20,
            }
        );
        assert_eq!(
            account.api_key.as_ref().unwrap().expose_secret(),
            "login:pw"
        );
        let summary = config.summary();
        assert!(
            summary
                .contains(", senders MyCompany | Alerts, authorization basic, batch chunks of 20"),
            "{summary}"
        );
        assert!(!summary.contains("login:pw"), "{summary}");

        let from_env = load(
            DEVINO,
            &[
                ("WGW_ACCOUNT_NOTIFY_DEVINO_SENDERS", "One,Two"),
                ("WGW_ACCOUNT_NOTIFY_DEVINO_AUTH", "KEY"),
            ],
        )
        .unwrap();
        assert_eq!(
            from_env.accounts[0].devino,
            DevinoSettings {
                senders: vec!["One".to_owned(), "Two".to_owned()],
                auth: DevinoAuth::Key,
                batch_chunk_size: DEFAULT_DEVINO_BATCH_CHUNK_SIZE,
            }
        );
    }

    #[test]
    fn devino_settings_are_checked_and_only_for_devino_accounts() {
        let no_sender = load(DEVINO, &[]).unwrap_err();
        assert!(
            no_sender.contains("WGW_ACCOUNT_NOTIFY_DEVINO_SENDERS"),
            "{no_sender}"
        );
        let senders = [("WGW_ACCOUNT_NOTIFY_DEVINO_SENDERS", "A,A")];
        assert!(load(DEVINO, &senders).unwrap_err().contains("A"));
        let basic_without_colon = [
            ("WGW_ACCOUNT_NOTIFY_DEVINO_SENDERS", "A"),
            ("WGW_ACCOUNT_NOTIFY_DEVINO_AUTH", "basic"),
        ];
        let error = load(DEVINO, &basic_without_colon).unwrap_err();
        assert!(
            error.contains("login:password") && !error.contains("key-1"),
            "{error}"
        );
        let blank = [("WGW_ACCOUNT_NOTIFY_DEVINO_SENDERS", "A,,B")];
        assert!(load(DEVINO, &blank).unwrap_err().contains("sender names"));
        for (key, value, expected) in [
            ("WGW_ACCOUNT_NOTIFY_DEVINO_AUTH", "bearer", "basic"),
            (
                "WGW_ACCOUNT_NOTIFY_DEVINO_BATCH_CHUNK_SIZE",
                "0",
                "1 to 100",
            ),
            (
                "WGW_ACCOUNT_NOTIFY_DEVINO_BATCH_CHUNK_SIZE",
                "101",
                "1 to 100",
            ),
        ] {
            let error = load(
                DEVINO,
                &[("WGW_ACCOUNT_NOTIFY_DEVINO_SENDERS", "A"), (key, value)],
            )
            .unwrap_err();
            assert!(error.contains(key) && error.contains(expected), "{error}");
        }
        let stray = load(
            DEVINO,
            &[
                ("WGW_ACCOUNT_NOTIFY_DEVINO_SENDERS", "A"),
                ("WGW_ACCOUNT_NOTIFI_DEVINO_SENDERS", "A"),
            ],
        )
        .unwrap_err();
        assert!(
            stray.starts_with("WGW_ACCOUNT_NOTIFI_DEVINO_SENDERS"),
            "{stray}"
        );
        let v3 = "[[accounts]]\nname = \"notify\"\n[accounts.devino]\nsenders = [\"A\"]\n";
        assert!(load(v3, &[]).unwrap_err().contains("devino"));
    }
}
