//! Fan-out: turns the log into subscriptions.
//!
//! - An ephemeral subscription reads the log after its start cursor in batches, then follows
//!   [`EventLog::watch_latest`]. It keeps no queue of its own beyond one batch: a slow subscriber
//!   simply reads the log later, and never slows ingest or anyone else.
//! - A named consumer is durable: its filters and progress are stored ([`ConsumerStore`]), and
//!   while it is in use one dispatcher task (`dispatcher.rs`) hands each event to exactly one of
//!   its subscriptions (the group), takes acks and redelivers.
//!
//! Every stream starts with a heartbeat, sends another after `heartbeat_interval` of silence, and
//! ends with [`FanoutError::ShuttingDown`] once the gateway drains. Open streams are bounded.

mod error;
mod shared_reads;
mod streams;
mod subscription;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use futures::stream::BoxStream;
use parking_lot::Mutex;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

use self::shared_reads::SharedReads;
use super::Cursor;
use super::consumers::{AccountScope, AckState, ConsumerKey, ConsumerRecord, EventFilter};
use super::dispatcher::{self, DispatcherClient, MemberSettings, Progress, ProgressBoard};
use super::log::{ConsumerStore, EventLog, EventLogError};

pub(crate) use self::error::{FanoutError, StreamEnd};
pub(crate) use self::streams::{Shell, sourced_member};
pub(crate) use self::subscription::{
    AckMode, ConsumerInfo, Delivery, DeliverySettings, Start, StreamItem, Subscription,
};

/// Events read from the log at once by one subscription or dispatcher.
const READ_BATCH: usize = 256;

/// A subscription: items until an error ends it.
pub(crate) type SubscriptionStream = BoxStream<'static, Result<StreamItem, FanoutError>>;

/// What the metrics show of one named consumer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ConsumerGauge {
    /// The consumer.
    pub key: ConsumerKey,
    /// Events after its acked cursor.
    pub lag: u64,
    /// Events delivered to its streams and not acknowledged yet.
    pub pending: u64,
    /// Its streams (group members) open now.
    pub streams: u32,
}

/// A dispatcher the fan-out started.
#[derive(Debug)]
struct RunningConsumer {
    /// Talks to it.
    client: DispatcherClient,
    /// The consumer's filters.
    filter: EventFilter,
    /// Ends after its final progress is stored.
    task: JoinHandle<()>,
}

/// Subscriptions and named consumers over one log.
#[derive(Debug)]
pub(crate) struct Fanout {
    log: Arc<dyn EventLog>,
    /// Reads of `log` shared by the ephemeral subscriptions.
    reads: Arc<SharedReads>,
    store: Arc<dyn ConsumerStore>,
    /// Flips to true when the gateway drains.
    draining_rx: watch::Receiver<bool>,
    /// One permit per open stream.
    streams: Arc<Semaphore>,
    /// The configured bound of open streams.
    max_streams: usize,
    /// Running dispatchers; the lock also orders creations and deletions of consumers.
    running: tokio::sync::Mutex<HashMap<ConsumerKey, RunningConsumer>>,
    /// Acked cursors, for metrics.
    board: ProgressBoard,
}

impl Fanout {
    /// Serves subscriptions from `log`, keeping consumers in `store`, at most `max_streams` at
    /// once; streams end when `draining_rx` turns true.
    ///
    /// # Errors
    ///
    /// Fails when the stored consumers cannot be listed (they seed the metrics).
    pub(crate) async fn start(
        log: Arc<dyn EventLog>,
        store: Arc<dyn ConsumerStore>,
        max_streams: usize,
        draining_rx: watch::Receiver<bool>,
    ) -> Result<Self, EventLogError> {
        let stored = store.list_consumers().await?;
        let board: BTreeMap<ConsumerKey, Progress> = stored
            .into_iter()
            .map(|record| (record.key, Progress::of(&record.acks, 0)))
            .collect();
        Ok(Self {
            reads: Arc::new(SharedReads::new(Arc::clone(&log))),
            log,
            store,
            draining_rx,
            streams: Arc::new(Semaphore::new(max_streams)),
            max_streams,
            running: tokio::sync::Mutex::new(HashMap::new()),
            board: Arc::new(Mutex::new(board)),
        })
    }

