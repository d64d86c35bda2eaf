//! The one error type of the configuration loader.

use std::path::PathBuf;

/// Errors produced while building a [`Config`](super::Config).
///
/// Every variant names the setting (a file key such as `accounts[0].base_url`, an environment
/// variable such as `WGW_GRPC_LISTEN_ADDR`, or both) and never carries a secret value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A setting is present but its value cannot be used.
    #[error("{key}: expected {expected}")]
    Invalid {
        /// The file key or environment variable that holds the value.
        key: String,
        /// What a usable value looks like.
        expected: String,
    },
    /// A setting is required by another setting and is absent.
    #[error("{key} must be set because {reason}")]
    Missing {
        /// The file key or environment variable that must be set.
        key: String,
        /// Why it is required.
        reason: String,
    },
    /// Two entries use a value that must be unique.
    #[error("{key}: duplicate value `{value}`")]
    Duplicate {
        /// The file key or environment variable that holds the repeated value.
        key: String,
        /// The repeated value (a name, never a secret).
        value: String,
    },
    /// The configuration file cannot be read.
    #[error("cannot read the configuration file {}: {source}", path.display())]
    File {
        /// Path of the configuration file.
        path: PathBuf,
        /// The I/O failure (shown: it names the reason, never the content).
        source: std::io::Error,
    },
    /// A file that holds a secret cannot be read.
    #[error("{key}: cannot read the secret file {}: {source}", path.display())]
    SecretFile {
        /// The setting that names the file.
        key: String,
        /// Path of the secret file.
        path: PathBuf,
        /// The I/O failure (shown: its message never contains the file content).
        source: std::io::Error,
    },
    /// The configuration file is not valid TOML or does not match the expected layout.
    #[error("{}: {message}", path.display())]
    Parse {
        /// Path of the configuration file (`<inline>` for text given to `from_toml_str`).
        path: PathBuf,
        /// The position and the TOML error, with quoted values removed.
        message: String,
    },
}

impl ConfigError {
    /// Returns an [`ConfigError::Invalid`] for `key`.
    pub(super) fn invalid(key: impl Into<String>, expected: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.into(),
            expected: expected.into(),
        }
    }

    /// Returns a [`ConfigError::Missing`] for `key`.
    pub(super) fn missing(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Missing {
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// Returns a [`ConfigError::Duplicate`] for `key`.
    pub(super) fn duplicate(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self::Duplicate {
            key: key.into(),
            value: value.into(),
        }
    }
}
