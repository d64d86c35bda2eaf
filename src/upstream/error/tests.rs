use std::time::Duration;

use serde_json::json;

use super::*;
use crate::failure::ErrorClass::{
    AlreadyExists, FailedPrecondition, Internal, InvalidArgument, NotFound, PermissionDenied,
    RateLimited, Timeout, Unavailable, Unknown,
};

fn rejection(status: u16, body: serde_json::Value) -> Rejection {
    let body: ErrorBody = serde_json::from_value(body).expect("error body");
    Rejection::from_answer(status, &body, Some(Duration::from_secs(3)), UPSTREAM_DOMAIN)
}

#[test]
fn every_documented_upstream_code_has_its_class() {
    let table: &[(u16, &str, ErrorClass)] = &[
        (400, "INVALID_MESSAGE_DATA", InvalidArgument),
        (400, "VALIDATION_ERROR", InvalidArgument),
        (400, "MESSAGE_WRONG_CONTENT_TYPE", InvalidArgument),
        (400, "MESSAGE_ONLY_TEXT_OR_CONTENT", InvalidArgument),
        (400, "MESSAGES_ONLY_TEXT_OR_CONTENT", InvalidArgument),
        (400, "MESSAGE_NOTHING_TO_SEND", InvalidArgument),
        (400, "MESSAGE_TEXT_TOO_LONG", InvalidArgument),
        (400, "MESSAGES_TOO_LONG_INSTAGRAM", InvalidArgument),
        (400, "MESSAGES_TOO_LONG_TELEGRAM", InvalidArgument),
        (400, "MESSAGES_TOO_LONG_WABA", InvalidArgument),
        (400, "MESSAGES_TOO_LONG_WABA_HEADER", InvalidArgument),
        (400, "MESSAGES_TOO_LONG_WABA_TEMPLATE", InvalidArgument),
        (400, "MESSAGES_TOO_LONG_VIBER", InvalidArgument),
        (400, "MESSAGES_TOO_LONG_VK", InvalidArgument),
        (400, "MESSAGES_TOO_LONG_AVITO", InvalidArgument),
        (
            400,
            "MESSAGES_UNSUPPORTED_CONTENT_TYPE_INSTAPI",
            InvalidArgument,
        ),
        (400, "MESSAGES_CONTENT_CAN_NOT_BE_BLANK", InvalidArgument),
        (400, "MESSAGE_CONTENT_CAN_NOT_BE_BLANK", InvalidArgument),
        (400, "MESSAGES_TEXT_CAN_NOT_BE_BLANK", InvalidArgument),
        (400, "MESSAGE_TEXT_CAN_NOT_BE_BLANK", InvalidArgument),
        (400, "MESSAGES_CONTENT_SIZE_EXCEEDED", InvalidArgument),
        (400, "MESSAGES_CONTENT_SIZE_EXCEEDED_WABA", InvalidArgument),
        (
            400,
            "MESSAGES_CONTENT_SIZE_EXCEEDED_TELEGRAM",
            InvalidArgument,
        ),
        (400, "MESSAGE_CONTENT_SIZE_EXCEEDED", InvalidArgument),
        (400, "MESSAGE_DOWNLOAD_CONTENT_ERROR", InvalidArgument),
        (400, "MESSAGES_ABNORMAL_SEND", InvalidArgument),
        (400, "MESSAGES_INVALID_CONTACT_TYPE", InvalidArgument),
        (400, "CHAT_WRONG_CHAT_TYPE", InvalidArgument),
        (400, "CHAT_MISSING_CHAT_TYPE", InvalidArgument),
        (400, "CHAT_MISSING_CHAT_ID", InvalidArgument),
        (400, "TOO_MANY_ENTITIES", InvalidArgument),
        (400, "uriNotValid", InvalidArgument),
        (400, "REPEATED_CRM_MESSAGE_ID", AlreadyExists),
        (400, "repeatedCrmMessageId", AlreadyExists),
        (400, "BALANCE_IS_EMPTY", FailedPrecondition),
        (400, "CHANNEL_BLOCKED", FailedPrecondition),
        (400, "CHANNEL_WAPI_REJECTED", FailedPrecondition),
        (400, "CHANNEL_NO_MONEY", FailedPrecondition),
        (400, "CHANNEL_LIMIT_EXCEEDED", FailedPrecondition),
        (
            400,
            "CHANNEL_INVALID_TRANSPORT_FOR_EDITING",
            FailedPrecondition,
        ),
        (
            400,
            "CHANNEL_INVALID_TRANSPORT_FOR_CONTENT_EDITING",
            FailedPrecondition,
        ),
        (
            400,
            "CHANNEL_INVALID_TRANSPORT_FOR_DELETION",
            FailedPrecondition,
        ),
        (400, "MESSAGE_CHANNEL_UNAVAILABLE", FailedPrecondition),
        (400, "MESSAGES_NOT_TEXT_FIRST", FailedPrecondition),
        (400, "MESSAGES_IS_SPAM", FailedPrecondition),
        (400, "MESSAGES_EDITING_TIME_EXPIRED", FailedPrecondition),
        (400, "MESSAGES_DELETION_TIME_EXPIRED", FailedPrecondition),
        (400, "MESSAGES_CONTAIN_BUTTONS", FailedPrecondition),
        (400, "TEMPLATE_REJECTED", FailedPrecondition),
        (400, "BAD_CONTACT", FailedPrecondition),
        (400, "testPostNotPassed", FailedPrecondition),
        (400, "CHANNEL_NOT_FOUND", NotFound),
        (404, "CHANNEL_NOT_FOUND", NotFound),
        (400, "ACCOUNT_NOT_FOUND", NotFound),
        (400, "CONTACT_NOT_FOUND", NotFound),
        (400, "CONTACT_DETAIL_NOT_FOUND", NotFound),
        (403, "CHAT_NO_ACCESS", PermissionDenied),
        (400, "CHAT_NO_ACCESS", PermissionDenied),
        (400, "MESSAGES_CAN_NOT_ADD", Internal),
        (500, "MESSAGES_CAN_NOT_ADD", Internal),
        (400, "UNKNOWN_ERROR", Unknown),
        (500, "UNKNOWN_ERROR", Unknown),
        (400, "UNKNOWN_ERROR_WITH_TRACE_ID", Unknown),
        (400, "SOMETHING_NEW", InvalidArgument),
        (409, "SOMETHING_NEW", FailedPrecondition),
        (502, "SOMETHING_NEW", Unavailable),
        (504, "SOMETHING_NEW", Timeout),
    ];
    for (status, code, class) in table {
        let answer = rejection(*status, json!({ "error": code }));
        assert_eq!(answer.class, *class, "{status} {code}");
        assert_eq!(answer.code, upper_snake(code), "{status} {code}");
        assert_eq!(answer.domain, UPSTREAM_DOMAIN, "{status} {code}");
    }
}

