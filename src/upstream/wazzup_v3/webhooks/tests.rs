//! The v3 decoder over the reference examples (`fixtures/`, copied from wazzup-api.md §6) and
//! hand-made bodies for the tolerance rules.

use serde_json::{Value, json};

use crate::events::decode::{DecodedWebhook, WebhookSource};
use crate::events::payload::{
    ChannelChange, CrmEntityKind, Direction, EventPayload, MessagePayload, MessageStatus,
    MessageType, StatusPayload,
};
use crate::events::{EventType, NewEvent};
use crate::model::Dialect;
use crate::model::{ChannelState, ChatType, TemplateStatus};
use crate::upstream::registry::WEBHOOK_DECODERS;

/// Splits a body with the registry's decoders, as the ingress does.
fn decode_webhook(source: WebhookSource<'_>, body: &[u8]) -> DecodedWebhook {
    WEBHOOK_DECODERS.decode_webhook(source, body)
}

/// Returns an event's typed payload as readers get it.
fn payload(event: &NewEvent) -> EventPayload {
    WEBHOOK_DECODERS.payload(event).into_owned()
}

const RECEIVED_AT_MS: i64 = 1_746_540_000_000;

fn decode(body: &str) -> DecodedWebhook {
    let source = WebhookSource {
        account: "main",
        dialect: Dialect::WazzupV3,
        received_at_ms: RECEIVED_AT_MS,
    };
    decode_webhook(source, body.as_bytes())
}

fn single(body: &str) -> NewEvent {
    let decoded = decode(body);
    assert_eq!(decoded.events.len(), 1, "{:?}", decoded.events);
    decoded.events.into_iter().next().unwrap()
}

fn message(event: &NewEvent) -> MessagePayload {
    match payload(event) {
        EventPayload::Message(message) => *message,
        other => panic!("expected a message, got {other:?}"),
    }
}

fn status(event: &NewEvent) -> StatusPayload {
    match payload(event) {
        EventPayload::Status(status) => status,
        other => panic!("expected a status, got {other:?}"),
    }
}

fn types(decoded: &DecodedWebhook) -> Vec<EventType> {
    decoded
        .events
        .iter()
        .map(|event| event.event_type)
        .collect()
}

#[test]
fn an_incoming_sticker_is_a_received_image_message() {
    let event = single(include_str!("fixtures/messages_incoming_sticker.json"));
    assert_eq!(event.event_type, EventType::MessageReceived);
    assert_eq!(
        event.id,
        "v3:main:message:6a2087e8-e0f4-9999-b968-9d9999933c81:inbound"
    );
    assert_eq!(event.account, "main");
    assert_eq!(event.dialect, "wazzup_v3");
    assert_eq!(
        event.channel_id.as_deref(),
        Some("b96a353b-9999-4cac-8413-ba99999f981")
    );
    assert_eq!(event.received_at_ms, RECEIVED_AT_MS);
    assert_eq!(event.occurred_at_ms, Some(1_746_540_960_002));
    assert_eq!(event.raw["chatId"], json!("79999999999"));

    let message = message(&event);
    assert_eq!(message.message_type, Some(MessageType::Image));
    assert_eq!(message.chat_type, Some(ChatType::Whatsapp));
    assert_eq!(message.status, Some(MessageStatus::Inbound));
    assert_eq!(message.direction, Some(Direction::Inbound));
    assert!(message.content_uri.ends_with(".was"));
    let contact = message.contact.unwrap();
    assert_eq!(contact.name, "79999999999");
    assert_eq!(contact.avatar_uri, "https://store.wazzup24.com/…");
}

