//! The kinds of subscription streams: an ephemeral tail of the log, a member of a named
//! consumer's group fed by its dispatcher, and a member fed by a backend's own consumer group
//! (JetStream). All share a [`Shell`]: the first heartbeat, the heartbeat timer, the drain signal
//! and the open-stream permit.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use futures::stream::BoxStream;
use tokio::sync::{OwnedSemaphorePermit, watch};
use tokio::time::Instant;

use super::shared_reads::SharedReads;
use super::{Delivery, FanoutError, StreamEnd, StreamItem, SubscriptionStream};
use crate::events::consumers::{ConsumerKey, EventFilter};
use crate::events::dispatcher::MemberLink;
use crate::events::log::EventLog;
use crate::events::{Cursor, StoredEvent};
use crate::storage::Writability;

/// What every stream has.
#[derive(Debug)]
pub(crate) struct Shell {
    log: Arc<dyn EventLog>,
    draining_rx: watch::Receiver<bool>,
    /// The connection of a log on a server (see [`EventLog::watch_connection`]).
    connection_rx: Option<watch::Receiver<Writability>>,
    heartbeat_interval: Duration,
    /// When the next heartbeat is due; `None` before the first one.
    next_heartbeat: Option<Instant>,
    /// Set once the stream returned an error; it yields nothing after.
    finished: bool,
    /// Counts the stream as open while it lives.
    _permit: OwnedSemaphorePermit,
}

impl Shell {
    /// Prepares the shell of a new stream.
    pub(super) fn new(
        log: Arc<dyn EventLog>,
        draining_rx: watch::Receiver<bool>,
        heartbeat_interval: Duration,
        permit: OwnedSemaphorePermit,
    ) -> Self {
        Self {
            connection_rx: log.watch_connection(),
            log,
            draining_rx,
            heartbeat_interval,
            next_heartbeat: None,
            finished: false,
            _permit: permit,
        }
    }

    /// Returns a heartbeat when one is due (the first at once), and restarts the timer.
    fn heartbeat_due(&mut self) -> Option<StreamItem> {
        let due = self
            .next_heartbeat
            .is_none_or(|deadline| deadline <= Instant::now());
        due.then(|| {
            self.restart_timer();
            StreamItem::Heartbeat {
                latest: self.log.bounds().latest,
            }
        })
    }

    /// Restarts the heartbeat timer (after anything was sent).
    fn restart_timer(&mut self) {
        self.next_heartbeat = Some(Instant::now() + self.heartbeat_interval);
    }

    /// Returns when the next heartbeat is due.
    fn heartbeat_deadline(&self) -> Instant {
        self.next_heartbeat.unwrap_or_else(Instant::now)
    }

    /// Fails when the gateway drains (marking the current drain state as seen), or the log's
    /// server is unreachable.
    fn check_draining(&mut self) -> Result<(), FanoutError> {
        if *self.draining_rx.borrow_and_update() {
            return Err(FanoutError::ShuttingDown);
        }
        if let Some(connection_rx) = &mut self.connection_rx
            && *connection_rx.borrow_and_update() != Writability::Writable
        {
            return Err(FanoutError::LogFailed);
        }
        Ok(())
    }

