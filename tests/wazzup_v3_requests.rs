//! Wazzup v3 dialect, through the real gRPC server: every request kind reaches the upstream with
//! the exact method, path, `authorization` header and JSON body (wiremock `body_json`).

mod support;
#[path = "support/wazzup_v3.rs"]
mod wazzup_v3_support;

use serde_json::json;
use support::{TestGateway, max_button, recipient, telegram_button};
use wazzup_gateway::proto::pb;
use wazzup_v3_support::*;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use pb::send_message_request::Content;

/// Expects exactly one `POST /v3/message` with `body`, answered 201 with `chat_id`.
async fn expect_send(upstream: &MockServer, body: serde_json::Value, chat_id: &str) {
    Mock::given(method("POST"))
        .and(path("/v3/message"))
        .and(header("authorization", BEARER))
        .and(header("content-type", "application/json"))
        .and(body_json(body))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "messageId": "f66c53a6-957a-46b2-b41b-5a2ef4844bcb",
            "chatId": chat_id
        })))
        .expect(1)
        .mount(upstream)
        .await;
}

/// Sends `request` and checks the ids of the answer.
async fn send_ok(gateway: &TestGateway, request: pb::SendMessageRequest, chat_id: &str) {
    let sent = gateway
        .messages()
        .await
        .send_message(request)
        .await
        .expect("send succeeds")
        .into_inner();
    assert_eq!(sent.message_id, "f66c53a6-957a-46b2-b41b-5a2ef4844bcb");
    assert_eq!(sent.chat_id, chat_id);
    assert!(!sent.replayed);
}

#[tokio::test]
async fn a_text_with_quote_crm_user_key_and_clear_unanswered_false_is_sent_exactly() {
    let upstream = MockServer::start().await;
    mount_channels(&upstream).await;
    expect_send(
        &upstream,
        json!({
            "channelId": WHATSAPP, "chatType": "whatsapp", "chatId": "79011112233",
            "text": "message text",
            "refMessageId": "61e5a375-1760-452f-ad73-5318844ffc4f",
            "crmUserId": "string-user-id",
            "crmMessageId": "order-42",
            "clearUnanswered": false
        }),
        "79011112233",
    )
    .await;
    let gateway = start_v3(&upstream).await;
    let mut request = whatsapp_text("79011112233", "message text");
    request.quoted_message_id = "61e5a375-1760-452f-ad73-5318844ffc4f".to_owned();
    request.crm_user_id = "string-user-id".to_owned();
    request.idempotency_key = "order-42".to_owned();
    request.reset_unanswered = Some(false);

    send_ok(&gateway, request, "79011112233").await;
    gateway.stop().await;
}

#[tokio::test]
async fn a_minimal_text_omits_every_unset_field() {
    let upstream = MockServer::start().await;
    mount_channels(&upstream).await;
    expect_send(
        &upstream,
        json!({"channelId": WHATSAPP, "chatType": "whatsapp", "chatId": "79011112233", "text": "hi"}),
        "79011112233",
    )
    .await;
    let gateway = start_v3(&upstream).await;

    send_ok(&gateway, whatsapp_text("79011112233", "hi"), "79011112233").await;
    gateway.stop().await;
}

#[tokio::test]
async fn an_attachment_is_sent_as_content_uri() {
    let upstream = MockServer::start().await;
    mount_channels(&upstream).await;
    expect_send(
        &upstream,
        json!({"channelId": WHATSAPP, "chatType": "whatsapp", "chatId": "79011112233",
               "contentUri": "https://files.example.com/invoice.pdf"}),
        "79011112233",
    )
    .await;
    let gateway = start_v3(&upstream).await;
    let mut request = whatsapp_text("79011112233", "");
    request.content = Some(Content::Attachment(pb::Attachment {
        url: "https://files.example.com/invoice.pdf".to_owned(),
        // Checked by the gateway against 10 MB; v3 measures the file itself.
        size_bytes: 86_176,
        ..Default::default()
    }));

    send_ok(&gateway, request, "79011112233").await;
    gateway.stop().await;
}

