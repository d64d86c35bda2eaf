//! The rows the embedded backend stores, owned by the backend so that renaming a field of a
//! domain type ([`NewEvent`], [`ConsumerRecord`]) cannot change the disk format: every JSON key
//! is spelled out here, and the conversions to and from the domain types are the only coupling.
//!
//! Rows carry a version, `"v": 1`. Rows written before the version existed have no `v` and are
//! read as version 1, their layout being the same. A row of a version this build does not know
//! is reported as corruption rather than misread.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::events::consumers::{AckState, ConsumerKey, ConsumerRecord, EventFilter};
use crate::events::{Cursor, EventType, NewEvent};
use crate::model::EventDialect;

/// The row version this build writes.
const ROW_VERSION: u8 = 1;

/// An event as stored, version 1.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct StoredEventV1<'a> {
    /// The row version; absent in rows written before versions existed.
    #[serde(rename = "v", default)]
    version: Option<u8>,
    /// [`NewEvent::id`].
    #[serde(rename = "id")]
    id: Cow<'a, str>,
    /// [`NewEvent::account`].
    #[serde(rename = "account")]
    account: Cow<'a, str>,
    /// [`NewEvent::dialect`], as its configuration name.
    #[serde(rename = "dialect")]
    dialect: Cow<'a, str>,
    /// [`NewEvent::event_type`].
    #[serde(rename = "event_type")]
    event_type: EventType,
    /// [`NewEvent::channel_id`].
    #[serde(rename = "channel_id")]
    channel_id: Option<Cow<'a, str>>,
    /// [`NewEvent::received_at_ms`].
    #[serde(rename = "received_at_ms")]
    received_at_ms: i64,
    /// [`NewEvent::occurred_at_ms`].
    #[serde(rename = "occurred_at_ms")]
    occurred_at_ms: Option<i64>,
    /// [`NewEvent::raw`].
    #[serde(rename = "raw")]
    raw: Cow<'a, serde_json::Value>,
}

impl<'a> From<&'a NewEvent> for StoredEventV1<'a> {
    fn from(event: &'a NewEvent) -> Self {
        Self {
            version: Some(ROW_VERSION),
            id: Cow::Borrowed(&event.id),
            account: Cow::Borrowed(&event.account),
            dialect: Cow::Borrowed(event.dialect.as_str()),
            event_type: event.event_type,
            channel_id: event.channel_id.as_deref().map(Cow::Borrowed),
            received_at_ms: event.received_at_ms,
            occurred_at_ms: event.occurred_at_ms,
            raw: Cow::Borrowed(&event.raw),
        }
    }
}

impl TryFrom<StoredEventV1<'_>> for NewEvent {
    type Error = redb::Error;

    fn try_from(row: StoredEventV1<'_>) -> Result<Self, Self::Error> {
        check_version(row.version)?;
        Ok(Self {
            id: row.id.into_owned(),
            account: row.account.into_owned(),
            dialect: EventDialect::from_name(&row.dialect),
            event_type: row.event_type,
            channel_id: row.channel_id.map(Cow::into_owned),
            received_at_ms: row.received_at_ms,
            occurred_at_ms: row.occurred_at_ms,
            raw: row.raw.into_owned(),
            // Rows keep `raw` only (see `NewEvent::payload`).
            payload: None,
        })
    }
}

/// A named consumer as stored, version 1.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct StoredConsumerV1 {
    /// The row version; absent in rows written before versions existed.
    #[serde(rename = "v", default)]
    version: Option<u8>,
    /// [`ConsumerRecord::key`].
    #[serde(rename = "key")]
    key: StoredConsumerKeyV1,
    /// [`ConsumerRecord::filter`].
    #[serde(rename = "filter")]
    filter: StoredFilterV1,
    /// [`ConsumerRecord::acks`].
    #[serde(rename = "acks")]
    acks: StoredAcksV1,
}

