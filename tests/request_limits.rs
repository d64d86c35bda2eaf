//! Request limits over the real gRPC server: ids and names have a maximum length, required ids
//! are refused as INVALID_ARGUMENT (not looked up as NOT_FOUND), an oversize message answers
//! RESOURCE_EXHAUSTED, and the bearer scheme is read in any letter case.

mod support;

use std::collections::HashMap;

use support::{TestGateway, WHATSAPP_CHANNEL, reason_of, text_send, violated_fields};
use tonic::Code;
use tonic::metadata::MetadataValue;
use wazzup_gateway::proto::pb;

/// One character over the longest id or name the gateway accepts (255).
fn over_limit() -> String {
    "a".repeat(256)
}

#[tokio::test]
async fn ids_and_names_over_their_limit_are_refused_naming_each_field() {
    let gateway = TestGateway::sandbox().await;
    let mut send = text_send(WHATSAPP_CHANNEL, "79011112233", "hi");
    send.crm_user_id = over_limit();
    send.quoted_message_id = "q".repeat(1 << 20);
    if let Some(recipient) = send.recipient.as_mut() {
        recipient.contact_name = "Анна".repeat(64);
    }

    let status = gateway
        .messages()
        .await
        .send_message(send)
        .await
        .expect_err("refused");

    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        violated_fields(&status),
        ["recipient.contact_name", "quoted_message_id", "crm_user_id"]
    );
    gateway.stop().await;
}

#[tokio::test]
async fn ids_and_names_at_their_limit_pass() {
    let gateway = TestGateway::sandbox().await;
    let mut send = text_send(WHATSAPP_CHANNEL, "79011112233", "hi");
    send.crm_user_id = "a".repeat(255);
    if let Some(recipient) = send.recipient.as_mut() {
        recipient.contact_name = "Я".repeat(255);
    }

    let sent = gateway.messages().await.send_message(send).await;

    assert!(sent.is_ok(), "{sent:?}");
    gateway.stop().await;
}

#[tokio::test]
async fn empty_ids_are_invalid_arguments_naming_the_field() {
    let gateway = TestGateway::sandbox().await;

    let channel = gateway
        .channels()
        .await
        .get_channel(pb::GetChannelRequest::default())
        .await
        .expect_err("channel id required");
    let template = gateway
        .templates()
        .await
        .get_template(pb::GetTemplateRequest::default())
        .await
        .expect_err("template id required");
    let injected = gateway
        .sandbox_service()
        .await
        .inject_incoming_message(pb::InjectIncomingMessageRequest {
            text: "hello".to_owned(),
            ..Default::default()
        })
        .await
        .expect_err("channel and chat ids required");

    let table = [
        (channel, vec!["channel_id"]),
        (template, vec!["template_id"]),
        (injected, vec!["channel_id", "chat_id"]),
    ];
    for (status, fields) in table {
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert_eq!(reason_of(&status).0, "INVALID_REQUEST");
        assert_eq!(violated_fields(&status), fields);
    }
    gateway.stop().await;
}

#[tokio::test]
async fn an_oversize_request_is_resource_exhausted() {
    let gateway = TestGateway::sandbox().await;
    let send = text_send(WHATSAPP_CHANNEL, "79011112233", &"x".repeat(5 << 20));

    let status = gateway
        .messages()
        .await
        .send_message(send)
        .await
        .expect_err("too large");

    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert_eq!(reason_of(&status).0, "REQUEST_TOO_LARGE");
    gateway.stop().await;
}

#[tokio::test]
async fn the_bearer_scheme_is_read_in_any_letter_case() {
    let toml = "[[auth.tokens]]\nname = \"ops\"\ntoken_env = \"OPS_TOKEN\"\n";
    let env = HashMap::from([("OPS_TOKEN".to_owned(), "ops-secret".to_owned())]);
    let gateway = TestGateway::start_with(toml, &env).await;
    let mut channels = gateway.channels().await;

    for scheme in ["Bearer", "bearer", "BEARER"] {
        let mut request = tonic::Request::new(pb::ListChannelsRequest::default());
        request.metadata_mut().insert(
            "authorization",
            MetadataValue::try_from(format!("{scheme} ops-secret")).unwrap(),
        );
        let listed = channels.list_channels(request).await;
        assert!(listed.is_ok(), "{scheme}: {listed:?}");
    }
    gateway.stop().await;
}
