//! Test harness: a gateway running in this process on ephemeral 127.0.0.1 ports, with typed
//! gRPC clients, helpers to read `google.rpc` error details, and a handle on the event log the
//! gateway uses, so tests can append events the way the webhook ingress does ([`events`] has the
//! event helpers).

#![allow(
    dead_code,
    reason = "every test binary compiles its own copy of the support modules and uses only part of them"
)]

pub(crate) mod events;
pub(crate) mod secrets;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;
use tonic_types::StatusExt as _;
use wazzup_gateway::Config;
use wazzup_gateway::EventLog;
use wazzup_gateway::PendingResponses;
use wazzup_gateway::proto::pb;
use wazzup_gateway::{Cursor, NewEvent};
use wazzup_gateway::{EventPipeline, Listeners};

/// A gateway serving in this process.
pub(crate) struct TestGateway {
    /// Address of the gRPC listener.
    pub grpc_addr: SocketAddr,
    /// Address of the webhook listener.
    pub webhook_addr: SocketAddr,
    /// Address of the admin listener.
    pub admin_addr: SocketAddr,
    /// The event log the gateway serves (append here as the ingress would).
    pub log: Arc<dyn EventLog>,
    /// The CRM requests the ingress holds open.
    pub pending: Arc<PendingResponses>,
    /// Completing it starts the drain.
    shutdown_tx: Option<oneshot::Sender<()>>,
    /// The data directory, when the harness made one; removed when the gateway is dropped.
    data_dir: Option<tempfile::TempDir>,
    /// The gateway task.
    task: JoinHandle<()>,
}

impl TestGateway {
    /// Starts the gateway with `toml` (and no environment) as its configuration.
    pub(crate) async fn start_with_toml(toml: &str) -> Self {
        Self::start_with(toml, &HashMap::new()).await
    }

    /// Starts a sandbox-only gateway.
    pub(crate) async fn sandbox() -> Self {
        Self::start_with_toml("").await
    }

    /// Starts the gateway with `toml` and `env`, keeping its state in a fresh temporary data
    /// directory unless `env` names one.
    pub(crate) async fn start_with(toml: &str, env: &HashMap<String, String>) -> Self {
        let data_dir = tempfile::tempdir().expect("temporary data directory");
        let mut env = env.clone();
        env.entry("WGW_DATA_DIR".to_owned())
            .or_insert_with(|| data_dir.path().display().to_string());
        let config = Config::from_toml_str(toml, &env).expect("test configuration is valid");
        let mut gateway = Self::start(config).await;
        gateway.data_dir = Some(data_dir);
        gateway
    }

    /// Starts the gateway with a ready configuration; opens its event log and binds the listeners
    /// before spawning, so clients can connect and events can be appended at once.
    pub(crate) async fn start(config: Config) -> Self {
        let events = EventPipeline::open(&config).await.expect("event log opens");
        let (log, pending) = (events.log.clone(), events.pending.clone());
        let listeners = Listeners {
            grpc: TcpListener::bind("127.0.0.1:0").await.unwrap(),
            webhook: TcpListener::bind("127.0.0.1:0").await.unwrap(),
            admin: TcpListener::bind("127.0.0.1:0").await.unwrap(),
        };
        let grpc_addr = listeners.grpc.local_addr().unwrap();
        let webhook_addr = listeners.webhook.local_addr().unwrap();
        let admin_addr = listeners.admin.local_addr().unwrap();
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            wazzup_gateway::run_with_events(config, listeners, events, async {
                let _ = shutdown_rx.await;
            })
            .await
            .expect("gateway runs and drains cleanly");
        });
        Self {
            grpc_addr,
            webhook_addr,
            admin_addr,
            log,
            pending,
            shutdown_tx: Some(shutdown_tx),
            data_dir: None,
            task,
        }
    }

    /// Starts the drain without waiting for it.
    pub(crate) fn begin_shutdown(&mut self) {
        if let Some(shutdown_tx) = self.shutdown_tx.take() {
            let _ = shutdown_tx.send(());
        }
    }

    /// Stops the gateway and waits until it has drained (bounded).
    pub(crate) async fn stop(mut self) {
        self.begin_shutdown();
        tokio::time::timeout(std::time::Duration::from_secs(30), &mut self.task)
            .await
            .expect("gateway drains within 30 s")
            .expect("gateway task does not panic");
    }

    /// Opens a gRPC channel to the gateway.
    pub(crate) async fn channel(&self) -> Channel {
        Channel::from_shared(format!("http://{}", self.grpc_addr))
            .unwrap()
            .connect()
            .await
            .expect("gateway accepts connections")
    }

    /// Appends events to the gateway's log, as the webhook ingress does, and returns their cursors.
    pub(crate) async fn append(&self, events: Vec<NewEvent>) -> Vec<Cursor> {
        self.log.append(events).await.expect("append")
    }

    /// An `EventService` client.
    pub(crate) async fn events(&self) -> pb::event_service_client::EventServiceClient<Channel> {
        pb::event_service_client::EventServiceClient::new(self.channel().await)
    }

    /// A `MessageService` client.
    pub(crate) async fn messages(
        &self,
    ) -> pb::message_service_client::MessageServiceClient<Channel> {
        pb::message_service_client::MessageServiceClient::new(self.channel().await)
    }

    /// A `ChannelService` client.
    pub(crate) async fn channels(
        &self,
    ) -> pb::channel_service_client::ChannelServiceClient<Channel> {
        pb::channel_service_client::ChannelServiceClient::new(self.channel().await)
    }

    /// A `TemplateService` client.
    pub(crate) async fn templates(
        &self,
    ) -> pb::template_service_client::TemplateServiceClient<Channel> {
        pb::template_service_client::TemplateServiceClient::new(self.channel().await)
    }

    /// A `SandboxService` client.
    pub(crate) async fn sandbox_service(
        &self,
    ) -> pb::sandbox_service_client::SandboxServiceClient<Channel> {
        pb::sandbox_service_client::SandboxServiceClient::new(self.channel().await)
    }

    /// A `grpc.health.v1.Health` client.
    pub(crate) async fn health(&self) -> tonic_health::pb::health_client::HealthClient<Channel> {
        tonic_health::pb::health_client::HealthClient::new(self.channel().await)
    }

    /// Fetches an admin endpoint; returns the status code and body.
    pub(crate) async fn admin_get(&self, path: &str) -> (u16, String) {
        // The gateway's reqwest uses rustls without a default crypto provider; pick the same one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let response = reqwest::get(format!("http://{}{path}", self.admin_addr))
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }
}