    /// Opens the shell of a new stream: refused while draining and when `max_streams` are
    /// open; the stream counts as open until it is dropped.
    ///
    /// # Errors
    ///
    /// [`FanoutError::ShuttingDown`] or [`FanoutError::TooManyStreams`].
    pub(crate) fn open_shell(
        &self,
        heartbeat_interval: std::time::Duration,
    ) -> Result<Shell, FanoutError> {
        if *self.draining_rx.borrow() {
            return Err(FanoutError::ShuttingDown);
        }
        let permit =
            self.streams
                .clone()
                .try_acquire_owned()
                .map_err(|_| FanoutError::TooManyStreams {
                    limit: self.max_streams,
                })?;
        Ok(Shell::new(
            self.log.clone(),
            self.draining_rx.clone(),
            heartbeat_interval,
            permit,
        ))
    }

    /// Opens a subscription.
    ///
    /// # Errors
    ///
    /// Fails when too many streams are open, the gateway drains, the start is out of range, or a
    /// named consumer's filters differ.
    pub(crate) async fn subscribe(
        &self,
        request: Subscription,
    ) -> Result<SubscriptionStream, FanoutError> {
        let shell = self.open_shell(request.delivery.heartbeat_interval)?;
        let Some(name) = request.consumer.clone() else {
            let after = self.start_after(request.start).await?;
            let filter = request.filter.resolved_for(&request.account);
            return Ok(streams::tail(
                shell,
                Arc::clone(&self.reads),
                filter,
                after,
                READ_BATCH,
            ));
        };
        let key = ConsumerKey {
            account: request.account.clone(),
            name,
        };
        let member = self.join(&key, &request).await?;
        let auto_ack = request.delivery.ack_mode == AckMode::Auto;
        Ok(streams::member(shell, key, member, auto_ack))
    }

    /// Joins (creating it when needed) the named consumer `key`.
    async fn join(
        &self,
        key: &ConsumerKey,
        request: &Subscription,
    ) -> Result<dispatcher::MemberLink, FanoutError> {
        let mut running = self.running.lock().await;
        let consumer = self
            .running_consumer(&mut running, key, &request.scope, Some(request))
            .await?;
        if !consumer.filter.admits(&request.filter) {
            return Err(FanoutError::FiltersMismatch(key.clone()));
        }
        let bounds = self.log.bounds();
        let acked = consumer.client.status().acks.acked;
        if bounds.is_gap_after(acked) {
            return Err(FanoutError::OutOfRange {
                requested: acked,
                oldest: bounds.first_readable(),
            });
        }
        let ack_wait = match request.delivery.ack_mode {
            AckMode::Auto => None,
            AckMode::Explicit => Some(request.delivery.ack_wait),
        };
        let settings = MemberSettings {
            max_in_flight: request.delivery.max_in_flight,
            ack_wait,
        };
        consumer.client.join(settings).await
    }

