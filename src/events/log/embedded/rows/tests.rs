//! Rows written before rows were versioned (copied byte for byte from what that code wrote) read
//! back to the same domain values, and what this build writes reads back unchanged.

use std::collections::BTreeMap;

use super::*;
use crate::model::Dialect;

/// An event row as the gateway wrote it before versions existed.
const EVENT_BEFORE_VERSIONS: &str = r#"{"id":"msg-1:status:read","account":"main","dialect":"wazzup_v3","event_type":"message_status","channel_id":"ch-1","received_at_ms":1700000000123,"occurred_at_ms":1700000000000,"raw":{"messageId":"msg-1","status":"read"}}"#;

/// An event row without channel and upstream time, as written before versions existed.
const SPARSE_EVENT_BEFORE_VERSIONS: &str = r#"{"id":"msg-1:status:read","account":"main","dialect":"sandbox","event_type":"unknown","channel_id":null,"received_at_ms":1700000000123,"occurred_at_ms":null,"raw":{"messageId":"msg-1","status":"read"}}"#;

/// A consumer row as the gateway wrote it before versions existed.
const CONSUMER_BEFORE_VERSIONS: &str = r#"{"key":{"account":"main","name":"crm"},"filter":{"accounts":["main"],"types":["message_received","message_status"],"channel_ids":["ch-1"]},"acks":{"acked":5,"delivered":8,"unacked":{"6":1,"8":2}}}"#;

fn expected_event() -> NewEvent {
    NewEvent {
        id: "msg-1:status:read".to_owned(),
        account: "main".to_owned(),
        dialect: Dialect::WazzupV3.into(),
        event_type: EventType::MessageStatus,
        channel_id: Some("ch-1".to_owned()),
        received_at_ms: 1_700_000_000_123,
        occurred_at_ms: Some(1_700_000_000_000),
        raw: serde_json::json!({"messageId": "msg-1", "status": "read"}),
        payload: None,
    }
}

fn expected_consumer() -> ConsumerRecord {
    ConsumerRecord {
        key: ConsumerKey {
            account: "main".to_owned(),
            name: "crm".to_owned(),
        },
        filter: EventFilter::new(
            vec!["main".to_owned()],
            vec![EventType::MessageReceived, EventType::MessageStatus],
            vec!["ch-1".to_owned()],
        ),
        acks: AckState {
            acked: 5,
            delivered: 8,
            unacked: BTreeMap::from([(6, 1), (8, 2)]),
        },
    }
}

#[test]
fn events_written_before_versions_read_back() {
    let event = decode_event(EVENT_BEFORE_VERSIONS.as_bytes()).unwrap();
    assert_eq!(event, expected_event());

    let sparse = decode_event(SPARSE_EVENT_BEFORE_VERSIONS.as_bytes()).unwrap();
    let expected = NewEvent {
        dialect: Dialect::Sandbox.into(),
        event_type: EventType::Unknown,
        channel_id: None,
        occurred_at_ms: None,
        ..expected_event()
    };
    assert_eq!(sparse, expected);
}

#[test]
fn consumers_written_before_versions_read_back() {
    let record = decode_consumer(CONSUMER_BEFORE_VERSIONS.as_bytes()).unwrap();
    assert_eq!(record, expected_consumer());
}

