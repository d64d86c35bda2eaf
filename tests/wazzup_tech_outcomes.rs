//! `SendMessage.wait_for_outcome` on the asynchronous partner API v2 (`wazzup_tech`): the call is
//! held until the `message.status_update` webhook with the send's `request_id` is stored, then
//! answers its message id and status; without that webhook it answers in time without them.

mod support;
#[path = "support/wazzup_tech.rs"]
mod wazzup_tech_support;

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;
use support::TestGateway;
use wazzup_gateway::proto::pb;
use wazzup_tech_support::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const REQUEST_ID: &str = "5b0e3c9a-7d41-4b8e-9f2a-1c6d8e0f4a21";
const MESSAGE_ID: &str = "e8d7c6b5-a493-4827-8615-0f1e2d3c4b5a";

async fn upstream_accepting_sends() -> MockServer {
    let upstream = MockServer::start().await;
    mount_channels(&upstream).await;
    Mock::given(method("POST"))
        .and(path("/v2/messages"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(envelope(json!({ "request_id": REQUEST_ID }))),
        )
        .mount(&upstream)
        .await;
    upstream
}

fn waiting_send() -> pb::SendMessageRequest {
    pb::SendMessageRequest {
        channel_id: WHATSAPP.to_owned(),
        recipient: Some(pb::Recipient {
            chat_type: pb::ChatType::Whatsapp.into(),
            chat_id: "79011112233".to_owned(),
            ..Default::default()
        }),
        content: Some(pb::send_message_request::Content::Text("hi".to_owned())),
        wait_for_outcome: true,
        ..Default::default()
    }
}

/// Posts the status webhook of `request_id` once the upstream has received the send.
async fn report_outcome_after_the_send(upstream: &MockServer, webhook_addr: SocketAddr) {
    for _ in 0..200 {
        let sends = upstream.received_requests().await.unwrap_or_default();
        if sends
            .iter()
            .any(|request| request.url.path() == "/v2/messages")
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let body = json!({
        "event": "message.status_update",
        "data": [{ "request_id": REQUEST_ID, "message_id": MESSAGE_ID, "status": "sent",
                   "channel_id": WHATSAPP, "chat_id": "79011112233" }],
        "meta": { "idempotency_key": "outcome-1", "timestamp": 1762340623 }
    });
    let _ = rustls::crypto::ring::default_provider().install_default();
    let answer = reqwest::Client::new()
        .post(format!(
            "http://{webhook_addr}/webhooks/{ACCOUNT}/{WEBHOOK_SECRET}"
        ))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
}

#[tokio::test]
async fn a_waiting_send_answers_the_message_id_and_status_of_its_outcome() {
    let upstream = upstream_accepting_sends().await;
    let gateway = start_tech(&upstream).await;

    let (sent, ()) = tokio::join!(
        async {
            let mut request = tonic::Request::new(waiting_send());
            request.set_timeout(Duration::from_secs(10));
            gateway.messages().await.send_message(request).await
        },
        report_outcome_after_the_send(&upstream, gateway.webhook_addr)
    );

    let sent = sent.expect("send succeeds").into_inner();
    assert_eq!(sent.request_id, REQUEST_ID);
    assert_eq!(sent.message_id, MESSAGE_ID);
    let outcome = sent.outcome.expect("the outcome");
    assert_eq!(outcome.status(), pb::MessageStatus::Sent);
    assert_eq!(outcome.request_id, REQUEST_ID);
    gateway.stop().await;
}

/// How long the in-runtime upstream takes to accept a send: time the caller's deadline already
/// counts when the gateway starts waiting for the outcome.
const SLOW_SEND: Duration = Duration::from_millis(150);

/// A partner API v2 upstream served on the test's own runtime (wiremock serves from threads of
/// its own), so that a paused clock only moves while everything waits for a timer: it lists the
/// account's channels and accepts sends after [`SLOW_SEND`].
async fn slow_in_runtime_upstream() -> String {
    let upstream = axum::Router::new()
        .route(
            "/v2/channels",
            axum::routing::get(|| async { axum::Json(channel_list()) }),
        )
        .route(
            "/v2/messages",
            axum::routing::post(|| async {
                tokio::time::sleep(SLOW_SEND).await;
                axum::Json(envelope(json!({ "request_id": REQUEST_ID })))
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, upstream).await.unwrap() });
    format!("http://{address}")
}

/// On a paused clock: the caller allows 800 ms, the upstream takes 150 ms of them, and the
/// answer without the outcome still arrives before the caller gives up (the wait ends 100 ms
/// before the deadline fixed when the call arrived, not 700 ms after the upstream answered).
#[tokio::test(start_paused = true)]
async fn without_its_outcome_a_waiting_send_answers_before_its_deadline() {
    let upstream = slow_in_runtime_upstream().await;
    let gateway = TestGateway::start_with(&tech_toml(&upstream, ""), &tech_env(false)).await;
    let mut request = tonic::Request::new(waiting_send());
    request.set_timeout(Duration::from_millis(800));

    let sent = gateway.messages().await.send_message(request).await;

    let sent = sent
        .expect("the send succeeds without its outcome")
        .into_inner();
    assert_eq!(sent.request_id, REQUEST_ID);
    assert_eq!(sent.message_id, "");
    assert_eq!(sent.outcome, None);
    // The drain waits for the event log's writer thread, which a paused clock would not wait for.
    tokio::time::resume();
    gateway.stop().await;
}
