//! The tables of one write transaction and what each write request does to them.

use redb::{Database, ReadableTable as _, Table, WriteTransaction};
use serde::Deserialize;

use super::rows::{decode_consumer, encode_consumer};
use super::writer::{EncodedEvent, LogState, WriteRequest};
use super::{CONSUMERS, EVENTS, IDS, META, decode_json};
use crate::events::Cursor;
use crate::events::consumers::{AckState, ConsumerKey, ConsumerRecord};
use crate::events::log::{LogBounds, RetentionPolicy};

/// Bytes counted per event beyond its JSON and id: the two cursor keys.
const RECORD_OVERHEAD: u64 = 16;
/// `META` key of the latest cursor ever assigned.
const META_LATEST: &str = "latest";
/// `META` key of the bytes counted against the size limit.
const META_STORED_BYTES: &str = "stored_bytes";

/// What a request produced inside the transaction, sent once it is committed.
pub(super) enum Outcome {
    /// Answer to an append.
    Cursors(Vec<Cursor>),
    /// Answer to a consumer creation.
    Record(ConsumerRecord),
    /// Answer to a progress update.
    Saved(bool),
    /// Answer to a deletion.
    Deleted(Option<ConsumerRecord>),
    /// Answer to a retention request.
    Retained,
}

/// The part of a stored event retention needs.
#[derive(Deserialize)]
struct Header {
    /// Event id, to drop its index entry.
    id: String,
    /// Receipt time, for age retention.
    received_at_ms: i64,
}

/// Creates the tables if needed and reads the counters back.
pub(super) fn initialise(db: &Database) -> Result<LogState, redb::Error> {
    let txn = db.begin_write()?;
    let state = {
        let tables = Tables::open(&txn)?;
        let stored_latest = tables.meta.get(META_LATEST)?.map(|value| value.value());
        let last_event = tables.events.last()?.map(|(cursor, _)| cursor.value());
        let oldest = tables.events.first()?.map(|(cursor, _)| cursor.value());
        let oldest_received_at_ms = tables.oldest_received_at_ms()?;
        let stored_bytes = tables
            .meta
            .get(META_STORED_BYTES)?
            .map(|value| value.value());
        LogState {
            bounds: LogBounds {
                oldest: oldest.unwrap_or(0),
                latest: stored_latest.unwrap_or(0).max(last_event.unwrap_or(0)),
            },
            stored_bytes: stored_bytes.unwrap_or(0),
            appended: 0,
            oldest_received_at_ms,
        }
    };
    txn.commit()?;
    Ok(state)
}

/// The tables of one write transaction.
pub(super) struct Tables<'txn> {
    events: Table<'txn, u64, &'static [u8]>,
    ids: Table<'txn, &'static str, u64>,
    meta: Table<'txn, &'static str, u64>,
    consumers: Table<'txn, (&'static str, &'static str), &'static [u8]>,
}

impl<'txn> Tables<'txn> {
    /// Opens (creating when missing) every table.
    pub(super) fn open(txn: &'txn WriteTransaction) -> Result<Self, redb::Error> {
        Ok(Self {
            events: txn.open_table(EVENTS)?,
            ids: txn.open_table(IDS)?,
            meta: txn.open_table(META)?,
            consumers: txn.open_table(CONSUMERS)?,
        })
    }

    /// Applies one request.
    pub(super) fn apply(
        &mut self,
        request: &WriteRequest,
        state: &mut LogState,
        retention: &RetentionPolicy,
    ) -> Result<Outcome, redb::Error> {
        Ok(match request {
            WriteRequest::Append { events, .. } => Outcome::Cursors(self.append(events, state)?),
            WriteRequest::CreateConsumer { record, .. } => {
                Outcome::Record(self.create_consumer(record)?)
            }
            WriteRequest::SaveAcks { key, acks, .. } => Outcome::Saved(self.save_acks(key, acks)?),
            WriteRequest::DeleteConsumer { key, .. } => {
                let removed = self
                    .consumers
                    .remove((key.account.as_str(), key.name.as_str()))?;
                Outcome::Deleted(
                    removed
                        .map(|bytes| decode_consumer(bytes.value()))
                        .transpose()?,
                )
            }
            WriteRequest::Retain { now_ms, .. } => {
                let max_age_ms = i64::try_from(retention.max_age.as_millis()).unwrap_or(i64::MAX);
                let cutoff = now_ms.saturating_sub(max_age_ms);
                self.drop_oldest_while(state, |_, received_at_ms| received_at_ms < cutoff)?;
                Outcome::Retained
            }
            WriteRequest::Close { .. } => unreachable!("close requests are split off the batch"),
        })
    }

