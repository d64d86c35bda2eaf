//! Wazzup v3 failures through the real gRPC server: the exact gRPC code and `ErrorInfo.reason`
//! for every mapped upstream answer, and call counts (`expect(n)`) proving what is retried: connect
//! errors and 429 always, 5xx and timeouts only for safe operations and keyed sends, other 4xx
//! never.

mod support;
#[path = "support/wazzup_v3.rs"]
mod wazzup_v3_support;

use std::time::Duration;

use serde_json::json;
use support::TestGateway;
use tonic::Code;
use wazzup_gateway::proto::pb;
use wazzup_v3_support::*;
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Attempts `RetryPolicy::for_test()` makes at most.
const ATTEMPTS: u64 = 3;

async fn send_failure(gateway: &TestGateway, request: pb::SendMessageRequest) -> Failure {
    let status = gateway
        .messages()
        .await
        .send_message(request)
        .await
        .expect_err("the send fails");
    failure(&status)
}

async fn mount_send(upstream: &MockServer, answer: ResponseTemplate, times: u64) {
    Mock::given(method("POST"))
        .and(path("/v3/message"))
        .respond_with(answer)
        .expect(times)
        .mount(upstream)
        .await;
}

#[tokio::test]
async fn every_upstream_error_code_maps_to_its_grpc_code_and_reason() {
    // (HTTP status, upstream code, gRPC code, reason, attempts): a safe operation (delete) is
    // retried only on Unavailable/Timeout classes.
    let table: &[(u16, &str, Code, &str, u64)] = &[
        (
            400,
            "INVALID_MESSAGE_DATA",
            Code::InvalidArgument,
            "INVALID_MESSAGE_DATA",
            1,
        ),
        (
            400,
            "VALIDATION_ERROR",
            Code::InvalidArgument,
            "VALIDATION_ERROR",
            1,
        ),
        (
            400,
            "WRONG_TRANSPORT",
            Code::InvalidArgument,
            "CHAT_TYPE_MISMATCH",
            1,
        ),
        (
            400,
            "MESSAGE_WRONG_CONTENT_TYPE",
            Code::InvalidArgument,
            "MESSAGE_WRONG_CONTENT_TYPE",
            1,
        ),
        (
            400,
            "MESSAGE_ONLY_TEXT_OR_CONTENT",
            Code::InvalidArgument,
            "MESSAGE_ONLY_TEXT_OR_CONTENT",
            1,
        ),
        (
            400,
            "MESSAGES_ONLY_TEXT_OR_CONTENT",
            Code::InvalidArgument,
            "MESSAGES_ONLY_TEXT_OR_CONTENT",
            1,
        ),
        (
            400,
            "MESSAGE_NOTHING_TO_SEND",
            Code::InvalidArgument,
            "MESSAGE_NOTHING_TO_SEND",
            1,
        ),
        (
            400,
            "MESSAGE_TEXT_TOO_LONG",
            Code::InvalidArgument,
            "MESSAGE_TEXT_TOO_LONG",
            1,
        ),
        (
            400,
            "MESSAGES_TOO_LONG_INSTAGRAM",
            Code::InvalidArgument,
            "MESSAGES_TOO_LONG_INSTAGRAM",
            1,
        ),
        (
            400,
            "MESSAGES_TOO_LONG_TELEGRAM",
            Code::InvalidArgument,
            "MESSAGES_TOO_LONG_TELEGRAM",
            1,
        ),
        (
            400,
            "MESSAGES_TOO_LONG_WABA",
            Code::InvalidArgument,
            "MESSAGES_TOO_LONG_WABA",
            1,
        ),
        (
            400,
            "MESSAGES_TOO_LONG_WABA_HEADER",
            Code::InvalidArgument,
            "MESSAGES_TOO_LONG_WABA_HEADER",
            1,
        ),
        (
            400,
            "MESSAGES_TOO_LONG_WABA_TEMPLATE",
            Code::InvalidArgument,
            "MESSAGES_TOO_LONG_WABA_TEMPLATE",
            1,
        ),
        (
            400,
            "MESSAGES_TOO_LONG_VIBER",
            Code::InvalidArgument,
            "MESSAGES_TOO_LONG_VIBER",
            1,
        ),
        (
            400,
            "MESSAGES_UNSUPPORTED_CONTENT_TYPE_INSTAPI",
            Code::InvalidArgument,
            "MESSAGES_UNSUPPORTED_CONTENT_TYPE_INSTAPI",
            1,
        ),
        (
            400,
            "MESSAGES_CONTENT_CAN_NOT_BE_BLANK",
            Code::InvalidArgument,
            "MESSAGES_CONTENT_CAN_NOT_BE_BLANK",
            1,
        ),
        (
            400,
            "MESSAGES_TEXT_CAN_NOT_BE_BLANK",
            Code::InvalidArgument,
            "MESSAGES_TEXT_CAN_NOT_BE_BLANK",
            1,
        ),
        (
            400,
            "MESSAGES_CONTENT_SIZE_EXCEEDED",
            Code::InvalidArgument,
            "MESSAGES_CONTENT_SIZE_EXCEEDED",
            1,
        ),
        (
            400,
            "MESSAGES_CONTENT_SIZE_EXCEEDED_WABA",
            Code::InvalidArgument,
            "MESSAGES_CONTENT_SIZE_EXCEEDED_WABA",
            1,
        ),
        (
            400,
            "MESSAGES_CONTENT_SIZE_EXCEEDED_TELEGRAM",
            Code::InvalidArgument,
            "MESSAGES_CONTENT_SIZE_EXCEEDED_TELEGRAM",
            1,
        ),
        (
            400,
            "MESSAGE_DOWNLOAD_CONTENT_ERROR",
            Code::InvalidArgument,
            "MESSAGE_DOWNLOAD_CONTENT_ERROR",
            1,
        ),
        (
            400,
            "MESSAGES_ABNORMAL_SEND",
            Code::InvalidArgument,
            "MESSAGES_ABNORMAL_SEND",
            1,
        ),
        (
            400,
            "MESSAGES_INVALID_CONTACT_TYPE",
            Code::InvalidArgument,
            "MESSAGES_INVALID_CONTACT_TYPE",
            1,
        ),
        (
            400,
            "TOO_MANY_ENTITIES",
            Code::InvalidArgument,
            "TOO_MANY_ENTITIES",
            1,
        ),
        (
            400,
            "REPEATED_CRM_MESSAGE_ID",
            Code::AlreadyExists,
            "REPEATED_CRM_MESSAGE_ID",
            1,
        ),
        (
            400,
            "repeatedCrmMessageId",
            Code::AlreadyExists,
            "REPEATED_CRM_MESSAGE_ID",
            1,
        ),
        (
            400,
            "BALANCE_IS_EMPTY",
            Code::FailedPrecondition,
            "BALANCE_IS_EMPTY",
            1,
        ),
        (
            400,
            "CHANNEL_BLOCKED",
            Code::FailedPrecondition,
            "CHANNEL_BLOCKED",
            1,
        ),
        (
            400,
            "CHANNEL_WAPI_REJECTED",
            Code::FailedPrecondition,
            "CHANNEL_WAPI_REJECTED",
            1,
        ),
        (
            400,
            "CHANNEL_NO_MONEY",
            Code::FailedPrecondition,
            "CHANNEL_NO_MONEY",
            1,
        ),
        (
            400,
            "CHANNEL_LIMIT_EXCEEDED",
            Code::FailedPrecondition,
            "CHANNEL_LIMIT_EXCEEDED",
            1,
        ),
        (
            400,
            "MESSAGE_CHANNEL_UNAVAILABLE",
            Code::FailedPrecondition,
            "MESSAGE_CHANNEL_UNAVAILABLE",
            1,
        ),
        (
            400,
            "MESSAGES_NOT_TEXT_FIRST",
            Code::FailedPrecondition,
            "MESSAGES_NOT_TEXT_FIRST",
            1,
        ),
        (
            400,
            "MESSAGES_IS_SPAM",
            Code::FailedPrecondition,
            "MESSAGES_IS_SPAM",
            1,
        ),
        (
            400,
            "MESSAGES_EDITING_TIME_EXPIRED",
            Code::FailedPrecondition,
            "MESSAGES_EDITING_TIME_EXPIRED",
            1,
        ),
        (
            400,
            "MESSAGES_DELETION_TIME_EXPIRED",
            Code::FailedPrecondition,
            "MESSAGES_DELETION_TIME_EXPIRED",
            1,
        ),
        (
            400,
            "MESSAGES_CONTAIN_BUTTONS",
            Code::FailedPrecondition,
            "MESSAGES_CONTAIN_BUTTONS",
            1,
        ),
        (
            400,
            "CHANNEL_INVALID_TRANSPORT_FOR_EDITING",
            Code::FailedPrecondition,
            "CHANNEL_INVALID_TRANSPORT_FOR_EDITING",
            1,
        ),
        (
            400,
            "CHANNEL_INVALID_TRANSPORT_FOR_CONTENT_EDITING",
            Code::FailedPrecondition,
            "CHANNEL_INVALID_TRANSPORT_FOR_CONTENT_EDITING",
            1,
        ),
        (
            400,
            "CHANNEL_INVALID_TRANSPORT_FOR_DELETION",
            Code::FailedPrecondition,
            "CHANNEL_INVALID_TRANSPORT_FOR_DELETION",
            1,
        ),
        (
            400,
            "TEMPLATE_REJECTED",
            Code::FailedPrecondition,
            "TEMPLATE_REJECTED",
            1,
        ),
        (
            400,
            "BAD_CONTACT",
            Code::FailedPrecondition,
            "BAD_CONTACT",
            1,
        ),
        (
            400,
            "CHANNEL_NOT_FOUND",
            Code::NotFound,
            "CHANNEL_NOT_FOUND",
            1,
        ),
        (
            400,
            "REFERENCE_MESSAGE_NOT_FOUND",
            Code::NotFound,
            "MESSAGE_NOT_FOUND",
            1,
        ),
        (
            404,
            "MESSAGES_NOT_FOUND",
            Code::NotFound,
            "MESSAGE_NOT_FOUND",
            1,
        ),
        (
            403,
            "CHAT_NO_ACCESS",
            Code::PermissionDenied,
            "CHAT_NO_ACCESS",
            1,
        ),
        (
            403,
            "FORBIDDEN",
            Code::FailedPrecondition,
            "UPSTREAM_KEY_NOT_ALLOWED",
            1,
        ),
        (
            401,
            "UNAUTHORIZED",
            Code::Internal,
            "UPSTREAM_CREDENTIALS_REJECTED",
            1,
        ),
        // Not UNAVAILABLE: nothing says a repeat helps, so not even a safe delete is retried.
        (
            400,
            "MESSAGES_CAN_NOT_ADD",
            Code::Internal,
            "MESSAGES_CAN_NOT_ADD",
            1,
        ),
        (500, "UNKNOWN_ERROR", Code::Unknown, "UNKNOWN_ERROR", 1),
        (
            400,
            "UNKNOWN_ERROR_WITH_TRACE_ID",
            Code::Unknown,
            "UNKNOWN_ERROR_WITH_TRACE_ID",
            1,
        ),
        (500, "", Code::Unavailable, "UPSTREAM_UNAVAILABLE", ATTEMPTS),
        (503, "", Code::Unavailable, "UPSTREAM_UNAVAILABLE", ATTEMPTS),
        (
            504,
            "",
            Code::DeadlineExceeded,
            "UPSTREAM_TIMEOUT",
            ATTEMPTS,
        ),
        (404, "", Code::NotFound, "MESSAGE_NOT_FOUND", 1),
    ];
    let upstream = MockServer::start().await;
    for (index, (status, code, ..)) in table.iter().enumerate() {
        let body = if code.is_empty() {
            json!({})
        } else {
            json!({"status": status, "requestId": format!("req-{index}"), "error": code,
                   "description": "described upstream"})
        };
        Mock::given(method("DELETE"))
            .and(path(format!("/v3/message/m-{index}")))
            .respond_with(ResponseTemplate::new(*status).set_body_json(body))
            .expect(table[index].4)
            .mount(&upstream)
            .await;
    }
    let gateway = start_v3(&upstream).await;
    let mut messages = gateway.messages().await;

    for (index, (status, code, grpc_code, reason, _)) in table.iter().enumerate() {
        let refused = messages
            .delete_message(pb::DeleteMessageRequest {
                message_id: format!("m-{index}"),
                ..Default::default()
            })
            .await
            .expect_err("refused");
        let failure = failure(&refused);
        assert_eq!(
            (failure.code, failure.reason.as_str()),
            (*grpc_code, *reason),
            "{status} {code}"
        );
        assert_eq!(failure.metadata["httpStatus"], status.to_string(), "{code}");
        assert_eq!(failure.metadata["account"], ACCOUNT, "{code}");
        if !code.is_empty() {
            assert_eq!(failure.metadata["upstreamCode"], *code);
            assert_eq!(
                failure.metadata["upstreamRequestId"],
                format!("req-{index}")
            );
        }
        // The gateway's own reasons (one per situation, whichever account answers) carry its
        // domain; the upstream's codes passed through carry the upstream's.
        let gateway_reason = reason.starts_with("UPSTREAM_")
            || ["CHAT_TYPE_MISMATCH", "MESSAGE_NOT_FOUND"].contains(reason);
        let expected_domain = if gateway_reason {
            "wazzup-gateway"
        } else {
            "api.wazzup24.com"
        };
        assert_eq!(failure.domain, expected_domain, "{code}");
        if *reason == "MESSAGE_NOT_FOUND" {
            assert_eq!(
                failure.metadata["messageId"],
                format!("m-{index}"),
                "{code}"
            );
        }
    }
    gateway.stop().await;
}

