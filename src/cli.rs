//! The command line: `wazzup-gateway [serve] [OPTIONS]` and `wazzup-gateway check-config FILE`.
//! Flags override environment variables, which override the configuration file.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::{CliOverrides, Config, ConfigError, ConfigSources};

/// gRPC gateway in front of the Wazzup24 messaging APIs.
///
/// Without any account configured (or with --sandbox) it serves the built-in sandbox upstream, so
/// every RPC can be tried with grpcurl at once.
#[derive(Debug, Parser)]
#[command(name = "wazzup-gateway", version, after_long_help = crate::config::settings_help())]
pub struct Cli {
    /// What to do; `serve` when omitted.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// TOML configuration file (overrides WGW_CONFIG_FILE).
    #[arg(long, short = 'c', value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// Add the built-in sandbox account (also used when no account is configured).
    #[arg(long, global = true)]
    pub sandbox: bool,
    /// Address of the gRPC listener (overrides WGW_GRPC_LISTEN_ADDR).
    #[arg(long, value_name = "ADDR", global = true)]
    pub grpc_listen: Option<SocketAddr>,
    /// Address of the webhook listener (overrides WGW_WEBHOOK_LISTEN_ADDR).
    #[arg(long, value_name = "ADDR", global = true)]
    pub webhook_listen: Option<SocketAddr>,
    /// Address of the admin listener: /healthz, /readyz, /metrics (overrides WGW_ADMIN_LISTEN_ADDR).
    #[arg(long, value_name = "ADDR", global = true)]
    pub admin_listen: Option<SocketAddr>,
    /// Directory for durable state (overrides WGW_DATA_DIR).
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway (the default).
    Serve,
    /// Validate a configuration file (with the environment applied) and print a summary without
    /// secrets; exits non-zero naming the offending key when it is invalid.
    CheckConfig {
        /// The TOML file to check.
        file: PathBuf,
    },
}

impl Cli {
    /// Loads the configuration from the file, the process environment and these flags.
    ///
    /// # Errors
    ///
    /// Fails with the first invalid or missing setting, named by its key.
    pub fn load_config(&self) -> Result<Config, ConfigError> {
        let file = match &self.command {
            Some(Command::CheckConfig { file }) => Some(file.clone()),
            _ => self.config.clone(),
        };
        let sources = ConfigSources {
            file,
            env: std::env::vars().collect(),
            overrides: CliOverrides {
                sandbox: self.sandbox,
                grpc_listen: self.grpc_listen,
                webhook_listen: self.webhook_listen,
                admin_listen: self.admin_listen,
                data_dir: self.data_dir.clone(),
            },
        };
        Config::load(&sources)
    }
}