#[tokio::test]
async fn attachment_fields_v3_cannot_carry_are_refused_on_sends_and_edits_and_nothing_is_sent() {
    let upstream = MockServer::start().await;
    mount_channels(&upstream).await;
    let gateway = start_v3(&upstream).await;
    let mut messages = gateway.messages().await;
    let attachment = pb::Attachment {
        url: "https://files.example.com/new.pdf".to_owned(),
        name: "new.pdf".to_owned(),
        mime_type: "application/pdf".to_owned(),
        size_bytes: 86_176,
        sha1: "153e030466873745ce4a66da02d0610a7ee6ce4f".to_owned(),
    };
    let mut send = whatsapp_text("79011112233", "");
    send.content = Some(Content::Attachment(attachment.clone()));

    let sent = messages.send_message(send).await.expect_err("refused");
    let edited = messages
        .edit_message(pb::EditMessageRequest {
            message_id: "6f1b3c67-3008-488b-9abc-12fcac6de134".to_owned(),
            content: Some(pb::edit_message_request::Content::Attachment(attachment)),
            ..Default::default()
        })
        .await
        .expect_err("refused");

    for status in [sent, edited] {
        let refused = failure(&status);
        assert_eq!(
            (refused.code, refused.reason.as_str()),
            (tonic::Code::InvalidArgument, "INVALID_REQUEST")
        );
        assert_eq!(
            refused.fields,
            ["attachment.name", "attachment.mime_type", "attachment.sha1"]
        );
    }
    let calls = upstream.received_requests().await.unwrap_or_default();
    assert!(
        calls.iter().all(|call| call.method.as_str() == "GET"),
        "only channel lookups may reach the upstream: {calls:?}"
    );
    gateway.stop().await;
}

#[tokio::test]
async fn waba_interactive_buttons_are_flat_text_buttons_with_payloads() {
    let upstream = MockServer::start().await;
    mount_channels(&upstream).await;
    expect_send(
        &upstream,
        json!({
            "channelId": WABA, "chatType": "whatsapp", "chatId": "79011112233", "text": "Confirm?",
            "buttonsObject": {"buttons": [
                {"text": "Yes", "type": "text", "payload": "confirm-yes"},
                {"text": "No", "type": "text"}
            ]}
        }),
        "79011112233",
    )
    .await;
    let gateway = start_v3(&upstream).await;
    let mut request = whatsapp_text("79011112233", "Confirm?");
    request.channel_id = WABA.to_owned();
    request.keyboard = Some(pb::Keyboard {
        kind: Some(pb::keyboard::Kind::Waba(pb::WabaButtons {
            buttons: vec![
                pb::WabaButton {
                    text: "Yes".to_owned(),
                    payload: "confirm-yes".to_owned(),
                },
                pb::WabaButton {
                    text: "No".to_owned(),
                    payload: String::new(),
                },
            ],
        })),
    });

    send_ok(&gateway, request, "79011112233").await;
    gateway.stop().await;
}

#[tokio::test]
async fn a_waba_template_sends_its_values_and_button_payloads() {
    let upstream = MockServer::start().await;
    mount_channels(&upstream).await;
    expect_send(
        &upstream,
        json!({
            "channelId": WABA, "chatType": "whatsapp", "chatId": "79994621848",
            "templateId": "6201005a-9a6f-486f-bdd5-e6cb86c76ddb",
            "templateValues": ["Anna", "A-1"],
            "buttonsObject": {"buttons": [{"payload": "button_payload 1"}, {"payload": "button_payload 2"}]}
        }),
        "79994621848",
    )
    .await;
    let gateway = start_v3(&upstream).await;
    let request = pb::SendMessageRequest {
        channel_id: WABA.to_owned(),
        recipient: recipient(pb::ChatType::Whatsapp, "79994621848"),
        content: Some(Content::Template(pb::TemplateMessage {
            template_id: "6201005a-9a6f-486f-bdd5-e6cb86c76ddb".to_owned(),
            values: vec!["Anna".to_owned(), "A-1".to_owned()],
            buttons: (1..=2)
                .map(|n| pb::TemplateButton {
                    payload: format!("button_payload {n}"),
                    ..Default::default()
                })
                .collect(),
        })),
        ..Default::default()
    };

    send_ok(&gateway, request, "79994621848").await;
    gateway.stop().await;
}

