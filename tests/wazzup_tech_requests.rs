//! Wazzup partner API v2 (`wazzup_tech`) dialect, through the real gRPC server (and, for the
//! export jobs whose service is not served yet, through the client itself): every request kind
//! reaches the upstream with the exact method, path, `authorization` header and JSON body, and
//! every answer is read from the `{data, meta}` envelope.

mod support;
#[path = "support/wazzup_tech.rs"]
mod wazzup_tech_support;
#[path = "support/wazzup_v3.rs"]
mod wazzup_v3_support;

use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Value, json};
use support::{TestGateway, max_button, recipient, telegram_button};
use wazzup_gateway::Config;
use wazzup_gateway::UpstreamMetrics;
use wazzup_gateway::proto::pb;
use wazzup_gateway::{CallContext, RetryPolicy, TransportShared, Upstream, WazzupTechClient};
use wazzup_gateway::{ExportRequest, ExportState};
use wazzup_tech_support::*;
use wazzup_v3_support::{failure, webhooks};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use pb::send_message_request::Content;

/// The `request_id` every accepted send answers.
const REQUEST_ID: &str = "9820d14f-66ae-4170-997f-0f06c0800664";

/// The answer of an accepted send, as the docs show it (the chat id a number).
fn accepted() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(envelope(json!({
        "request_id": REQUEST_ID,
        "chat_id": 79385005913_u64
    })))
}

/// Expects exactly one `POST /v2/messages` with `body` and the configured token.
async fn expect_send(upstream: &MockServer, body: Value) {
    Mock::given(method("POST"))
        .and(path("/v2/messages"))
        .and(header("authorization", BEARER))
        .and(header("content-type", "application/json"))
        .and(body_json(body))
        .respond_with(accepted())
        .expect(1)
        .mount(upstream)
        .await;
}

fn text_send(channel_id: &str, chat_type: pb::ChatType, chat_id: &str) -> pb::SendMessageRequest {
    pb::SendMessageRequest {
        channel_id: channel_id.to_owned(),
        recipient: recipient(chat_type, chat_id),
        content: Some(Content::Text("Hello World".to_owned())),
        ..Default::default()
    }
}

/// Sends `request` and checks that the answer carries the request id, no message id yet, and the
/// chat id.
async fn send_ok(gateway: &TestGateway, request: pb::SendMessageRequest) {
    let sent = gateway
        .messages()
        .await
        .send_message(request)
        .await
        .expect("send succeeds")
        .into_inner();
    assert_eq!(sent.request_id, REQUEST_ID);
    assert_eq!(sent.message_id, "");
    assert_eq!(sent.chat_id, "79385005913");
}

/// Starts a gateway, sends `request`, and checks the upstream got exactly `body`.
async fn assert_send_body(request: pb::SendMessageRequest, body: Value) {
    let upstream = MockServer::start().await;
    mount_channels(&upstream).await;
    expect_send(&upstream, body).await;
    let gateway = start_tech(&upstream).await;

    send_ok(&gateway, request).await;
    upstream.verify().await;
    gateway.stop().await;
}

#[tokio::test]
async fn a_text_with_every_option_is_sent_exactly_and_answers_the_request_id() {
    let mut request = text_send(WHATSAPP, pb::ChatType::Whatsapp, "79999999999");
    request.quoted_message_id = "61e5a375-1760-452f-ad73-5318844ffc4f".to_owned();
    request.crm_user_id = "crm-123".to_owned();
    request.reset_unanswered = Some(false);
    if let Some(recipient) = request.recipient.as_mut() {
        recipient.contact_name = "Anna Petrova".to_owned();
    }
    assert_send_body(
        request,
        json!({
            "channel_id": WHATSAPP,
            "recipient": {"chat_type": "whatsapp", "chat_id": "79999999999",
                          "crm_contact_name": "Anna Petrova"},
            "text": "Hello World",
            "quoted_message_id": "61e5a375-1760-452f-ad73-5318844ffc4f",
            "crm_user_id": "crm-123",
            "reset_unanswered": false
        }),
    )
    .await;
}

#[tokio::test]
async fn a_minimal_text_omits_every_unset_field() {
    assert_send_body(
        text_send(WHATSAPP, pb::ChatType::Whatsapp, "79999999999"),
        json!({
            "channel_id": WHATSAPP,
            "recipient": {"chat_type": "whatsapp", "chat_id": "79999999999"},
            "text": "Hello World"
        }),
    )
    .await;
}