#[tokio::test]
async fn invalid_message_data_names_the_fields_in_a_bad_request() {
    let upstream = MockServer::start().await;
    mount_channels(&upstream).await;
    mount_send(
        &upstream,
        ResponseTemplate::new(400).set_body_json(json!({
            "status": 400, "requestId": "7ca68797d127735e72b066b0080e2cc0",
            "error": "INVALID_MESSAGE_DATA", "description": "Message data is invalid",
            "data": {"fields": ["channelId", "chatId"]}
        })),
        1,
    )
    .await;
    let gateway = start_v3(&upstream).await;

    let failure = send_failure(&gateway, keyed(whatsapp_text("79011112233", "hi"), "k-1")).await;

    assert_eq!(
        (failure.code, failure.reason.as_str()),
        (Code::InvalidArgument, "INVALID_MESSAGE_DATA")
    );
    assert_eq!(failure.domain, "api.wazzup24.com");
    assert_eq!(failure.fields, ["channel_id", "recipient.chat_id"]);
    assert_eq!(
        failure.metadata["upstreamRequestId"],
        "7ca68797d127735e72b066b0080e2cc0"
    );
    assert!(failure.message.contains("Message data is invalid"));
    gateway.stop().await;
}

#[tokio::test]
async fn a_rate_limited_send_is_retried_then_reports_retry_info() {
    let upstream = MockServer::start().await;
    mount_channels(&upstream).await;
    mount_send(&upstream, ResponseTemplate::new(429), ATTEMPTS).await;
    let gateway = start_v3(&upstream).await;

    let failure = send_failure(&gateway, whatsapp_text("79011112233", "hi")).await;

    assert_eq!(
        (failure.code, failure.reason.as_str()),
        (Code::ResourceExhausted, "UPSTREAM_RATE_LIMITED")
    );
    assert_eq!(
        failure.retry_after,
        Some(Duration::from_millis(5)),
        "the configured fallback"
    );
    let metrics = gateway.admin_get("/metrics").await.1;
    for attempt in 1..=ATTEMPTS {
        let line = format!(
            "upstream_requests_total{{account=\"{ACCOUNT}\",method=\"POST\",route=\"/v3/message\",status=\"429\",attempt=\"{attempt}\"}} 1"
        );
        assert!(
            metrics.lines().any(|rendered| rendered == line),
            "{line}\n{metrics}"
        );
    }
    let latency = format!(
        "upstream_request_seconds_count{{account=\"{ACCOUNT}\",method=\"POST\",route=\"/v3/message\",status=\"429\"}} {ATTEMPTS}"
    );
    assert!(
        metrics.lines().any(|rendered| rendered == latency),
        "{latency}\n{metrics}"
    );
    gateway.stop().await;
}