#[test]
fn an_echo_carries_every_documented_field() {
    let event = single(include_str!("fixtures/messages_echo_every_field.json"));
    assert_eq!(event.event_type, EventType::MessageEcho);
    assert_eq!(
        event.id,
        "v3:main:echo:0c0b4e7e-2f0a-4e59-9a7c-1d2f3e4a5b6c:error"
    );
    let message = message(&event);
    assert!(message.is_echo);
    assert_eq!(message.direction, Some(Direction::Outbound));
    assert_eq!(message.chat_type, Some(ChatType::Telegram));
    assert_eq!(message.text, "We shipped your order");
    assert_eq!(message.status, Some(MessageStatus::Error));
    let error = message.error.unwrap();
    assert_eq!(error.code, "24_HOURS_EXCEEDED");
    assert_eq!(error.description, "The 24-hour window is closed");
    assert_eq!(error.data, Some(json!({"hint": "send a template"})));
    assert_eq!(message.author_name, "Operator Anna");
    assert_eq!(message.author_id, "42");
    let contact = message.contact.unwrap();
    assert_eq!(contact.username, "ivan_petrov");
    assert_eq!(
        contact.phone, "79011112233",
        "a numeric phone reads as digits"
    );
    assert_eq!(
        message.quoted_message.unwrap()["text"],
        json!("Where is my order?")
    );
    let post = message.instagram_post.unwrap();
    assert_eq!(post["likes"], json!(12));
    assert_eq!(post["previewSrc"], json!("https://img/1s.jpg"));
    assert_eq!(message.interactive.len(), 2);
    assert_eq!(message.interactive[1]["payload"], json!("no"));
    assert_eq!(message.advert.unwrap()["title"], json!("Bicycle"));
    assert!(message.sent_from_app);
}

#[test]
fn edits_and_deletions_are_their_own_events_with_old_info() {
    let original = single(include_str!("fixtures/messages_incoming_sticker.json"));
    let edited = single(include_str!("fixtures/messages_edited.json"));
    let deleted = single(include_str!("fixtures/messages_deleted.json"));

    assert_eq!(edited.event_type, EventType::MessageEdited);
    assert_eq!(deleted.event_type, EventType::MessageDeleted);
    assert!(
        edited
            .id
            .starts_with("v3:main:edited:6a2087e8-e0f4-9999-b968-9d9999933c81:")
    );
    assert_eq!(
        deleted.id,
        "v3:main:deleted:6a2087e8-e0f4-9999-b968-9d9999933c81"
    );
    let ids = [&original.id, &edited.id, &deleted.id];
    assert!(
        ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2],
        "{ids:?}"
    );

    let edit = message(&edited);
    assert!(edit.is_edited);
    let old_info = edit.old_info.unwrap();
    assert_eq!(old_info.old_text, "original txet");
    assert_eq!(old_info.old_author_name, "Ivan");
    let deletion = message(&deleted);
    assert!(deletion.is_deleted);
    assert_eq!(deletion.old_info.unwrap().old_text, "corrected text");
}

#[test]
fn a_second_edit_of_the_same_message_is_a_new_event() {
    let first = single(include_str!("fixtures/messages_edited.json"));
    let again = include_str!("fixtures/messages_edited.json").replace("corrected text", "final");
    assert_ne!(first.id, single(&again).id);
}

#[test]
fn a_delivered_status_names_its_message_and_time() {
    let event = single(include_str!("fixtures/statuses_delivered.json"));
    assert_eq!(event.event_type, EventType::MessageStatus);
    assert_eq!(
        event.id,
        "v3:main:status:be3dc577-60c4-4fc8-83a5-8c358e0bfe15:delivered"
    );
    assert_eq!(event.channel_id, None);
    assert_eq!(event.occurred_at_ms, Some(1_738_735_267_499));
    let status = status(&event);
    assert_eq!(status.message_id, "be3dc577-60c4-4fc8-83a5-8c358e0bfe15");
    assert_eq!(status.status, Some(MessageStatus::Delivered));
    assert_eq!(status.status_raw, "delivered");
    assert_eq!(status.occurred_at_ms, Some(1_738_735_267_499));
}