#[tokio::test]
async fn an_attachment_sends_every_field() {
    let mut request = text_send(WHATSAPP, pb::ChatType::Whatsapp, "37193850059");
    request.content = Some(Content::Attachment(pb::Attachment {
        url: "https://files.example.com/new.pdf".to_owned(),
        name: "new.pdf".to_owned(),
        mime_type: "application/pdf".to_owned(),
        size_bytes: 86176,
        sha1: "153e030466873745ce4a66da02d0610a7ee6ce4f".to_owned(),
    }));
    request.crm_user_id = "crm-123".to_owned();
    assert_send_body(
        request,
        json!({
            "channel_id": WHATSAPP,
            "recipient": {"chat_type": "whatsapp", "chat_id": "37193850059"},
            "attachment": {
                "url": "https://files.example.com/new.pdf",
                "name": "new.pdf",
                "mimetype": "application/pdf",
                "size": 86176,
                "sha1": "153e030466873745ce4a66da02d0610a7ee6ce4f"
            },
            "crm_user_id": "crm-123"
        }),
    )
    .await;
}

#[tokio::test]
async fn a_template_sends_its_id_values_and_buttons() {
    let request = pb::SendMessageRequest {
        channel_id: WABA.to_owned(),
        recipient: recipient(pb::ChatType::Whatsapp, "37193850059"),
        content: Some(Content::Template(pb::TemplateMessage {
            template_id: "385bf0c5-9f2a-4f9f-be85-9b84d797cf95".to_owned(),
            values: vec!["Anna".to_owned(), "A-1".to_owned()],
            buttons: vec![
                pb::TemplateButton {
                    text: "Thank you!".to_owned(),
                    r#type: "text".to_owned(),
                    payload: "yes".to_owned(),
                },
                pb::TemplateButton {
                    payload: "more".to_owned(),
                    ..Default::default()
                },
            ],
        })),
        ..Default::default()
    };
    assert_send_body(
        request,
        json!({
            "channel_id": WABA,
            "recipient": {"chat_type": "whatsapp", "chat_id": "37193850059"},
            "template": {
                "id": "385bf0c5-9f2a-4f9f-be85-9b84d797cf95",
                "values": ["Anna", "A-1"],
                "buttons": [
                    {"text": "Thank you!", "type": "text", "payload": "yes"},
                    {"payload": "more"}
                ]
            }
        }),
    )
    .await;
}

#[tokio::test]
async fn waba_interactive_buttons_are_a_flat_list_of_text_buttons() {
    let mut request = text_send(WABA, pb::ChatType::Whatsapp, "79011112233");
    request.keyboard = Some(pb::Keyboard {
        kind: Some(pb::keyboard::Kind::Waba(pb::WabaButtons {
            buttons: vec![
                pb::WabaButton {
                    text: "Yes".to_owned(),
                    payload: "confirm-yes".to_owned(),
                },
                pb::WabaButton {
                    text: "No".to_owned(),
                    payload: "confirm-no".to_owned(),
                },
            ],
        })),
    });
    assert_send_body(
        request,
        json!({
            "channel_id": WABA,
            "recipient": {"chat_type": "whatsapp", "chat_id": "79011112233"},
            "text": "Hello World",
            "keyboard": {"buttons": [
                {"text": "Yes", "type": "text", "payload": "confirm-yes"},
                {"text": "No", "type": "text", "payload": "confirm-no"}
            ]}
        }),
    )
    .await;
}

fn telegram_send(keyboard: pb::TelegramKeyboard) -> pb::SendMessageRequest {
    let mut request = text_send(TELEGRAM_BOT, pb::ChatType::Telegram, "123456789");
    request.keyboard = Some(pb::Keyboard {
        kind: Some(pb::keyboard::Kind::Telegram(keyboard)),
    });
    request
}

#[tokio::test]
async fn a_telegram_inline_keyboard_is_rows_with_url_and_callback_data() {
    let request = telegram_send(pb::TelegramKeyboard {
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
    });
    assert_send_body(
        request,
        json!({
            "channel_id": TELEGRAM_BOT,
            "recipient": {"chat_type": "telegram", "chat_id": "123456789"},
            "text": "Hello World",
            "keyboard": {
                "buttons": [
                    [{"text": "Site", "url": "https://example.com"},
                     {"text": "Yes", "callback_data": "yes"}],
                    [{"text": "No", "callback_data": "no"}]
                ],
                "reply_markup": "inline"
            }
        }),
    )
    .await;
}

