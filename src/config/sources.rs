//! What the loader reads: the file path, the environment and the command-line overrides.

use std::{collections::HashMap, fmt, net::SocketAddr, path::PathBuf};

/// Everything the loader reads; `main` builds it from the CLI and `std::env::vars()`, tests
/// build it by hand.
///
/// `Debug` lists the environment's variable names only, never their values.
#[derive(Clone, Default)]
pub(crate) struct ConfigSources {
    /// Path of the TOML file (from `--config`); when `None`, `WGW_CONFIG_FILE` from `env` is used
    /// if set; no file at all is valid.
    pub file: Option<PathBuf>,
    /// The process environment (the loader never reads `std::env` itself).
    pub env: HashMap<String, String>,
    /// Command-line overrides; they win over the environment, which wins over the file.
    pub overrides: CliOverrides,
}

impl fmt::Debug for ConfigSources {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut env_names: Vec<&str> = self.env.keys().map(String::as_str).collect();
        env_names.sort_unstable();
        formatter
            .debug_struct("ConfigSources")
            .field("file", &self.file)
            .field("env_names", &env_names)
            .field("overrides", &self.overrides)
            .finish()
    }
}

/// Settings given on the command line; `None` / `false` means "not given".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct CliOverrides {
    /// `--sandbox`: add the built-in sandbox account (like `WGW_SANDBOX=true`).
    pub sandbox: bool,
    /// `--grpc-listen`: overrides `WGW_GRPC_LISTEN_ADDR`.
    pub grpc_listen: Option<SocketAddr>,
    /// `--webhook-listen`: overrides `WGW_WEBHOOK_LISTEN_ADDR`.
    pub webhook_listen: Option<SocketAddr>,
    /// `--admin-listen`: overrides `WGW_ADMIN_LISTEN_ADDR`.
    pub admin_listen: Option<SocketAddr>,
    /// `--data-dir`: overrides `WGW_DATA_DIR`.
    pub data_dir: Option<PathBuf>,
}