#[test]
fn one_delivery_with_messages_and_statuses_yields_all_events_in_body_order() {
    let decoded = decode(include_str!("fixtures/messages_and_statuses.json"));
    assert_eq!(decoded.kind, "mixed");
    assert_eq!(
        types(&decoded),
        [
            EventType::MessageReceived,
            EventType::MessageEcho,
            EventType::MessageStatus,
            EventType::MessageStatus,
            EventType::MessageStatus,
        ]
    );
    let statuses: Vec<String> = decoded.events[2..]
        .iter()
        .map(|e| status(e).status_raw)
        .collect();
    assert_eq!(statuses, ["delivered", "read", "error"]);
    let error = status(&decoded.events[4]).error.unwrap();
    assert_eq!(error.code, "BAD_CONTACT");

    let reversed = r#"{"statuses": [{"messageId": "s", "status": "read"}],
                       "messages": [{"messageId": "m", "status": "inbound"}]}"#;
    assert_eq!(
        types(&decode(reversed)),
        [EventType::MessageStatus, EventType::MessageReceived]
    );
}

#[test]
fn stable_ids_repeat_for_a_redelivery_and_differ_between_statuses() {
    let body = include_str!("fixtures/messages_and_statuses.json");
    let ids = |decoded: DecodedWebhook| -> Vec<String> {
        decoded.events.into_iter().map(|event| event.id).collect()
    };
    let first = ids(decode(body));
    assert_eq!(first, ids(decode(body)));
    assert_ne!(first[2], first[3], "delivered and read of one message");
    assert_eq!(
        first[3],
        "v3:main:status:be3dc577-60c4-4fc8-83a5-8c358e0bfe15:read"
    );
    let other_account = WebhookSource {
        account: "second",
        dialect: Dialect::WazzupV3,
        received_at_ms: RECEIVED_AT_MS,
    };
    let elsewhere = decode_webhook(other_account, body.as_bytes());
    assert_ne!(elsewhere.events[0].id, first[0], "ids are per account");
}

#[test]
fn repeated_items_in_one_body_become_one_event() {
    let body = r#"{"statuses": [{"messageId": "m", "status": "read"}, {"messageId": "m", "status": "READ"}]}"#;
    assert_eq!(decode(body).events.len(), 1);
}

#[test]
fn a_channel_update_carries_state_qr_and_time() {
    let event = single(include_str!("fixtures/channels_updates_qr.json"));
    assert_eq!(event.event_type, EventType::ChannelUpdated);
    assert_eq!(
        event.id,
        "v3:main:channel:d9e5721c-ce2b-444f-9627-60a8129d7e1f:qr::1603977171000"
    );
    assert_eq!(
        event.channel_id.as_deref(),
        Some("d9e5721c-ce2b-444f-9627-60a8129d7e1f")
    );
    assert_eq!(event.occurred_at_ms, Some(1_603_977_171_000));
    let EventPayload::Channel(channel) = payload(&event) else {
        panic!("a channel payload");
    };
    assert_eq!(channel.change, ChannelChange::State);
    assert_eq!(channel.state, Some(ChannelState::Qr));
    assert_eq!(channel.qr, "data:image/png;base64,iVBORw0KGgoAAAANS");
    assert_eq!(channel.changed_at_ms, Some(1_603_977_171_000));
}

#[test]
fn a_template_status_is_one_object_not_a_list() {
    let decoded = decode(include_str!("fixtures/template_status.json"));
    assert_eq!(decoded.kind, "templateStatus");
    let event = &decoded.events[0];
    assert_eq!(event.event_type, EventType::TemplateStatus);
    assert_eq!(
        event.id,
        "v3:main:template:8d255e5d-aefd-44dc-8131-c3ad6c3ab28c:approved"
    );
    let EventPayload::TemplateStatus(template) = payload(event) else {
        panic!("a template payload");
    };
    assert_eq!(template.template_id, "8d255e5d-aefd-44dc-8131-c3ad6c3ab28c");
    assert_eq!(template.name, "Test");
    assert_eq!(template.status, Some(TemplateStatus::Approved));
}