#[tokio::test]
async fn a_telegram_reply_keyboard_sends_its_options() {
    let request = telegram_send(pb::TelegramKeyboard {
        markup: pb::TelegramMarkup::Reply.into(),
        rows: vec![pb::TelegramRow {
            buttons: vec![telegram_button("A", "", ""), telegram_button("B", "", "")],
        }],
        one_time: true,
        resize: true,
        selective: true,
        remove: false,
    });
    assert_send_body(
        request,
        json!({
            "channel_id": TELEGRAM_BOT,
            "recipient": {"chat_type": "telegram", "chat_id": "123456789"},
            "text": "Hello World",
            "keyboard": {
                "buttons": [[{"text": "A"}, {"text": "B"}]],
                "reply_markup": "reply",
                "one_time_keyboard": true,
                "resize_keyboard": true,
                "selective": true
            }
        }),
    )
    .await;
}

#[tokio::test]
async fn a_telegram_keyboard_removal_sends_remove_keyboard_with_no_buttons() {
    let request = telegram_send(pb::TelegramKeyboard {
        remove: true,
        ..Default::default()
    });
    assert_send_body(
        request,
        json!({
            "channel_id": TELEGRAM_BOT,
            "recipient": {"chat_type": "telegram", "chat_id": "123456789"},
            "text": "Hello World",
            "keyboard": {"buttons": [], "remove_keyboard": true}
        }),
    )
    .await;
}

#[tokio::test]
async fn a_max_bot_keyboard_is_rows_with_type_payload_url_and_intent() {
    let mut request = text_send(MAX_BOT, pb::ChatType::Max, "555");
    request.keyboard = Some(pb::Keyboard {
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
                            pb::MaxIntent::Default,
                        ),
                    ],
                },
            ],
        })),
    });
    assert_send_body(
        request,
        json!({
            "channel_id": MAX_BOT,
            "recipient": {"chat_type": "max", "chat_id": "555"},
            "text": "Hello World",
            "keyboard": {"buttons": [
                [{"type": "callback", "text": "Good", "payload": "good", "intent": "positive"},
                 {"type": "callback", "text": "Bad", "payload": "bad", "intent": "negative"}],
                [{"type": "link", "text": "Site", "url": "https://example.com"},
                 {"type": "message", "text": "Call me", "intent": "default"}]
            ]}
        }),
    )
    .await;
}

#[tokio::test]
async fn telegram_chats_are_addressed_by_username_or_phone() {
    let upstream = MockServer::start().await;
    mount_channels(&upstream).await;
    expect_send(
        &upstream,
        json!({
            "channel_id": TELEGRAM_BOT,
            "recipient": {"chat_type": "telegram", "username": "anna_p"},
            "text": "Hello World"
        }),
    )
    .await;
    expect_send(
        &upstream,
        json!({
            "channel_id": TELEGRAM_BOT,
            "recipient": {"chat_type": "telegram", "phone": "79011112233"},
            "text": "Hello World"
        }),
    )
    .await;
    let gateway = start_tech(&upstream).await;
    let by = |username: &str, phone: &str| {
        let mut request = text_send(TELEGRAM_BOT, pb::ChatType::Telegram, "");
        request.recipient = Some(pb::Recipient {
            chat_type: pb::ChatType::Telegram.into(),
            username: username.to_owned(),
            phone: phone.to_owned(),
            ..Default::default()
        });
        request
    };

    send_ok(&gateway, by("anna_p", "")).await;
    send_ok(&gateway, by("", "79011112233")).await;
    upstream.verify().await;
    gateway.stop().await;
}

#[tokio::test]
async fn edits_patch_text_or_attachment_and_deletes_delete_by_message_id() {
    let upstream = MockServer::start().await;
    let message_id = "8e074add-828d-4f35-afcc-99ccbfa9d0ae";
    let answer = ResponseTemplate::new(200).set_body_json(envelope(json!({
        "message_id": message_id, "chat_id": "1234567890"
    })));
    for body in [
        json!({"text": "Edited message", "crm_user_id": "crm-9"}),
        json!({"attachment": {"url": "https://files.example.com/a.png", "name": "a.png",
                              "mimetype": "image/png", "size": 2048,
                              "sha1": "153e030466873745ce4a66da02d0610a7ee6ce4f"}}),
    ] {
        Mock::given(method("PATCH"))
            .and(path(format!("/v2/messages/{message_id}")))
            .and(header("authorization", BEARER))
            .and(body_json(body))
            .respond_with(answer.clone())
            .expect(1)
            .mount(&upstream)
            .await;
    }
    Mock::given(method("DELETE"))
        .and(path(format!("/v2/messages/{message_id}")))
        .and(header("authorization", BEARER))
        .respond_with(answer)
        .expect(1)
        .mount(&upstream)
        .await;
    let gateway = start_tech(&upstream).await;
    let mut messages = gateway.messages().await;
    use pb::edit_message_request::Content as Edit;

    let edited = messages
        .edit_message(pb::EditMessageRequest {
            message_id: message_id.to_owned(),
            content: Some(Edit::Text("Edited message".to_owned())),
            crm_user_id: "crm-9".to_owned(),
            ..Default::default()
        })
        .await
        .expect("text edit")
        .into_inner();
    assert_eq!(
        (edited.message_id.as_str(), edited.chat_id.as_str()),
        (message_id, "1234567890")
    );
    messages
        .edit_message(pb::EditMessageRequest {
            message_id: message_id.to_owned(),
            content: Some(Edit::Attachment(pb::Attachment {
                url: "https://files.example.com/a.png".to_owned(),
                name: "a.png".to_owned(),
                mime_type: "image/png".to_owned(),
                size_bytes: 2048,
                sha1: "153e030466873745ce4a66da02d0610a7ee6ce4f".to_owned(),
            })),
            ..Default::default()
        })
        .await
        .expect("attachment edit");
    let deleted = messages
        .delete_message(pb::DeleteMessageRequest {
            message_id: message_id.to_owned(),
            ..Default::default()
        })
        .await
        .expect("delete")
        .into_inner();
    assert_eq!(deleted.chat_id, "1234567890");
    upstream.verify().await;
    gateway.stop().await;
}

