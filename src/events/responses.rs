//! CRM entity requests held open: the ingress holds each one here ([`PendingResponses::hold`])
//! until a subscriber's answer given through `EventService.Respond` arrives
//! ([`PendingResponses::respond`]), then returns it to the upstream as the webhook's response
//! body.
//!
//! The application picks the reach by backend: [`PendingResponses::new`] answers only the
//! requests this process holds (the embedded backend, one replica);
//! [`PendingResponses::over_nats`] also relays answers between replicas through NATS (see
//! `relay.rs`), so `Respond` on any replica reaches the one holding the HTTP request.
//!
//! An answer is delivered at most once: `respond` is true only when the holder took the answer
//! before its wait ended; a late or repeated answer gets false.

mod relay;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::log::EventLogError;
use crate::nats::NatsConnection;

use self::relay::{Forwarded, Listener, Relay};

/// Which request: the account and the event id.
type Key = (String, String);

/// The requests this process holds, by account and event id.
type Waiting = Arc<Mutex<HashMap<Key, Waiter>>>;

/// One held request's way to its answer.
#[derive(Debug)]
struct Waiter {
    /// Tells this hold from a later hold of the same event (a repeated webhook).
    ticket: u64,
    /// Where the answer goes.
    answer_tx: oneshot::Sender<serde_json::Value>,
}

/// The CRM entity requests currently held open, and, with NATS, the relay to other replicas.
#[derive(Debug, Default)]
pub struct PendingResponses {
    /// The requests this process holds.
    waiting: Waiting,
    /// Numbers the holds.
    next_ticket: AtomicU64,
    /// Reaches the requests other replicas hold; `None` for one process.
    relay: Option<Relay>,
}

impl PendingResponses {
    /// Creates a registry of this process's requests only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates a registry that also answers requests held by other replicas connected to the
    /// same NATS servers, on subjects under `<stream>.responses`.
    pub(crate) fn over_nats(connection: &NatsConnection, stream: &str) -> Self {
        Self {
            relay: Some(Relay::new(connection, stream)),
            ..Self::default()
        }
    }

    /// Starts holding the request of event `event_id` of `account`: answers given from now on
    /// (on any replica, with NATS) reach the returned hold.
    ///
    /// # Errors
    ///
    /// Fails with [`EventLogError::Storage`] when the relay cannot listen (NATS unreachable).
    pub async fn hold(&self, account: &str, event_id: &str) -> Result<HeldRequest, EventLogError> {
        let listener = match &self.relay {
            Some(relay) => Some(relay.listen(account, event_id).await?),
            None => None,
        };
        let (answer_tx, answer_rx) = oneshot::channel();
        let ticket = self.next_ticket.fetch_add(1, Ordering::Relaxed);
        let key = (account.to_owned(), event_id.to_owned());
        self.waiting
            .lock()
            .insert(key.clone(), Waiter { ticket, answer_tx });
        Ok(HeldRequest {
            waiting: self.waiting.clone(),
            key,
            ticket,
            answer_rx,
            listener,
        })
    }

    /// Hands `body` to the request of event `event_id` of `account`: true when its holder took
    /// it, false when nobody holds it (its wait ended, it was answered already, or the id is
    /// unknown).
    ///
    /// # Errors
    ///
    /// Fails with [`EventLogError::Storage`] when this process does not hold the request and the
    /// other replicas cannot be asked (NATS unreachable, or no verdict in time).
    pub async fn respond(
        &self,
        account: &str,
        event_id: &str,
        body: serde_json::Value,
    ) -> Result<bool, EventLogError> {
        let key = (account.to_owned(), event_id.to_owned());
        if let Some(delivered) = hand_over(&self.waiting, &key, body.clone()) {
            return Ok(delivered);
        }
        match &self.relay {
            Some(relay) => relay.forward(account, event_id, &body).await,
            None => Ok(false),
        }
    }
}

/// Hands `body` to the local holder of `key`: `None` when this process holds no such request.
fn hand_over(waiting: &Waiting, key: &Key, body: serde_json::Value) -> Option<bool> {
    // Sent under the lock, so a hold that finds its entry gone finds the answer in its channel.
    let mut waiting = waiting.lock();
    let waiter = waiting.remove(key)?;
    Some(waiter.answer_tx.send(body).is_ok())
}

/// One CRM entity request held open; dropping it stops holding.
#[derive(Debug)]
pub struct HeldRequest {
    /// The registry the hold is entered in.
    waiting: Waiting,
    /// The request.
    key: Key,
    /// This hold's ticket.
    ticket: u64,
    /// Where a local answer arrives.
    answer_rx: oneshot::Receiver<serde_json::Value>,
    /// Where answers given on other replicas arrive (with NATS).
    listener: Option<Listener>,
}

impl HeldRequest {
    /// Waits at most `patience` for the answer; `None` when none came.
    pub async fn answer(mut self, patience: Duration) -> Option<serde_json::Value> {
        let deadline = Instant::now() + patience;
        loop {
            tokio::select! {
                local = &mut self.answer_rx => return local.ok(),
                forwarded = next_forwarded(&mut self.listener) => match forwarded {
                    Some(forwarded) => {
                        if self.leave() {
                            forwarded.accept().await;
                            return Some(forwarded.into_body());
                        }
                        // A local answer took it first; it is in the channel.
                        forwarded.refuse().await;
                    }
                    // The subscription ended (the connection closed): local answers only.
                    None => self.listener = None,
                },
                () = tokio::time::sleep_until(deadline) => {
                    return if self.leave() { None } else { self.answer_rx.try_recv().ok() };
                }
            }
        }
    }

    /// Removes this hold from the registry: false when an answer took it first.
    fn leave(&self) -> bool {
        let mut waiting = self.waiting.lock();
        match waiting.get(&self.key) {
            Some(waiter) if waiter.ticket == self.ticket => {
                waiting.remove(&self.key);
                true
            }
            _ => false,
        }
    }
}

impl Drop for HeldRequest {
    fn drop(&mut self) {
        self.leave();
        if let Some(listener) = self.listener.take() {
            listener.close();
        }
    }
}

/// Waits for the next answer relayed to `listener`; never, without one.
async fn next_forwarded(listener: &mut Option<Listener>) -> Option<Forwarded> {
    match listener {
        Some(listener) => listener.next().await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