    /// Stores new events; ids already stored keep their cursor.
    fn append(
        &mut self,
        events: &[EncodedEvent],
        state: &mut LogState,
    ) -> Result<Vec<Cursor>, redb::Error> {
        let mut cursors = Vec::with_capacity(events.len());
        for EncodedEvent { event, json } in events {
            if let Some(existing) = self.ids.get(event.id.as_str())? {
                cursors.push(existing.value());
                continue;
            }
            let cursor = state.bounds.latest + 1;
            self.events.insert(cursor, json.as_slice())?;
            self.ids.insert(event.id.as_str(), cursor)?;
            state.bounds.latest = cursor;
            if state.bounds.oldest == 0 {
                state.bounds.oldest = cursor;
                state.oldest_received_at_ms = Some(event.received_at_ms);
            }
            state.stored_bytes += record_size(json.len(), &event.id);
            state.appended += 1;
            cursors.push(cursor);
        }
        Ok(cursors)
    }

    /// Stores the counters that must survive a restart.
    pub(super) fn save_counters(&mut self, state: &LogState) -> Result<(), redb::Error> {
        self.meta.insert(META_LATEST, state.bounds.latest)?;
        self.meta.insert(META_STORED_BYTES, state.stored_bytes)?;
        Ok(())
    }

    /// Drops the oldest events while `should_drop(state, received_at_ms)` holds for the oldest
    /// one, never the newest event.
    pub(super) fn drop_oldest_while(
        &mut self,
        state: &mut LogState,
        mut should_drop: impl FnMut(&LogState, i64) -> bool,
    ) -> Result<(), redb::Error> {
        let mut dropped = false;
        while state.bounds.oldest != 0 && state.bounds.oldest < state.bounds.latest {
            let (cursor, bytes) = match self.events.first()? {
                Some((key, value)) => (key.value(), value.value().to_vec()),
                None => break,
            };
            let header: Header = decode_json(&bytes)?;
            if !should_drop(state, header.received_at_ms) {
                break;
            }
            self.events.remove(cursor)?;
            self.ids.remove(header.id.as_str())?;
            let size = record_size(bytes.len(), &header.id);
            state.stored_bytes = state.stored_bytes.saturating_sub(size);
            state.bounds.oldest = self.events.first()?.map_or(0, |(next, _)| next.value());
            dropped = true;
        }
        if dropped {
            state.oldest_received_at_ms = self.oldest_received_at_ms()?;
        }
        Ok(())
    }

    /// Reads when the oldest stored event was received; `None` when there is none.
    fn oldest_received_at_ms(&self) -> Result<Option<i64>, redb::Error> {
        let Some((_, bytes)) = self.events.first()? else {
            return Ok(None);
        };
        let header: Header = decode_json(bytes.value())?;
        Ok(Some(header.received_at_ms))
    }

    /// Stores `record` unless its key exists; returns what is stored.
    fn create_consumer(&mut self, record: &ConsumerRecord) -> Result<ConsumerRecord, redb::Error> {
        let key = (record.key.account.as_str(), record.key.name.as_str());
        if let Some(existing) = self.consumers.get(key)? {
            return decode_consumer(existing.value());
        }
        let bytes = encode_consumer(record)?;
        self.consumers.insert(key, bytes.as_slice())?;
        Ok(record.clone())
    }

    /// Replaces the progress of an existing consumer.
    fn save_acks(&mut self, key: &ConsumerKey, acks: &AckState) -> Result<bool, redb::Error> {
        let table_key = (key.account.as_str(), key.name.as_str());
        let Some(existing) = self.consumers.get(table_key)? else {
            return Ok(false);
        };
        let mut record = decode_consumer(existing.value())?;
        drop(existing);
        record.acks = acks.clone();
        let bytes = encode_consumer(&record)?;
        self.consumers.insert(table_key, bytes.as_slice())?;
        Ok(true)
    }
}

/// Bytes an event counts against the size limit.
fn record_size(json_len: usize, id: &str) -> u64 {
    (json_len + id.len()) as u64 + RECORD_OVERHEAD
}