#[tokio::test]
async fn channels_are_listed_from_the_envelope_keeping_unknown_values_raw() {
    let upstream = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/channels"))
        .and(header("authorization", BEARER))
        .respond_with(ResponseTemplate::new(200).set_body_json(channel_list()))
        // The listing refreshes the channel cache, which then answers GetChannel.
        .expect(1)
        .mount(&upstream)
        .await;
    let gateway = start_tech(&upstream).await;
    let mut channels = gateway.channels().await;

    let listed = channels
        .list_channels(pb::ListChannelsRequest::default())
        .await
        .expect("list")
        .into_inner()
        .channels;
    let summary: Vec<(String, i32, String, String, i32, String)> = listed
        .iter()
        .map(|channel| {
            (
                channel.channel_id.clone(),
                channel.transport,
                channel.transport_raw.clone(),
                channel.plain_id.clone(),
                channel.state,
                channel.state_raw.clone(),
            )
        })
        .collect();
    let active = pb::ChannelState::Active as i32;
    assert_eq!(
        summary,
        [
            (
                WHATSAPP.to_owned(),
                pb::Transport::Whatsapp as i32,
                "whatsapp".to_owned(),
                "37190111122".to_owned(),
                active,
                "active".to_owned()
            ),
            (
                WABA.to_owned(),
                pb::Transport::Waba as i32,
                "wapi".to_owned(),
                "79994621848".to_owned(),
                active,
                "active".to_owned()
            ),
            (
                TELEGRAM_BOT.to_owned(),
                pb::Transport::TelegramBot as i32,
                "telegram".to_owned(),
                "acme_bot".to_owned(),
                active,
                "active".to_owned()
            ),
            (
                MAX_BOT.to_owned(),
                pb::Transport::MaxBot as i32,
                "maxbot".to_owned(),
                "acme".to_owned(),
                active,
                "active".to_owned()
            ),
            (
                DRIFTED.to_owned(),
                pb::Transport::Other as i32,
                "carrier_pigeon".to_owned(),
                String::new(),
                pb::ChannelState::Other as i32,
                "molting".to_owned()
            ),
        ]
    );
    assert!(
        listed
            .iter()
            .all(|channel| channel.provider == "wazzup_tech")
    );
    let one = channels
        .get_channel(pb::GetChannelRequest {
            channel_id: TELEGRAM_BOT.to_owned(),
            ..Default::default()
        })
        .await
        .expect("get")
        .into_inner()
        .channel
        .expect("a channel");
    assert_eq!(one.plain_id, "acme_bot");
    upstream.verify().await;
    gateway.stop().await;
}

/// The URL `RegisterWebhooks` registers for the test account.
fn registered_uri() -> String {
    format!("{PUBLIC_WEBHOOK_BASE_URL}/webhooks/{ACCOUNT}/{WEBHOOK_SECRET}")
}

/// Mounts `GET /v2/webhooks` answering `subscriptions`.
async fn mount_subscriptions(upstream: &MockServer, subscriptions: Value) {
    Mock::given(method("GET"))
        .and(path("/v2/webhooks"))
        .and(header("authorization", BEARER))
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope(subscriptions)))
        .mount(upstream)
        .await;
}

/// Expects exactly one `method /v2/webhooks` with `body`.
async fn expect_webhooks(upstream: &MockServer, verb: &str, body: Value) {
    Mock::given(method(verb))
        .and(path("/v2/webhooks"))
        .and(header("authorization", BEARER))
        .and(body_json(body))
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope(json!([]))))
        .expect(1)
        .mount(upstream)
        .await;
}