    /// Completes when the drain state or the connection to the log's server changes (or the
    /// drain sender is gone, which means stop too).
    async fn draining_changed(&mut self) -> Result<(), FanoutError> {
        let connection_changed = async {
            match &mut self.connection_rx {
                Some(connection_rx) => {
                    if connection_rx.changed().await.is_err() {
                        // The connection's state is gone with the log: nothing more to follow.
                        self.connection_rx = None;
                    }
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            changed = self.draining_rx.changed() => changed.map_err(|_| FanoutError::ShuttingDown),
            () = connection_changed => Ok(()),
        }
    }
}

/// Turns a state with an async `next_item` into a stream that ends after the first error.
macro_rules! into_stream {
    ($state:expr) => {
        futures::stream::unfold($state, |mut state| async move {
            if state.shell.finished {
                return None;
            }
            let item = state.next_item().await;
            state.shell.finished = item.is_err();
            Some((item, state))
        })
        .boxed()
    };
}

/// An ephemeral subscription: reads the log after `after`, then follows it.
pub(super) fn tail(
    shell: Shell,
    reads: Arc<SharedReads>,
    filter: EventFilter,
    after: Cursor,
    batch: usize,
) -> SubscriptionStream {
    let latest_rx = shell.log.watch_latest();
    into_stream!(Tail {
        shell,
        reads,
        filter,
        position: after,
        buffer: VecDeque::new(),
        latest_rx,
        batch
    })
}

/// The state of an ephemeral subscription.
struct Tail {
    shell: Shell,
    /// The log, through the reads every tail shares.
    reads: Arc<SharedReads>,
    filter: EventFilter,
    /// The newest cursor examined.
    position: Cursor,
    /// Read, not yet examined.
    buffer: VecDeque<Arc<StoredEvent>>,
    latest_rx: watch::Receiver<Cursor>,
    batch: usize,
}

impl Tail {
    /// Returns the next item: a due heartbeat, the next matching event, or the error that ends it.
    async fn next_item(&mut self) -> Result<StreamItem, FanoutError> {
        loop {
            self.shell.check_draining()?;
            if let Some(heartbeat) = self.shell.heartbeat_due() {
                return Ok(heartbeat);
            }
            if let Some(event) = self.next_matching() {
                self.shell.restart_timer();
                return Ok(StreamItem::Event(Delivery {
                    event,
                    delivery_count: 1,
                }));
            }
            let bounds = self.shell.log.bounds();
            if bounds.is_gap_after(self.position) {
                let oldest = bounds.first_readable();
                return Err(FanoutError::OutOfRange {
                    requested: self.position,
                    oldest,
                });
            }
            let latest = *self.latest_rx.borrow_and_update();
            if self.position < latest {
                let read = self.reads.read_after(self.position, self.batch).await?;
                if !read.is_empty() {
                    self.buffer.extend(read);
                    continue;
                }
            }
            self.wait().await?;
        }
    }

    /// Takes buffered events up to the next one that passes the filter.
    fn next_matching(&mut self) -> Option<Arc<StoredEvent>> {
        while let Some(stored) = self.buffer.pop_front() {
            self.position = stored.cursor;
            if self.filter.matches(&stored.event) {
                return Some(stored);
            }
        }
        None
    }

    /// Waits for a new event, a due heartbeat, or the drain.
    async fn wait(&mut self) -> Result<(), FanoutError> {
        let deadline = self.shell.heartbeat_deadline();
        tokio::select! {
            changed = self.latest_rx.changed() => changed.map_err(|_| FanoutError::ShuttingDown),
            drained = self.shell.draining_changed() => drained,
            () = tokio::time::sleep_until(deadline) => Ok(()),
        }
    }
}

/// A member of a named consumer's group.
pub(super) fn member(
    shell: Shell,
    key: ConsumerKey,
    link: MemberLink,
    auto_ack: bool,
) -> SubscriptionStream {
    into_stream!(Member {
        shell,
        key,
        link,
        auto_ack
    })
}

/// The state of a group member.
struct Member {
    shell: Shell,
    key: ConsumerKey,
    link: MemberLink,
    auto_ack: bool,
}

impl Member {
    /// Returns the next item: a due heartbeat, the next delivery, or the error that ends it.
    async fn next_item(&mut self) -> Result<StreamItem, FanoutError> {
        loop {
            self.shell.check_draining()?;
            if let Some(heartbeat) = self.shell.heartbeat_due() {
                return Ok(heartbeat);
            }
            let deadline = self.shell.heartbeat_deadline();
            tokio::select! {
                biased;
                end = &mut self.link.end_rx => {
                    let end = end.unwrap_or(StreamEnd::ShuttingDown);
                    return Err(end.into_error(&self.key));
                }
                drained = self.shell.draining_changed() => drained?,
                delivery = self.link.deliveries_rx.recv() => {
                    let delivery = delivery.ok_or(FanoutError::ShuttingDown)?;
                    self.link.taken(delivery.event.cursor, self.auto_ack);
                    self.shell.restart_timer();
                    return Ok(StreamItem::Event(delivery));
                }
                () = tokio::time::sleep_until(deadline) => {}
            }
        }
    }
}

/// A member of a group that a backend serves itself: `deliveries` yields its events (and the
/// error that ends it); `end_rx` turns to the reason the gateway ends it (consumer deleted).
pub(crate) fn sourced_member(
    shell: Shell,
    key: ConsumerKey,
    deliveries: BoxStream<'static, Result<Delivery, FanoutError>>,
    end_rx: watch::Receiver<Option<StreamEnd>>,
) -> SubscriptionStream {
    into_stream!(SourcedMember {
        shell,
        key,
        deliveries,
        end_rx
    })
}

/// The state of a member fed by a backend's consumer group.
struct SourcedMember {
    shell: Shell,
    key: ConsumerKey,
    deliveries: BoxStream<'static, Result<Delivery, FanoutError>>,
    end_rx: watch::Receiver<Option<StreamEnd>>,
}

impl SourcedMember {
    /// Returns the next item: a due heartbeat, the next delivery, or the error that ends it.
    async fn next_item(&mut self) -> Result<StreamItem, FanoutError> {
        loop {
            self.shell.check_draining()?;
            if let Some(end) = *self.end_rx.borrow_and_update() {
                return Err(end.into_error(&self.key));
            }
            if let Some(heartbeat) = self.shell.heartbeat_due() {
                return Ok(heartbeat);
            }
            let deadline = self.shell.heartbeat_deadline();
            tokio::select! {
                biased;
                changed = self.end_rx.changed() => {
                    changed.map_err(|_| FanoutError::ShuttingDown)?;
                }
                drained = self.shell.draining_changed() => drained?,
                delivery = self.deliveries.next() => {
                    let delivery = delivery.ok_or(FanoutError::ShuttingDown)??;
                    self.shell.restart_timer();
                    return Ok(StreamItem::Event(delivery));
                }
                () = tokio::time::sleep_until(deadline) => {}
            }
        }
    }
}
