//! Named consumers served by JetStream (`events.backend = "nats"`), so that a group spans
//! replicas: each named consumer is a durable pull consumer on the events' stream, and every
//! member, on any replica, pulls from it; JetStream hands each message to one member, redelivers
//! what is not acked within `ack_wait` (with its delivery count) and keeps the progress.
//!
//! - The consumer's record (owner, name, filters, start) stays in the consumers bucket, created
//!   only when absent, so every replica derives the same durable consumer from it; the first
//!   member's `ack_wait` and `max_in_flight` (max ack pending) become the consumer's.
//! - `Ack` on any replica acknowledges by stream sequence ([`durable::ack_subject`]) and waits
//!   for JetStream's confirmation; the answer is the consumer's ack floor.
//! - A member that leaves keeps its unacknowledged messages until `ack_wait` passes; JetStream
//!   then redelivers them to the remaining members (the embedded backend does so at once).
//! - `members` counts the streams open on this replica, or the pull requests JetStream sees
//!   waiting (across replicas) when that is more.
//!
//! Ephemeral subscriptions are served by the [`Fanout`] over the log, which shares one read of
//! the stream among all of them; both kinds count against one bound of open streams.

mod deliveries;
mod durable;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::ErrorCode;
use async_nats::jetstream::consumer::{self, PullConsumer};
use async_nats::jetstream::context::ConsumerInfoErrorKind;
use async_nats::jetstream::stream::{ConsumerError, ConsumerErrorKind};
use async_trait::async_trait;
use futures::future::try_join_all;
use parking_lot::Mutex;
use tokio::sync::watch;

use self::deliveries::MemberFeed;
use self::durable::{DurableSettings, ack_subject, consumer_config, durable_name};
use super::{JetStreamEventLog, storage};
use crate::events::Cursor;
use crate::events::consumers::{AccountScope, AckState, ConsumerKey, ConsumerRecord};
use crate::events::dispatcher::Progress;
use crate::events::fanout::{
    AckMode, ConsumerGauge, ConsumerInfo, Fanout, FanoutError, StreamEnd, Subscription,
    SubscriptionStream, check_scope, scoped_record, sourced_member,
};
use crate::events::groups::ConsumerGroups;
use crate::events::log::{ConsumerStore, EventLog, EventLogError};

/// Consumer groups over JetStream durable consumers, and ephemeral subscriptions over the log.
#[derive(Debug)]
pub(crate) struct JetStreamGroups {
    log: Arc<JetStreamEventLog>,
    /// Ephemeral subscriptions; also holds the bound of open streams and the drain signal.
    fanout: Fanout,
    /// Per consumer with members on this replica: tells them why they must end.
    ends: Mutex<HashMap<ConsumerKey, watch::Sender<Option<StreamEnd>>>>,
    /// Every consumer's gauges as last read from JetStream, for metrics.
    board: Arc<Mutex<BTreeMap<ConsumerKey, ConsumerGauge>>>,
    /// Reads the board's consumers from JetStream every [`GAUGE_REFRESH`]; stopped on drop.
    refresher: Mutex<Option<tokio::task::AbortHandle>>,
}

/// How often the metrics' view of the consumers is read from JetStream (besides every `Ack`,
/// `GetConsumer` and `ListConsumers`, which read it anyway).
const GAUGE_REFRESH: Duration = Duration::from_secs(10);

impl Drop for JetStreamGroups {
    fn drop(&mut self) {
        if let Some(refresher) = self.refresher.lock().take() {
            refresher.abort();
        }
    }
}