#[tokio::test]
async fn webhook_settings_read_the_url_and_the_events_of_the_subscriptions() {
    let upstream = MockServer::start().await;
    let uri = "https://hooks.example.com/wazzup?k=1";
    mount_subscriptions(
        &upstream,
        json!([
            {"id": "w1", "url": uri, "event": "message.add"},
            {"id": "w2", "url": uri, "event": "waba_template.status_update"}
        ]),
    )
    .await;
    let gateway = start_tech(&upstream).await;

    let settings = webhooks(&gateway)
        .await
        .get_webhook_settings(pb::GetWebhookSettingsRequest::default())
        .await
        .expect("get")
        .into_inner()
        .settings
        .expect("settings");
    assert_eq!(settings.uri, uri);
    assert_eq!(
        settings.events,
        ["message.add", "waba_template.status_update"]
    );
    assert!(settings.template_status && !settings.messages_and_statuses);
    gateway.stop().await;
}

#[tokio::test]
async fn updating_webhook_settings_deletes_stale_subscriptions_and_creates_missing_ones() {
    let upstream = MockServer::start().await;
    let uri = "https://hooks.example.com/wazzup";
    mount_subscriptions(
        &upstream,
        json!([
            {"id": "w1", "url": uri, "event": "message.add"},
            {"id": "w2", "url": "https://old.example.com/hook", "event": "message.add"},
            {"id": "w3", "url": uri, "event": "channel.create"}
        ]),
    )
    .await;
    expect_webhooks(
        &upstream,
        "DELETE",
        json!({"data": [{"id": "w2"}, {"id": "w3"}]}),
    )
    .await;
    expect_webhooks(
        &upstream,
        "POST",
        json!({"data": [{"url": uri, "event": "message.status_update"}]}),
    )
    .await;
    let gateway = start_tech(&upstream).await;

    let settings = webhooks(&gateway)
        .await
        .update_webhook_settings(pb::UpdateWebhookSettingsRequest {
            settings: Some(pb::WebhookSettings {
                uri: uri.to_owned(),
                events: vec!["message.add".to_owned(), "message.status_update".to_owned()],
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("update")
        .into_inner()
        .settings
        .expect("settings");
    assert_eq!(settings.events, ["message.add", "message.status_update"]);
    upstream.verify().await;
    gateway.stop().await;
}

#[tokio::test]
async fn register_webhooks_subscribes_the_gateway_url_to_the_configured_event_groups() {
    let upstream = MockServer::start().await;
    mount_subscriptions(&upstream, json!([])).await;
    let uri = registered_uri();
    let events = [
        "message.add",
        "message.status_update",
        "message.edit",
        "message.delete",
        "group_chat.memberships_update",
        "group_chat.update",
        "messages_dump.status_update",
        "channel.status_update",
        "channel.create",
        "channel.delete",
        "channel.qr_update",
        "channel.waba_tier_update",
        "waba_template.status_update",
    ];
    let data: Vec<Value> = events
        .iter()
        .map(|event| json!({"url": uri, "event": event}))
        .collect();
    expect_webhooks(&upstream, "POST", json!({ "data": data })).await;
    let gateway = start_tech(&upstream).await;

    let settings = webhooks(&gateway)
        .await
        .register_webhooks(pb::RegisterWebhooksRequest::default())
        .await
        .expect("register")
        .into_inner()
        .settings
        .expect("settings");
    assert_eq!(
        settings.uri,
        format!("{PUBLIC_WEBHOOK_BASE_URL}/webhooks/{ACCOUNT}/[redacted]")
    );
    assert_eq!(settings.events, events);
    assert!(settings.messages_and_statuses && settings.channels_updates);
    assert!(settings.template_status && !settings.contacts_and_deals_creation);
    upstream.verify().await;
    gateway.stop().await;
}

/// The tech client of the test configuration, outside the gateway.
fn tech_client(upstream: &MockServer) -> WazzupTechClient {
    let config = Config::from_toml_str(&tech_toml(&upstream.uri(), ""), &tech_env(false))
        .expect("test configuration is valid");
    let account = config
        .accounts
        .iter()
        .find(|account| account.name == ACCOUNT)
        .expect("the tech account");
    WazzupTechClient::with_policy(
        account,
        RetryPolicy::for_test(),
        &TransportShared::local(UpstreamMetrics::default()),
    )
    .expect("client")
}

#[tokio::test]
async fn an_export_job_is_created_with_an_iso_range_and_read_back_until_done() {
    let upstream = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/messages/messages_dump"))
        .and(header("authorization", BEARER))
        .and(body_json(json!({
            "start_at": "2025-01-01T00:00:00.000Z",
            "end_at": "2025-01-31T23:59:59.999Z",
            "channel_id": WHATSAPP
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope(json!({
            "status": "pending",
            "export_id": "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
        }))))
        .expect(1)
        .mount(&upstream)
        .await;
    let export_path = "/v2/messages/messages_dump/a1b2c3d4-e5f6-7890-abcd-ef1234567890";
    Mock::given(method("GET"))
        .and(path(export_path))
        .and(header("authorization", BEARER))
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope(json!({
            "status": "pending", "url": null
        }))))
        .up_to_n_times(1)
        .expect(1)
        .mount(&upstream)
        .await;
    Mock::given(method("GET"))
        .and(path(export_path))
        .and(header("authorization", BEARER))
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope(json!({
            "status": "done", "url": "https://files.example.com/dump.csv"
        }))))
        .expect(1)
        .mount(&upstream)
        .await;
    let client = tech_client(&upstream);
    let at = |seconds: u64, millis: u64| {
        UNIX_EPOCH + Duration::from_secs(seconds) + Duration::from_millis(millis)
    };
    let request = ExportRequest {
        start_at: at(1_735_689_600, 0),
        end_at: at(1_738_367_999, 999),
        channel_id: Some(WHATSAPP.to_owned()),
    };

    let created = client
        .create_message_export(&request, CallContext::default())
        .await
        .expect("created");
    assert_eq!(created.export_id, "a1b2c3d4-e5f6-7890-abcd-ef1234567890");
    assert_eq!(created.state, ExportState::Pending);
    let pending = client
        .get_message_export(&created.export_id, CallContext::default())
        .await
        .expect("pending");
    assert_eq!(
        (pending.state, pending.url.as_str()),
        (ExportState::Pending, "")
    );
    let done = client
        .get_message_export(&created.export_id, CallContext::default())
        .await
        .expect("done");
    assert_eq!(done.export_id, created.export_id);
    assert_eq!(done.state, ExportState::Done);
    assert_eq!(done.url, "https://files.example.com/dump.csv");
    upstream.verify().await;
}

#[tokio::test]
async fn export_states_other_than_the_documented_ones_are_kept_raw() {
    let upstream = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/messages/messages_dump/e-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope(json!({
            "status": "webhook_failed", "url": "https://files.example.com/e-1.csv"
        }))))
        .up_to_n_times(1)
        .mount(&upstream)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/messages/messages_dump/e-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "archived"})))
        .mount(&upstream)
        .await;
    let client = tech_client(&upstream);

    let failed = client
        .get_message_export("e-1", CallContext::default())
        .await
        .expect("webhook_failed");
    assert_eq!(failed.state, ExportState::WebhookFailed);
    assert_eq!(failed.url, "https://files.example.com/e-1.csv");
    let other = client
        .get_message_export("e-1", CallContext::default())
        .await
        .expect("bare data");
    assert_eq!(
        (other.state, other.state_raw.as_str()),
        (ExportState::Other, "archived")
    );
}