/// [`ConsumerKey`] as stored.
#[derive(Debug, Serialize, Deserialize)]
struct StoredConsumerKeyV1 {
    /// [`ConsumerKey::account`].
    #[serde(rename = "account")]
    account: String,
    /// [`ConsumerKey::name`].
    #[serde(rename = "name")]
    name: String,
}

/// [`EventFilter`] as stored.
#[derive(Debug, Serialize, Deserialize)]
struct StoredFilterV1 {
    /// [`EventFilter::accounts`].
    #[serde(rename = "accounts")]
    accounts: Vec<String>,
    /// [`EventFilter::types`].
    #[serde(rename = "types")]
    types: Vec<EventType>,
    /// [`EventFilter::channel_ids`].
    #[serde(rename = "channel_ids")]
    channel_ids: Vec<String>,
}

/// [`AckState`] as stored.
#[derive(Debug, Serialize, Deserialize)]
struct StoredAcksV1 {
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

impl From<&ConsumerRecord> for StoredConsumerV1 {
    fn from(record: &ConsumerRecord) -> Self {
        Self {
            version: Some(ROW_VERSION),
            key: StoredConsumerKeyV1 {
                account: record.key.account.clone(),
                name: record.key.name.clone(),
            },
            filter: StoredFilterV1 {
                accounts: record.filter.accounts.clone(),
                types: record.filter.types.clone(),
                channel_ids: record.filter.channel_ids.clone(),
            },
            acks: StoredAcksV1 {
                acked: record.acks.acked,
                delivered: record.acks.delivered,
                unacked: record.acks.unacked.clone(),
            },
        }
    }
}

impl TryFrom<StoredConsumerV1> for ConsumerRecord {
    type Error = redb::Error;

    fn try_from(row: StoredConsumerV1) -> Result<Self, Self::Error> {
        check_version(row.version)?;
        // Stored filters were built sorted; the fields are set as stored, not re-sorted.
        Ok(Self {
            key: ConsumerKey {
                account: row.key.account,
                name: row.key.name,
            },
            filter: EventFilter {
                accounts: row.filter.accounts,
                types: row.filter.types,
                channel_ids: row.filter.channel_ids,
            },
            acks: AckState {
                acked: row.acks.acked,
                delivered: row.acks.delivered,
                unacked: row.acks.unacked,
            },
        })
    }
}

/// Returns the stored form of `event`.
pub(super) fn encode_event(event: &NewEvent) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&StoredEventV1::from(event))
}

/// Reads an event row back; a row that does not decode is corruption.
pub(super) fn decode_event(bytes: &[u8]) -> Result<NewEvent, redb::Error> {
    parse::<StoredEventV1<'_>>(bytes)?.try_into()
}

/// Returns the stored form of `record`.
pub(super) fn encode_consumer(record: &ConsumerRecord) -> Result<Vec<u8>, redb::Error> {
    serde_json::to_vec(&StoredConsumerV1::from(record)).map_err(corrupted)
}

/// Reads a consumer row back; a row that does not decode is corruption.
pub(super) fn decode_consumer(bytes: &[u8]) -> Result<ConsumerRecord, redb::Error> {
    parse::<StoredConsumerV1>(bytes)?.try_into()
}

/// Parses a JSON row.
fn parse<'de, T: Deserialize<'de>>(bytes: &'de [u8]) -> Result<T, redb::Error> {
    serde_json::from_slice(bytes).map_err(corrupted)
}

/// Accepts version 1 and rows without a version.
fn check_version(version: Option<u8>) -> Result<(), redb::Error> {
    match version {
        None | Some(ROW_VERSION) => Ok(()),
        Some(other) => Err(redb::Error::Corrupted(format!(
            "row version {other} is newer than this build reads ({ROW_VERSION})"
        ))),
    }
}

/// Wraps a JSON failure as corruption.
fn corrupted(error: serde_json::Error) -> redb::Error {
    redb::Error::Corrupted(error.to_string())
}

#[cfg(test)]
mod tests;