    /// Returns the dispatcher of `key`, started from the store when it is not running (and the
    /// consumer created for `create` when it does not exist), once `scope` covers every account
    /// the consumer reads.
    async fn running_consumer<'a>(
        &self,
        running: &'a mut HashMap<ConsumerKey, RunningConsumer>,
        key: &ConsumerKey,
        scope: &AccountScope,
        create: Option<&Subscription>,
    ) -> Result<&'a RunningConsumer, FanoutError> {
        if !running.contains_key(key) {
            let record = match (self.store.load_consumer(key).await?, create) {
                (Some(record), _) => record,
                (None, Some(request)) => self.create(key, request).await?,
                (None, None) => return Err(FanoutError::ConsumerNotFound(key.clone())),
            };
            check_scope(scope, &record.key, &record.filter)?;
            running.insert(key.clone(), self.run(record).await?);
        }
        let consumer = running.get(key).ok_or(FanoutError::ShuttingDown)?;
        check_scope(scope, key, &consumer.filter)?;
        Ok(consumer)
    }

    /// Stores a new consumer for `request`.
    async fn create(
        &self,
        key: &ConsumerKey,
        request: &Subscription,
    ) -> Result<ConsumerRecord, FanoutError> {
        let after = self.start_after(request.start).await?;
        let record = ConsumerRecord {
            key: key.clone(),
            filter: request.filter.clone().resolved_for(&key.account),
            acks: AckState::starting_after(after),
        };
        check_scope(&request.scope, key, &record.filter)?;
        let stored = self.store.create_consumer(record).await?;
        self.board
            .lock()
            .insert(key.clone(), Progress::of(&stored.acks, 0));
        Ok(stored)
    }

    /// Starts the dispatcher of `record`.
    async fn run(&self, record: ConsumerRecord) -> Result<RunningConsumer, FanoutError> {
        let filter = record.filter.clone();
        let (client, task) = dispatcher::start(
            record,
            self.log.clone(),
            self.store.clone(),
            self.board.clone(),
            READ_BATCH,
        )
        .await?;
        Ok(RunningConsumer {
            client,
            filter,
            task,
        })
    }

    /// Resolves a start position into the cursor to read after.
    pub(crate) async fn start_after(&self, start: Start) -> Result<Cursor, FanoutError> {
        let bounds = self.log.bounds();
        match start {
            Start::Latest => Ok(bounds.latest),
            Start::Earliest => Ok(bounds.first_readable() - 1),
            Start::AfterCursor(cursor) if cursor > bounds.latest => Err(FanoutError::CursorAhead {
                requested: cursor,
                latest: bounds.latest,
            }),
            Start::AfterCursor(cursor) if bounds.is_gap_after(cursor) => {
                Err(FanoutError::OutOfRange {
                    requested: cursor,
                    oldest: bounds.first_readable(),
                })
            }
            Start::AfterCursor(cursor) => Ok(cursor),
            Start::Since(since_ms) => Ok(self.log.cursor_at(since_ms).await?),
        }
    }

    /// Acknowledges `cursors` for the consumer `key`; returns its ack floor once durable.
    ///
    /// # Errors
    ///
    /// Fails when there is no such consumer, it reads an account outside `scope`, or its
    /// progress cannot be stored.
    pub(crate) async fn ack(
        &self,
        key: &ConsumerKey,
        scope: &AccountScope,
        cursors: Vec<Cursor>,
    ) -> Result<Cursor, FanoutError> {
        let client = {
            let mut running = self.running.lock().await;
            self.running_consumer(&mut running, key, scope, None)
                .await?
                .client
                .clone()
        };
        client.ack(cursors).await
    }

    /// Returns the consumer `key` and its progress.
    ///
    /// # Errors
    ///
    /// Fails when there is no such consumer, or it reads an account outside `scope`.
    pub(crate) async fn consumer(
        &self,
        key: &ConsumerKey,
        scope: &AccountScope,
    ) -> Result<ConsumerInfo, FanoutError> {
        let running = self.running.lock().await;
        let record = scoped_record(self.store.as_ref(), key, scope).await?;
        Ok(self.describe(record, &running))
    }

    /// Returns the consumers owned by `account` that read only accounts in `scope`, sorted by
    /// name.
    ///
    /// # Errors
    ///
    /// Fails when the store cannot be read.
    pub(crate) async fn consumers(
        &self,
        account: &str,
        scope: &AccountScope,
    ) -> Result<Vec<ConsumerInfo>, FanoutError> {
        let running = self.running.lock().await;
        let records = self.store.list_consumers().await?;
        let mut infos: Vec<ConsumerInfo> = records
            .into_iter()
            .filter(|record| record.key.account == account)
            .filter(|record| scope.first_outside(&record.filter).is_none())
            .map(|record| self.describe(record, &running))
            .collect();
        infos.sort_by(|left, right| left.key.name.cmp(&right.key.name));
        Ok(infos)
    }

    /// Deletes the consumer `key`, ending its streams with [`FanoutError::ConsumerDeleted`];
    /// returns it as it was.
    ///
    /// # Errors
    ///
    /// Fails when there is no such consumer, or it reads an account outside `scope`.
    pub(crate) async fn delete(
        &self,
        key: &ConsumerKey,
        scope: &AccountScope,
    ) -> Result<ConsumerInfo, FanoutError> {
        let mut running = self.running.lock().await;
        let record = scoped_record(self.store.as_ref(), key, scope).await?;
        let before = self.describe(record, &running);
        if let Some(consumer) = running.remove(key) {
            consumer.client.stop(StreamEnd::ConsumerDeleted);
            let _ = consumer.task.await;
        }
        self.store.delete_consumer(key).await?;
        self.board.lock().remove(key);
        Ok(before)
    }

    /// Describes a stored consumer, with live values when its dispatcher runs.
    fn describe(
        &self,
        record: ConsumerRecord,
        running: &HashMap<ConsumerKey, RunningConsumer>,
    ) -> ConsumerInfo {
        let (acks, members) = match running.get(&record.key) {
            Some(consumer) => {
                let status = consumer.client.status();
                (status.acks, status.members)
            }
            None => (record.acks, 0),
        };
        ConsumerInfo {
            lag: self.log.bounds().latest.saturating_sub(acks.acked),
            key: record.key,
            filter: record.filter,
            acked: acks.acked,
            pending: acks.unacked.len() as u64,
            members,
        }
    }

    /// Returns how many streams are open.
    pub(crate) fn open_streams(&self) -> usize {
        self.max_streams - self.streams.available_permits()
    }

    /// Returns the lag, pending events and open streams of every known consumer.
    pub(crate) fn consumer_gauges(&self) -> Vec<ConsumerGauge> {
        let latest = self.log.bounds().latest;
        let board = self.board.lock();
        board
            .iter()
            .map(|(key, progress)| ConsumerGauge {
                key: key.clone(),
                lag: latest.saturating_sub(progress.acked),
                pending: progress.pending,
                streams: progress.members,
            })
            .collect()
    }

    /// Stops every dispatcher after storing its final progress; their streams end with
    /// [`FanoutError::ShuttingDown`].
    pub(crate) async fn close(&self) {
        let mut running = self.running.lock().await;
        let stopping: Vec<RunningConsumer> =
            running.drain().map(|(_, consumer)| consumer).collect();
        for consumer in &stopping {
            consumer.client.stop(StreamEnd::ShuttingDown);
        }
        for consumer in stopping {
            let _ = consumer.task.await;
        }
    }
}

/// Loads the stored consumer `key` from `store`, once `scope` covers every account it reads.
pub(crate) async fn scoped_record(
    store: &dyn ConsumerStore,
    key: &ConsumerKey,
    scope: &AccountScope,
) -> Result<ConsumerRecord, FanoutError> {
    let record = store
        .load_consumer(key)
        .await?
        .ok_or_else(|| FanoutError::ConsumerNotFound(key.clone()))?;
    check_scope(scope, key, &record.filter)?;
    Ok(record)
}

/// Refuses a consumer that reads an account outside `scope`.
pub(crate) fn check_scope(
    scope: &AccountScope,
    key: &ConsumerKey,
    filter: &EventFilter,
) -> Result<(), FanoutError> {
    match scope.first_outside(filter) {
        Some(_) => Err(FanoutError::OutOfScope(key.clone())),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests;