#[tokio::test]
async fn a_long_retry_after_is_passed_to_the_caller_without_waiting() {
    let upstream = MockServer::start().await;
    mount_channels(&upstream).await;
    mount_send(
        &upstream,
        ResponseTemplate::new(429).insert_header("retry-after", "7"),
        1,
    )
    .await;
    let gateway = start_v3(&upstream).await;

    let failure = send_failure(&gateway, whatsapp_text("79011112233", "hi")).await;

    assert_eq!(failure.code, Code::ResourceExhausted);
    assert_eq!(failure.retry_after, Some(Duration::from_secs(7)));
    assert_eq!(failure.metadata["retryAfterMs"], "7000");
    gateway.stop().await;
}

#[tokio::test]
async fn an_unkeyed_send_answered_5xx_is_not_retried() {
    let upstream = MockServer::start().await;
    mount_channels(&upstream).await;
    mount_send(&upstream, ResponseTemplate::new(502), 1).await;
    let gateway = start_v3(&upstream).await;

    let failure = send_failure(&gateway, whatsapp_text("79011112233", "hi")).await;

    assert_eq!(
        (failure.code, failure.reason.as_str()),
        (Code::Unavailable, "UPSTREAM_UNAVAILABLE")
    );
    gateway.stop().await;
}

#[tokio::test]
async fn a_keyed_send_answered_5xx_is_retried_with_the_same_crm_message_id() {
    let upstream = MockServer::start().await;
    mount_channels(&upstream).await;
    Mock::given(method("POST"))
        .and(path("/v3/message"))
        .and(body_json(
            json!({"channelId": WHATSAPP, "chatType": "whatsapp", "chatId": "79011112233",
                              "text": "hi", "crmMessageId": "order-7"}),
        ))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .expect(1)
        .mount(&upstream)
        .await;
    Mock::given(method("POST"))
        .and(path("/v3/message"))
        .and(body_json(
            json!({"channelId": WHATSAPP, "chatType": "whatsapp", "chatId": "79011112233",
                              "text": "hi", "crmMessageId": "order-7"}),
        ))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"messageId": "m-7", "chatId": "79011112233"})),
        )
        .expect(1)
        .mount(&upstream)
        .await;
    let gateway = start_v3(&upstream).await;

    let sent = gateway
        .messages()
        .await
        .send_message(keyed(whatsapp_text("79011112233", "hi"), "order-7"))
        .await
        .expect("the retry succeeds")
        .into_inner();

    assert_eq!(sent.message_id, "m-7");
    gateway.stop().await;
}

