//! The list of accounts: file entries, the `WGW_WAZZUP_API_KEY` shortcut, the built-in sandbox
//! account, and the rules that span accounts.

use std::collections::{HashMap, HashSet};

use crate::model::Dialect;

use super::{
    AccountConfig, ConfigError,
    account::{
        ACCOUNT_NAME_PLACEHOLDER, ENV_ACCOUNT_API_KEY, ENV_ACCOUNT_API_KEY_FILE,
        ENV_ACCOUNT_BASE_URL, ENV_ACCOUNT_CRM_KEY, ENV_ACCOUNT_DEVINO_AUTH,
        ENV_ACCOUNT_DEVINO_BATCH_CHUNK_SIZE, ENV_ACCOUNT_DEVINO_SENDERS,
        ENV_ACCOUNT_PARTNER_CREDENTIALS, ENV_ACCOUNT_REFRESH_TOKEN, ENV_ACCOUNT_WEBHOOK_SECRET,
        FileAccount, SANDBOX_ACCOUNT, account_env_var,
    },
    doc::SettingDoc,
    sources::CliOverrides,
    value::{self, Env, env_value},
};

/// Adds the built-in sandbox account even when real accounts are configured (`true`, `false`,
/// `1`, `0`).
pub(crate) const ENV_SANDBOX: &str = "WGW_SANDBOX";
/// Default for [`ENV_SANDBOX`].
pub(crate) const DEFAULT_SANDBOX: &str = "false";
pub(super) const SANDBOX: SettingDoc = SettingDoc {
    env: ENV_SANDBOX,
    file_key: "",
    default: DEFAULT_SANDBOX,
    description: "Add the built-in sandbox account (always added when no account is configured).",
};

/// Shortcut for a single Wazzup API v3 account named [`WAZZUP_SHORTCUT_ACCOUNT`]; used only when
/// the file defines no accounts.
pub(crate) const ENV_WAZZUP_API_KEY: &str = "WGW_WAZZUP_API_KEY";
pub(super) const WAZZUP_API_KEY: SettingDoc = SettingDoc {
    env: ENV_WAZZUP_API_KEY,
    file_key: "",
    default: "",
    description: "Shortcut: API key of one default wazzup_v3 account \"wazzup\" (no [[accounts]]).",
};

/// Base URL of the [`ENV_WAZZUP_API_KEY`] account.
pub(crate) const ENV_WAZZUP_BASE_URL: &str = "WGW_WAZZUP_BASE_URL";
pub(super) const WAZZUP_BASE_URL: SettingDoc = SettingDoc {
    env: ENV_WAZZUP_BASE_URL,
    file_key: "",
    default: Dialect::WazzupV3.default_base_url(),
    description: "Base URL of the WGW_WAZZUP_API_KEY account.",
};

/// Name of the account defined by [`ENV_WAZZUP_API_KEY`].
pub(crate) const WAZZUP_SHORTCUT_ACCOUNT: &str = "wazzup";

/// Returns whether the sandbox account was asked for: command line, then [`ENV_SANDBOX`].
pub(super) fn sandbox_requested(env: &Env, overrides: &CliOverrides) -> Result<bool, ConfigError> {
    if overrides.sandbox {
        return Ok(true);
    }
    value::layered(env, &SANDBOX, None, &value::BOOL)
}

/// Builds every account, in order: file entries, the shortcut account, the sandbox account.
pub(super) fn resolve_accounts(
    file_accounts: &[FileAccount],
    env: &Env,
    sandbox_requested: bool,
) -> Result<Vec<AccountConfig>, ConfigError> {
    check_env_names(file_accounts)?;
    let mut accounts = file_accounts
        .iter()
        .enumerate()
        .map(|(index, raw)| AccountConfig::resolve(raw, &format!("accounts[{index}]"), env))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(shortcut) = shortcut_account(env, !file_accounts.is_empty())? {
        accounts.push(shortcut);
    }
    let has_sandbox = accounts
        .iter()
        .any(|account| account.name == SANDBOX_ACCOUNT);
    if (sandbox_requested || accounts.is_empty()) && !has_sandbox {
        let raw = FileAccount {
            name: SANDBOX_ACCOUNT.to_owned(),
            dialect: Some(Dialect::Sandbox.as_str().to_owned()),
            ..FileAccount::default()
        };
        let mut sandbox = AccountConfig::resolve(&raw, "the sandbox account", env)?;
        sandbox.default = !accounts.iter().any(|account| account.default);
        accounts.push(sandbox);
    }
    reject_stray_account_vars(&accounts, env)?;
    Ok(accounts)
}