#[test]
fn rows_are_written_as_version_2_with_the_earlier_keys() {
    let event = encode_event(&expected_event()).unwrap();
    let expected = format!(r#"{{"v":2,{}"#, &EVENT_BEFORE_VERSIONS[1..]);
    assert_eq!(String::from_utf8(event.clone()).unwrap(), expected);
    assert_eq!(decode_event(&event).unwrap(), expected_event());

    let consumer = encode_consumer(&expected_consumer()).unwrap();
    let expected = format!(r#"{{"v":2,{}"#, &CONSUMER_BEFORE_VERSIONS[1..]);
    assert_eq!(String::from_utf8(consumer.clone()).unwrap(), expected);
    assert_eq!(decode_consumer(&consumer).unwrap(), expected_consumer());
}

#[test]
fn version_1_rows_read_back_without_a_payload() {
    let event = format!(r#"{{"v":1,{}"#, &EVENT_BEFORE_VERSIONS[1..]);
    assert_eq!(decode_event(event.as_bytes()).unwrap(), expected_event());
    let consumer = format!(r#"{{"v":1,{}"#, &CONSUMER_BEFORE_VERSIONS[1..]);
    assert_eq!(
        decode_consumer(consumer.as_bytes()).unwrap(),
        expected_consumer()
    );
}

#[test]
fn rows_of_an_unknown_version_are_corruption_not_misread() {
    let newer = format!(r#"{{"v":3,{}"#, &EVENT_BEFORE_VERSIONS[1..]);
    assert!(matches!(
        decode_event(newer.as_bytes()),
        Err(redb::Error::Corrupted(_))
    ));
    let newer = format!(r#"{{"v":3,{}"#, &CONSUMER_BEFORE_VERSIONS[1..]);
    assert!(matches!(
        decode_consumer(newer.as_bytes()),
        Err(redb::Error::Corrupted(_))
    ));
}

/// Returns the `payload` of the row this build writes for an event carrying `payload`, after
/// checking that the row reads back to the same event.
fn stored_payload(payload: EventPayload) -> serde_json::Value {
    let event = NewEvent {
        payload: Some(payload),
        ..expected_event()
    };
    let row = encode_event(&event).unwrap();
    assert_eq!(decode_event(&row).unwrap(), event);
    let mut row: serde_json::Value = serde_json::from_slice(&row).unwrap();
    row["payload"].take()
}

/// The stored form of every payload variant, every key spelled: a renamed field or variant of the
/// domain types changes these rows and fails here, instead of silently changing the disk format.
/// Fields at their defaults are left out, so a row carries only what the event says.
#[test]
fn payload_keys_are_pinned() {
    for (payload, expected) in samples() {
        let expected: serde_json::Value = serde_json::from_str(expected).unwrap();
        assert_eq!(stored_payload(payload), expected);
    }
    // Empty texts, unset options, false flags and empty lists are left out of the row.
    let empty = EventPayload::Message(Box::default());
    assert_eq!(stored_payload(empty), serde_json::json!({"message": {}}));
}

/// One payload of each variant, every field set (so every key shows), and its stored JSON.
fn samples() -> Vec<(EventPayload, &'static str)> {
    use crate::events::payload::*;
    use crate::model::{
        ChannelState, ChatType, ExportState, MessageExport, TemplateStatus, Transport,
    };
    let text = |value: &str| value.to_owned();
    let contact = |tag: &str| Contact {
        name: format!("{tag}-name"),
        avatar_uri: format!("{tag}-avatar"),
        username: format!("{tag}-user"),
        phone: format!("{tag}-phone"),
        chat_id: format!("{tag}-chat"),
    };
    let error = MessageError {
        code: text("E1"),
        description: text("failed"),
        data: Some(serde_json::json!({"d": 1})),
    };
    let message = MessagePayload {
        message_id: text("m-1"),
        channel_id: text("ch-1"),
        chat_type: Some(ChatType::Whatsgroup),
        chat_type_raw: text("whatsgroup"),
        chat_id: text("c-1"),
        avito_profile_id: text("av-1"),
        sent_at_ms: Some(5),
        message_type: Some(MessageType::WapiTemplate),
        type_raw: text("wapi_template"),
        is_echo: true,
        text: text("hi"),
        content_uri: text("https://files/1"),
        status: Some(MessageStatus::Delivered),
        status_raw: text("delivered"),
        error: Some(error.clone()),
        author_name: text("Ann"),
        author_id: text("u-1"),
        contact: Some(contact("contact")),
        quoted_message: Some(serde_json::json!({"text": "q"})),
        is_edited: true,
        is_deleted: true,
        old_info: Some(OldInfo {
            old_text: text("old"),
            old_author_id: text("u-0"),
            old_author_name: text("Bob"),
        }),
        instagram_post: Some(serde_json::json!({"id": "p"})),
        interactive: vec![serde_json::json!({"b": 1})],
        sent_from_app: true,
        direction: Some(Direction::Inbound),
        advert: Some(serde_json::json!({"ad": 1})),
        direction_raw: text("inbound"),
        request_id: text("r-1"),
        crm_user_id: text("crm-1"),
        sender: Some(contact("sender")),
        content_mime_type: text("image/png"),
        content_name: text("a.png"),
        location: Some(Location {
            latitude: 55.75,
            longitude: 37.61,
            address: text("Red Square"),
            address_name: text("Moscow"),
            url: text("https://maps/1"),
        }),
        shared_contacts: vec![serde_json::json!({"name": "Cy"})],
    };
    let status = StatusPayload {
        message_id: text("m-1"),
        status: Some(MessageStatus::Other),
        status_raw: text("teleported"),
        error: Some(error),
        occurred_at_ms: Some(7),
        channel_id: text("ch-1"),
        chat_id: text("c-1"),
        request_id: text("r-1"),
        callback_data: text("cb"),
    };
    vec![
        (EventPayload::Message(Box::new(message)), MESSAGE_GOLDEN),
        (EventPayload::Status(status), STATUS_GOLDEN),
        (
            EventPayload::Channel(ChannelPayload {
                channel_id: "ch-1".to_owned(),
                change: ChannelChange::State,
                state: Some(ChannelState::PhoneUnavailable),
                state_raw: "phoneUnavailable".to_owned(),
                tier: "TIER_1K".to_owned(),
                qr: "qr".to_owned(),
                changed_at_ms: Some(1),
                pairing_code: "pc".to_owned(),
                reason: "why".to_owned(),
                transport: Some(Transport::TelegramPersonal),
                transport_raw: "telegram".to_owned(),
            }),
            CHANNEL_GOLDEN,
        ),
        (
            EventPayload::TemplateStatus(TemplateStatusPayload {
                template_id: "t".to_owned(),
                name: "n".to_owned(),
                status: Some(TemplateStatus::Approved),
                status_raw: "APPROVED".to_owned(),
                rejected_reason: "none".to_owned(),
            }),
            TEMPLATE_GOLDEN,
        ),
        (
            EventPayload::CrmRequest(CrmRequestPayload {
                kind: CrmEntityKind::Deal,
                body: serde_json::json!({"a": 1}),
            }),
            CRM_GOLDEN,
        ),
        (
            EventPayload::Export(MessageExport {
                export_id: "x".to_owned(),
                state: ExportState::WebhookFailed,
                state_raw: "webhook_failed".to_owned(),
                url: "https://files/x".to_owned(),
            }),
            EXPORT_GOLDEN,
        ),
        (
            EventPayload::GroupChat(GroupChatPayload {
                channel_id: "ch".to_owned(),
                chat_id: "c".to_owned(),
                change: GroupChatChange::Memberships,
                data: serde_json::json!([1]),
            }),
            GROUP_GOLDEN,
        ),
        (
            EventPayload::Unknown(UnknownPayload {
                reason: "r".to_owned(),
                kind: "k".to_owned(),
            }),
            UNKNOWN_GOLDEN,
        ),
    ]
}
/// A message payload as stored, every key present.
const MESSAGE_GOLDEN: &str = r#"{"message":{"advert":{"ad":1},"author_id":"u-1","author_name":"Ann","avito_profile_id":"av-1","channel_id":"ch-1","chat_id":"c-1","chat_type":"whatsgroup","chat_type_raw":"whatsgroup","contact":{"avatar_uri":"contact-avatar","chat_id":"contact-chat","name":"contact-name","phone":"contact-phone","username":"contact-user"},"content_mime_type":"image/png","content_name":"a.png","content_uri":"https://files/1","crm_user_id":"crm-1","direction":"inbound","direction_raw":"inbound","error":{"code":"E1","data":{"d":1},"description":"failed"},"instagram_post":{"id":"p"},"interactive":[{"b":1}],"is_deleted":true,"is_echo":true,"is_edited":true,"location":{"address":"Red Square","address_name":"Moscow","latitude":55.75,"longitude":37.61,"url":"https://maps/1"},"message_id":"m-1","message_type":"wapi_template","old_info":{"old_author_id":"u-0","old_author_name":"Bob","old_text":"old"},"quoted_message":{"text":"q"},"request_id":"r-1","sender":{"avatar_uri":"sender-avatar","chat_id":"sender-chat","name":"sender-name","phone":"sender-phone","username":"sender-user"},"sent_at_ms":5,"sent_from_app":true,"shared_contacts":[{"name":"Cy"}],"status":"delivered","status_raw":"delivered","text":"hi","type_raw":"wapi_template"}}"#;
/// A status payload as stored, every key present.
const STATUS_GOLDEN: &str = r#"{"status":{"callback_data":"cb","channel_id":"ch-1","chat_id":"c-1","error":{"code":"E1","data":{"d":1},"description":"failed"},"message_id":"m-1","occurred_at_ms":7,"request_id":"r-1","status":"other","status_raw":"teleported"}}"#;
/// A channel payload as stored, every key present.
const CHANNEL_GOLDEN: &str = r#"{"channel":{"change":"state","changed_at_ms":1,"channel_id":"ch-1","pairing_code":"pc","qr":"qr","reason":"why","state":"phone_unavailable","state_raw":"phoneUnavailable","tier":"TIER_1K","transport":"telegram_personal","transport_raw":"telegram"}}"#;
/// A template status payload as stored, every key present.
const TEMPLATE_GOLDEN: &str = r#"{"template_status":{"name":"n","rejected_reason":"none","status":"approved","status_raw":"APPROVED","template_id":"t"}}"#;
/// A CRM entity request payload as stored, every key present.
const CRM_GOLDEN: &str = r#"{"crm_request":{"body":{"a":1},"kind":"deal"}}"#;
/// An export payload as stored, every key present.
const EXPORT_GOLDEN: &str = r#"{"export":{"export_id":"x","state":"webhook_failed","state_raw":"webhook_failed","url":"https://files/x"}}"#;
/// A group chat payload as stored, every key present.
const GROUP_GOLDEN: &str =
    r#"{"group_chat":{"change":"memberships","channel_id":"ch","chat_id":"c","data":[1]}}"#;
/// An unknown payload as stored, every key present.
const UNKNOWN_GOLDEN: &str = r#"{"unknown":{"kind":"k","reason":"r"}}"#;
