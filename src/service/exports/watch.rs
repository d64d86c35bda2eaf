//! Watching an export: its state, first at once, then on every change, until it is terminal. Changes are learnt two ways, whichever comes first: an `EVENT_TYPE_EXPORT_READY`
//! event for the export appended to the log (the upstream's `messages_dump.status_update`
//! webhook), or polling the upstream with exponential backoff (for upstreams whose webhook is not
//! registered, and for the intermediate states, which have no webhook).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::events::payload::EventPayload;
use crate::events::{Cursor, EventType};
use crate::failure::ErrorClass;
use crate::model::MessageExport;
use crate::upstream::registry::WEBHOOK_DECODERS;
use crate::upstream::{CallContext, UpstreamError};

use super::super::account::Account;
use super::ExportWatching;

/// Events read from the log per look.
const READ_BATCH: usize = 256;

/// How often a watch asks the upstream while nothing changes: `initial` after each change,
/// doubling up to `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PollPolicy {
    /// First wait after a change (and after the first answer).
    pub initial: Duration,
    /// Longest wait between two polls.
    pub max: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(15),
        }
    }
}

/// Why a watch ended before a terminal state.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WatchError {
    /// The upstream failed for good while the export was asked for.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// The gateway drains.
    #[error("the gateway is shutting down")]
    ShuttingDown,
}

/// The states of one watch.
type Sender = mpsc::Sender<Result<MessageExport, WatchError>>;

/// One running watch.
#[derive(Debug)]
pub(super) struct Watcher {
    /// The account the export belongs to.
    pub(super) account: Arc<Account>,
    /// The export.
    pub(super) export_id: String,
    /// The caller's deadline, for each poll.
    pub(super) call: CallContext,
    /// The log, the drain signal and the policy.
    pub(super) watching: ExportWatching,
}

/// Whether the watch goes on after a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

impl Watcher {
    /// Streams the states into `sender` until the export is terminal, the caller leaves, the
    /// upstream fails for good, or the gateway drains.
    pub(super) async fn run(mut self, sender: Sender) {
        let mut latest = self.watching.log.watch_latest();
        let mut cursor = *latest.borrow_and_update();
        let mut last = None;
        if self.poll(&mut last, &sender).await == Flow::Stop {
            return;
        }
        let policy = self.watching.poll;
        let mut delay = policy.initial;
        let mut draining = self.watching.draining.clone();
        loop {
            let before = last.clone();
            let flow = tokio::select! {
                () = sender.closed() => Flow::Stop,
                // A dropped sender counts as draining too: the gateway is stopping.
                _ = async { draining.wait_for(|draining| *draining).await.is_ok() } => {
                    let _ = sender.send(Err(WatchError::ShuttingDown)).await;
                    Flow::Stop
                }
                () = tokio::time::sleep(delay) => {
                    delay = (delay * 2).min(policy.max);
                    self.poll(&mut last, &sender).await
                }
                changed = latest.changed() => match changed {
                    Ok(()) => self.read_events(&mut cursor, &mut last, &sender).await,
                    // The log closed: the gateway is stopping; polling carries on until the drain.
                    Err(_) => {
                        latest = tokio::sync::watch::channel(cursor).1;
                        Flow::Continue
                    }
                },
            };
            if flow == Flow::Stop {
                return;
            }
            if last != before {
                delay = policy.initial;
            }
        }
    }

    /// Asks the upstream for the state and offers it. Transient failures after the first answer
    /// are waited out; any other failure ends the stream with its status.
    async fn poll(&mut self, last: &mut Option<MessageExport>, sender: &Sender) -> Flow {
        match self
            .account
            .get_message_export(&self.export_id, self.call)
            .await
        {
            Ok(export) => offer(export, last, sender).await,
            Err(error) if last.is_some() && is_transient(&error) => {
                tracing::debug!(error = %error, "export poll failed, retrying");
                Flow::Continue
            }
            Err(error) => {
                let _ = sender.send(Err(WatchError::Upstream(error))).await;
                Flow::Stop
            }
        }
    }

    /// Reads the events appended since `cursor` and offers the state of any export-ready event
    /// of this export.
    async fn read_events(
        &mut self,
        cursor: &mut Cursor,
        last: &mut Option<MessageExport>,
        sender: &Sender,
    ) -> Flow {
        loop {
            let events = match self.watching.log.read_after(*cursor, READ_BATCH).await {
                Ok(events) => events,
                Err(error) => {
                    tracing::debug!(error = %error, "export watch cannot read the log; polling");
                    return Flow::Continue;
                }
            };
            let Some(newest) = events.last() else {
                return Flow::Continue;
            };
            *cursor = newest.cursor;
            let full = events.len() == READ_BATCH;
            for stored in events {
                let event = &stored.event;
                if event.event_type != EventType::ExportReady
                    || event.account != self.account.name()
                {
                    continue;
                }
                let EventPayload::Export(export) = WEBHOOK_DECODERS.payload(event).into_owned()
                else {
                    continue;
                };
                if export.export_id != self.export_id {
                    continue;
                }
                // A complete final state is taken as sent; anything less (the payload is not
                // documented) only says "ask now".
                let flow = if export.state.is_terminal() && !export.url.is_empty() {
                    offer(export, last, sender).await
                } else {
                    self.poll(last, sender).await
                };
                if flow == Flow::Stop {
                    return Flow::Stop;
                }
            }
            if !full {
                return Flow::Continue;
            }
        }
    }
}

/// Sends `export` when it differs from the last state sent; stops after a terminal state or when
/// the caller left.
async fn offer(export: MessageExport, last: &mut Option<MessageExport>, sender: &Sender) -> Flow {
    if last.as_ref() == Some(&export) {
        return Flow::Continue;
    }
    let terminal = export.state.is_terminal();
    *last = Some(export.clone());
    if sender.send(Ok(export)).await.is_err() || terminal {
        return Flow::Stop;
    }
    Flow::Continue
}

/// Tells whether a poll failure is worth waiting out.
fn is_transient(error: &UpstreamError) -> bool {
    matches!(
        error.class(),
        ErrorClass::Unavailable | ErrorClass::Timeout | ErrorClass::RateLimited
    )
}
