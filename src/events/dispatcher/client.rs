//! How the fan-out and the group members talk to a dispatcher, and the persister that keeps a
//! consumer's progress durable.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};

use super::state::MemberId;
use crate::events::Cursor;
use crate::events::consumers::{AckState, ConsumerKey};
use crate::events::fanout::{Delivery, FanoutError, StreamEnd};
use crate::events::log::ConsumerStore;

/// A consumer's live progress, published after every change.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct ConsumerStatus {
    /// Progress as it will be stored.
    pub(crate) acks: AckState,
    /// Open subscriptions.
    pub(crate) members: u32,
    /// Increases with every change.
    pub(crate) version: u64,
}

/// What the persister has done so far.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Persisted {
    /// Newest status version stored.
    pub(super) saved: u64,
    /// Newest status version whose save failed.
    pub(super) failed: u64,
}

/// How a member takes its events.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MemberSettings {
    /// Most unacknowledged events it holds.
    pub(crate) max_in_flight: u32,
    /// `None`: acked when written to the stream; otherwise redelivered when not acked in time.
    pub(crate) ack_wait: Option<Duration>,
}

/// Messages to a dispatcher.
#[derive(Debug)]
pub(super) enum Command {
    /// A subscription joins the group.
    Join(MemberSettings, oneshot::Sender<MemberLink>),
    /// A subscription left.
    Leave(MemberId),
    /// A member's stream took an event; `auto` acks it.
    Taken { cursor: Cursor, auto: bool },
    /// `Ack` was called; replies with the status version that contains it and the ack floor.
    Ack(Vec<Cursor>, oneshot::Sender<(u64, Cursor)>),
    /// End every member for this reason and stop.
    Stop(StreamEnd),
}

/// A group member's end of the dispatcher.
#[derive(Debug)]
pub(crate) struct MemberLink {
    /// Its id.
    pub(super) id: MemberId,
    /// Its events.
    pub(crate) deliveries_rx: mpsc::Receiver<Delivery>,
    /// Told why it must end, when the dispatcher ends it.
    pub(crate) end_rx: oneshot::Receiver<StreamEnd>,
    /// Reports what the stream took, and the leave on drop.
    pub(super) commands_tx: mpsc::UnboundedSender<Command>,
}

impl MemberLink {
    /// Reports that the stream wrote `cursor` (acking it when `auto`).
    pub(crate) fn taken(&self, cursor: Cursor, auto: bool) {
        let _ = self.commands_tx.send(Command::Taken { cursor, auto });
    }
}

impl Drop for MemberLink {
    fn drop(&mut self) {
        let _ = self.commands_tx.send(Command::Leave(self.id));
    }
}

/// The fan-out's handle on a running dispatcher.
#[derive(Clone, Debug)]
pub(crate) struct DispatcherClient {
    /// Its command queue.
    pub(super) commands_tx: mpsc::UnboundedSender<Command>,
    /// Its live status.
    pub(super) status_rx: watch::Receiver<ConsumerStatus>,
    /// What is durable.
    pub(super) persisted_rx: watch::Receiver<Persisted>,
}

impl DispatcherClient {
    /// Returns the live status.
    pub(crate) fn status(&self) -> ConsumerStatus {
        self.status_rx.borrow().clone()
    }

    /// Adds a member.
    pub(crate) async fn join(&self, settings: MemberSettings) -> Result<MemberLink, FanoutError> {
        let (reply_tx, reply_rx) = oneshot::channel();
        self.commands_tx
            .send(Command::Join(settings, reply_tx))
            .map_err(|_| FanoutError::ShuttingDown)?;
        reply_rx.await.map_err(|_| FanoutError::ShuttingDown)
    }

    /// Acks `cursors` and returns the ack floor once the result is durable.
    pub(crate) async fn ack(&self, cursors: Vec<Cursor>) -> Result<Cursor, FanoutError> {
        let (reply_tx, reply_rx) = oneshot::channel();
        self.commands_tx
            .send(Command::Ack(cursors, reply_tx))
            .map_err(|_| FanoutError::ShuttingDown)?;
        let (version, acked) = reply_rx.await.map_err(|_| FanoutError::ShuttingDown)?;
        let mut persisted_rx = self.persisted_rx.clone();
        let outcome = persisted_rx
            .wait_for(|persisted| persisted.saved >= version || persisted.failed >= version)
            .await
            .map(|persisted| *persisted)
            .unwrap_or_else(|_| *persisted_rx.borrow());
        if outcome.saved >= version {
            Ok(acked)
        } else if outcome.failed >= version {
            Err(FanoutError::LogFailed)
        } else {
            Err(FanoutError::ShuttingDown)
        }
    }

    /// Ends every member with `reason` and stops the dispatcher (the task ends once the final
    /// progress is stored).
    pub(crate) fn stop(&self, reason: StreamEnd) {
        let _ = self.commands_tx.send(Command::Stop(reason));
    }
}

/// Stores each new status, newest first; reports what is durable.
pub(super) async fn persist(
    key: ConsumerKey,
    store: Arc<dyn ConsumerStore>,
    mut status_rx: watch::Receiver<ConsumerStatus>,
    persisted_tx: watch::Sender<Persisted>,
) {
    let mut saved_acks = status_rx.borrow().acks.clone();
    while status_rx.changed().await.is_ok() {
        let status = status_rx.borrow_and_update().clone();
        if status.acks != saved_acks {
            if let Err(error) = store.save_acks(&key, status.acks.clone()).await {
                tracing::warn!(
                    error = &error as &dyn std::error::Error,
                    consumer = %key.name,
                    "consumer progress not stored"
                );
                persisted_tx.send_modify(|persisted| persisted.failed = status.version);
                continue;
            }
            saved_acks = status.acks;
        }
        persisted_tx.send_modify(|persisted| persisted.saved = status.version);
    }
}