impl JetStreamGroups {
    /// Serves subscriptions from `log`, at most `max_streams` at once; streams end when
    /// `draining_rx` turns true.
    ///
    /// # Errors
    ///
    /// Fails when the stored consumers cannot be listed.
    pub(crate) async fn start(
        log: Arc<JetStreamEventLog>,
        max_streams: usize,
        draining_rx: watch::Receiver<bool>,
    ) -> Result<Arc<Self>, EventLogError> {
        let fanout = Fanout::start(log.clone(), log.clone(), max_streams, draining_rx).await?;
        let groups = Arc::new(Self {
            log,
            fanout,
            ends: Mutex::new(HashMap::new()),
            board: Arc::new(Mutex::new(BTreeMap::new())),
            refresher: Mutex::new(None),
        });
        if let Err(error) = groups.refresh_gauges().await {
            tracing::warn!(%error, "consumer gauges not read at start; the next refresh tries again");
        }
        let weak = Arc::downgrade(&groups);
        let refresher = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(GAUGE_REFRESH);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let Some(groups) = weak.upgrade() else { return };
                if let Err(error) = groups.refresh_gauges().await {
                    tracing::debug!(%error, "consumer gauges not refreshed");
                }
            }
        });
        *groups.refresher.lock() = Some(refresher.abort_handle());
        Ok(groups)
    }

    /// Reads every stored consumer's progress from JetStream into the metrics' board (and drops
    /// the consumers deleted meanwhile).
    async fn refresh_gauges(&self) -> Result<(), EventLogError> {
        let records = self.log.list_consumers().await?;
        let keys: BTreeSet<ConsumerKey> = records.iter().map(|record| record.key.clone()).collect();
        for record in records {
            if let Err(FanoutError::Log(error)) = self.describe(record).await {
                return Err(error);
            }
        }
        self.board.lock().retain(|key, _| keys.contains(key));
        Ok(())
    }

    /// Returns the record of the consumer `request` names, storing it when it is new.
    async fn joined_record(
        &self,
        key: &ConsumerKey,
        request: &Subscription,
    ) -> Result<ConsumerRecord, FanoutError> {
        let record = match self.log.load_consumer(key).await? {
            Some(record) => record,
            None => {
                let after = self.fanout.start_after(request.start).await?;
                let record = ConsumerRecord {
                    key: key.clone(),
                    filter: request.filter.clone().resolved_for(&key.account),
                    acks: AckState::starting_after(after),
                };
                check_scope(&request.scope, key, &record.filter)?;
                self.log.create_consumer(record).await?
            }
        };
        check_scope(&request.scope, key, &record.filter)?;
        if !record.filter.admits(&request.filter) {
            return Err(FanoutError::FiltersMismatch(key.clone()));
        }
        Ok(record)
    }

    /// Returns the durable consumer of `record`, creating it with `settings` when JetStream
    /// does not have it.
    async fn durable(
        &self,
        record: &ConsumerRecord,
        settings: DurableSettings,
    ) -> Result<PullConsumer, FanoutError> {
        let config = consumer_config(record, settings, &self.log.subject_prefix);
        let name = durable_name(&record.key);
        match self.log.stream.get_or_create_consumer(&name, config).await {
            Ok(durable) => Ok(durable),
            // Another replica created it in between, from its member's settings: join that one.
            Err(error) => self
                .log
                .stream
                .get_consumer(&name)
                .await
                .map_err(|_| FanoutError::Log(storage(error))),
        }
    }

    /// Reads JetStream's view of the consumer `record`; `None` when it has no durable consumer
    /// yet (no member ever joined since it was created).
    async fn durable_info(
        &self,
        record: &ConsumerRecord,
    ) -> Result<Option<consumer::Info>, FanoutError> {
        match self
            .log
            .stream
            .consumer_info(durable_name(&record.key))
            .await
        {
            Ok(info) => Ok(Some(info)),
            Err(error) if error.kind() == ConsumerInfoErrorKind::NotFound => Ok(None),
            Err(error) => Err(FanoutError::Log(storage(error))),
        }
    }

    /// Describes `record` from JetStream's view of it, and notes its progress for metrics.
    async fn describe(&self, record: ConsumerRecord) -> Result<ConsumerInfo, FanoutError> {
        let info = self.durable_info(&record).await?;
        let local_members = self.local_members(&record.key);
        let progress = match &info {
            Some(info) => Progress {
                acked: info.ack_floor.stream_sequence.max(record.acks.acked),
                pending: info.num_ack_pending as u64,
                members: local_members.max(u32::try_from(info.num_waiting).unwrap_or(u32::MAX)),
            },
            None => Progress::of(&record.acks, local_members),
        };
        let lag = match &info {
            Some(info) => info.num_pending + info.num_ack_pending as u64,
            None => self.log.bounds().latest.saturating_sub(progress.acked),
        };
        self.board.lock().insert(
            record.key.clone(),
            ConsumerGauge {
                key: record.key.clone(),
                lag,
                pending: progress.pending,
                streams: local_members,
            },
        );
        Ok(ConsumerInfo {
            key: record.key,
            filter: record.filter,
            acked: progress.acked,
            pending: progress.pending,
            lag,
            members: progress.members,
        })
    }

    /// Returns how many member streams of `key` are open on this replica.
    fn local_members(&self, key: &ConsumerKey) -> u32 {
        self.ends.lock().get(key).map_or(0, |end_tx| {
            u32::try_from(end_tx.receiver_count()).unwrap_or(u32::MAX)
        })
    }

    /// Returns the receiver that tells a new member of `key` why it must end.
    fn end_receiver(&self, key: &ConsumerKey) -> watch::Receiver<Option<StreamEnd>> {
        let mut ends = self.ends.lock();
        ends.retain(|_, end_tx| end_tx.receiver_count() > 0);
        ends.entry(key.clone())
            .or_insert_with(|| watch::channel(None).0)
            .subscribe()
    }

    /// Ends this replica's members of `key` (or of every consumer) for `reason`; a member that
    /// joins afterwards (a consumer created again under the same name) is not affected.
    fn end_members(&self, key: Option<&ConsumerKey>, reason: StreamEnd) {
        let mut ends = self.ends.lock();
        ends.retain(|member_key, end_tx| {
            let ending = key.is_none_or(|key| key == member_key);
            if ending {
                end_tx.send_replace(Some(reason));
            }
            !ending
        });
    }
}

