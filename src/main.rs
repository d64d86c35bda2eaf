//! The `wazzup-gateway` binary: parses the command line and hands over to [`wazzup_gateway::app`].

use std::process::ExitCode;

use clap::Parser as _;
use wazzup_gateway::cli::{Cli, Command};
use wazzup_gateway::{app, telemetry};

/// mimalloc instead of the system allocator: the request paths allocate many small, short-lived
/// buffers (HTTP/2 frames, JSON, protobuf), which glibc malloc serves markedly slower.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match cli.load_config() {
        Ok(config) => config,
        Err(error) => {
            eprintln!("invalid configuration: {error}");
            return ExitCode::from(2);
        }
    };
    if let Some(Command::CheckConfig { .. }) = cli.command {
        println!("configuration is valid\n{}", config.summary());
        return ExitCode::SUCCESS;
    }
    telemetry::init(&config.telemetry);
    let listeners = match app::Listeners::bind(&config.listeners).await {
        Ok(listeners) => listeners,
        Err(error) => {
            tracing::error!(
                error = &error as &dyn std::error::Error,
                "cannot bind listeners"
            );
            return ExitCode::FAILURE;
        }
    };
    match app::run(config, listeners, app::shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = &error as &dyn std::error::Error, "gateway failed");
            ExitCode::FAILURE
        }
    }
}