/// The sandbox's active WhatsApp channel.
pub(crate) const WHATSAPP_CHANNEL: &str = "11111111-1111-4111-8111-111111111111";
/// The sandbox's WABA channel.
pub(crate) const WABA_CHANNEL: &str = "22222222-2222-4222-8222-222222222222";
/// The sandbox's Telegram bot channel.
pub(crate) const TELEGRAM_BOT_CHANNEL: &str = "33333333-3333-4333-8333-333333333333";
/// The sandbox's Instagram channel.
pub(crate) const INSTAGRAM_CHANNEL: &str = "44444444-4444-4444-8444-444444444444";
/// The sandbox's WhatsApp channel waiting for a QR scan.
pub(crate) const QR_CHANNEL: &str = "55555555-5555-4555-8555-555555555555";

/// A recipient of `chat_type` with `chat_id`.
pub(crate) fn recipient(chat_type: pb::ChatType, chat_id: &str) -> Option<pb::Recipient> {
    Some(pb::Recipient {
        chat_type: chat_type.into(),
        chat_id: chat_id.to_owned(),
        ..Default::default()
    })
}

/// A Telegram bot keyboard button (empty strings for the fields it does not set).
pub(crate) fn telegram_button(text: &str, url: &str, callback_data: &str) -> pb::TelegramButton {
    pb::TelegramButton {
        text: text.to_owned(),
        url: url.to_owned(),
        callback_data: callback_data.to_owned(),
    }
}

/// A MAX bot keyboard button (empty strings for the fields it does not set).
pub(crate) fn max_button(
    kind: pb::MaxButtonType,
    text: &str,
    payload: &str,
    url: &str,
    intent: pb::MaxIntent,
) -> pb::MaxButton {
    pb::MaxButton {
        r#type: kind.into(),
        text: text.to_owned(),
        payload: payload.to_owned(),
        url: url.to_owned(),
        intent: intent.into(),
    }
}

/// A text send to a WhatsApp number from `channel_id`.
pub(crate) fn text_send(channel_id: &str, chat_id: &str, text: &str) -> pb::SendMessageRequest {
    pb::SendMessageRequest {
        channel_id: channel_id.to_owned(),
        recipient: Some(pb::Recipient {
            chat_type: pb::ChatType::Whatsapp.into(),
            chat_id: chat_id.to_owned(),
            ..Default::default()
        }),
        content: Some(pb::send_message_request::Content::Text(text.to_owned())),
        ..Default::default()
    }
}

/// The `ErrorInfo` reason and domain of a status.
pub(crate) fn reason_of(status: &tonic::Status) -> (String, String) {
    let info = status
        .get_error_details()
        .error_info()
        .cloned()
        .expect("status carries an ErrorInfo");
    (info.reason, info.domain)
}

/// The `ErrorInfo` metadata of a status.
pub(crate) fn metadata_of(status: &tonic::Status) -> HashMap<String, String> {
    status
        .get_error_details()
        .error_info()
        .cloned()
        .expect("status carries an ErrorInfo")
        .metadata
}

/// The fields named by the `BadRequest` of a status, in order.
pub(crate) fn violated_fields(status: &tonic::Status) -> Vec<String> {
    status
        .get_error_details()
        .bad_request()
        .map(|bad_request| {
            bad_request
                .field_violations
                .iter()
                .map(|violation| violation.field.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// The configuration of a sandbox-only gateway keeping its state in `data_dir`, with `extra`
/// TOML appended (e.g. a `[server]` section).
pub(crate) fn sandbox_config(data_dir: &Path, extra: &str) -> Config {
    let data_dir = data_dir.to_str().expect("utf-8 temp dir");
    let toml = format!("[storage]\ndata_dir = {data_dir:?}\n{extra}");
    Config::from_toml_str(&toml, &HashMap::new()).expect("valid test configuration")
}

/// Wraps `message` in a request carrying `authorization: Bearer {token}`.
pub(crate) fn with_token<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        tonic::metadata::MetadataValue::try_from(format!("Bearer {token}")).unwrap(),
    );
    request
}
