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
fn rows_are_written_as_version_1_with_the_earlier_keys() {
    let event = encode_event(&expected_event()).unwrap();
    let expected = format!(r#"{{"v":1,{}"#, &EVENT_BEFORE_VERSIONS[1..]);
    assert_eq!(String::from_utf8(event.clone()).unwrap(), expected);
    assert_eq!(decode_event(&event).unwrap(), expected_event());

    let consumer = encode_consumer(&expected_consumer()).unwrap();
    let expected = format!(r#"{{"v":1,{}"#, &CONSUMER_BEFORE_VERSIONS[1..]);
    assert_eq!(String::from_utf8(consumer.clone()).unwrap(), expected);
    assert_eq!(decode_consumer(&consumer).unwrap(), expected_consumer());
}

#[test]
fn rows_of_an_unknown_version_are_corruption_not_misread() {
    let newer = format!(r#"{{"v":2,{}"#, &EVENT_BEFORE_VERSIONS[1..]);
    assert!(matches!(
        decode_event(newer.as_bytes()),
        Err(redb::Error::Corrupted(_))
    ));
    let newer = format!(r#"{{"v":2,{}"#, &CONSUMER_BEFORE_VERSIONS[1..]);
    assert!(matches!(
        decode_consumer(newer.as_bytes()),
        Err(redb::Error::Corrupted(_))
    ));
}