#[tokio::test]
async fn a_retry_refused_as_repeated_reports_that_an_earlier_attempt_went_through() {
    let upstream = MockServer::start().await;
    mount_channels(&upstream).await;
    Mock::given(method("POST"))
        .and(path("/v3/message"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .expect(1)
        .mount(&upstream)
        .await;
    Mock::given(method("POST"))
        .and(path("/v3/message"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "status": 400, "requestId": "c1005276e8a2b5aa23fcc94407d39f49",
            "error": "REPEATED_CRM_MESSAGE_ID",
            "description": "You have already sent message with same crmMessageId",
            "data": {"crmMessageId": "order-8"}
        })))
        .expect(1)
        .mount(&upstream)
        .await;
    let gateway = start_v3(&upstream).await;

    let failure = send_failure(
        &gateway,
        keyed(whatsapp_text("79011112233", "hi"), "order-8"),
    )
    .await;

    assert_eq!(
        (failure.code, failure.reason.as_str()),
        (Code::AlreadyExists, "REPEATED_CRM_MESSAGE_ID")
    );
    assert_eq!(failure.domain, "wazzup-gateway");
    assert_eq!(failure.metadata["crmMessageId"], "order-8");
    assert_eq!(failure.metadata["earlierAttemptAccepted"], "true");
    assert_eq!(
        failure.metadata["upstreamRequestId"],
        "c1005276e8a2b5aa23fcc94407d39f49"
    );
    gateway.stop().await;
}

