//! The `wazzup-gateway` binary: parses the command line and hands over to [`wazzup_gateway::run`].

use std::process::ExitCode;

use clap::Parser as _;
use wazzup_gateway::Config;
use wazzup_gateway::{Cli, Command};

/// mimalloc instead of the system allocator: the request paths allocate many small, short-lived
/// buffers (HTTP/2 frames, JSON, protobuf), which glibc malloc serves markedly slower. Built
/// without transparent huge pages (the crate's `no_thp` feature): reusing purged memory would
/// otherwise zero whole 2 MiB pages inside request paths, which showed in the event delivery tail.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
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
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = config.server.worker_threads {
        runtime.worker_threads(threads.get());
    }
    match runtime.enable_all().build() {
        Ok(runtime) => runtime.block_on(serve(config)),
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the gateway until it is told to stop.
async fn serve(config: Config) -> ExitCode {
    let trace_export = wazzup_gateway::init_telemetry(&config.telemetry);
    let exit_code = serve_until_stopped(config).await;
    if let Some(trace_export) = trace_export {
        // Blocking: flushes the last spans before the process exits.
        let _ = tokio::task::spawn_blocking(move || trace_export.shutdown()).await;
    }
    exit_code
}

/// Binds the listeners and runs the gateway until a shutdown signal.
async fn serve_until_stopped(config: Config) -> ExitCode {
    let shutdown = match wazzup_gateway::shutdown_signal() {
        Ok(shutdown) => shutdown,
        Err(error) => {
            tracing::error!("cannot listen for shutdown signals: {error}");
            return ExitCode::FAILURE;
        }
    };
    let listeners = match wazzup_gateway::Listeners::bind(&config.listeners).await {
        Ok(listeners) => listeners,
        Err(error) => {
            tracing::error!("{error}");
            return ExitCode::FAILURE;
        }
    };
    match wazzup_gateway::run(config, listeners, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = &error as &dyn std::error::Error, "gateway failed");
            ExitCode::FAILURE
        }
    }
}