#[tokio::test]
async fn a_telegram_inline_keyboard_is_sent_as_rows_with_url_and_callback_data() {
    let upstream = MockServer::start().await;
    mount_channels(&upstream).await;
    expect_send(
        &upstream,
        json!({
            "channelId": TELEGRAM_BOT, "chatType": "telegram", "chatId": "123456789", "text": "Menu",
            "buttonsObject": {
                "buttons": [
                    [{"text": "Site", "url": "https://example.com"}, {"text": "Yes", "callbackData": "yes"}],
                    [{"text": "No", "callbackData": "no"}]
                ],
                "replyMarkup": "inline"
            }
        }),
        "123456789",
    )
    .await;
    let gateway = start_v3(&upstream).await;
    let request = pb::SendMessageRequest {
        channel_id: TELEGRAM_BOT.to_owned(),
        recipient: recipient(pb::ChatType::Telegram, "123456789"),
        content: Some(Content::Text("Menu".to_owned())),
        keyboard: Some(pb::Keyboard {
            kind: Some(pb::keyboard::Kind::Telegram(pb::TelegramKeyboard {
                markup: pb::TelegramMarkup::Inline.into(),
                rows: vec![
                    pb::TelegramRow {
                        buttons: vec![
                            telegram_button("Site", "https://example.com", ""),
                            telegram_button("Yes", "", "yes"),
                        ],
                    },
                    pb::TelegramRow {
                        buttons: vec![telegram_button("No", "", "no")],
                    },
                ],
                ..Default::default()
            })),
        }),
        ..Default::default()
    };

    send_ok(&gateway, request, "123456789").await;
    gateway.stop().await;
}

#[tokio::test]
async fn a_telegram_reply_keyboard_sends_one_time_and_a_removal_sends_remove_keyboard() {
    let upstream = MockServer::start().await;
    mount_channels(&upstream).await;
    expect_send(
        &upstream,
        json!({
            "channelId": TELEGRAM_BOT, "chatType": "telegram", "chatId": "123456789", "text": "Pick",
            "buttonsObject": {"buttons": [[{"text": "A"}, {"text": "B"}]],
                              "replyMarkup": "reply", "oneTimeKeyboard": true}
        }),
        "123456789",
    )
    .await;
    expect_send(
        &upstream,
        json!({
            "channelId": TELEGRAM_BOT, "chatType": "telegram", "chatId": "123456789", "text": "Done",
            "buttonsObject": {"removeKeyboard": true}
        }),
        "123456789",
    )
    .await;
    let gateway = start_v3(&upstream).await;
    let keyboard = |keyboard: pb::TelegramKeyboard| pb::Keyboard {
        kind: Some(pb::keyboard::Kind::Telegram(keyboard)),
    };
    let request = |text: &str, telegram: pb::TelegramKeyboard| pb::SendMessageRequest {
        channel_id: TELEGRAM_BOT.to_owned(),
        recipient: recipient(pb::ChatType::Telegram, "123456789"),
        content: Some(Content::Text(text.to_owned())),
        keyboard: Some(keyboard(telegram)),
        ..Default::default()
    };
    let reply = pb::TelegramKeyboard {
        markup: pb::TelegramMarkup::Reply.into(),
        rows: vec![pb::TelegramRow {
            buttons: vec![telegram_button("A", "", ""), telegram_button("B", "", "")],
        }],
        one_time: true,
        ..Default::default()
    };
    let removal = pb::TelegramKeyboard {
        remove: true,
        ..Default::default()
    };

    send_ok(&gateway, request("Pick", reply), "123456789").await;
    send_ok(&gateway, request("Done", removal), "123456789").await;
    gateway.stop().await;
}

