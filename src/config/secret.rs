//! Reading secrets from environment variables and files without ever echoing them.
//!
//! Errors name the setting and, for files, the path; never the content, and never the value of
//! a `*_env` key (an operator may have pasted the secret there by mistake).

use std::path::Path;

use secrecy::SecretString;

use super::{
    ConfigError,
    value::{Env, env_value},
};

/// Where a file entry says a secret is.
#[derive(Debug)]
pub(super) enum SecretSource<'file> {
    /// In the environment variable of this name.
    Env(&'file str),
    /// In the file at this path.
    File(&'file Path),
}

/// Chooses between the `<prefix>_env` and `<prefix>_file` keys of one file entry.
///
/// `prefix` is the full key without suffix, e.g. `accounts[0].api_key`.
pub(super) fn pick<'file>(
    env_name: Option<&'file str>,
    file: Option<&'file Path>,
    prefix: &str,
) -> Result<Option<SecretSource<'file>>, ConfigError> {
    match (env_name, file) {
        (Some(_), Some(_)) => Err(ConfigError::invalid(
            format!("{prefix}_env / {prefix}_file"),
            "at most one of the two",
        )),
        (Some(env_name), None) => Ok(Some(SecretSource::Env(env_name))),
        (None, Some(file)) => Ok(Some(SecretSource::File(file))),
        (None, None) => Ok(None),
    }
}

/// Reads the secret `source` points at; `prefix` is the key without the `_env`/`_file` suffix.
pub(super) fn read(
    source: &SecretSource<'_>,
    prefix: &str,
    env: &Env,
) -> Result<SecretString, ConfigError> {
    match source {
        SecretSource::Env(env_name) => {
            let key = format!("{prefix}_env");
            let raw = env_value(env, env_name).ok_or_else(|| {
                ConfigError::invalid(&key, "the name of an environment variable that is set")
            })?;
            from_text(raw, &key)
        }
        SecretSource::File(path) => read_file(path, &format!("{prefix}_file")),
    }
}

/// Reads a secret file; trailing whitespace and newlines are trimmed.
pub(super) fn read_file(path: &Path, key: &str) -> Result<SecretString, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::SecretFile {
        key: key.to_owned(),
        path: path.to_owned(),
        source,
    })?;
    from_text(&text, key)
}

/// Wraps a secret with trailing whitespace trimmed; an empty secret is an error naming `key`.
pub(super) fn from_text(raw: &str, key: &str) -> Result<SecretString, ConfigError> {
    let trimmed = raw.trim_end();
    if trimmed.is_empty() {
        return Err(ConfigError::invalid(key, "a non-empty secret"));
    }
    Ok(SecretString::from(trimmed.to_owned()))
}
