//! One task per active named consumer: reads the log after the consumer's progress, hands each
//! event to exactly one group member with room (`state.rs` decides which), takes acks, redelivers
//! what is overdue or was held by a member that left, and keeps the consumer's progress durable
//! through a companion persister task (coalescing: while one save runs, newer progress waits and
//! only the newest is saved next).
//!
//! Memory stays bounded: the dispatcher reads at most one batch ahead, and only when a member has
//! room; each member's channel holds at most its `max_in_flight` events.

mod client;
mod state;

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use self::client::{Command, ConsumerStatus, Persisted, persist};
use self::state::{DispatchState, MemberId};
use super::consumers::{AckState, ConsumerKey, ConsumerRecord};

pub(crate) use self::client::{DispatcherClient, MemberLink, MemberSettings};
use super::fanout::{Delivery, StreamEnd};
use super::log::{ConsumerStore, EventLog, EventLogError};
use super::{Cursor, StoredEvent};

/// The progress of every known consumer, read by metrics without waiting.
pub(crate) type ProgressBoard = Arc<Mutex<std::collections::BTreeMap<ConsumerKey, Progress>>>;

/// What the metrics show of one consumer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Progress {
    /// Every event up to here is acknowledged.
    pub(crate) acked: Cursor,
    /// Events delivered and not acknowledged yet.
    pub(crate) pending: u64,
    /// Streams (members) reading it now.
    pub(crate) members: u32,
}

impl Progress {
    /// The progress of a consumer whose acks are `acks`, read by `members` streams.
    pub(crate) fn of(acks: &AckState, members: u32) -> Self {
        Self {
            acked: acks.acked,
            pending: acks.unacked.len() as u64,
            members,
        }
    }
}

/// Starts the dispatcher of `record`; the task ends after [`DispatcherClient::stop`].
///
/// # Errors
///
/// Fails when the unacknowledged events cannot be read back from the log.
pub(crate) async fn start(
    record: ConsumerRecord,
    log: Arc<dyn EventLog>,
    store: Arc<dyn ConsumerStore>,
    board: ProgressBoard,
    read_batch: usize,
) -> Result<(DispatcherClient, JoinHandle<()>), EventLogError> {
    let unacked = read_unacked(&*log, &record.acks).await?;
    let initial = ConsumerStatus {
        acks: record.acks.clone(),
        members: 0,
        version: 0,
    };
    let (status_tx, status_rx) = watch::channel(initial);
    let (persisted_tx, persisted_rx) = watch::channel(Persisted::default());
    let (commands_tx, commands_rx) = mpsc::unbounded_channel();
    let key = record.key.clone();
    let persister = tokio::spawn(persist(key, store, status_rx.clone(), persisted_tx));
    let dispatcher = Dispatcher {
        state: DispatchState::new(record.filter, &record.acks, unacked),
        key: record.key,
        latest_rx: log.watch_latest(),
        log,
        commands_rx,
        commands_tx: commands_tx.downgrade(),
        members: HashMap::new(),
        next_member: 1,
        status_tx,
        board,
        read_batch,
    };
    let task = tokio::spawn(dispatcher.run(persister));
    let client = DispatcherClient {
        commands_tx,
        status_rx,
        persisted_rx,
    };
    Ok((client, task))
}

/// Reads back the still-retained events among `acks.unacked`.
async fn read_unacked(
    log: &dyn EventLog,
    acks: &AckState,
) -> Result<Vec<Arc<StoredEvent>>, EventLogError> {
    let mut events = Vec::with_capacity(acks.unacked.len());
    for cursor in acks.unacked.keys() {
        let found = log.read_after(cursor - 1, 1).await?;
        events.extend(
            found
                .into_iter()
                .filter(|stored| stored.cursor == *cursor)
                .map(Arc::new),
        );
    }
    Ok(events)
}

/// What to do after handling something.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    /// Keep going.
    Continue,
    /// End the task.
    Stop,
}

/// The channels of one member.
#[derive(Debug)]
struct MemberChannels {
    /// Its events.
    deliveries_tx: mpsc::Sender<Delivery>,
    /// Tells it why it must end.
    end_tx: oneshot::Sender<StreamEnd>,
}

/// The task state.
struct Dispatcher {
    key: ConsumerKey,
    state: DispatchState,
    log: Arc<dyn EventLog>,
    latest_rx: watch::Receiver<Cursor>,
    commands_rx: mpsc::UnboundedReceiver<Command>,
    /// Handed to members; weak so that the task ends when the fan-out forgets it.
    commands_tx: mpsc::WeakUnboundedSender<Command>,
    members: HashMap<MemberId, MemberChannels>,
    next_member: MemberId,
    status_tx: watch::Sender<ConsumerStatus>,
    board: ProgressBoard,
    read_batch: usize,
}

impl Dispatcher {
    /// Runs until stopped, then waits for the final progress to be stored.
    async fn run(mut self, persister: JoinHandle<()>) {
        loop {
            self.pump();
            self.publish();
            if self.step().await == Flow::Stop {
                break;
            }
        }
        self.publish();
        drop(self.status_tx);
        let _ = persister.await;
    }