#[tokio::test]
async fn timeouts_are_retried_for_keyed_sends_only() {
    let upstream = MockServer::start().await;
    mount_channels(&upstream).await;
    let slow = ResponseTemplate::new(201)
        .set_body_json(json!({"messageId": "m", "chatId": "79011112233"}))
        .set_delay(Duration::from_secs(2));
    Mock::given(method("POST"))
        .and(path("/v3/message"))
        .and(body_json(
            json!({"channelId": WHATSAPP, "chatType": "whatsapp",
                              "chatId": "79011112233", "text": "unkeyed"}),
        ))
        .respond_with(slow.clone())
        .expect(1)
        .mount(&upstream)
        .await;
    Mock::given(method("POST"))
        .and(path("/v3/message"))
        .and(body_json(
            json!({"channelId": WHATSAPP, "chatType": "whatsapp",
                              "chatId": "79011112233", "text": "keyed", "crmMessageId": "k-9"}),
        ))
        .respond_with(slow)
        .expect(ATTEMPTS)
        .mount(&upstream)
        .await;
    let gateway = start_v3_with(
        &upstream.uri(),
        "[accounts.limits]\nrequest_timeout = \"200ms\"\n",
    )
    .await;

    let unkeyed = send_failure(&gateway, whatsapp_text("79011112233", "unkeyed")).await;
    let keyed_failure = send_failure(
        &gateway,
        keyed(whatsapp_text("79011112233", "keyed"), "k-9"),
    )
    .await;

    for failure in [unkeyed, keyed_failure] {
        assert_eq!(
            (failure.code, failure.reason.as_str()),
            (Code::DeadlineExceeded, "UPSTREAM_TIMEOUT")
        );
        assert!(
            failure.message.contains("outcome is unknown"),
            "{}",
            failure.message
        );
    }
    gateway.stop().await;
}