#[test]
fn crm_requests_keep_their_body_and_are_identified_by_its_hash() {
    let contact = single(include_str!("fixtures/create_contact.json"));
    let deal = single(include_str!("fixtures/create_deal.json"));
    assert_eq!(contact.event_type, EventType::ContactRequested);
    assert_eq!(deal.event_type, EventType::DealRequested);
    assert!(contact.id.starts_with("v3:main:contact:"), "{}", contact.id);
    assert!(deal.id.starts_with("v3:main:deal:"), "{}", deal.id);
    assert_eq!(
        contact.id,
        single(include_str!("fixtures/create_contact.json")).id
    );
    let EventPayload::CrmRequest(request) = payload(&deal) else {
        panic!("a CRM request payload");
    };
    assert_eq!(request.kind, CrmEntityKind::Deal);
    assert_eq!(
        request.body,
        json!({"responsibleUserId": "1", "contacts": ["1"], "source": "byUser"})
    );
    let EventPayload::CrmRequest(request) = payload(&contact) else {
        panic!("a CRM request payload");
    };
    assert_eq!(request.kind, CrmEntityKind::Contact);
    assert_eq!(request.body["name"], json!("contact name"));
}

#[test]
fn the_test_probe_holds_no_event() {
    let decoded = decode(include_str!("fixtures/test_probe.json"));
    assert!(decoded.events.is_empty());
    assert!(decoded.is_test_probe());
}

#[test]
fn an_unknown_top_level_key_is_kept_beside_the_known_ones() {
    let body = r#"{"messages": [{"messageId": "m", "status": "inbound"}],
                   "groupChats": [{"chatId": "g"}]}"#;
    let decoded = decode(body);
    assert_eq!(decoded.kind, "mixed");
    assert_eq!(
        types(&decoded),
        [EventType::MessageReceived, EventType::Unknown]
    );
    let unknown = &decoded.events[1];
    assert_eq!(unknown.raw, json!({"groupChats": [{"chatId": "g"}]}));
    assert!(unknown.id.starts_with("v3:main:unknown:"));
    let EventPayload::Unknown(reason) = payload(unknown) else {
        panic!("an unknown payload");
    };
    assert_eq!(reason.kind, "groupChats");
    assert_eq!(reason.reason, "unknown webhook kind");
}

