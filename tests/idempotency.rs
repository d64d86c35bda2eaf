//! Send idempotency through the real gRPC server: repeats replay, reused keys are refused, records
//! survive a restart, concurrent duplicates share one send.

mod support;

use futures::future::join_all;
use tonic::Code;
use tonic_types::StatusExt as _;
use wazzup_gateway::proto::pb;

use support::{TestGateway, sandbox_config};

/// The sandbox's active WhatsApp channel.
const WHATSAPP_CHANNEL_ID: &str = "11111111-1111-4111-8111-111111111111";

fn text_request(text: &str, idempotency_key: &str) -> pb::SendMessageRequest {
    pb::SendMessageRequest {
        channel_id: WHATSAPP_CHANNEL_ID.to_owned(),
        recipient: Some(pb::Recipient {
            chat_type: pb::ChatType::Whatsapp as i32,
            chat_id: "79011112233".to_owned(),
            ..pb::Recipient::default()
        }),
        content: Some(pb::send_message_request::Content::Text(text.to_owned())),
        idempotency_key: idempotency_key.to_owned(),
        ..pb::SendMessageRequest::default()
    }
}

#[tokio::test]
async fn a_repeated_send_returns_the_first_message_id_marked_replayed() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let gateway = TestGateway::start(sandbox_config(data_dir.path(), "")).await;
    let mut messages = gateway.messages().await;

    let first = messages
        .send_message(text_request("hello", "order-1"))
        .await
        .expect("sent")
        .into_inner();
    let repeat = messages
        .send_message(text_request("hello", "order-1"))
        .await
        .expect("replayed")
        .into_inner();

    assert!(!first.message_id.is_empty());
    assert!(!first.replayed);
    assert_eq!(repeat.message_id, first.message_id);
    assert!(repeat.replayed);
    drop(messages);
    gateway.stop().await;
}

#[tokio::test]
async fn sends_without_a_key_are_never_replayed() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let gateway = TestGateway::start(sandbox_config(data_dir.path(), "")).await;
    let mut messages = gateway.messages().await;

    let first = messages.send_message(text_request("hello", "")).await;
    let second = messages.send_message(text_request("hello", "")).await;

    let (first, second) = (
        first.expect("sent").into_inner(),
        second.expect("sent").into_inner(),
    );
    assert_ne!(first.message_id, second.message_id);
    assert!(!first.replayed && !second.replayed);
    drop(messages);
    gateway.stop().await;
}

#[tokio::test]
async fn the_same_key_with_a_different_request_fails_with_idempotency_key_reused() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let gateway = TestGateway::start(sandbox_config(data_dir.path(), "")).await;
    let mut messages = gateway.messages().await;
    messages
        .send_message(text_request("hello", "order-2"))
        .await
        .expect("sent");

    let status = messages
        .send_message(text_request("goodbye", "order-2"))
        .await
        .expect_err("key reused");

    assert_eq!(status.code(), Code::FailedPrecondition);
    let details = status.get_error_details();
    let info = details.error_info().expect("error info");
    assert_eq!(info.reason, "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(info.domain, "wazzup-gateway");
    assert_eq!(
        info.metadata.get("idempotencyKey").map(String::as_str),
        Some("order-2")
    );
    drop(messages);
    gateway.stop().await;
}

#[tokio::test]
async fn a_key_still_replays_after_the_gateway_restarts_on_the_same_data_dir() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let before = TestGateway::start(sandbox_config(data_dir.path(), "")).await;
    let mut messages = before.messages().await;
    let first = messages
        .send_message(text_request("hello", "order-3"))
        .await
        .expect("sent")
        .into_inner();
    drop(messages);
    before.stop().await;

    let after = TestGateway::start(sandbox_config(data_dir.path(), "")).await;
    let mut messages = after.messages().await;
    let repeat = messages
        .send_message(text_request("hello", "order-3"))
        .await
        .expect("replayed")
        .into_inner();
    let reused = messages
        .send_message(text_request("goodbye", "order-3"))
        .await
        .expect_err("key reused");

    assert_eq!(repeat.message_id, first.message_id);
    assert!(repeat.replayed);
    assert_eq!(reused.code(), Code::FailedPrecondition);
    drop(messages);
    after.stop().await;
}

#[tokio::test]
async fn twenty_concurrent_sends_with_one_key_make_one_message() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    // The simulated upstream latency keeps the first send in flight while the others arrive.
    let config = sandbox_config(data_dir.path(), "[server]\nsandbox_latency = \"200ms\"\n");
    let gateway = TestGateway::start(config).await;
    let messages = gateway.messages().await;

    let calls = (0..20).map(|_| {
        let mut client = messages.clone();
        async move { client.send_message(text_request("hello", "order-4")).await }
    });
    let replies: Vec<pb::SendMessageResponse> = join_all(calls)
        .await
        .into_iter()
        .map(|reply| reply.expect("sent").into_inner())
        .collect();

    let first_id = &replies[0].message_id;
    assert!(replies.iter().all(|reply| &reply.message_id == first_id));
    assert_eq!(replies.iter().filter(|reply| !reply.replayed).count(), 1);
    drop(messages);
    gateway.stop().await;
}

#[tokio::test]
async fn batch_items_with_the_same_key_make_one_message() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let gateway = TestGateway::start(sandbox_config(data_dir.path(), "")).await;
    let mut messages = gateway.messages().await;
    let batch = pb::BatchSendMessagesRequest {
        account: String::new(),
        requests: vec![
            text_request("hello", "order-5"),
            text_request("hello", "order-5"),
            text_request("goodbye", "order-5"),
        ],
    };

    let results = messages
        .batch_send_messages(batch)
        .await
        .expect("batch answered")
        .into_inner()
        .results;

    let responses: Vec<&pb::SendMessageResponse> = results
        .iter()
        .filter_map(|result| match &result.result {
            Some(pb::batch_send_result::Result::Response(response)) => Some(response),
            _ => None,
        })
        .collect();
    assert_eq!(responses.len(), 2);
    assert_eq!(responses[0].message_id, responses[1].message_id);
    assert_eq!(
        responses
            .iter()
            .filter(|response| response.replayed)
            .count(),
        1
    );
    match &results[2].result {
        Some(pb::batch_send_result::Result::Error(status)) => {
            assert_eq!(status.code, Code::FailedPrecondition as i32);
        }
        other => panic!("expected IDEMPOTENCY_KEY_REUSED, got {other:?}"),
    }
    drop(messages);
    gateway.stop().await;
}