#[tokio::test]
async fn an_unreachable_upstream_is_unavailable() {
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = closed.local_addr().expect("address");
    drop(closed);
    let gateway = start_v3_with(&format!("http://{address}"), "").await;

    let status = gateway
        .channels()
        .await
        .list_channels(pb::ListChannelsRequest::default())
        .await
        .expect_err("unreachable");

    let failure = failure(&status);
    assert_eq!(
        (failure.code, failure.reason.as_str()),
        (Code::Unavailable, "UPSTREAM_UNAVAILABLE")
    );
    gateway.stop().await;
}

#[tokio::test]
async fn an_undecodable_success_is_a_changed_contract_and_not_retried() {
    let upstream = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/channels"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>maintenance</html>"))
        .expect(1)
        .mount(&upstream)
        .await;
    let gateway = start_v3(&upstream).await;

    let status = gateway
        .channels()
        .await
        .list_channels(pb::ListChannelsRequest::default())
        .await
        .expect_err("undecodable");

    let failure = failure(&status);
    assert_eq!(
        (failure.code, failure.reason.as_str()),
        (Code::Internal, "UPSTREAM_CONTRACT_CHANGED")
    );
    assert!(
        !failure.message.contains("maintenance"),
        "no upstream body in messages"
    );
    gateway.stop().await;
}

#[tokio::test]
async fn a_rejected_key_is_reported_as_the_gateways_problem_without_the_key() {
    let upstream = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/channels"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": "UNAUTHORIZED"})))
        .expect(1)
        .mount(&upstream)
        .await;
    let gateway = start_v3(&upstream).await;

    let status = gateway
        .channels()
        .await
        .list_channels(pb::ListChannelsRequest::default())
        .await
        .expect_err("rejected key");

    let failure = failure(&status);
    assert_eq!(
        (failure.code, failure.reason.as_str()),
        (Code::Internal, "UPSTREAM_CREDENTIALS_REJECTED")
    );
    assert!(!format!("{failure:?}").contains(API_KEY));
    gateway.stop().await;
}

#[tokio::test]
async fn a_rejected_key_shows_in_readiness_and_metrics_until_the_upstream_accepts_it_again() {
    let upstream = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/channels"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": "UNAUTHORIZED"})))
        .up_to_n_times(1)
        .mount(&upstream)
        .await;
    mount_channels(&upstream).await;
    let gateway = start_v3(&upstream).await;
    let list = || async {
        gateway
            .channels()
            .await
            .list_channels(pb::ListChannelsRequest::default())
            .await
    };
    let gauge = format!("upstream_credentials_rejected{{account=\"{ACCOUNT}\"}}");

    let before = gateway.admin_get("/metrics").await.1;
    list().await.expect_err("rejected key");
    let (ready_status, ready_body) = gateway.admin_get("/readyz").await;
    let rejected = gateway.admin_get("/metrics").await.1;
    list().await.expect("the key is accepted again");
    let (_, ready_again) = gateway.admin_get("/readyz").await;
    let accepted = gateway.admin_get("/metrics").await.1;

    assert!(before.contains(&format!("{gauge} 0")), "{before}");
    assert_eq!(ready_status, 200, "other accounts still serve");
    assert!(
        ready_body.contains(&format!(
            "account {ACCOUNT}: upstream refuses its credentials"
        )),
        "{ready_body}"
    );
    assert!(rejected.contains(&format!("{gauge} 1")), "{rejected}");
    assert_eq!(ready_again, "ready\n");
    assert!(accepted.contains(&format!("{gauge} 0")), "{accepted}");
    gateway.stop().await;
}