/// Expects exactly one refresh of `refresh_token`, answered with `access_token`, the rotated
/// `next_refresh_token` and `expires_in` seconds.
async fn expect_refresh(
    upstream: &MockServer,
    refresh_token: &str,
    access_token: &str,
    next_refresh_token: &str,
    expires_in: u64,
) {
    Mock::given(method("POST"))
        .and(path("/v2/oauth/token"))
        .and(header("authorization", PARTNER_BASIC))
        .and(body_json(json!({
            "grant_type": "refresh_token",
            "refresh_token_data": {"refresh_token": refresh_token, "client_id": "client-7"}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope(json!({
            "access_token": access_token,
            "refresh_token": next_refresh_token,
            "expires_in": expires_in,
            "refresh_expires_in": 2_592_000
        }))))
        .expect(1)
        .mount(upstream)
        .await;
}

/// Expects exactly `times` sends with `bearer`, answered `answer`.
async fn expect_send_with(
    upstream: &MockServer,
    bearer: &str,
    answer: ResponseTemplate,
    times: u64,
) {
    Mock::given(method("POST"))
        .and(path("/v2/messages"))
        .and(header("authorization", bearer))
        .respond_with(answer)
        .expect(times)
        .mount(upstream)
        .await;
}

#[tokio::test]
async fn a_401_renews_the_token_and_repeats_once_and_an_expiring_token_is_renewed_first() {
    let upstream = MockServer::start().await;
    mount_channels(&upstream).await;
    expect_send_with(&upstream, BEARER, ResponseTemplate::new(401), 1).await;
    expect_refresh(&upstream, REFRESH_TOKEN, "access-2", "refresh-2", 1).await;
    expect_send_with(&upstream, "Bearer access-2", accepted(), 1).await;
    let gateway = start_tech_with_refresh(&upstream).await;

    send_ok(
        &gateway,
        text_send(WHATSAPP, pb::ChatType::Whatsapp, "79999999999"),
    )
    .await;
    upstream.verify().await;

    // access-2 lives one second and is renewed half-way, before it expires.
    tokio::time::sleep(Duration::from_millis(600)).await;
    expect_refresh(&upstream, "refresh-2", "access-3", "refresh-3", 3600).await;
    expect_send_with(&upstream, "Bearer access-3", accepted(), 2).await;
    send_ok(
        &gateway,
        text_send(WHATSAPP, pb::ChatType::Whatsapp, "79999999999"),
    )
    .await;
    send_ok(
        &gateway,
        text_send(WHATSAPP, pb::ChatType::Whatsapp, "79999999999"),
    )
    .await;
    upstream.verify().await;
    gateway.stop().await;
}

#[tokio::test]
async fn a_refused_refresh_and_a_401_without_refresh_are_rejected_credentials() {
    let upstream = MockServer::start().await;
    mount_channels(&upstream).await;
    expect_send_with(&upstream, BEARER, ResponseTemplate::new(401), 2).await;
    Mock::given(method("POST"))
        .and(path("/v2/oauth/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"})))
        .expect(1)
        .mount(&upstream)
        .await;
    let with_refresh = start_tech_with_refresh(&upstream).await;
    let without_refresh = start_tech(&upstream).await;

    for gateway in [&with_refresh, &without_refresh] {
        let status = gateway
            .messages()
            .await
            .send_message(text_send(WHATSAPP, pb::ChatType::Whatsapp, "79999999999"))
            .await
            .expect_err("refused");
        let refused = failure(&status);
        assert_eq!(refused.code, tonic::Code::Internal);
        assert_eq!(refused.reason, "UPSTREAM_CREDENTIALS_REJECTED");
        for secret in [ACCESS_TOKEN, REFRESH_TOKEN, PARTNER_CREDENTIALS, "p4ss"] {
            assert!(!format!("{status:?}").contains(secret), "{secret} leaked");
        }
    }
    upstream.verify().await;
    with_refresh.stop().await;
    without_refresh.stop().await;
}