#[test]
fn statuses_decide_where_the_gateway_has_its_own_reason() {
    let table: &[(u16, Option<&str>, ErrorClass, &str)] = &[
        (401, None, Internal, "UPSTREAM_CREDENTIALS_REJECTED"),
        (
            401,
            Some("UNAUTHORIZED"),
            Internal,
            "UPSTREAM_CREDENTIALS_REJECTED",
        ),
        (403, None, FailedPrecondition, "UPSTREAM_KEY_NOT_ALLOWED"),
        (
            403,
            Some("FORBIDDEN"),
            FailedPrecondition,
            "UPSTREAM_KEY_NOT_ALLOWED",
        ),
        (429, None, RateLimited, "UPSTREAM_RATE_LIMITED"),
        (
            429,
            Some("TOO_MANY_REQUESTS"),
            RateLimited,
            "UPSTREAM_RATE_LIMITED",
        ),
        (408, None, Timeout, "UPSTREAM_TIMEOUT"),
        (504, None, Timeout, "UPSTREAM_TIMEOUT"),
        (500, None, Unavailable, "UPSTREAM_UNAVAILABLE"),
        (502, None, Unavailable, "UPSTREAM_UNAVAILABLE"),
        (503, None, Unavailable, "UPSTREAM_UNAVAILABLE"),
        (400, None, InvalidArgument, "UPSTREAM_REJECTED"),
        (404, None, NotFound, "UPSTREAM_REJECTED"),
        (409, None, FailedPrecondition, "UPSTREAM_REJECTED"),
        (302, None, Internal, "UPSTREAM_REJECTED"),
        // One reason per situation, whichever account answers (the upstream code stays in
        // `upstreamCode`).
        (
            400,
            Some("WRONG_TRANSPORT"),
            InvalidArgument,
            "CHAT_TYPE_MISMATCH",
        ),
        (
            400,
            Some("wrongTransport"),
            InvalidArgument,
            "CHAT_TYPE_MISMATCH",
        ),
        (
            404,
            Some("MESSAGES_NOT_FOUND"),
            NotFound,
            "MESSAGE_NOT_FOUND",
        ),
        (
            400,
            Some("MESSAGE_NOT_FOUND"),
            NotFound,
            "MESSAGE_NOT_FOUND",
        ),
        (
            400,
            Some("REFERENCE_MESSAGE_NOT_FOUND"),
            NotFound,
            "MESSAGE_NOT_FOUND",
        ),
    ];
    for (status, code, class, reason) in table {
        let body = json!({ "error": code });
        let answer = rejection(*status, body);
        assert_eq!(
            (answer.class, answer.code.as_str(), answer.domain),
            (*class, *reason, crate::failure::ERROR_DOMAIN),
            "{status} {code:?}"
        );
    }
}

