//! The in-process gateway harness: real listeners on 127.0.0.1 ephemeral ports, real gRPC
//! clients, and a handle on the event log the gateway uses, so tests can append events the way
//! the webhook ingress does (`EventLog::append`).

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use wazzup_gateway::app::{self, AppError, EventPipeline, Listeners};
use wazzup_gateway::config::Config;
use wazzup_gateway::events::log::EventLog;
use wazzup_gateway::events::responses::PendingResponses;
use wazzup_gateway::events::{Cursor, EventType, NewEvent};
use wazzup_gateway::proto::pb::event_service_client::EventServiceClient;

/// Longest wait for anything a test expects to happen.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A gateway running in this process.
pub struct TestGateway {
    /// Where gRPC clients connect.
    pub grpc_addr: SocketAddr,
    /// Where `/metrics` is served.
    pub admin_addr: SocketAddr,
    /// The event log the gateway serves (append here as the ingress would).
    pub log: Arc<dyn EventLog>,
    /// The CRM requests the ingress would hold open.
    pub pending: Arc<PendingResponses>,
    shutdown_tx: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), AppError>>,
}

impl TestGateway {
    /// Opens the event log, binds the listeners, then starts the gateway, so callers can connect
    /// at once.
    pub async fn start(config: Config) -> Self {
        let events = EventPipeline::open(&config).await.expect("event log opens");
        let listeners = Listeners {
            grpc: bind().await,
            webhook: bind().await,
            admin: bind().await,
        };
        let grpc_addr = listeners.grpc.local_addr().unwrap();
        let admin_addr = listeners.admin.local_addr().unwrap();
        let (log, pending) = (events.log.clone(), events.pending.clone());
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(app::run_with_events(config, listeners, events, async {
            let _ = shutdown_rx.await;
        }));
        Self {
            grpc_addr,
            admin_addr,
            log,
            pending,
            shutdown_tx: Some(shutdown_tx),
            task,
        }
    }

    /// Returns a new `EventService` client.
    pub async fn events(&self) -> EventServiceClient<Channel> {
        EventServiceClient::connect(format!("http://{}", self.grpc_addr))
            .await
            .unwrap()
    }

    /// Appends events and returns their cursors.
    pub async fn append(&self, events: Vec<NewEvent>) -> Vec<Cursor> {
        self.log.append(events).await.expect("append")
    }

    /// Requests shutdown without waiting for it.
    pub fn begin_stop(&mut self) {
        if let Some(shutdown_tx) = self.shutdown_tx.take() {
            let _ = shutdown_tx.send(());
        }
    }

    /// Stops the gateway and waits until it has drained and closed the log.
    pub async fn stop(mut self) {
        self.begin_stop();
        let finished = tokio::time::timeout(PATIENCE, &mut self.task).await;
        finished
            .expect("gateway stops in time")
            .unwrap()
            .expect("gateway ran cleanly");
    }
}

/// Binds 127.0.0.1 on an ephemeral port.
async fn bind() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").await.unwrap()
}

/// A configuration with two sandbox accounts (`main`, the default, and `other`), data in
/// `data_dir`, and `extra` TOML appended (e.g. an `[events]` section).
pub fn config(data_dir: &Path, extra: &str) -> Config {
    let text = format!(
        "[storage]\ndata_dir = {data_dir:?}\n\n\
         [[accounts]]\nname = \"main\"\ndialect = \"sandbox\"\ndefault = true\n\n\
         [[accounts]]\nname = \"other\"\ndialect = \"sandbox\"\n\n{extra}"
    );
    Config::from_toml_str(&text, &HashMap::new()).expect("valid test configuration")
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A message event of account `main` on channel `ch-1`, received now.
pub fn event(id: &str) -> NewEvent {
    event_of("main", EventType::MessageReceived, Some("ch-1"), id)
}

/// An event with the given account, type and channel, received now.
pub fn event_of(account: &str, event_type: EventType, channel: Option<&str>, id: &str) -> NewEvent {
    NewEvent {
        id: id.to_owned(),
        account: account.to_owned(),
        dialect: "sandbox".to_owned(),
        event_type,
        channel_id: channel.map(str::to_owned),
        received_at_ms: now_ms(),
        occurred_at_ms: None,
        raw: serde_json::json!({ "messageId": id, "text": "hello" }),
    }
}
