//! The NATS JetStream event log (`events.backend = "nats"`): one stream, one message per event.
//!
//! - Subjects: `<stream>.events.<account>.<event type>` (`nats.stream`), so JetStream consumers
//!   can filter by account and type.
//! - Cursors are the stream's sequences. Each event is published with `Nats-Msg-Id` = its id:
//!   JetStream stores an id once within `nats.dedupe_window` and answers a repeat with the first
//!   copy's sequence. Beyond the window, the `nats.event_ids_bucket` key-value bucket (id →
//!   sequence, kept as long as events are) finds the stored copy before publishing.
//! - Retention by age and size are the stream's `max_age` and `max_bytes` (discard old), enforced
//!   by the server; `events.retention_check_interval` does not apply.
//! - Named consumers' records live in the `nats.consumers_bucket` key-value bucket.
//!
//! An append looks its ids up in the bucket (all at once), queues the batch's publishes on the
//! connection back to back, and only then awaits their acks, in order: appends of concurrent
//! webhooks are pipelined on the one connection instead of taking turns, and the server stores
//! each batch's messages one after another. Its new ids go to the bucket together; the stream's
//! state is read once for all appends that end meanwhile.
//!
//! Differences from the embedded log, all on failure paths: a batch is published event by event
//! (JetStream 2.9 has no atomic batch), so when `append` fails part of the batch may be stored;
//! the sender's retry, with the same ids, stores the rest without duplicating what is there. A
//! batch's events get consecutive cursors when this gateway is the only writer (except an event
//! whose earlier copy retention dropped within the duplicate window: its new copy is published
//! after the batch); with several replicas writing, batches may interleave. Appends of other
//! replicas show in [`bounds`](EventLog::bounds) and [`watch_latest`](EventLog::watch_latest)
//! after this log's next append or a refresh, which runs every time the stream receives a message.

mod coalesce;
mod consumers;
mod groups;
mod rows;

pub(crate) use groups::JetStreamGroups;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use async_nats::jetstream::{self, context::PublishAckFuture, kv, publish::PublishAck, stream};
use async_trait::async_trait;
use parking_lot::Mutex;
use tokio::sync::watch;

use self::coalesce::Coalesced;
use super::{EventLog, EventLogError, LogBounds, LogStats, RetentionPolicy};
use crate::config::NatsConfig;
use crate::events::{Cursor, EventType, NewEvent, StoredEvent};
use crate::nats::{NatsConnection, kv_key};
use crate::storage::Writability;

/// The JetStream event log and the named consumers' bucket.
#[derive(Debug)]
pub(crate) struct JetStreamEventLog {
    /// The events' stream.
    stream: stream::Stream,
    /// JetStream publishes.
    jetstream: jetstream::Context,
    /// `<stream>.events`, the prefix of every event subject.
    subject_prefix: String,
    /// Event id → sequence.
    ids: kv::Store,
    /// Named consumers' records.
    consumers: kv::Store,
    /// Held while a batch's publishes are queued on the connection, so they reach the server
    /// (and get their sequences) one after another; not while their acks are awaited.
    publish_order: tokio::sync::Mutex<()>,
    /// Held shared by every append from start to end; `close` takes it alone to wait for them.
    appends: tokio::sync::RwLock<()>,
    /// The readable range and stored bytes as last read from the stream.
    state: Mutex<StreamState>,
    /// Reads of the stream's state, one for all appends that end during another.
    state_reads: Coalesced,
    /// The latest cursor, for watchers.
    latest_tx: watch::Sender<Cursor>,
    /// Events stored through this handle.
    appended: AtomicU64,
    /// Set by `close`.
    closed: AtomicBool,
    /// Refreshes the state when another writer appends; stopped on drop.
    refresher: Mutex<Option<tokio::task::AbortHandle>>,
    /// The connection's state: failing while disconnected.
    connection_health: crate::storage::WriteHealth,
}

/// Where an appended event goes.
enum Placed {
    /// A copy stored before the duplicate window, at this cursor.
    Earlier(Cursor),
    /// Published; JetStream's ack is awaited.
    Sent(PublishAckFuture),
}

/// What the log knows of the stream.
#[derive(Clone, Copy, Debug, Default)]
struct StreamState {
    /// Oldest and latest sequences.
    bounds: LogBounds,
    /// Bytes the stream holds.
    bytes: u64,
    /// When the server stored the oldest message, in ms since the Unix epoch (the stream's
    /// `first_ts`: the append of a webhook's events follows its receipt within the request);
    /// `None` while the stream is empty.
    oldest_stored_at_ms: Option<i64>,
}

