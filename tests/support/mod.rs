//! Test harness: the whole gateway in this process, on ephemeral 127.0.0.1 ports, driven by the
//! generated tonic clients.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use wazzup_gateway::app::{self, AppError, Listeners};
use wazzup_gateway::config::Config;
use wazzup_gateway::proto::pb::message_service_client::MessageServiceClient;

/// A gateway running in this process.
#[derive(Debug)]
pub struct TestGateway {
    /// Where its gRPC server listens.
    pub grpc_addr: SocketAddr,
    /// Completes the gateway's shutdown future when sent to (or dropped).
    shutdown_tx: Option<oneshot::Sender<()>>,
    /// The running gateway.
    task: JoinHandle<Result<(), AppError>>,
}

impl TestGateway {
    /// Binds the three listeners, then starts the gateway, so callers can connect at once.
    pub async fn start(config: Config) -> Self {
        let grpc = bind().await;
        let grpc_addr = grpc.local_addr().expect("grpc address");
        let listeners = Listeners {
            grpc,
            webhook: bind().await,
            admin: bind().await,
        };
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let shutdown = async {
            let _ = shutdown_rx.await;
        };
        let task = tokio::spawn(app::run(config, listeners, shutdown));
        Self {
            grpc_addr,
            shutdown_tx: Some(shutdown_tx),
            task,
        }
    }

    /// Returns a `MessageService` client connected to the gateway.
    pub async fn messages(&self) -> MessageServiceClient<Channel> {
        MessageServiceClient::connect(format!("http://{}", self.grpc_addr))
            .await
            .expect("gateway accepts connections")
    }

    /// Stops the gateway and waits until it has drained and released its files.
    pub async fn stop(mut self) {
        if let Some(shutdown_tx) = self.shutdown_tx.take() {
            let _ = shutdown_tx.send(());
        }
        (&mut self.task)
            .await
            .expect("gateway task ends")
            .expect("gateway stops cleanly");
    }
}

/// Binds 127.0.0.1 on a free port.
async fn bind() -> TcpListener {
    TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0")
}

/// The configuration of a sandbox-only gateway keeping its state in `data_dir`, with `extra`
/// TOML appended (e.g. a `[server]` section).
pub fn sandbox_config(data_dir: &Path, extra: &str) -> Config {
    let data_dir = data_dir.to_str().expect("utf-8 temp dir");
    let toml = format!("[storage]\ndata_dir = {data_dir:?}\n{extra}");
    Config::from_toml_str(&toml, &HashMap::new()).expect("valid test configuration")
}
