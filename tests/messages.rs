//! MessageService against the sandbox upstream: sends, batches, edits and deletes, with the same
//! validation and refusals as the real dialects.

mod support;

use support::*;
use tonic::Code;
use wazzup_gateway::proto::pb;

#[tokio::test]
async fn a_text_send_returns_a_message_id_and_the_chat() {
    let gateway = TestGateway::sandbox().await;

    let sent = gateway
        .messages()
        .await
        .send_message(text_send(WHATSAPP_CHANNEL, "79991112233", "hello"))
        .await
        .unwrap()
        .into_inner();

    assert_eq!(sent.chat_id, "79991112233");
    assert!(
        uuid::Uuid::parse_str(&sent.message_id).is_ok(),
        "{}",
        sent.message_id
    );
    assert!(!sent.replayed);
    gateway.stop().await;
}

#[tokio::test]
async fn an_invalid_send_reports_every_bad_field_at_once() {
    let gateway = TestGateway::sandbox().await;
    let mut send = text_send(WHATSAPP_CHANNEL, "not-a-phone", &"x".repeat(10_001));
    send.idempotency_key = "bad\nkey".to_owned();

    let status = gateway
        .messages()
        .await
        .send_message(send)
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        reason_of(&status),
        ("INVALID_REQUEST".to_owned(), "wazzup-gateway".to_owned())
    );
    assert_eq!(
        violated_fields(&status),
        ["recipient.chat_id", "text", "idempotency_key"]
    );
    gateway.stop().await;
}

#[tokio::test]
async fn channel_rules_apply_once_the_channel_is_known() {
    let gateway = TestGateway::sandbox().await;
    let mut send = text_send(INSTAGRAM_CHANNEL, "79991112233", &"x".repeat(1_001));
    send.keyboard = Some(pb::Keyboard {
        kind: Some(pb::keyboard::Kind::Waba(pb::WabaButtons {
            buttons: vec![pb::WabaButton {
                text: "Yes".to_owned(),
                payload: String::new(),
            }],
        })),
    });

    let status = gateway
        .messages()
        .await
        .send_message(send)
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&status),
        ["recipient.chat_type", "text", "keyboard"]
    );
    assert_eq!(
        reason_of(&status),
        ("CHAT_TYPE_MISMATCH".to_owned(), "wazzup-gateway".to_owned())
    );
    let metadata = metadata_of(&status);
    assert_eq!(
        (
            metadata["channelId"].as_str(),
            metadata["transport"].as_str(),
            metadata["chatType"].as_str()
        ),
        (INSTAGRAM_CHANNEL, "instagram", "whatsapp")
    );
    gateway.stop().await;
}

#[tokio::test]
async fn sending_from_a_channel_that_is_not_active_is_a_failed_precondition() {
    let gateway = TestGateway::sandbox().await;

    let status = gateway
        .messages()
        .await
        .send_message(text_send(QR_CHANNEL, "79991112233", "hi"))
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(reason_of(&status).0, "CHANNEL_NOT_ACTIVE");
    let metadata = metadata_of(&status);
    assert_eq!(
        metadata.get("channelId").map(String::as_str),
        Some(QR_CHANNEL)
    );
    assert_eq!(metadata.get("state").map(String::as_str), Some("qr"));
    gateway.stop().await;
}

#[tokio::test]
async fn sending_from_an_unknown_channel_is_not_found() {
    let gateway = TestGateway::sandbox().await;
    let unknown = "99999999-9999-4999-8999-999999999999";

    let status = gateway
        .messages()
        .await
        .send_message(text_send(unknown, "79991112233", "hi"))
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(reason_of(&status).0, "CHANNEL_NOT_FOUND");
    gateway.stop().await;
}