impl JetStreamEventLog {
    /// Creates (or updates to the configured limits) the stream and buckets named in `nats`,
    /// and reads the stream's state.
    ///
    /// # Errors
    ///
    /// Fails with [`EventLogError::Storage`] when JetStream refuses or cannot be reached.
    pub(crate) async fn open(
        connection: &NatsConnection,
        nats: &NatsConfig,
        retention: RetentionPolicy,
    ) -> Result<Arc<Self>, EventLogError> {
        let jetstream = connection.jetstream().clone();
        let subject_prefix = format!("{}.events", nats.stream);
        let config = stream_config(nats, &subject_prefix, retention);
        jetstream
            .create_or_update_stream(config)
            .await
            .map_err(storage)?;
        let stream = jetstream.get_stream(&nats.stream).await.map_err(storage)?;
        let ids = crate::nats::open_bucket(
            &jetstream,
            &nats.event_ids_bucket,
            retention.max_age,
            nats.replicas,
        )
        .await
        .map_err(EventLogError::Storage)?;
        let consumers = crate::nats::open_bucket(
            &jetstream,
            &nats.consumers_bucket,
            std::time::Duration::ZERO,
            nats.replicas,
        )
        .await
        .map_err(EventLogError::Storage)?;
        let (latest_tx, _) = watch::channel(0);
        let log = Arc::new(Self {
            stream,
            jetstream,
            subject_prefix,
            ids,
            consumers,
            publish_order: tokio::sync::Mutex::new(()),
            appends: tokio::sync::RwLock::new(()),
            state: Mutex::new(StreamState::default()),
            state_reads: Coalesced::default(),
            latest_tx,
            appended: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            refresher: Mutex::new(None),
            connection_health: connection.health(),
        });
        log.refresh().await?;
        log.start_refresher(connection).await?;
        Ok(log)
    }

    /// Brings the state up to date with a read of the stream's state begun after this call, and
    /// publishes a new latest cursor to watchers. Callers that arrive while a read is under way
    /// wait for the next one, which serves all of them: one read per round trip, however many
    /// appends end meanwhile.
    async fn refresh(&self) -> Result<(), EventLogError> {
        self.state_reads.run(|| self.read_state()).await
    }

    /// Reads the stream's state and publishes a new latest cursor to watchers.
    async fn read_state(&self) -> Result<(), EventLogError> {
        let info = self.stream.get_info().await.map_err(storage)?;
        let oldest = if info.state.messages == 0 {
            0
        } else {
            info.state.first_sequence
        };
        let latest = info.state.last_sequence;
        let oldest_stored_at_ms = (info.state.messages > 0).then(|| {
            let millis = info.state.first_timestamp.unix_timestamp_nanos() / 1_000_000;
            i64::try_from(millis).unwrap_or(i64::MAX)
        });
        *self.state.lock() = StreamState {
            bounds: LogBounds { oldest, latest },
            bytes: info.state.bytes,
            oldest_stored_at_ms,
        };
        self.latest_tx.send_if_modified(|current| {
            let moved = latest > *current;
            *current = (*current).max(latest);
            moved
        });
        Ok(())
    }

    /// Follows the stream's subjects on core NATS and refreshes the state when messages arrive
    /// (several at once cause one refresh), so appends of other replicas reach watchers.
    async fn start_refresher(
        self: &Arc<Self>,
        connection: &NatsConnection,
    ) -> Result<(), EventLogError> {
        let mut arrivals = connection
            .client()
            .subscribe(format!("{}.>", self.subject_prefix))
            .await
            .map_err(storage)?;
        let log = Arc::downgrade(self);
        let task = tokio::spawn(async move {
            use futures::StreamExt;
            while arrivals.next().await.is_some() {
                while futures::FutureExt::now_or_never(arrivals.next())
                    .flatten()
                    .is_some()
                {}
                let Some(log) = log.upgrade() else { break };
                if let Err(error) = log.refresh().await {
                    tracing::debug!(
                        error = &error as &dyn std::error::Error,
                        "stream state not refreshed"
                    );
                }
            }
        });
        *self.refresher.lock() = Some(task.abort_handle());
        Ok(())
    }

    /// Fails once the log is closed.
    fn check_open(&self) -> Result<(), EventLogError> {
        if self.closed.load(Ordering::Acquire) {
            Err(EventLogError::Closed)
        } else {
            Ok(())
        }
    }

    /// Returns the subject of `event`: `<stream>.events.<account>.<type>`.
    fn subject_of(&self, event: &NewEvent) -> String {
        format!(
            "{}.{}.{}",
            self.subject_prefix,
            subject_token(&event.account),
            type_token(event.event_type)
        )
    }

