//! The payloads the JetStream backend stores, owned by the backend so that renaming a field of a
//! domain type ([`NewEvent`], [`ConsumerRecord`]) cannot change what is in the stream: every
//! JSON key is spelled out here, and the conversions are the only coupling.
//!
//! Every payload carries `"v": 1`. A payload without a version or of a version this build does
//! not know is reported as [`RowError`] rather than misread.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::events::consumers::{AckState, ConsumerKey, ConsumerRecord, EventFilter};
use crate::events::{Cursor, EventType, NewEvent};
use crate::model::EventDialect;

/// The payload version this build writes and reads.
const ROW_VERSION: u8 = 1;

/// A stored payload that cannot be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RowError {
    /// Not the JSON of a known payload.
    #[error("a stored payload does not decode")]
    Json(#[from] serde_json::Error),
    /// Written by a newer build.
    #[error("stored payload version {0} is not {ROW_VERSION}, the version this build reads")]
    Version(u8),
}

/// An event message's payload, version 1.
#[derive(Debug, Serialize, Deserialize)]
struct EventV1 {
    /// The payload version.
    #[serde(rename = "v")]
    version: u8,
    /// [`NewEvent::id`].
    #[serde(rename = "id")]
    id: String,
    /// [`NewEvent::account`].
    #[serde(rename = "account")]
    account: String,
    /// [`NewEvent::dialect`], as its configuration name.
    #[serde(rename = "dialect")]
    dialect: String,
    /// [`NewEvent::event_type`].
    #[serde(rename = "event_type")]
    event_type: EventType,
    /// [`NewEvent::channel_id`].
    #[serde(rename = "channel_id")]
    channel_id: Option<String>,
    /// [`NewEvent::received_at_ms`].
    #[serde(rename = "received_at_ms")]
    received_at_ms: i64,
    /// [`NewEvent::occurred_at_ms`].
    #[serde(rename = "occurred_at_ms")]
    occurred_at_ms: Option<i64>,
    /// [`NewEvent::raw`].
    #[serde(rename = "raw")]
    raw: serde_json::Value,
}

/// A named consumer's key-value entry, version 1.
#[derive(Debug, Serialize, Deserialize)]
struct ConsumerV1 {
    /// The payload version.
    #[serde(rename = "v")]
    version: u8,
    /// [`ConsumerKey::account`].
    #[serde(rename = "account")]
    account: String,
    /// [`ConsumerKey::name`].
    #[serde(rename = "name")]
    name: String,
    /// [`EventFilter::accounts`].
    #[serde(rename = "filter_accounts")]
    filter_accounts: Vec<String>,
    /// [`EventFilter::types`].
    #[serde(rename = "filter_types")]
    filter_types: Vec<EventType>,
    /// [`EventFilter::channel_ids`].
    #[serde(rename = "filter_channel_ids")]
    filter_channel_ids: Vec<String>,
    /// [`AckState::acked`].
    #[serde(rename = "acked")]
    acked: Cursor,
    /// [`AckState::delivered`].
    #[serde(rename = "delivered")]
    delivered: Cursor,
    /// [`AckState::unacked`].
    #[serde(rename = "unacked")]
    unacked: BTreeMap<Cursor, u32>,
}

/// Returns the message payload of `event`.
pub(super) fn encode_event(event: &NewEvent) -> Result<Vec<u8>, RowError> {
    let row = EventV1 {
        version: ROW_VERSION,
        id: event.id.clone(),
        account: event.account.clone(),
        dialect: event.dialect.as_str().to_owned(),
        event_type: event.event_type,
        channel_id: event.channel_id.clone(),
        received_at_ms: event.received_at_ms,
        occurred_at_ms: event.occurred_at_ms,
        raw: event.raw.clone(),
    };
    Ok(serde_json::to_vec(&row)?)
}

