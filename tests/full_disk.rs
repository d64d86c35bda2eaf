//! A full disk under the gateway's data directory (a small tmpfs filled to the last byte): webhooks
//! are refused with 503 and nothing is acknowledged that is not stored, keyed sends are refused
//! without reaching the upstream, readiness and gRPC health say NOT ready; once space is freed
//! the next webhook and the next keyed send succeed and health is ready again, without a restart.
//!
//! Mounting a tmpfs needs root; elsewhere each test prints why it is skipped and returns.

#[path = "support/small_disk.rs"]
mod small_disk;
mod support;
#[path = "support/wazzup_v3.rs"]
mod wazzup_v3_support;

use std::time::Duration;

use serde_json::json;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use wazzup_gateway::Config;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use small_disk::SmallDisk;
use support::TestGateway;
use wazzup_v3_support::*;

/// Room for both store files and a few events; filled before the faults.
const DISK_SIZE: &str = "16m";

/// Starts a v3 gateway keeping its state on `disk`, and waits until it serves.
async fn start_on(disk: &SmallDisk, upstream: &MockServer) -> TestGateway {
    let mut env = v3_env();
    env.insert("WGW_DATA_DIR".to_owned(), disk.path().display().to_string());
    let toml = v3_toml(&upstream.uri(), "");
    let config = Config::from_toml_str(&toml, &env).expect("test configuration is valid");
    let gateway = TestGateway::start(config).await;
    // Answered once both stores are open (the admin listener serves after them).
    let (ready, body) = gateway.admin_get("/readyz").await;
    assert_eq!(ready, 200, "{body}");
    gateway
}

/// Posts an incoming-message webhook with `message_id` and a text of `text_len` bytes; returns
/// the HTTP status.
async fn post_webhook(gateway: &TestGateway, message_id: &str, text_len: usize) -> u16 {
    let body = json!({ "messages": [{
        "messageId": message_id,
        "dateTime": "2025-05-06T14:16:00.002Z",
        "channelId": WHATSAPP,
        "chatType": "whatsapp", "chatId": "79999999999",
        "type": "text", "isEcho": false, "text": "x".repeat(text_len),
        "contact": { "name": "Ivan" }, "status": "inbound"
    }]});
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
        .post(format!(
            "http://{}/webhooks/{ACCOUNT}/{WEBHOOK_SECRET}",
            gateway.webhook_addr
        ))
        .json(&body)
        .send()
        .await
        .expect("webhook answered")
        .status()
        .as_u16()
}

/// Opens a gRPC health `Watch` of the whole server.
async fn watch_health(gateway: &TestGateway) -> tonic::Streaming<HealthCheckResponse> {
    gateway
        .health()
        .await
        .watch(HealthCheckRequest::default())
        .await
        .expect("health watch opens")
        .into_inner()
}

/// Waits (bounded) until gRPC health reports `wanted` for the whole server.
async fn health_becomes(gateway: &TestGateway, wanted: ServingStatus) {
    health_reaches(&mut watch_health(gateway).await, wanted).await;
}

/// Waits (bounded) until `updates` reports `wanted`.
async fn health_reaches(
    updates: &mut tonic::Streaming<HealthCheckResponse>,
    wanted: ServingStatus,
) {
    let reached = async {
        while let Some(update) = updates.message().await.expect("health stream healthy") {
            if update.status() == wanted {
                return;
            }
        }
        panic!("health stream ended before {wanted:?}");
    };
    tokio::time::timeout(Duration::from_secs(30), reached)
        .await
        .unwrap_or_else(|_| panic!("health never became {wanted:?}"));
}

/// The event ids stored in the gateway's log.
async fn stored_ids(gateway: &TestGateway) -> Vec<String> {
    let stored = gateway.log.read_after(0, 100).await.expect("log readable");
    stored.into_iter().map(|stored| stored.event.id).collect()
}