    /// Returns the retained event at `sequence`, if there is one.
    async fn read_at(&self, sequence: Cursor) -> Result<Option<StoredEvent>, EventLogError> {
        match self.stream.direct_get(sequence).await {
            Ok(message) => decode(message).map(Some),
            Err(error) if error.kind() == stream::DirectGetErrorKind::NotFound => Ok(None),
            Err(error) => Err(storage(error)),
        }
    }

    /// Tells whether the stream still holds a message at `sequence`, as its leader answers.
    ///
    /// Not a direct get: with `nats.replicas = 3` any replica answers those, and a replica may
    /// not have applied a message the leader acknowledged a moment ago (a retry after a lost
    /// acknowledgement gets a duplicate answer right away), so a direct get could miss a stored
    /// copy and have it published twice.
    async fn stored_at_leader(&self, sequence: Cursor) -> Result<bool, EventLogError> {
        match self.stream.get_raw_message(sequence).await {
            Ok(_) => Ok(true),
            Err(error) if error.kind() == stream::RawMessageErrorKind::NoMessageFound => Ok(false),
            Err(error) => Err(storage(error)),
        }
    }

    /// Returns the retained copy of `id`, looked up in the ids bucket.
    async fn find(&self, id: &str) -> Result<Option<StoredEvent>, EventLogError> {
        let Some(entry) = self.ids.get(kv_key(id)).await.map_err(storage)? else {
            return Ok(None);
        };
        let Some(sequence) = std::str::from_utf8(&entry)
            .ok()
            .and_then(|s| s.parse().ok())
        else {
            return Ok(None);
        };
        let stored = self.read_at(sequence).await?;
        Ok(stored.filter(|stored| stored.event.id == id))
    }

    /// Queues the publish of `event` under `message_id` on the connection; the returned future
    /// resolves to JetStream's ack.
    async fn send(
        &self,
        event: &NewEvent,
        message_id: &str,
        payload: bytes::Bytes,
    ) -> Result<PublishAckFuture, EventLogError> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert(async_nats::header::NATS_MESSAGE_ID, message_id);
        self.jetstream
            .publish_with_headers(self.subject_of(event), headers, payload)
            .await
            .map_err(storage)
    }

    /// Returns the cursor of `event`, given JetStream's ack of its publish: the new message's
    /// sequence, or a duplicate's first copy; when JetStream still remembers the id of a copy
    /// that retention dropped, the cursor of a new copy published under a message id naming
    /// the dropped one.
    async fn cursor_from(
        &self,
        event: &NewEvent,
        payload: &bytes::Bytes,
        first_ack: PublishAck,
    ) -> Result<Cursor, EventLogError> {
        let mut ack = first_ack;
        while ack.duplicate && !self.stored_at_leader(ack.sequence).await? {
            let message_id = format!("{}#after-{}", event.id, ack.sequence);
            ack = self
                .send(event, &message_id, payload.clone())
                .await?
                .await
                .map_err(storage)?;
        }
        Ok(ack.sequence)
    }
}

impl Drop for JetStreamEventLog {
    fn drop(&mut self) {
        if let Some(refresher) = self.refresher.lock().take() {
            refresher.abort();
        }
    }
}

#[async_trait]
impl EventLog for JetStreamEventLog {
    async fn append(&self, events: Vec<NewEvent>) -> Result<Vec<Cursor>, EventLogError> {
        self.check_open()?;
        let _in_flight = self.appends.read().await;
        self.check_open()?;
        // Copies stored before the duplicate window, looked up all at once.
        let earlier =
            futures::future::try_join_all(events.iter().map(|event| self.find(&event.id))).await?;
        let payloads = events
            .iter()
            .map(|event| rows::encode_event(event).map(bytes::Bytes::from))
            .collect::<Result<Vec<_>, _>>()
            .map_err(storage)?;
        let mut placed = Vec::with_capacity(events.len());
        {
            let _in_order = self.publish_order.lock().await;
            for ((event, payload), earlier) in events.iter().zip(&payloads).zip(earlier) {
                placed.push(match earlier {
                    Some(stored) => Placed::Earlier(stored.cursor),
                    None => Placed::Sent(self.send(event, &event.id, payload.clone()).await?),
                });
            }
        }
        let mut cursors = Vec::with_capacity(events.len());
        let mut published = Vec::with_capacity(events.len());
        for ((event, payload), placed) in events.iter().zip(&payloads).zip(placed) {
            let cursor = match placed {
                Placed::Earlier(cursor) => cursor,
                Placed::Sent(ack) => {
                    let ack = ack.await.map_err(storage)?;
                    let cursor = self.cursor_from(event, payload, ack).await?;
                    published.push((event.id.as_str(), cursor));
                    cursor
                }
            };
            cursors.push(cursor);
        }
        // Also a duplicate's: its first copy's append may have failed before recording it.
        futures::future::try_join_all(
            published
                .iter()
                .map(|(id, cursor)| self.ids.put(kv_key(id), cursor.to_string().into())),
        )
        .await
        .map_err(storage)?;
        self.appended
            .fetch_add(published.len() as u64, Ordering::Relaxed);
        self.refresh().await?;
        Ok(cursors)
    }

