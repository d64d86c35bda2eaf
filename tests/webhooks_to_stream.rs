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