#[test]
fn codes_compare_case_and_underscore_insensitively() {
    assert_eq!(code_key("repeatedCrmMessageId"), "REPEATEDCRMMESSAGEID");
    assert_eq!(code_key("REPEATED_CRM_MESSAGE_ID"), "REPEATEDCRMMESSAGEID");
    assert_eq!(
        upper_snake("repeatedCrmMessageId"),
        "REPEATED_CRM_MESSAGE_ID"
    );
    assert_eq!(upper_snake("uriNotValid"), "URI_NOT_VALID");
    assert_eq!(upper_snake("24_HOURS_EXCEEDED"), "24_HOURS_EXCEEDED");
    assert_eq!(upper_snake(&"a".repeat(100)).len(), 63);
}

#[test]
fn metadata_names_the_request_the_status_and_scalar_data() {
    let answer = rejection(
        400,
        json!({
            "status": 400,
            "requestId": "21a9be7692d378b0270e7fc1d993381a",
            "error": "WRONG_TRANSPORT",
            "description": "You can't send message to vk chat from whatsapp transport",
            "data": {
                "channelId": "dffa1c7b-6db8-4b8f-b559-91166aba879e",
                "transport": "whatsapp",
                "chatType": "vk",
                "nested": { "ignored": true }
            }
        }),
    );

    let metadata: std::collections::HashMap<_, _> = answer.metadata.into_iter().collect();
    assert_eq!(metadata["httpStatus"], "400");
    assert_eq!(metadata["upstreamCode"], "WRONG_TRANSPORT");
    assert_eq!(
        metadata["upstreamRequestId"],
        "21a9be7692d378b0270e7fc1d993381a"
    );
    assert_eq!(
        metadata["channelId"],
        "dffa1c7b-6db8-4b8f-b559-91166aba879e"
    );
    assert_eq!(metadata["chatType"], "vk");
    assert!(!metadata.contains_key("nested"));
    assert_eq!(answer.retry_after, None, "only 429 carries RetryInfo");
}

#[test]
fn data_fields_become_field_violations_on_request_paths() {
    let answer = rejection(
        400,
        json!({
            "error": "INVALID_MESSAGE_DATA",
            "description": "Message data is invalid",
            "data": { "fields": ["channelId", "chatId", "somethingNew"] }
        }),
    );

    let fields: Vec<_> = answer.fields.iter().map(|v| v.field.as_str()).collect();
    assert_eq!(fields, ["channel_id", "recipient.chat_id", "somethingNew"]);
    assert!(
        answer.fields[0]
            .description
            .contains("Message data is invalid")
    );
}

#[test]
fn empty_and_foreign_bodies_still_classify_by_status() {
    assert_eq!(ErrorBody::parse(b""), ErrorBody::default());
    assert_eq!(
        ErrorBody::parse(b"<html>bad gateway</html>"),
        ErrorBody::default()
    );
    assert_eq!(ErrorBody::parse(b"{\"error\": 42}").code(), Some("42"));
    let answer = Rejection::from_answer(
        429,
        &ErrorBody::default(),
        Some(Duration::from_secs(3)),
        UPSTREAM_DOMAIN,
    );
    assert_eq!(answer.retry_after, Some(Duration::from_secs(3)));
}