#[tokio::test]
async fn a_full_disk_refuses_webhooks_and_readiness_until_space_is_freed() {
    let Some(disk) = SmallDisk::mount(DISK_SIZE) else {
        return;
    };
    let upstream = MockServer::start().await;
    let gateway = start_on(&disk, &upstream).await;
    assert_eq!(post_webhook(&gateway, "before-full", 100).await, 200);

    disk.fill();
    let refused = post_webhook(&gateway, "while-full", 64 * 1024).await;
    let (ready_status, ready_body) = gateway.admin_get("/readyz").await;
    let (live_status, live_body) = gateway.admin_get("/healthz").await;
    health_becomes(&gateway, ServingStatus::NotServing).await;

    assert_eq!(refused, 503);
    assert_eq!(ready_status, 503, "{ready_body}");
    assert!(
        ready_body.contains("event log: cannot write"),
        "{ready_body}"
    );
    assert_eq!(live_status, 200);
    assert!(live_body.contains("event log: cannot write"), "{live_body}");

    disk.free();
    let accepted = post_webhook(&gateway, "after-free", 64 * 1024).await;
    let (ready_again, ready_body) = gateway.admin_get("/readyz").await;
    health_becomes(&gateway, ServingStatus::Serving).await;

    assert_eq!(accepted, 200);
    assert_eq!(ready_again, 200, "{ready_body}");
    let ids = stored_ids(&gateway).await;
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.iter().all(|id| !id.contains("while-full")), "{ids:?}");
    gateway.stop().await;
}

#[tokio::test]
async fn keyed_sends_are_refused_unsent_while_the_idempotency_store_cannot_write() {
    let Some(disk) = SmallDisk::mount(DISK_SIZE) else {
        return;
    };
    let upstream = MockServer::start().await;
    mount_channels(&upstream).await;
    Mock::given(method("POST"))
        .and(path("/v3/message"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"messageId": "m-1", "chatId": "79011112233"})),
        )
        .mount(&upstream)
        .await;
    let gateway = start_on(&disk, &upstream).await;
    let mut messages = gateway.messages().await;
    let request = keyed(whatsapp_text("79011112233", "hello"), "order-1");

    disk.fill();
    let refused = messages
        .send_message(request.clone())
        .await
        .expect_err("refused while the store cannot write");
    let sends_while_full = sent_messages(&upstream).await;
    let (ready_status, ready_body) = gateway.admin_get("/readyz").await;

    let refusal = failure(&refused);
    assert_eq!(refusal.code, tonic::Code::Unavailable);
    assert_eq!(refusal.reason, "IDEMPOTENCY_STORE_UNAVAILABLE");
    assert!(refusal.retry_after.is_some(), "{refusal:?}");
    assert_eq!(sends_while_full, 0);
    assert_eq!(ready_status, 503);
    assert!(
        ready_body.contains("idempotency store: cannot write"),
        "{ready_body}"
    );

    disk.free();
    let sent = messages.send_message(request.clone()).await.expect("sent");
    let repeat = messages.send_message(request).await.expect("replayed");
    let (ready_again, _) = gateway.admin_get("/readyz").await;

    assert!(!sent.get_ref().replayed);
    assert!(repeat.get_ref().replayed);
    assert_eq!(sent_messages(&upstream).await, 1);
    assert_eq!(ready_again, 200);
    drop(messages);
    gateway.stop().await;
}

/// How many `POST /v3/message` the upstream received.
async fn sent_messages(upstream: &MockServer) -> usize {
    let requests = upstream.received_requests().await.unwrap_or_default();
    requests
        .iter()
        .filter(|request| request.method.as_str() == "POST" && request.url.path() == "/v3/message")
        .count()
}

#[tokio::test]
async fn readiness_returns_without_traffic_once_space_is_freed() {
    let Some(disk) = SmallDisk::mount(DISK_SIZE) else {
        return;
    };
    let upstream = MockServer::start().await;
    let gateway = start_on(&disk, &upstream).await;
    let mut health = watch_health(&gateway).await;

    disk.fill();
    assert_eq!(post_webhook(&gateway, "while-full", 64 * 1024).await, 503);
    health_reaches(&mut health, ServingStatus::NotServing).await;
    disk.free();
    // No webhook: the log retries a write on its own; the same Watch stream sees it.
    health_reaches(&mut health, ServingStatus::Serving).await;
    let (ready_status, ready_body) = gateway.admin_get("/readyz").await;

    assert_eq!(ready_status, 200, "{ready_body}");
    assert!(stored_ids(&gateway).await.is_empty());
    gateway.stop().await;
}