#[tokio::test]
async fn invalid_sends_are_refused_before_any_upstream_call() {
    let upstream = MockServer::start().await;
    mount_channels(&upstream).await;
    mount_send(&upstream, ResponseTemplate::new(201), 0).await;
    let gateway = start_v3(&upstream).await;
    let mut wrong_chat_type = whatsapp_text("79011112233", "hi");
    wrong_chat_type
        .recipient
        .as_mut()
        .expect("recipient")
        .chat_type = pb::ChatType::Vk.into();
    let mut other_chat_type = whatsapp_text("79011112233", "hi");
    other_chat_type
        .recipient
        .as_mut()
        .expect("recipient")
        .chat_type = pb::ChatType::Other.into();
    let mut inactive = whatsapp_text("79011112233", "hi");
    inactive.channel_id = WHATSAPP_QR.to_owned();
    let mut resize = whatsapp_text("123", "hi");
    resize.channel_id = TELEGRAM_BOT.to_owned();
    resize.recipient.as_mut().expect("recipient").chat_type = pb::ChatType::Telegram.into();
    resize.keyboard = Some(pb::Keyboard {
        kind: Some(pb::keyboard::Kind::Telegram(pb::TelegramKeyboard {
            markup: pb::TelegramMarkup::Reply.into(),
            rows: vec![pb::TelegramRow {
                buttons: vec![pb::TelegramButton {
                    text: "A".to_owned(),
                    ..Default::default()
                }],
            }],
            resize: true,
            ..Default::default()
        })),
    });

    let cases = [
        (
            whatsapp_text("12", "hi"),
            Code::InvalidArgument,
            "INVALID_REQUEST",
            "recipient.chat_id",
        ),
        (
            wrong_chat_type,
            Code::InvalidArgument,
            "CHAT_TYPE_MISMATCH",
            "recipient.chat_type",
        ),
        (
            other_chat_type,
            Code::InvalidArgument,
            "INVALID_REQUEST",
            "recipient.chat_type",
        ),
        (inactive, Code::FailedPrecondition, "CHANNEL_NOT_ACTIVE", ""),
        (
            resize,
            Code::InvalidArgument,
            "INVALID_REQUEST",
            "keyboard.telegram.resize",
        ),
    ];
    for (request, code, reason, field) in cases {
        let failure = send_failure(&gateway, request).await;
        assert_eq!(
            (failure.code, failure.reason.as_str()),
            (code, reason),
            "{field}"
        );
        if !field.is_empty() {
            assert!(
                failure.fields.iter().any(|f| f == field),
                "{:?}",
                failure.fields
            );
        }
    }
    gateway.stop().await;
}

#[tokio::test]
async fn the_accounts_rate_limit_is_enforced_in_the_gateway() {
    let upstream = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/channels"))
        .respond_with(ResponseTemplate::new(200).set_body_json(channel_list()))
        .expect(2)
        .mount(&upstream)
        .await;
    let gateway = start_v3_with(
        &upstream.uri(),
        "[accounts.limits]\nrequests_per_window = 2\nrate_window = \"600s\"\n",
    )
    .await;
    let mut channels = gateway.channels().await;

    for _ in 0..2 {
        channels
            .list_channels(pb::ListChannelsRequest::default())
            .await
            .expect("within the limit");
    }
    let status = channels
        .list_channels(pb::ListChannelsRequest::default())
        .await
        .expect_err("over the limit");

    let failure = failure(&status);
    assert_eq!(
        (failure.code, failure.reason.as_str()),
        (Code::ResourceExhausted, "UPSTREAM_RATE_LIMITED")
    );
    assert!(
        failure
            .retry_after
            .is_some_and(|delay| delay > Duration::from_secs(20))
    );
    let metrics = gateway.admin_get("/metrics").await.1;
    for line in [
        format!("upstream_rate_limiter_refusals_total{{account=\"{ACCOUNT}\"}} 1"),
        format!(
            "upstream_requests_total{{account=\"{ACCOUNT}\",method=\"GET\",route=\"/v3/channels\",status=\"200\",attempt=\"1\"}} 2"
        ),
    ] {
        assert!(
            metrics.lines().any(|rendered| rendered == line),
            "{line}\n{metrics}"
        );
    }
    gateway.stop().await;
}