/// Reads an event message's payload back.
pub(super) fn decode_event(bytes: &[u8]) -> Result<NewEvent, RowError> {
    let row: EventV1 = serde_json::from_slice(bytes)?;
    check_version(row.version)?;
    Ok(NewEvent {
        id: row.id,
        account: row.account,
        dialect: EventDialect::from_name(&row.dialect),
        event_type: row.event_type,
        channel_id: row.channel_id,
        received_at_ms: row.received_at_ms,
        occurred_at_ms: row.occurred_at_ms,
        raw: row.raw,
        // Stored events keep `raw` only (see `NewEvent::payload`).
        payload: None,
    })
}

/// Returns the key-value entry of `record`.
pub(super) fn encode_consumer(record: &ConsumerRecord) -> Result<Vec<u8>, RowError> {
    let row = ConsumerV1 {
        version: ROW_VERSION,
        account: record.key.account.clone(),
        name: record.key.name.clone(),
        filter_accounts: record.filter.accounts.clone(),
        filter_types: record.filter.types.clone(),
        filter_channel_ids: record.filter.channel_ids.clone(),
        acked: record.acks.acked,
        delivered: record.acks.delivered,
        unacked: record.acks.unacked.clone(),
    };
    Ok(serde_json::to_vec(&row)?)
}

/// Reads a consumer's key-value entry back.
pub(super) fn decode_consumer(bytes: &[u8]) -> Result<ConsumerRecord, RowError> {
    let row: ConsumerV1 = serde_json::from_slice(bytes)?;
    check_version(row.version)?;
    // Stored filters were built sorted; the fields are set as stored, not re-sorted.
    Ok(ConsumerRecord {
        key: ConsumerKey {
            account: row.account,
            name: row.name,
        },
        filter: EventFilter {
            accounts: row.filter_accounts,
            types: row.filter_types,
            channel_ids: row.filter_channel_ids,
        },
        acks: AckState {
            acked: row.acked,
            delivered: row.delivered,
            unacked: row.unacked,
        },
    })
}

/// Accepts the version this build writes.
fn check_version(version: u8) -> Result<(), RowError> {
    if version == ROW_VERSION {
        Ok(())
    } else {
        Err(RowError::Version(version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::log::conformance::event;

    #[test]
    fn an_event_payload_spells_every_key_and_reads_back() {
        let original = event("ev-1", 1000);

        let bytes = encode_event(&original).unwrap();

        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "v": 1, "id": "ev-1", "account": "main", "dialect": "sandbox",
                "event_type": "message_received", "channel_id": "ch-1",
                "received_at_ms": 1000, "occurred_at_ms": 995,
                "raw": { "messageId": "ev-1", "text": "hello" }
            })
        );
        assert_eq!(decode_event(&bytes).unwrap(), original);
    }

    #[test]
    fn unknown_versions_and_garbage_are_errors_not_misreads() {
        let newer = br#"{"v":2,"id":"x"}"#;
        assert!(matches!(decode_event(newer), Err(RowError::Json(_))));
        let newer_consumer = br#"{"v":2,"account":"a","name":"n","filter_accounts":[],
            "filter_types":[],"filter_channel_ids":[],"acked":0,"delivered":0,"unacked":{}}"#;
        assert!(matches!(
            decode_consumer(newer_consumer),
            Err(RowError::Version(2))
        ));
        assert!(matches!(decode_event(b"not json"), Err(RowError::Json(_))));
    }

    #[test]
    fn a_consumer_entry_round_trips() {
        let record = ConsumerRecord {
            key: ConsumerKey {
                account: "main".to_owned(),
                name: "crm".to_owned(),
            },
            filter: EventFilter::new(
                vec!["main".to_owned()],
                vec![EventType::MessageStatus],
                vec!["ch-1".to_owned()],
            ),
            acks: AckState {
                acked: 4,
                delivered: 9,
                unacked: BTreeMap::from([(5, 1), (8, 2)]),
            },
        };

        let bytes = encode_consumer(&record).unwrap();

        assert_eq!(decode_consumer(&bytes).unwrap(), record);
    }
}