#[tokio::test]
async fn a_max_bot_keyboard_sends_type_payload_url_and_intent() {
    let upstream = MockServer::start().await;
    mount_channels(&upstream).await;
    expect_send(
        &upstream,
        json!({
            "channelId": MAX_BOT, "chatType": "max", "chatId": "555", "text": "Rate us",
            "buttonsObject": {"buttons": [
                [{"type": "callback", "text": "Good", "payload": "good", "intent": "positive"},
                 {"type": "callback", "text": "Bad", "payload": "bad", "intent": "negative"}],
                [{"type": "link", "text": "Site", "url": "https://example.com"},
                 {"type": "message", "text": "Call me"}]
            ]}
        }),
        "555",
    )
    .await;
    let gateway = start_v3(&upstream).await;
    let request = pb::SendMessageRequest {
        channel_id: MAX_BOT.to_owned(),
        recipient: recipient(pb::ChatType::Max, "555"),
        content: Some(Content::Text("Rate us".to_owned())),
        keyboard: Some(pb::Keyboard {
            kind: Some(pb::keyboard::Kind::Max(pb::MaxKeyboard {
                rows: vec![
                    pb::MaxRow {
                        buttons: vec![
                            max_button(
                                pb::MaxButtonType::Callback,
                                "Good",
                                "good",
                                "",
                                pb::MaxIntent::Positive,
                            ),
                            max_button(
                                pb::MaxButtonType::Callback,
                                "Bad",
                                "bad",
                                "",
                                pb::MaxIntent::Negative,
                            ),
                        ],
                    },
                    pb::MaxRow {
                        buttons: vec![
                            max_button(
                                pb::MaxButtonType::Link,
                                "Site",
                                "",
                                "https://example.com",
                                pb::MaxIntent::Unspecified,
                            ),
                            max_button(
                                pb::MaxButtonType::Message,
                                "Call me",
                                "",
                                "",
                                pb::MaxIntent::Unspecified,
                            ),
                        ],
                    },
                ],
            })),
        }),
        ..Default::default()
    };

    send_ok(&gateway, request, "555").await;
    gateway.stop().await;
}

#[tokio::test]
async fn telegram_chats_can_be_addressed_by_username_or_phone_and_return_the_chat_id() {
    let upstream = MockServer::start().await;
    mount_channels(&upstream).await;
    expect_send(
        &upstream,
        json!({"channelId": TELEGRAM_BOT, "chatType": "telegram", "username": "anna_k", "text": "Hi"}),
        "900000001",
    )
    .await;
    expect_send(
        &upstream,
        json!({"channelId": TELEGRAM_BOT, "chatType": "telegram", "phone": "79011112233", "text": "Hi"}),
        "900000002",
    )
    .await;
    let gateway = start_v3(&upstream).await;
    let addressed = |username: &str, phone: &str| pb::SendMessageRequest {
        channel_id: TELEGRAM_BOT.to_owned(),
        recipient: Some(pb::Recipient {
            chat_type: pb::ChatType::Telegram.into(),
            username: username.to_owned(),
            phone: phone.to_owned(),
            ..Default::default()
        }),
        content: Some(Content::Text("Hi".to_owned())),
        ..Default::default()
    };

    send_ok(&gateway, addressed("anna_k", ""), "900000001").await;
    send_ok(&gateway, addressed("", "79011112233"), "900000002").await;
    gateway.stop().await;
}

#[tokio::test]
async fn edits_patch_text_or_content_and_deletes_delete_by_message_id() {
    let upstream = MockServer::start().await;
    let message_id = "6f1b3c67-3008-488b-9abc-12fcac6de134";
    let message_path = format!("/v3/message/{message_id}");
    for body in [
        json!({"text": "Updated message text", "crmUserId": "2e0df379-0e3c-470f-9b36-06b9e34c3bdb"}),
        json!({"contentUri": "https://example.com/image.png"}),
    ] {
        Mock::given(method("PATCH"))
            .and(path(message_path.as_str()))
            .and(header("authorization", BEARER))
            .and(body_json(body))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
            .expect(1)
            .mount(&upstream)
            .await;
    }
    Mock::given(method("DELETE"))
        .and(path(message_path.as_str()))
        .and(header("authorization", BEARER))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&upstream)
        .await;
    let gateway = start_v3(&upstream).await;
    let mut messages = gateway.messages().await;
    use pb::edit_message_request::Content as Edit;

    let edited_text = messages
        .edit_message(pb::EditMessageRequest {
            message_id: message_id.to_owned(),
            content: Some(Edit::Text("Updated message text".to_owned())),
            crm_user_id: "2e0df379-0e3c-470f-9b36-06b9e34c3bdb".to_owned(),
            ..Default::default()
        })
        .await
        .expect("edit text")
        .into_inner();
    messages
        .edit_message(pb::EditMessageRequest {
            message_id: message_id.to_owned(),
            content: Some(Edit::Attachment(pb::Attachment {
                url: "https://example.com/image.png".to_owned(),
                ..Default::default()
            })),
            ..Default::default()
        })
        .await
        .expect("edit content");
    let deleted = messages
        .delete_message(pb::DeleteMessageRequest {
            message_id: message_id.to_owned(),
            ..Default::default()
        })
        .await
        .expect("delete")
        .into_inner();

    assert_eq!(edited_text.message_id, message_id);
    assert_eq!(deleted.message_id, message_id);
    gateway.stop().await;
}