/// Checks names are unique, also once mapped to `WGW_ACCOUNT_<NAME>_*`, before any secret is read.
fn check_env_names(file_accounts: &[FileAccount]) -> Result<(), ConfigError> {
    let mut seen = HashMap::new();
    for (index, raw) in file_accounts.iter().enumerate() {
        let env_name = account_env_var(ACCOUNT_NAME_PLACEHOLDER, &raw.name);
        match seen.insert(env_name.clone(), raw.name.as_str()) {
            Some(earlier) if earlier == raw.name => {
                return Err(ConfigError::duplicate(
                    format!("accounts[{index}].name"),
                    &raw.name,
                ));
            }
            Some(_) => {
                return Err(ConfigError::duplicate(
                    format!("accounts[{index}].name (as the <NAME> of WGW_ACCOUNT_<NAME>_*)"),
                    env_name,
                ));
            }
            None => {}
        }
    }
    Ok(())
}

/// Returns the [`ENV_WAZZUP_API_KEY`] account when the variable is set.
///
/// Per-account variables (`WGW_ACCOUNT_WAZZUP_*`) apply to it like to any account.
fn shortcut_account(
    env: &Env,
    file_defines_accounts: bool,
) -> Result<Option<AccountConfig>, ConfigError> {
    if env_value(env, ENV_WAZZUP_API_KEY).is_none() {
        if env_value(env, ENV_WAZZUP_BASE_URL).is_some() {
            return Err(ConfigError::missing(
                ENV_WAZZUP_API_KEY,
                format!("{ENV_WAZZUP_BASE_URL} is set"),
            ));
        }
        return Ok(None);
    }
    if file_defines_accounts {
        return Err(ConfigError::invalid(
            ENV_WAZZUP_API_KEY,
            "to be unset when the configuration file defines [[accounts]] \
             (set WGW_ACCOUNT_<NAME>_API_KEY instead)",
        ));
    }
    let base_url = env_value(env, ENV_WAZZUP_BASE_URL)
        .map(|raw| value::HTTP_URL.parse_at(raw, ENV_WAZZUP_BASE_URL))
        .transpose()?;
    let raw = FileAccount {
        name: WAZZUP_SHORTCUT_ACCOUNT.to_owned(),
        dialect: Some(Dialect::WazzupV3.as_str().to_owned()),
        default: true,
        base_url,
        api_key_env: Some(ENV_WAZZUP_API_KEY.to_owned()),
        ..FileAccount::default()
    };
    AccountConfig::resolve(&raw, ENV_WAZZUP_API_KEY, env).map(Some)
}

/// Rejects set `WGW_ACCOUNT_<NAME>_*` variables whose `<NAME>` is no account's: a typo there
/// would otherwise silently leave an account without its key, or fall back to the sandbox.
fn reject_stray_account_vars(accounts: &[AccountConfig], env: &Env) -> Result<(), ConfigError> {
    const TEMPLATES: [&str; 10] = [
        ENV_ACCOUNT_BASE_URL,
        ENV_ACCOUNT_API_KEY,
        ENV_ACCOUNT_API_KEY_FILE,
        ENV_ACCOUNT_WEBHOOK_SECRET,
        ENV_ACCOUNT_CRM_KEY,
        ENV_ACCOUNT_REFRESH_TOKEN,
        ENV_ACCOUNT_PARTNER_CREDENTIALS,
        ENV_ACCOUNT_DEVINO_SENDERS,
        ENV_ACCOUNT_DEVINO_AUTH,
        ENV_ACCOUNT_DEVINO_BATCH_CHUNK_SIZE,
    ];
    let known: HashSet<String> = accounts
        .iter()
        .flat_map(|account| TEMPLATES.map(|template| account_env_var(template, &account.name)))
        .collect();
    let mut stray: Vec<&str> = env
        .keys()
        .map(String::as_str)
        .filter(|key| env_value(env, key).is_some() && !known.contains(*key))
        .filter(|key| {
            key.starts_with("WGW_ACCOUNT_")
                && TEMPLATES
                    .iter()
                    .any(|template| key.ends_with(name_suffix(template)))
        })
        .collect();
    stray.sort_unstable();
    match stray.first() {
        Some(key) => Err(ConfigError::invalid(
            *key,
            "the <NAME> of a configured account (no account maps to this variable)",
        )),
        None => Ok(()),
    }
}

/// Returns what follows `<NAME>` in a per-account variable template, e.g. `_API_KEY`.
fn name_suffix(template: &str) -> &str {
    template
        .split_once(ACCOUNT_NAME_PLACEHOLDER)
        .map_or(template, |(_, suffix)| suffix)
}

/// Checks that at most one account is the default.
pub(super) fn check_single_default(accounts: &[AccountConfig]) -> Result<(), ConfigError> {
    let mut defaults = accounts
        .iter()
        .enumerate()
        .filter(|(_, account)| account.default);
    let first = defaults.next();
    match (first, defaults.next()) {
        (Some((_, first)), Some((index, second))) => Err(ConfigError::invalid(
            format!("accounts[{index}].default"),
            format!(
                "at most one account with default = true (`{}` and `{}` both are)",
                first.name, second.name
            ),
        )),
        _ => Ok(()),
    }
}