#[async_trait]
impl ConsumerGroups for JetStreamGroups {
    async fn subscribe(&self, request: Subscription) -> Result<SubscriptionStream, FanoutError> {
        let Some(name) = request.consumer.clone() else {
            return self.fanout.subscribe(request).await;
        };
        let shell = self
            .fanout
            .open_shell(request.delivery.heartbeat_interval)?;
        let key = ConsumerKey {
            account: request.account.clone(),
            name,
        };
        let record = self.joined_record(&key, &request).await?;
        let settings = DurableSettings {
            ack_wait: request.delivery.ack_wait,
            max_ack_pending: request.delivery.max_in_flight,
        };
        let durable = self.durable(&record, settings).await?;
        let acked = durable
            .cached_info()
            .ack_floor
            .stream_sequence
            .max(record.acks.acked);
        let bounds = self.log.bounds();
        if bounds.is_gap_after(acked) {
            return Err(FanoutError::OutOfRange {
                requested: acked,
                oldest: bounds.first_readable(),
            });
        }
        let messages = durable
            .stream()
            .max_messages_per_batch(request.delivery.max_in_flight.max(1) as usize)
            .messages()
            .await
            .map_err(|error| FanoutError::Log(storage(error)))?;
        let feed = MemberFeed {
            key: key.clone(),
            filter: record.filter,
            auto_ack: request.delivery.ack_mode == AckMode::Auto,
        };
        let end_rx = self.end_receiver(&key);
        Ok(sourced_member(
            shell,
            key,
            deliveries::deliveries(messages, feed),
            end_rx,
        ))
    }

    async fn ack(
        &self,
        key: &ConsumerKey,
        scope: &AccountScope,
        cursors: Vec<Cursor>,
    ) -> Result<Cursor, FanoutError> {
        let record = scoped_record(self.log.as_ref(), key, scope).await?;
        if self.durable_info(&record).await?.is_none() {
            // Nothing was ever delivered: there is nothing to acknowledge.
            return Ok(record.acks.acked);
        }
        let client = self.log.jetstream.client();
        let durable = durable_name(key);
        let stream = self.log.stream.cached_info().config.name.clone();
        try_join_all(cursors.into_iter().map(|cursor| {
            let client = client.clone();
            let subject = ack_subject(&stream, &durable, cursor);
            // A request: JetStream answers once it has taken the ack (stored it, replicated).
            async move { client.request(subject, "+ACK".into()).await }
        }))
        .await
        .map_err(|error| FanoutError::Log(storage(error)))?;
        Ok(self.describe(record).await?.acked)
    }

    async fn consumer(
        &self,
        key: &ConsumerKey,
        scope: &AccountScope,
    ) -> Result<ConsumerInfo, FanoutError> {
        let record = scoped_record(self.log.as_ref(), key, scope).await?;
        self.describe(record).await
    }

    async fn consumers(
        &self,
        account: &str,
        scope: &AccountScope,
    ) -> Result<Vec<ConsumerInfo>, FanoutError> {
        let records = self.log.list_consumers().await?;
        let mut infos = Vec::new();
        for record in records {
            if record.key.account == account && scope.first_outside(&record.filter).is_none() {
                infos.push(self.describe(record).await?);
            }
        }
        infos.sort_by(|left, right| left.key.name.cmp(&right.key.name));
        Ok(infos)
    }

    async fn delete(
        &self,
        key: &ConsumerKey,
        scope: &AccountScope,
    ) -> Result<ConsumerInfo, FanoutError> {
        let record = scoped_record(self.log.as_ref(), key, scope).await?;
        let before = self.describe(record).await?;
        self.end_members(Some(key), StreamEnd::ConsumerDeleted);
        match self.log.stream.delete_consumer(&durable_name(key)).await {
            Ok(_) => {}
            Err(error) if is_consumer_not_found(&error) => {}
            Err(error) => return Err(FanoutError::Log(storage(error))),
        }
        self.log.delete_consumer(key).await?;
        self.board.lock().remove(key);
        Ok(before)
    }

    async fn close(&self) {
        self.end_members(None, StreamEnd::ShuttingDown);
        self.fanout.close().await;
    }

    fn open_streams(&self) -> usize {
        self.fanout.open_streams()
    }

    fn consumer_gauges(&self) -> Vec<ConsumerGauge> {
        let board = self.board.lock().clone();
        board
            .into_values()
            .map(|gauge| ConsumerGauge {
                streams: self.local_members(&gauge.key),
                ..gauge
            })
            .collect()
    }
}

/// Tells whether JetStream answered that the consumer does not exist.
fn is_consumer_not_found(error: &ConsumerError) -> bool {
    matches!(error.kind(), ConsumerErrorKind::JetStream(error) if error.error_code() == ErrorCode::CONSUMER_NOT_FOUND)
}
