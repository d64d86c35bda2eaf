//! Devino dialect, through the real gRPC server: the sender names are the channels, and every send
//! reaches `POST /whatsapp/messages` with the exact `Authorization` header and JSON body (wiremock
//! `body_json`); Devino's answers map to typed results.

#[path = "support/devino.rs"]
mod devino_support;
mod support;
#[path = "support/wazzup_v3.rs"]
mod wazzup_v3_support;

use devino_support::*;
use serde_json::json;
use support::TestGateway;
use tonic::Code;
use wazzup_gateway::proto::pb;
use wazzup_v3_support::failure;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use pb::send_message_request::Content;

/// The answer of one accepted message.
fn accepted(message_id: &str) -> serde_json::Value {
    json!({"result": [{"code": "OK", "messageId": message_id}]})
}

#[tokio::test]
async fn the_sender_names_are_the_accounts_active_waba_channels() {
    let upstream = MockServer::start().await;
    let gateway = start_devino(&upstream, "").await;
    let mut channels = gateway.channels().await;
    let listed = channels
        .list_channels(pb::ListChannelsRequest {
            account: ACCOUNT.to_owned(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .channels;
    let names: Vec<&str> = listed
        .iter()
        .map(|channel| channel.plain_id.as_str())
        .collect();
    assert_eq!(names, [SENDER, OTHER_SENDER]);
    let first = &listed[0];
    assert_eq!(first.channel_id, SENDER_CHANNEL);
    assert_eq!(first.provider, "devino");
    assert_eq!(first.transport(), pb::Transport::Waba);
    assert_eq!(first.state(), pb::ChannelState::Active);
    let one = channels
        .get_channel(pb::GetChannelRequest {
            account: ACCOUNT.to_owned(),
            channel_id: SENDER_CHANNEL.to_owned(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(one.channel.unwrap().plain_id, SENDER);
    // Devino has no channel listing: nothing was asked upstream.
    assert!(upstream.received_requests().await.unwrap().is_empty());
    gateway.stop().await;
}

#[tokio::test]
async fn a_text_is_sent_as_the_sender_with_the_callback_url_and_data() {
    let upstream = MockServer::start().await;
    expect_messages(
        &upstream,
        json!({"messages": [{
            "from": SENDER, "to": "79034567890", "text": "Code: 1234",
            "callbackUrl": CALLBACK_URL, "callbackData": "order-42",
        }]}),
        accepted("3482512350952730368"),
        1,
    )
    .await;
    let gateway = start_devino(&upstream, "").await;
    let mut request = text_to("79034567890", "Code: 1234");
    request.notify = Some(pb::NotifyOptions {
        callback_data: "order-42".to_owned(),
        ..Default::default()
    });
    let sent = gateway
        .messages()
        .await
        .send_message(request)
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sent.message_id, "3482512350952730368");
    assert_eq!(sent.chat_id, "79034567890");
    gateway.stop().await;
}

#[tokio::test]
async fn a_file_is_sent_with_its_url_name_and_type() {
    let upstream = MockServer::start().await;
    expect_messages(
        &upstream,
        json!({"messages": [{
            "from": SENDER, "to": "79034567890",
            "contentUrl": "https://cdn.example.com/invoice.pdf",
            "contentName": "invoice.pdf", "contentType": "application/pdf",
            "callbackUrl": CALLBACK_URL,
        }]}),
        accepted("1"),
        1,
    )
    .await;
    let gateway = start_devino(&upstream, "").await;
    let mut request = text_to("79034567890", "");
    request.content = Some(Content::Attachment(pb::Attachment {
        url: "https://cdn.example.com/invoice.pdf".to_owned(),
        name: "invoice.pdf".to_owned(),
        mime_type: "application/pdf".to_owned(),
        size_bytes: 2_000_000,
        ..Default::default()
    }));
    gateway
        .messages()
        .await
        .send_message(request)
        .await
        .unwrap();
    gateway.stop().await;
}

#[tokio::test]
async fn a_template_is_sent_with_positional_params_language_and_validity() {
    let upstream = MockServer::start().await;
    expect_messages(
        &upstream,
        json!({"messages": [{
            "from": SENDER, "to": "79034567890",
            "templateId": "welcome-1", "templateParams": {"1": "John", "2": "1234"},
            "languageCode": "ru", "validity": 86400,
            "callbackUrl": CALLBACK_URL,
        }]}),
        accepted("2"),
        1,
    )
    .await;
    let gateway = start_devino(&upstream, "").await;
    let mut request = text_to("79034567890", "");
    request.content = Some(Content::Template(pb::TemplateMessage {
        template_id: "welcome-1".to_owned(),
        values: vec!["John".to_owned(), "1234".to_owned()],
        ..Default::default()
    }));
    request.notify = Some(pb::NotifyOptions {
        language_code: "ru".to_owned(),
        validity: Some(prost_types::Duration {
            seconds: 86_400,
            nanos: 0,
        }),
        ..Default::default()
    });
    gateway
        .messages()
        .await
        .send_message(request)
        .await
        .unwrap();
    gateway.stop().await;
}

#[tokio::test]
async fn without_a_public_webhook_url_no_callback_url_is_sent() {
    let upstream = MockServer::start().await;
    expect_messages(
        &upstream,
        json!({"messages": [{"from": SENDER, "to": "79034567890", "text": "hi"}]}),
        accepted("3"),
        1,
    )
    .await;
    let gateway = TestGateway::start_with(
        &devino_toml(&upstream.uri(), false, ""),
        &devino_env(API_KEY),
    )
    .await;
    let request = text_to("79034567890", "hi");
    gateway
        .messages()
        .await
        .send_message(request)
        .await
        .unwrap();
    gateway.stop().await;
}

#[tokio::test]
async fn basic_authorization_sends_the_login_and_password() {
    let upstream = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/whatsapp/messages"))
        .and(header("authorization", "Basic bG9naW46cGFzcw=="))
        .respond_with(ResponseTemplate::new(200).set_body_json(accepted("4")))
        .expect(1)
        .mount(&upstream)
        .await;
    let gateway = TestGateway::start_with(
        &devino_toml(&upstream.uri(), true, "auth = \"basic\""),
        &devino_env("login:pass"),
    )
    .await;
    let request = text_to("79034567890", "hi");
    gateway
        .messages()
        .await
        .send_message(request)
        .await
        .unwrap();
    gateway.stop().await;
}

#[tokio::test]
async fn a_rejected_message_reports_the_reason_key_and_the_callers_field() {
    let upstream = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/whatsapp/messages"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"result": [{
            "code": "REJECTED",
            "reasons": [{"key": "invalid", "ref": "messages[0].to"}],
            "description": "Wrong phone number is provided",
        }]})))
        .expect(1)
        .mount(&upstream)
        .await;
    let gateway = start_devino(&upstream, "").await;
    let request = text_to("79034567890", "hi");
    let status = gateway
        .messages()
        .await
        .send_message(request)
        .await
        .unwrap_err();
    let failure = failure(&status);
    assert_eq!(failure.code, Code::InvalidArgument);
    assert_eq!(failure.reason, "invalid");
    assert_eq!(failure.domain, "api.devino.online");
    assert_eq!(failure.fields, ["recipient.chat_id"]);
    assert_eq!(failure.metadata["upstreamRef"], "messages[0].to");
    gateway.stop().await;
}

