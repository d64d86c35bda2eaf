//! Devino callbacks through the running gateway: status callbacks and incoming messages posted to
//! the account's webhook route (the `callbackUrl` of its sends), as one object or an array, stored
//! once however often they are redelivered, and streamed on `EventService.Subscribe` typed.

#[path = "support/devino.rs"]
mod devino_support;
mod support;

use std::time::Duration;

use devino_support::*;
use serde_json::{Value, json};
use support::TestGateway;
use wazzup_gateway::proto::pb;
use wiremock::MockServer;

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

/// Starts the gateway and a subscription from the oldest event.
async fn start() -> (
    TestGateway,
    tonic::Streaming<pb::SubscribeResponse>,
    MockServer,
) {
    let upstream = MockServer::start().await;
    let gateway = start_devino(&upstream, "").await;
    let stream = gateway
        .events()
        .await
        .subscribe(pb::SubscribeRequest {
            start: Some(pb::subscribe_request::Start::Earliest(true)),
            ..Default::default()
        })
        .await
        .expect("subscription opens")
        .into_inner();
    (gateway, stream, upstream)
}

/// Posts `body` to the account's webhook route with `secret`; returns the HTTP status.
async fn post(gateway: &TestGateway, secret: &str, body: &Value) -> u16 {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
        .post(format!(
            "http://{}/webhooks/{ACCOUNT}/{secret}",
            gateway.webhook_addr
        ))
        .json(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

fn status_of(event: &pb::Event) -> &pb::MessageStatusEvent {
    match &event.payload {
        Some(pb::event::Payload::Status(status)) => status,
        other => panic!("expected a status, got {other:?}"),
    }
}

fn message_of(event: &pb::Event) -> &pb::MessageEvent {
    match &event.payload {
        Some(pb::event::Payload::Message(message)) => message,
        other => panic!("expected a message, got {other:?}"),
    }
}

#[tokio::test]
async fn status_callbacks_as_an_object_or_an_array_stream_with_their_callback_data() {
    let (gateway, mut stream, _upstream) = start().await;
    let single = json!({"messageId": 3482512350952730368_u64, "ts": 1746540000, "status": "SENT",
                        "errorCode": 0, "options": "order-42"});
    let array = json!([
        {"messageId": "3482512350952730368", "ts": 1746540005, "status": "delivered",
         "callbackData": "order-42"},
        {"messageId": "3482512350952730368", "ts": 1746540009, "status": "UNDELIVERED",
         "errorCode": 2305, "callbackData": "order-42"},
    ]);
    assert_eq!(post(&gateway, WEBHOOK_SECRET, &single).await, 200);
    assert_eq!(post(&gateway, WEBHOOK_SECRET, &array).await, 200);

    let events = next_events(&mut stream, 3).await;
    let statuses: Vec<pb::MessageStatus> = events
        .iter()
        .map(|event| status_of(event).status())
        .collect();
    assert_eq!(
        statuses,
        [
            pb::MessageStatus::Sent,
            pb::MessageStatus::Delivered,
            pb::MessageStatus::Error
        ]
    );
    for event in &events {
        assert_eq!(event.r#type(), pb::EventType::MessageStatus);
        assert_eq!(event.dialect, "devino");
        let status = status_of(event);
        assert_eq!(status.message_id, "3482512350952730368");
        assert_eq!(status.callback_data, "order-42");
    }
    assert_eq!(events[0].occurred_at.unwrap().seconds, 1_746_540_000);
    let failed = status_of(&events[2]);
    assert_eq!(failed.error_code, "NOT_ON_WHATSAPP");
    assert_eq!(
        failed.error_description,
        "User has not used or is no longer using WhatsApp"
    );
    gateway.stop().await;
}

#[tokio::test]
async fn incoming_messages_as_an_object_or_an_array_stream_with_typed_fields() {
    let (gateway, mut stream, _upstream) = start().await;
    let single = json!({"incomingMessageId": 77, "to": SENDER, "from": "79034567890",
                        "text": "hello", "profileName": "Ann", "ts": 1746540000123_u64});
    let array = json!([{
        "incomingMessageId": 78, "to": SENDER, "from": "79034567890", "ts": 1746540001000_u64,
        "contentUrl": "https://cdn.example.com/a.pdf", "contentType": "application/pdf",
        "contentName": "a.pdf",
    }, {
        "incomingMessageId": 79, "to": SENDER, "from": "79034567890", "ts": 1746540002000_u64,
        "location": {"latitude": 55.75, "longitude": 37.61, "addressName": "Moscow"},
    }]);
    assert_eq!(post(&gateway, WEBHOOK_SECRET, &single).await, 200);
    assert_eq!(post(&gateway, WEBHOOK_SECRET, &array).await, 200);

    let events = next_events(&mut stream, 3).await;
    assert!(
        events
            .iter()
            .all(|event| event.r#type() == pb::EventType::MessageReceived)
    );
    let text = message_of(&events[0]);
    assert_eq!(text.message_id, "77");
    assert_eq!(text.channel_id, SENDER_CHANNEL);
    assert_eq!(text.chat_id, "79034567890");
    assert_eq!(text.text, "hello");
    assert_eq!(text.contact.as_ref().unwrap().name, "Ann");
    assert_eq!(text.direction(), pb::Direction::Inbound);
    let file = message_of(&events[1]);
    assert_eq!(file.content_uri, "https://cdn.example.com/a.pdf");
    assert_eq!(file.content_mime_type, "application/pdf");
    assert_eq!(file.content_name, "a.pdf");
    assert_eq!(file.r#type(), pb::MessageType::Document);
    let place = message_of(&events[2]);
    assert_eq!(place.r#type(), pb::MessageType::Geo);
    assert_eq!(place.location.as_ref().unwrap().address_name, "Moscow");
    gateway.stop().await;
}

#[tokio::test]
async fn a_redelivered_callback_is_stored_once_and_an_unknown_status_is_kept_raw() {
    let (gateway, mut stream, _upstream) = start().await;
    let callback = json!({"messageId": "1", "ts": 1746540000, "status": "TELEPORTED"});
    assert_eq!(post(&gateway, WEBHOOK_SECRET, &callback).await, 200);
    assert_eq!(post(&gateway, WEBHOOK_SECRET, &callback).await, 200);
    assert_eq!(
        post(&gateway, WEBHOOK_SECRET, &json!([callback])).await,
        200
    );
    let marker = json!({"messageId": "2", "ts": 1746540001, "status": "READ"});
    assert_eq!(post(&gateway, WEBHOOK_SECRET, &marker).await, 200);

    let events = next_events(&mut stream, 2).await;
    let first = status_of(&events[0]);
    assert_eq!(first.message_id, "1");
    assert_eq!(first.status(), pb::MessageStatus::Other);
    assert_eq!(first.status_raw, "TELEPORTED");
    let raw = events[0].raw.as_ref().expect("raw JSON is kept");
    assert!(raw.fields.contains_key("status"));
    // The redeliveries added nothing: the next event is the marker.
    assert_eq!(status_of(&events[1]).message_id, "2");
    gateway.stop().await;
}

#[tokio::test]
async fn a_callback_with_the_wrong_secret_is_refused() {
    let (gateway, _stream, _upstream) = start().await;
    let callback = json!({"messageId": "1", "ts": 1, "status": "SENT"});
    assert_eq!(post(&gateway, "wrong", &callback).await, 401);
    gateway.stop().await;
}
