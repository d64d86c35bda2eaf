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
#[test]
fn payload_keys_are_pinned() {
    for (payload, expected) in samples() {
        let expected: serde_json::Value = serde_json::from_str(expected).unwrap();
        assert_eq!(stored_payload(payload), expected);
    }
}

/// One payload of each variant (every optional part present) and its stored JSON.
fn samples() -> Vec<(EventPayload, &'static str)> {
    use crate::events::payload::*;
    use crate::model::{
        ChannelState, ChatType, ExportState, MessageExport, TemplateStatus, Transport,
    };
    let message = MessagePayload {
        chat_type: Some(ChatType::Whatsgroup),
        message_type: Some(MessageType::WapiTemplate),
        status: Some(MessageStatus::Delivered),
        error: Some(MessageError::default()),
        contact: Some(Contact::default()),
        quoted_message: Some(serde_json::json!({"text": "q"})),
        old_info: Some(OldInfo::default()),
        direction: Some(Direction::Inbound),
        sender: Some(Contact::default()),
        location: Some(Location::default()),
        ..MessagePayload::default()
    };
    vec![
        (
            EventPayload::Message(Box::new(message)),
            r#"{"message":{"advert":null,"author_id":"","author_name":"","avito_profile_id":"","channel_id":"","chat_id":"","chat_type":"whatsgroup","chat_type_raw":"","contact":{"avatar_uri":"","chat_id":"","name":"","phone":"","username":""},"content_mime_type":"","content_name":"","content_uri":"","crm_user_id":"","direction":"inbound","direction_raw":"","error":{"code":"","data":null,"description":""},"instagram_post":null,"interactive":[],"is_deleted":false,"is_echo":false,"is_edited":false,"location":{"address":"","address_name":"","latitude":0.0,"longitude":0.0,"url":""},"message_id":"","message_type":"wapi_template","old_info":{"old_author_id":"","old_author_name":"","old_text":""},"quoted_message":{"text":"q"},"request_id":"","sender":{"avatar_uri":"","chat_id":"","name":"","phone":"","username":""},"sent_at_ms":null,"sent_from_app":false,"shared_contacts":[],"status":"delivered","status_raw":"","text":"","type_raw":""}}"#,
        ),
        (
            EventPayload::Status(StatusPayload {
                status: Some(MessageStatus::Other),
                ..StatusPayload::default()
            }),
            r#"{"status":{"callback_data":"","channel_id":"","chat_id":"","error":null,"message_id":"","occurred_at_ms":null,"request_id":"","status":"other","status_raw":""}}"#,
        ),
        (
            EventPayload::Channel(ChannelPayload {
                channel_id: "ch-1".to_owned(),
                change: ChannelChange::State,
                state: Some(ChannelState::PhoneUnavailable),
                state_raw: "phoneUnavailable".to_owned(),
                tier: String::new(),
                qr: String::new(),
                changed_at_ms: Some(1),
                pairing_code: String::new(),
                reason: String::new(),
                transport: Some(Transport::TelegramPersonal),
                transport_raw: "telegram".to_owned(),
            }),
            r#"{"channel":{"change":"state","changed_at_ms":1,"channel_id":"ch-1","pairing_code":"","qr":"","reason":"","state":"phone_unavailable","state_raw":"phoneUnavailable","tier":"","transport":"telegram_personal","transport_raw":"telegram"}}"#,
        ),
        (
            EventPayload::TemplateStatus(TemplateStatusPayload {
                template_id: "t".to_owned(),
                name: "n".to_owned(),
                status: Some(TemplateStatus::Approved),
                status_raw: "APPROVED".to_owned(),
                rejected_reason: String::new(),
            }),
            r#"{"template_status":{"name":"n","rejected_reason":"","status":"approved","status_raw":"APPROVED","template_id":"t"}}"#,
        ),
        (
            EventPayload::CrmRequest(CrmRequestPayload {
                kind: CrmEntityKind::Deal,
                body: serde_json::json!({"a": 1}),
            }),
            r#"{"crm_request":{"body":{"a":1},"kind":"deal"}}"#,
        ),
        (
            EventPayload::Export(MessageExport {
                export_id: "x".to_owned(),
                state: ExportState::WebhookFailed,
                state_raw: "webhook_failed".to_owned(),
                url: String::new(),
            }),
            r#"{"export":{"export_id":"x","state":"webhook_failed","state_raw":"webhook_failed","url":""}}"#,
        ),
        (
            EventPayload::GroupChat(GroupChatPayload {
                channel_id: "ch".to_owned(),
                chat_id: "c".to_owned(),
                change: GroupChatChange::Memberships,
                data: serde_json::json!([1]),
            }),
            r#"{"group_chat":{"change":"memberships","channel_id":"ch","chat_id":"c","data":[1]}}"#,
        ),
        (
            EventPayload::Unknown(UnknownPayload {
                reason: "r".to_owned(),
                kind: "k".to_owned(),
            }),
            r#"{"unknown":{"kind":"k","reason":"r"}}"#,
        ),
    ]
}