#[tokio::test]
async fn devinos_limits_are_checked_before_anything_is_sent() {
    let upstream = MockServer::start().await;
    let gateway = start_devino(&upstream, "").await;
    let mut messages = gateway.messages().await;
    let long = text_to("79034567890", &"x".repeat(1001));
    let status = messages.send_message(long).await.unwrap_err();
    assert_eq!(failure(&status).fields, ["text"]);
    let mut media = text_to("79034567890", "");
    media.content = Some(Content::Attachment(pb::Attachment {
        url: "https://cdn.example.com/big.mp4".to_owned(),
        mime_type: "video/mp4".to_owned(),
        size_bytes: 6_000_000,
        ..Default::default()
    }));
    let status = messages.send_message(media).await.unwrap_err();
    assert_eq!(failure(&status).fields, ["attachment.size_bytes"]);
    let short_number = text_to("12345", "hi");
    let status = messages.send_message(short_number).await.unwrap_err();
    assert_eq!(failure(&status).fields, ["recipient.chat_id"]);
    let mut unknown_channel = text_to("79034567890", "hi");
    unknown_channel.channel_id = "6f1e3a52-0000-4000-8000-000000000000".to_owned();
    let status = messages.send_message(unknown_channel).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert!(upstream.received_requests().await.unwrap().is_empty());
    gateway.stop().await;
}

#[tokio::test]
async fn a_refused_key_is_an_operator_problem_and_an_unkeyed_5xx_is_not_retried() {
    let upstream = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/whatsapp/messages"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&upstream)
        .await;
    let gateway = start_devino(&upstream, "").await;
    let status = gateway
        .messages()
        .await
        .send_message(text_to("79034567890", "hi"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Internal);
    assert_eq!(failure(&status).reason, "UPSTREAM_CREDENTIALS_REJECTED");
    assert!(!status.message().contains(API_KEY));
    upstream.verify().await;
    upstream.reset().await;
    Mock::given(method("POST"))
        .and(path("/whatsapp/messages"))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&upstream)
        .await;
    let status = gateway
        .messages()
        .await
        .send_message(text_to("79034567890", "hi"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    gateway.stop().await;
}