#[tokio::test]
async fn the_more_than_one_content_error_is_a_caller_error_of_the_tech_domain() {
    let upstream = MockServer::start().await;
    mount_channels(&upstream).await;
    expect_send_with(
        &upstream,
        BEARER,
        ResponseTemplate::new(400).set_body_json(json!({
            "error": "Cannot provide more than one of text, attachment or template"
        })),
        1,
    )
    .await;
    let gateway = start_tech(&upstream).await;

    let status = gateway
        .messages()
        .await
        .send_message(text_send(WHATSAPP, pb::ChatType::Whatsapp, "79999999999"))
        .await
        .expect_err("refused");
    let refused = failure(&status);
    assert_eq!(refused.code, tonic::Code::InvalidArgument);
    assert_eq!(refused.reason, "MESSAGES_ONLY_TEXT_OR_CONTENT");
    assert_eq!(refused.domain, "tech.wazzup24.com");
    assert!(
        refused.message.contains("more than one of text"),
        "{}",
        refused.message
    );
    upstream.verify().await;
    gateway.stop().await;
}

#[tokio::test]
async fn upstream_codes_keep_their_class_under_the_tech_domain() {
    let upstream = MockServer::start().await;
    mount_channels(&upstream).await;
    expect_send_with(
        &upstream,
        BEARER,
        ResponseTemplate::new(400).set_body_json(json!({
            "error": "CHANNEL_BLOCKED", "description": "Channel is blocked"
        })),
        1,
    )
    .await;
    let gateway = start_tech(&upstream).await;

    let status = gateway
        .messages()
        .await
        .send_message(text_send(WHATSAPP, pb::ChatType::Whatsapp, "79999999999"))
        .await
        .expect_err("refused");
    let refused = failure(&status);
    assert_eq!(refused.code, tonic::Code::FailedPrecondition);
    assert_eq!(
        (refused.reason.as_str(), refused.domain.as_str()),
        ("CHANNEL_BLOCKED", "tech.wazzup24.com")
    );
    upstream.verify().await;
    gateway.stop().await;
}