#[tokio::test]
async fn an_edit_naming_its_channel_is_held_to_that_transports_text_limit() {
    let upstream = MockServer::start().await;
    mount_channels(&upstream).await;
    let message_id = "6f1b3c67-3008-488b-9abc-12fcac6de134";
    let at_limit = "ж".repeat(4_096);
    // Only the edit within the Telegram limit is sent, without the channel id.
    Mock::given(method("PATCH"))
        .and(path(format!("/v3/message/{message_id}")))
        .and(header("authorization", BEARER))
        .and(body_json(json!({"text": at_limit})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(1)
        .mount(&upstream)
        .await;
    let gateway = start_v3(&upstream).await;
    let mut messages = gateway.messages().await;
    let edit = |channel_id: &str, text: String| pb::EditMessageRequest {
        message_id: message_id.to_owned(),
        channel_id: channel_id.to_owned(),
        content: Some(pb::edit_message_request::Content::Text(text)),
        ..Default::default()
    };

    let too_long = messages
        .edit_message(edit(TELEGRAM_BOT, "ж".repeat(4_097)))
        .await
        .expect_err("longer than telegram accepts");
    let unknown_channel = messages
        .edit_message(edit(
            "0b7c2a52-7d0e-4d8e-9a55-3c3d2b1a0f00",
            "fixed".to_owned(),
        ))
        .await
        .expect_err("no such channel");
    messages
        .edit_message(edit(TELEGRAM_BOT, at_limit.clone()))
        .await
        .expect("exactly the telegram limit is sent");

    let refused = failure(&too_long);
    assert_eq!(
        (refused.code, refused.reason.as_str(), refused.fields),
        (
            tonic::Code::InvalidArgument,
            "INVALID_REQUEST",
            vec!["text".to_owned()]
        )
    );
    let missing = failure(&unknown_channel);
    assert_eq!(
        (missing.code, missing.reason.as_str()),
        (tonic::Code::NotFound, "CHANNEL_NOT_FOUND")
    );
    gateway.stop().await;
}

fn template(guid: &str) -> serde_json::Value {
    json!({"templateGuid": guid, "title": guid, "name": guid, "status": "approved",
           "category": "UTILITY", "language": "en", "channels": [WABA]})
}

#[tokio::test]
async fn template_pages_map_to_limit_and_offset_behind_page_tokens() {
    let upstream = MockServer::start().await;
    for (offset, guids) in [("0", vec!["t-1", "t-2"]), ("2", vec!["t-3"])] {
        Mock::given(method("GET"))
            .and(path("/v3/templates/whatsapp"))
            .and(header("authorization", BEARER))
            .and(query_param("limit", "2"))
            .and(query_param("offset", offset))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(guids.into_iter().map(template).collect::<Vec<_>>()),
            )
            .expect(1)
            .mount(&upstream)
            .await;
    }
    let gateway = start_v3(&upstream).await;
    let mut templates = gateway.templates().await;

    let first = templates
        .list_templates(pb::ListTemplatesRequest {
            page_size: 2,
            ..Default::default()
        })
        .await
        .expect("first page")
        .into_inner();
    let second = templates
        .list_templates(pb::ListTemplatesRequest {
            page_size: 2,
            page_token: first.next_page_token.clone(),
            ..Default::default()
        })
        .await
        .expect("second page")
        .into_inner();

    let ids = |page: &pb::ListTemplatesResponse| -> Vec<String> {
        page.templates
            .iter()
            .map(|t| t.template_id.clone())
            .collect()
    };
    assert_eq!(ids(&first), ["t-1", "t-2"]);
    assert!(!first.next_page_token.is_empty());
    assert_eq!(ids(&second), ["t-3"]);
    assert_eq!(second.next_page_token, "");
    assert_eq!(
        second.templates[0].status,
        pb::TemplateStatus::Approved as i32
    );
    assert_eq!(second.templates[0].channel_ids, [WABA]);
    gateway.stop().await;
}

#[tokio::test]
async fn channels_are_listed_once_and_then_served_from_the_cache_for_sends() {
    let upstream = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/channels"))
        .and(header("authorization", BEARER))
        .respond_with(ResponseTemplate::new(200).set_body_json(channel_list()))
        .expect(1)
        .mount(&upstream)
        .await;
    Mock::given(method("POST"))
        .and(path("/v3/message"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"messageId": "m", "chatId": "79011112233"})),
        )
        .expect(3)
        .mount(&upstream)
        .await;
    let gateway = start_v3(&upstream).await;
    let mut messages = gateway.messages().await;

    for _ in 0..3 {
        messages
            .send_message(whatsapp_text("79011112233", "hi"))
            .await
            .expect("send");
    }
    let channel = gateway
        .channels()
        .await
        .get_channel(pb::GetChannelRequest {
            channel_id: WABA.to_owned(),
            ..Default::default()
        })
        .await
        .expect("get channel")
        .into_inner()
        .channel
        .expect("channel");

    assert_eq!(channel.transport, pb::Transport::Waba as i32);
    assert_eq!(
        (channel.account.as_str(), channel.provider.as_str()),
        (ACCOUNT, "wazzup_v3")
    );
    gateway.stop().await;
}

