//! The whole path through the running gateway: a webhook posted to the webhook listener, stored,
//! then delivered on an `EventService.Subscribe` stream with its typed payload; and sandbox sends
//! reporting their statuses through the same log.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use support::*;
use wazzup_gateway::proto::pb;

const SECRET: &str = "webhook-secret-for-tests";

/// Reads stream messages until `count` events arrived (heartbeats skipped), bounded in time.
async fn next_events(
    stream: &mut tonic::Streaming<pb::SubscribeResponse>,
    count: usize,
) -> Vec<pb::Event> {
    let mut events = Vec::new();
    while events.len() < count {
        let message = tokio::time::timeout(Duration::from_secs(10), stream.message())
            .await
            .expect("an event arrives in time")
            .expect("the stream stays healthy")
            .expect("the stream stays open");
        if let Some(pb::subscribe_response::Kind::Event(event)) = message.kind {
            events.push(event);
        }
    }
    events
}

async fn subscribe_from_the_start(
    gateway: &TestGateway,
) -> tonic::Streaming<pb::SubscribeResponse> {
    let mut client = gateway.events().await;
    let request = pb::SubscribeRequest {
        start: Some(pb::subscribe_request::Start::Earliest(true)),
        ..Default::default()
    };
    client
        .subscribe(request)
        .await
        .expect("subscription opens")
        .into_inner()
}

#[tokio::test]
async fn a_posted_webhook_is_acknowledged_then_streamed_with_its_typed_payload() {
    let env = HashMap::from([(
        "WGW_ACCOUNT_SANDBOX_WEBHOOK_SECRET".to_owned(),
        SECRET.to_owned(),
    )]);
    let gateway = TestGateway::start_with("", &env).await;
    let mut stream = subscribe_from_the_start(&gateway).await;
    let body = serde_json::json!({ "messages": [{
        "messageId": "6a2087e8-e0f4-4999-b968-9d9999933c81",
        "dateTime": "2025-05-06T14:16:00.002Z",
        "channelId": WHATSAPP_CHANNEL,
        "chatType": "whatsapp", "chatId": "79999999999",
        "type": "text", "isEcho": false, "text": "Is my order ready?",
        "contact": { "name": "Ivan" }, "status": "inbound"
    }]});

    let _ = rustls::crypto::ring::default_provider().install_default();
    let answer = reqwest::Client::new()
        .post(format!(
            "http://{}/webhooks/sandbox/{SECRET}",
            gateway.webhook_addr
        ))
        .json(&body)
        .send()
        .await
        .unwrap();
    let events = next_events(&mut stream, 1).await;

    assert_eq!(answer.status().as_u16(), 200);
    let event = &events[0];
    assert_eq!(
        (event.r#type(), event.account.as_str()),
        (pb::EventType::MessageReceived, "sandbox")
    );
    let Some(pb::event::Payload::Message(message)) = &event.payload else {
        panic!("{event:?}")
    };
    assert_eq!(message.text, "Is my order ready?");
    assert_eq!(message.chat_id, "79999999999");
    gateway.stop().await;
}

#[tokio::test]
async fn a_webhook_with_the_wrong_secret_is_refused() {
    let env = HashMap::from([(
        "WGW_ACCOUNT_SANDBOX_WEBHOOK_SECRET".to_owned(),
        SECRET.to_owned(),
    )]);
    let gateway = TestGateway::start_with("", &env).await;

    let _ = rustls::crypto::ring::default_provider().install_default();
    let answer = reqwest::Client::new()
        .post(format!(
            "http://{}/webhooks/sandbox/not-the-secret",
            gateway.webhook_addr
        ))
        .json(&serde_json::json!({ "statuses": [] }))
        .send()
        .await
        .unwrap();

    assert_eq!(answer.status().as_u16(), 401);
    gateway.stop().await;
}

#[tokio::test]
async fn a_sandbox_send_reports_sent_delivered_and_read_on_the_stream() {
    let gateway = TestGateway::sandbox().await;
    let mut stream = subscribe_from_the_start(&gateway).await;

    let sent = gateway
        .messages()
        .await
        .send_message(text_send(WHATSAPP_CHANNEL, "79991112233", "hello"))
        .await
        .unwrap()
        .into_inner();
    let events = next_events(&mut stream, 3).await;

    let statuses: Vec<_> = events
        .iter()
        .map(|event| match &event.payload {
            Some(pb::event::Payload::Status(status)) => {
                (status.message_id.clone(), status.status())
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        statuses,
        [
            (sent.message_id.clone(), pb::MessageStatus::Sent),
            (sent.message_id.clone(), pb::MessageStatus::Delivered),
            (sent.message_id.clone(), pb::MessageStatus::Read),
        ]
    );
    gateway.stop().await;
}

/// Posts `body` as a JSON webhook to the sandbox account; returns the status code.
async fn post_sandbox(gateway: &TestGateway, body: String) -> u16 {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
        .post(format!(
            "http://{}/webhooks/sandbox/{SECRET}",
            gateway.webhook_addr
        ))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Levels of lists nested in a protobuf value.
fn list_depth(value: &prost_types::Value) -> usize {
    match &value.kind {
        Some(prost_types::value::Kind::ListValue(list)) => {
            1 + list.values.iter().map(list_depth).max().unwrap_or(0)
        }
        _ => 0,
    }
}

#[tokio::test]
async fn a_body_too_deep_is_refused_and_the_deepest_accepted_is_delivered_from_storage() {
    let data_dir = tempfile::tempdir().unwrap();
    let env = HashMap::from([
        (
            "WGW_ACCOUNT_SANDBOX_WEBHOOK_SECRET".to_owned(),
            SECRET.to_owned(),
        ),
        (
            "WGW_DATA_DIR".to_owned(),
            data_dir.path().display().to_string(),
        ),
    ]);
    let gateway = TestGateway::start_with("", &env).await;
    // 254 bytes, arrays nested 127 deep: stored before, then unreadable from storage.
    let poison = format!("{}{}", "[".repeat(127), "]".repeat(127));
    assert_eq!(post_sandbox(&gateway, poison).await, 422);
    // 24 levels with the object around the lists: the deepest body accepted.
    let deepest = format!("{{\"deep\": {}{}}}", "[".repeat(23), "]".repeat(23));
    assert_eq!(post_sandbox(&gateway, deepest).await, 200);
    gateway.stop().await;

    // After a restart nothing is in the in-memory recent events: the event comes from storage.
    let gateway = TestGateway::start_with("", &env).await;
    let mut stream = subscribe_from_the_start(&gateway).await;
    let events = next_events(&mut stream, 1).await;

    assert_eq!(events[0].r#type(), pb::EventType::Unknown);
    let raw = events[0].raw.as_ref().expect("raw is delivered");
    assert_eq!(list_depth(&raw.fields["deep"]), 23);
    gateway.stop().await;
}