#[test]
fn a_body_that_is_not_an_object_is_one_unknown_event_with_the_body() {
    let event = single(r#"[{"messageId": "m"}]"#);
    assert_eq!(event.event_type, EventType::Unknown);
    assert_eq!(event.raw, json!([{"messageId": "m"}]));
    assert_eq!(event.id, single(r#"[{"messageId": "m"}]"#).id);
    let EventPayload::Unknown(reason) = payload(&event) else {
        panic!("an unknown payload");
    };
    assert_eq!(reason.kind, "");
    assert!(reason.reason.starts_with("body is not a JSON object"));
}

#[test]
fn an_item_that_is_not_an_object_is_unknown_and_its_siblings_still_decode() {
    let decoded = decode(r#"{"statuses": [42, {"messageId": "m", "status": "sent"}]}"#);
    assert_eq!(decoded.kind, "statuses");
    assert_eq!(
        types(&decoded),
        [EventType::Unknown, EventType::MessageStatus]
    );
    assert_eq!(decoded.events[0].raw, json!({"statuses": 42}));
    let EventPayload::Unknown(reason) = payload(&decoded.events[0]) else {
        panic!("an unknown payload");
    };
    assert_eq!(reason.kind, "statuses");
    assert_eq!(reason.reason, "item is not a JSON object");
}

#[test]
fn unknown_values_keep_the_known_event_type_and_their_raw_strings() {
    let decoded = decode(include_str!("fixtures/tolerant_values.json"));
    assert_eq!(
        types(&decoded),
        [
            EventType::MessageReceived,
            EventType::ChannelUpdated,
            EventType::TemplateStatus
        ]
    );
    let message = message(&decoded.events[0]);
    assert_eq!(message.chat_type, Some(ChatType::Other));
    assert_eq!(message.chat_type_raw, "maxgroup2");
    assert_eq!(message.message_type, Some(MessageType::Other));
    assert_eq!(message.type_raw, "hologram");
    assert_eq!(message.status, Some(MessageStatus::Other));
    assert_eq!(message.status_raw, "teleported");
    assert_eq!(
        message.chat_id, "79011112233",
        "a numeric chat id reads as text"
    );
    assert_eq!(message.contact.unwrap().phone, "79022223344");
    assert!(!message.is_echo, "\"false\" is false");
    assert!(message.sent_from_app, "\"true\" is true");
    assert_eq!(
        message.sent_at_ms,
        Some(1_746_540_960_002),
        "ms epoch dateTime"
    );

    let EventPayload::Channel(channel) = payload(&decoded.events[1]) else {
        panic!("a channel payload");
    };
    assert_eq!(channel.state, Some(ChannelState::Other));
    assert_eq!(channel.state_raw, "hibernating");
    assert_eq!(channel.tier, "TIER_1K");
    assert_eq!(decoded.events[1].occurred_at_ms, Some(1_603_977_172_000));

    let EventPayload::TemplateStatus(template) = payload(&decoded.events[2]) else {
        panic!("a template payload");
    };
    assert_eq!(template.status, Some(TemplateStatus::Other));
    assert_eq!(template.status_raw, "ARCHIVED_FOREVER");
}

#[test]
fn string_flags_classify_echoes_edits_and_deletions() {
    let cases = [
        (
            json!({"messageId": "m", "isEcho": "true"}),
            EventType::MessageEcho,
        ),
        (
            json!({"messageId": "m", "isEdited": "1"}),
            EventType::MessageEdited,
        ),
        (
            json!({"messageId": "m", "isDeleted": 1, "isEdited": true}),
            EventType::MessageDeleted,
        ),
        (
            json!({"messageId": "m", "isEcho": "false"}),
            EventType::MessageReceived,
        ),
    ];
    for (item, expected) in cases {
        let body = json!({"messages": [item]}).to_string();
        assert_eq!(single(&body).event_type, expected, "{body}");
    }
}

#[test]
fn fields_of_the_wrong_type_read_as_absent_without_losing_the_item() {
    let body = json!({"messages": [{
        "messageId": "m", "contact": "not an object", "error": [1], "interactive": {"a": 1},
        "oldInfo": 7, "text": {"nested": true}, "dateTime": "not a time"
    }]})
    .to_string();
    let event = single(&body);
    assert_eq!(event.occurred_at_ms, None);
    let message = message(&event);
    assert_eq!(message.message_id, "m");
    assert_eq!(message.contact, None);
    assert_eq!(message.error, None);
    assert!(message.interactive.is_empty());
    assert_eq!(message.old_info, None);
    assert_eq!(message.text, "");
}

#[test]
fn items_without_their_id_fields_are_identified_by_content() {
    let first = single(r#"{"statuses": [{"status": "read"}]}"#);
    assert!(first.id.starts_with("v3:main:status:h"), "{}", first.id);
    let second = single(r#"{"statuses": [{"status": "sent"}]}"#);
    assert_ne!(first.id, second.id);
}

#[test]
fn raw_is_the_item_not_the_whole_body() {
    let decoded = decode(include_str!("fixtures/messages_and_statuses.json"));
    let raw: &Value = &decoded.events[2].raw;
    assert_eq!(raw["status"], json!("delivered"));
    assert!(raw.get("statuses").is_none());
}

#[test]
fn times_beyond_the_protobuf_timestamp_range_give_no_occurred_at() {
    let status = single(
        r#"{"statuses": [{"messageId": "m-1", "timestamp": 1e308, "status": "delivered"}]}"#,
    );
    assert_eq!(status.occurred_at_ms, None);
    assert_eq!(self::status(&status).occurred_at_ms, None);
    let channel = single(
        r#"{"channelsUpdates": [{"channelId": "c-1", "state": "active", "timestamp": -1e20}]}"#,
    );
    assert_eq!(channel.occurred_at_ms, None);
    let EventPayload::Channel(update) = payload(&channel) else {
        panic!("a channel payload");
    };
    assert_eq!(update.changed_at_ms, None);
}