#[tokio::test]
async fn list_channels_always_asks_the_upstream_and_keeps_raw_values() {
    let upstream = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v3/channels"))
        .and(header("authorization", BEARER))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "count": 1,
            "data": [{"channelId": "c-1", "transport": "pigeon", "plainId": 7, "state": "dozing", "x": 1}]
        })))
        .expect(2)
        .mount(&upstream)
        .await;
    let gateway = start_v3(&upstream).await;
    let mut channels = gateway.channels().await;

    channels
        .list_channels(pb::ListChannelsRequest::default())
        .await
        .expect("first");
    let listed = channels
        .list_channels(pb::ListChannelsRequest::default())
        .await
        .expect("second")
        .into_inner();

    let channel = &listed.channels[0];
    assert_eq!(channel.transport, pb::Transport::Other as i32);
    assert_eq!(
        (channel.transport_raw.as_str(), channel.state_raw.as_str()),
        ("pigeon", "dozing")
    );
    assert_eq!(channel.state, pb::ChannelState::Other as i32);
    assert_eq!(channel.plain_id, "7");
    gateway.stop().await;
}

#[tokio::test]
async fn a_message_id_that_is_not_one_path_segment_is_refused_and_nothing_is_sent() {
    let upstream = MockServer::start().await;
    let gateway = start_v3(&upstream).await;
    let mut messages = gateway.messages().await;

    for message_id in [
        ".",
        "..",
        "a/b",
        "../channels",
        "%2e%2e",
        "a?b",
        "a#b",
        "a\\b",
    ] {
        let deleted = messages
            .delete_message(pb::DeleteMessageRequest {
                message_id: message_id.to_owned(),
                ..Default::default()
            })
            .await
            .expect_err("an id that is not one path segment is refused");
        let edited = messages
            .edit_message(pb::EditMessageRequest {
                message_id: message_id.to_owned(),
                content: Some(pb::edit_message_request::Content::Text("new".to_owned())),
                ..Default::default()
            })
            .await
            .expect_err("an id that is not one path segment is refused");

        for status in [deleted, edited] {
            let refused = failure(&status);
            assert_eq!(refused.code, tonic::Code::InvalidArgument, "{message_id:?}");
            assert_eq!(refused.fields, ["message_id"], "{message_id:?}");
        }
    }

    let sent = upstream.received_requests().await.unwrap_or_default();
    assert!(sent.is_empty(), "requests reached the upstream: {sent:?}");
    gateway.stop().await;
}