    /// Waits for the next thing to do and does it.
    async fn step(&mut self) -> Flow {
        let latest = *self.latest_rx.borrow_and_update();
        let wants_events = self.state.wants_events();
        if wants_events && self.state.fetched() < latest {
            self.fetch().await;
            return Flow::Continue;
        }
        let deadline_opt = self.state.next_deadline();
        tokio::select! {
            command = self.commands_rx.recv() => match command {
                Some(command) => self.handle(command),
                None => Flow::Stop,
            },
            changed = self.latest_rx.changed(), if wants_events => match changed {
                Ok(()) => Flow::Continue,
                Err(_) => {
                    self.end_members(StreamEnd::ShuttingDown);
                    Flow::Stop
                }
            },
            () = tokio::time::sleep_until(deadline_opt.unwrap_or_else(Instant::now)),
                if deadline_opt.is_some() => {
                self.state.expire(Instant::now());
                Flow::Continue
            }
        }
    }

    /// Handles one command.
    fn handle(&mut self, command: Command) -> Flow {
        match command {
            Command::Join(settings, reply) => self.join(settings, reply),
            Command::Leave(member) => {
                self.state.remove_member(member);
                self.members.remove(&member);
            }
            Command::Taken { cursor, auto, .. } => {
                if auto {
                    self.state.ack(&[cursor]);
                }
            }
            Command::Ack(cursors, reply) => {
                self.state.ack(&cursors);
                self.publish();
                let status = self.status_tx.borrow();
                let _ = reply.send((status.version, status.acks.acked));
            }
            Command::Stop(reason) => {
                self.end_members(reason);
                return Flow::Stop;
            }
        }
        Flow::Continue
    }

    /// Adds a member and hands it its link.
    fn join(&mut self, settings: MemberSettings, reply: oneshot::Sender<MemberLink>) {
        let Some(commands_tx) = self.commands_tx.upgrade() else {
            return;
        };
        let id = self.next_member;
        self.next_member += 1;
        let capacity = usize::try_from(settings.max_in_flight.max(1)).unwrap_or(usize::MAX);
        let (deliveries_tx, deliveries_rx) = mpsc::channel(capacity);
        let (end_tx, end_rx) = oneshot::channel();
        let link = MemberLink {
            id,
            deliveries_rx,
            end_rx,
            commands_tx,
        };
        self.state
            .add_member(id, settings.max_in_flight, settings.ack_wait);
        self.members.insert(
            id,
            MemberChannels {
                deliveries_tx,
                end_tx,
            },
        );
        // Published before the subscriber learns it joined, so `GetConsumer` counts it at once.
        self.publish();
        // A link the subscriber no longer waits for is dropped here, which reports its leave.
        let _ = reply.send(link);
    }

    /// Hands out everything that can be handed out now.
    fn pump(&mut self) {
        let now = Instant::now();
        let members = &self.members;
        let can_take = |member: MemberId| {
            members
                .get(&member)
                .is_some_and(|channels| channels.deliveries_tx.capacity() > 0)
        };
        let mut gone = Vec::new();
        while let Some(assignment) = self.state.next_assignment(now, can_take) {
            let delivery = Delivery {
                event: assignment.event.clone(),
                delivery_count: assignment.delivery_count,
            };
            let sent = members
                .get(&assignment.member)
                .is_some_and(|channels| channels.deliveries_tx.try_send(delivery).is_ok());
            if !sent {
                self.state.undo(&assignment);
                gone.push(assignment.member);
            }
        }
        for member in gone {
            self.members.remove(&member);
        }
    }

    /// Reads the next batch of the log, or ends the members when the log cannot serve them.
    async fn fetch(&mut self) {
        let bounds = self.log.bounds();
        if bounds.is_gap_after(self.state.fetched()) {
            let requested = self.state.acks().acked;
            self.end_members(StreamEnd::OutOfRange {
                requested,
                oldest: bounds.first_readable(),
            });
            return;
        }
        match self
            .log
            .read_after(self.state.fetched(), self.read_batch)
            .await
        {
            Ok(events) => self.state.take_fetched(events),
            Err(error) => {
                tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    consumer = %self.key.name,
                    "consumer cannot read the event log"
                );
                self.end_members(StreamEnd::LogFailed);
            }
        }
    }

    /// Ends every member for `reason`.
    fn end_members(&mut self, reason: StreamEnd) {
        for (member, channels) in self.members.drain() {
            self.state.remove_member(member);
            let _ = channels.end_tx.send(reason);
        }
    }

    /// Publishes the status when it changed.
    fn publish(&mut self) {
        let acks = self.state.acks();
        let members = u32::try_from(self.state.member_count()).unwrap_or(u32::MAX);
        let unchanged = {
            let current = self.status_tx.borrow();
            current.acks == acks && current.members == members
        };
        if unchanged {
            return;
        }
        self.board
            .lock()
            .insert(self.key.clone(), Progress::of(&acks, members));
        self.status_tx.send_modify(|status| {
            status.version += 1;
            status.acks = acks;
            status.members = members;
        });
    }
}