#[test]
fn the_tech_more_than_one_content_sentence_is_a_caller_error_in_any_envelope() {
    let bodies: [&[u8]; 4] = [
        br#"{"error": "Cannot provide more than one of text, attachment or template"}"#,
        br#"{"error": "VALIDATION", "description": "Cannot provide more than one of text, attachment or template"}"#,
        br#"{"message": "Cannot provide more than one of text, attachment or template"}"#,
        b"Cannot provide more than one of text, attachment or template",
    ];
    for body in bodies {
        let parsed = ErrorBody::parse(body);
        let answer = Rejection::from_answer(400, &parsed, None, TECH_UPSTREAM_DOMAIN);
        let shown = String::from_utf8_lossy(body);
        assert_eq!(answer.class, InvalidArgument, "{shown}");
        assert_eq!(answer.domain, TECH_UPSTREAM_DOMAIN, "{shown}");
        assert!(
            answer.description.contains("more than one of text"),
            "{shown}"
        );
    }
    let plain = ErrorBody::parse(b"Cannot provide more than one of text, attachment or template");
    assert_eq!(plain.code(), Some("MESSAGES_ONLY_TEXT_OR_CONTENT"));
}

#[test]
fn each_dialect_names_its_own_upstream_domain() {
    assert_eq!(upstream_domain(Dialect::WazzupV3), UPSTREAM_DOMAIN);
    assert_eq!(upstream_domain(Dialect::WazzupTech), "tech.wazzup24.com");
}

#[test]
fn a_missing_message_of_an_edit_or_delete_is_named_as_the_sandbox_names_it() {
    let sandbox = UpstreamError::MessageNotFound {
        message_id: "m-1".to_owned(),
    };
    for answer in [
        rejection(
            400,
            json!({"error": "MESSAGES_NOT_FOUND", "requestId": "r-1"}),
        ),
        rejection(404, json!({})),
    ] {
        let upstream = UpstreamError::Rejected(Box::new(answer)).about_message("m-1");
        assert_eq!(
            (upstream.class(), upstream.reason(), upstream.domain()),
            (sandbox.class(), sandbox.reason(), sandbox.domain())
        );
        let metadata: std::collections::HashMap<_, _> = upstream.metadata().into_iter().collect();
        assert_eq!(metadata["messageId"], "m-1");
    }
    let other = UpstreamError::Rejected(Box::new(rejection(
        400,
        json!({"error": "MESSAGES_EDITING_TIME_EXPIRED"}),
    )))
    .about_message("m-1");
    assert_eq!(other.reason(), "MESSAGES_EDITING_TIME_EXPIRED");
    assert!(!other.metadata().iter().any(|(key, _)| key == "messageId"));
}

#[test]
fn a_chat_type_or_keyboard_that_does_not_fit_the_channel_is_a_chat_type_mismatch() {
    use crate::model::{Channel, ChannelState, ChatType, Transport};
    let channel = Channel {
        account: "main".to_owned(),
        channel_id: "ch-1".to_owned(),
        transport: Transport::Whatsapp,
        transport_raw: "whatsapp".to_owned(),
        plain_id: String::new(),
        state: ChannelState::Active,
        state_raw: "active".to_owned(),
        provider: "wazzup_v3".to_owned(),
    };
    let violation = |field: &str| FieldViolation {
        field: field.to_owned(),
        description: "does not fit".to_owned(),
    };
    let invalid = |fields: &[&str]| ValidationError(fields.iter().map(|f| violation(f)).collect());

    let mismatch = UpstreamError::for_channel(
        invalid(&["recipient.chat_type", "text"]),
        &channel,
        Some(ChatType::Telegram),
    );
    assert_eq!(
        (mismatch.class(), mismatch.reason(), mismatch.domain()),
        (InvalidArgument, "CHAT_TYPE_MISMATCH", "wazzup-gateway")
    );
    let metadata: std::collections::HashMap<_, _> = mismatch.metadata().into_iter().collect();
    assert_eq!(
        (
            metadata["channelId"].as_str(),
            metadata["transport"].as_str(),
            metadata["chatType"].as_str()
        ),
        ("ch-1", "whatsapp", "telegram")
    );
    assert_eq!(mismatch.field_violations().len(), 2);
    let keyboard = UpstreamError::for_channel(invalid(&["keyboard"]), &channel, None);
    assert_eq!(keyboard.reason(), "CHAT_TYPE_MISMATCH");
    let too_long = UpstreamError::for_channel(invalid(&["text"]), &channel, None);
    assert_eq!(too_long.reason(), "INVALID_REQUEST");
}