#[tokio::test]
async fn waba_buttons_without_payload_are_refused_before_the_upstream() {
    let upstream = MockServer::start().await;
    mount_channels(&upstream).await;
    expect_send_with(&upstream, BEARER, accepted(), 0).await;
    let gateway = start_tech(&upstream).await;
    let mut request = text_send(WABA, pb::ChatType::Whatsapp, "79011112233");
    request.keyboard = Some(pb::Keyboard {
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
        .send_message(request)
        .await
        .expect_err("refused");
    let refused = failure(&status);
    assert_eq!(refused.code, tonic::Code::InvalidArgument);
    assert_eq!(refused.fields, ["keyboard.waba.buttons[0].payload"]);
    upstream.verify().await;
    gateway.stop().await;
}

/// A template as the (unconfirmed) v2 read routes are assumed to answer it.
fn tech_template(id: &str) -> Value {
    json!({
        "id": id,
        "title": "order_ready",
        "waba": {"waba_id": "w-1", "waba_name": "Acme"},
        "channels": [WABA],
        "category": "UTILITY",
        "language": "en",
        "status": "approved",
        "components": [{"type": "BODY", "text": "Hi {{1}}", "example": [["Anna"]]}]
    })
}

#[tokio::test]
async fn templates_are_read_from_the_unconfirmed_v2_waba_routes() {
    let upstream = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/templates/waba"))
        .and(header("authorization", BEARER))
        .and(query_param("limit", "2"))
        .and(query_param("offset", "0"))
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope(json!([
            tech_template("t-1"),
            tech_template("t-2")
        ]))))
        .expect(1)
        .mount(&upstream)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/templates/waba/t-9"))
        .and(header("authorization", BEARER))
        .respond_with(ResponseTemplate::new(200).set_body_json(envelope(tech_template("t-9"))))
        .expect(1)
        .mount(&upstream)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/templates/waba/t-404"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&upstream)
        .await;
    let gateway = start_tech(&upstream).await;
    let mut templates = gateway.templates().await;

    let page = templates
        .list_templates(pb::ListTemplatesRequest {
            page_size: 2,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    let ids: Vec<&str> = page
        .templates
        .iter()
        .map(|template| template.template_id.as_str())
        .collect();
    assert_eq!(ids, ["t-1", "t-2"]);
    assert!(!page.next_page_token.is_empty());
    let one = templates
        .get_template(pb::GetTemplateRequest {
            template_id: "t-9".to_owned(),
            ..Default::default()
        })
        .await
        .expect("get")
        .into_inner()
        .template
        .expect("a template");
    assert_eq!(one.status, pb::TemplateStatus::Approved as i32);
    assert_eq!(one.channel_ids, [WABA]);
    let missing = templates
        .get_template(pb::GetTemplateRequest {
            template_id: "t-404".to_owned(),
            ..Default::default()
        })
        .await
        .expect_err("not found");
    assert_eq!(missing.code(), tonic::Code::NotFound);
    assert_eq!(failure(&missing).reason, "TEMPLATE_NOT_FOUND");
    upstream.verify().await;
    gateway.stop().await;
}

#[tokio::test]
async fn an_id_that_is_not_one_path_segment_is_refused_and_nothing_is_sent() {
    let upstream = MockServer::start().await;
    let gateway = start_tech(&upstream).await;
    let mut messages = gateway.messages().await;
    let mut exports = pb::export_service_client::ExportServiceClient::new(gateway.channel().await);
    let client = tech_client(&upstream);
    let unsendable = [".", "..", "a/b", "messages_dump/..", "%2E%2E", "a?b", "a#b"];

    for id in unsendable {
        let deleted = messages
            .delete_message(pb::DeleteMessageRequest {
                message_id: id.to_owned(),
                ..Default::default()
            })
            .await
            .expect_err("refused");
        let read = exports
            .get_message_export(pb::GetMessageExportRequest {
                export_id: id.to_owned(),
                ..Default::default()
            })
            .await
            .expect_err("refused");
        for (status, field) in [(deleted, "message_id"), (read, "export_id")] {
            let refused = failure(&status);
            assert_eq!(refused.code, tonic::Code::InvalidArgument, "{id:?}");
            assert_eq!(refused.fields, [field], "{id:?}");
        }
        // The transport refuses on its own, for callers that skip validation.
        let direct = client
            .get_message_export(id, CallContext::default())
            .await
            .expect_err("the transport refuses");
        assert_eq!(direct.field_violations()[0].field, "export_id", "{id:?}");
    }

    let sent = upstream.received_requests().await.unwrap_or_default();
    assert!(sent.is_empty(), "requests reached the upstream: {sent:?}");
    gateway.stop().await;
}