#[tokio::test]
async fn a_batch_answers_each_request_in_order_with_its_own_outcome() {
    let gateway = TestGateway::sandbox().await;
    let batch = pb::BatchSendMessagesRequest {
        requests: vec![
            text_send(WHATSAPP_CHANNEL, "79990000010", "one"),
            text_send(QR_CHANNEL, "79990000011", "two"),
            text_send(WHATSAPP_CHANNEL, "12", "three"),
            text_send(WHATSAPP_CHANNEL, "79990000013", "four"),
        ],
        ..Default::default()
    };

    let results = gateway
        .messages()
        .await
        .batch_send_messages(batch)
        .await
        .unwrap()
        .into_inner()
        .results;

    let outcomes: Vec<_> = results
        .iter()
        .map(|result| match result.result.as_ref().unwrap() {
            pb::batch_send_result::Result::Response(sent) => Ok(sent.chat_id.clone()),
            pb::batch_send_result::Result::Error(error) => Err(Code::from_i32(error.code)),
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            Ok("79990000010".to_owned()),
            Err(Code::FailedPrecondition),
            Err(Code::InvalidArgument),
            Ok("79990000013".to_owned()),
        ]
    );
    let pb::batch_send_result::Result::Error(error) = results[2].result.as_ref().unwrap() else {
        unreachable!()
    };
    assert!(
        !error.details.is_empty(),
        "batch errors carry google.rpc details"
    );
    gateway.stop().await;
}

#[tokio::test]
async fn an_empty_batch_is_refused() {
    let gateway = TestGateway::sandbox().await;

    let status = gateway
        .messages()
        .await
        .batch_send_messages(pb::BatchSendMessagesRequest::default())
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["requests"]);
    gateway.stop().await;
}

#[tokio::test]
async fn a_sent_message_can_be_edited_then_deleted_and_is_gone_afterwards() {
    let gateway = TestGateway::sandbox().await;
    let mut messages = gateway.messages().await;
    let sent = messages
        .send_message(text_send(WHATSAPP_CHANNEL, "79991112233", "hello"))
        .await
        .unwrap()
        .into_inner();
    let edit = |text: &str| pb::EditMessageRequest {
        message_id: sent.message_id.clone(),
        content: Some(pb::edit_message_request::Content::Text(text.to_owned())),
        ..Default::default()
    };

    let edited = messages
        .edit_message(edit("hello again"))
        .await
        .unwrap()
        .into_inner();
    let deleted = messages
        .delete_message(pb::DeleteMessageRequest {
            message_id: sent.message_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let after_delete = messages.edit_message(edit("too late")).await.unwrap_err();

    assert_eq!(
        (edited.message_id.as_str(), edited.chat_id.as_str()),
        (sent.message_id.as_str(), "79991112233")
    );
    assert_eq!(
        (deleted.message_id.as_str(), deleted.chat_id.as_str()),
        (sent.message_id.as_str(), "79991112233")
    );
    assert_eq!(after_delete.code(), Code::NotFound);
    assert_eq!(reason_of(&after_delete).0, "MESSAGE_NOT_FOUND");
    gateway.stop().await;
}

#[tokio::test]
async fn transports_without_editing_refuse_edits_like_the_upstream() {
    let gateway = TestGateway::sandbox().await;
    let mut messages = gateway.messages().await;
    let sent = messages
        .send_message(text_send(WABA_CHANNEL, "79991112233", "hello"))
        .await
        .unwrap()
        .into_inner();

    let status = messages
        .edit_message(pb::EditMessageRequest {
            message_id: sent.message_id,
            content: Some(pb::edit_message_request::Content::Text(
                "changed".to_owned(),
            )),
            ..Default::default()
        })
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::FailedPrecondition);
    assert_eq!(
        reason_of(&status),
        (
            "CHANNEL_INVALID_TRANSPORT_FOR_EDITING".to_owned(),
            "sandbox.wazzup-gateway".to_owned()
        )
    );
    gateway.stop().await;
}

#[tokio::test]
async fn an_edit_without_content_names_the_missing_field() {
    let gateway = TestGateway::sandbox().await;

    let status = gateway
        .messages()
        .await
        .edit_message(pb::EditMessageRequest {
            message_id: "m-1".to_owned(),
            ..Default::default()
        })
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["text"]);
    gateway.stop().await;
}