    async fn read_after(
        &self,
        after: Cursor,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, EventLogError> {
        self.check_open()?;
        let filter = format!("{}.>", self.subject_prefix);
        let mut read = Vec::new();
        let mut next = after.saturating_add(1);
        while read.len() < limit {
            match self
                .stream
                .direct_get_next_for_subject(filter.as_str(), Some(next))
                .await
            {
                Ok(message) => {
                    let stored = decode(message)?;
                    next = stored.cursor + 1;
                    read.push(stored);
                }
                Err(error) if error.kind() == stream::DirectGetErrorKind::NotFound => break,
                Err(error) => return Err(storage(error)),
            }
        }
        Ok(read)
    }

    async fn get(&self, id: &str) -> Result<Option<StoredEvent>, EventLogError> {
        self.check_open()?;
        self.find(id).await
    }

    fn bounds(&self) -> LogBounds {
        self.state.lock().bounds
    }

    fn watch_connection(&self) -> Option<watch::Receiver<Writability>> {
        Some(self.connection_health.subscribe())
    }

    fn watch_latest(&self) -> watch::Receiver<Cursor> {
        self.latest_tx.subscribe()
    }

    fn stats(&self) -> LogStats {
        let state = *self.state.lock();
        LogStats {
            bounds: state.bounds,
            stored_bytes: state.bytes,
            appended: self.appended.load(Ordering::Relaxed),
            // The server's storage time of the oldest message, as of the last refresh.
            oldest_received_at_ms: state.oldest_stored_at_ms,
            // JetStream reports the bytes the stream takes in its store, nothing beside them.
            disk_bytes: state.bytes,
        }
    }

    async fn close(&self) -> Result<(), EventLogError> {
        self.closed.store(true, Ordering::Release);
        // Waits for the appends in progress, so none ends after `close` returned.
        drop(self.appends.write().await);
        if let Some(refresher) = self.refresher.lock().take() {
            refresher.abort();
        }
        Ok(())
    }
}

/// The stream: subjects, limits from the retention policy, the dedupe window, replicas, direct
/// gets (reads served by any replica).
fn stream_config(
    nats: &NatsConfig,
    subject_prefix: &str,
    retention: RetentionPolicy,
) -> stream::Config {
    stream::Config {
        name: nats.stream.clone(),
        subjects: vec![format!("{subject_prefix}.>")],
        retention: stream::RetentionPolicy::Limits,
        discard: stream::DiscardPolicy::Old,
        max_age: retention.max_age,
        max_bytes: i64::try_from(retention.max_bytes).unwrap_or(-1),
        duplicate_window: nats.dedupe_window,
        num_replicas: nats.replicas,
        storage: stream::StorageType::File,
        allow_direct: true,
        ..Default::default()
    }
}

/// Returns the subject token of an event type: its snake_case name (`message_status`).
fn type_token(event_type: EventType) -> String {
    serde_json::to_value(event_type)
        .ok()
        .and_then(|value| value.as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Replaces what a subject token cannot hold (`.`, `*`, `>`, whitespace) with `_`.
fn subject_token(text: &str) -> String {
    text.chars()
        .map(|ch| match ch {
            '.' | '*' | '>' => '_',
            ch if ch.is_whitespace() => '_',
            ch => ch,
        })
        .collect()
}

/// Reads a stream message back as a stored event.
fn decode(message: jetstream::message::StreamMessage) -> Result<StoredEvent, EventLogError> {
    Ok(StoredEvent {
        cursor: message.sequence,
        event: rows::decode_event(&message.payload).map_err(storage)?,
    })
}

/// Wraps a JetStream failure.
fn storage(error: impl std::error::Error + Send + Sync + 'static) -> EventLogError {
    EventLogError::Storage(Box::new(error))
}

#[cfg(test)]
mod tests;
