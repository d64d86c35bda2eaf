//! Answers to CRM entity requests relayed between replicas over core NATS request/reply
//! (nothing is stored in JetStream).
//!
//! The holder listens on `<stream>.responses.<account>.<event id>`, both tokens in the hex of
//! [`kv_key`] so any account name and event id is one valid subject token, in the queue group
//! [`HOLDERS`] so one holder gets each answer. `respond` on a replica that does not hold the
//! request sends the answer as a request on that subject and reads the holder's verdict,
//! [`TAKEN`] or [`REFUSED`]; with no listener, the server answers "no responders" at once: nobody
//! holds it. The subject is outside the stream's `<stream>.events.>`, so answers are never stored.

use std::time::Duration;

use async_nats::client::RequestErrorKind;
use async_nats::connection::State;
use async_nats::{Client, Subject, Subscriber};
use futures::StreamExt as _;

use crate::events::log::EventLogError;
use crate::nats::{NatsConnection, kv_key};

/// The queue group of the holders of one request.
const HOLDERS: &str = "holders";
/// The holder's verdict: the answer is its request's response.
const TAKEN: &[u8] = b"taken";
/// The holder's verdict: its wait ended or another answer came first.
const REFUSED: &[u8] = b"refused";
/// Upper bound for writing a new listener's subscription.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(5);

/// The NATS side of [`PendingResponses`](super::PendingResponses).
#[derive(Debug)]
pub(super) struct Relay {
    /// The core client.
    client: Client,
    /// `<stream>.responses`.
    prefix: String,
}

/// The relay could not reach the NATS servers.
#[derive(Debug, thiserror::Error)]
#[error("the replica holding the CRM request cannot be reached: NATS is disconnected")]
struct Disconnected;

/// The relay's call to NATS failed.
#[derive(Debug, thiserror::Error)]
#[error("the replica holding the CRM request cannot be reached through NATS")]
struct RelayFailed(#[source] async_nats::Error);

impl Relay {
    /// Builds the relay over `connection`'s client for the stream named `stream`.
    pub(super) fn new(connection: &NatsConnection, stream: &str) -> Self {
        Self {
            client: connection.client().clone(),
            prefix: format!("{stream}.responses"),
        }
    }

    /// Returns the subject of the request of `event_id` of `account`.
    fn subject(&self, account: &str, event_id: &str) -> String {
        format!("{}.{}.{}", self.prefix, kv_key(account), kv_key(event_id))
    }

    /// Listens for answers to the request of `event_id` of `account`; returns once the
    /// subscription is written to the connection (failing when it cannot be).
    ///
    /// The server handles a connection's operations in order, so on the connection the event
    /// is then published on, the subscription is in place before the event is stored: an answer
    /// given by a subscriber of the event finds the listener.
    pub(super) async fn listen(
        &self,
        account: &str,
        event_id: &str,
    ) -> Result<Listener, EventLogError> {
        self.connected()?;
        let subscriber = self
            .client
            .queue_subscribe(self.subject(account, event_id), HOLDERS.to_owned())
            .await
            .map_err(|error| failed(error.into()))?;
        match tokio::time::timeout(LISTEN_TIMEOUT, self.client.flush()).await {
            Ok(Ok(())) => Ok(Listener {
                subscriber,
                client: self.client.clone(),
            }),
            Ok(Err(error)) => Err(failed(error.into())),
            Err(_) => Err(EventLogError::Storage(Box::new(Disconnected))),
        }
    }

    /// Hands `body` to whichever replica holds the request: its verdict, or false when nobody
    /// listens for it.
    pub(super) async fn forward(
        &self,
        account: &str,
        event_id: &str,
        body: &serde_json::Value,
    ) -> Result<bool, EventLogError> {
        self.connected()?;
        let payload = serde_json::to_vec(body).map_err(|error| failed(error.into()))?;
        match self
            .client
            .request(self.subject(account, event_id), payload.into())
            .await
        {
            Ok(verdict) => Ok(verdict.payload.as_ref() == TAKEN),
            Err(error) if error.kind() == RequestErrorKind::NoResponders => Ok(false),
            Err(error) => Err(failed(error.into())),
        }
    }

    /// Fails at once while the client is not connected, rather than waiting for a timeout.
    fn connected(&self) -> Result<(), EventLogError> {
        if self.client.connection_state() == State::Connected {
            Ok(())
        } else {
            Err(EventLogError::Storage(Box::new(Disconnected)))
        }
    }
}

/// Wraps a NATS failure as the log's unavailable error.
fn failed(error: async_nats::Error) -> EventLogError {
    EventLogError::Storage(Box::new(RelayFailed(error)))
}

/// Where the answers relayed to one held request arrive.
#[derive(Debug)]
pub(super) struct Listener {
    /// The subscription to the request's subject.
    subscriber: Subscriber,
    /// Sends the verdicts.
    client: Client,
}

impl Listener {
    /// Waits for the next relayed answer; `None` when the subscription ended.
    pub(super) async fn next(&mut self) -> Option<Forwarded> {
        loop {
            let message = self.subscriber.next().await?;
            // Only relay requests (with a reply subject) carry answers.
            let Some(reply) = message.reply else {
                continue;
            };
            match serde_json::from_slice(&message.payload) {
                Ok(body) => {
                    return Some(Forwarded {
                        body,
                        reply,
                        client: self.client.clone(),
                    });
                }
                Err(_) => verdict(&self.client, reply, REFUSED).await,
            }
        }
    }

    /// Stops listening, in the background: drains the subscription (unsubscribes, and keeps
    /// receiving until the server confirms, so no answer sent before is lost on the way) and
    /// refuses the answers that arrived, so their senders learn at once that nobody took them.
    pub(super) fn close(mut self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        runtime.spawn(async move {
            if self.subscriber.drain().await.is_err() {
                // The connection is gone, and the subscription with it.
                return;
            }
            while let Some(message) = self.subscriber.next().await {
                if let Some(reply) = message.reply {
                    verdict(&self.client, reply, REFUSED).await;
                }
            }
        });
    }
}

/// An answer another replica relayed, waiting for the holder's verdict.
#[derive(Debug)]
pub(super) struct Forwarded {
    /// The answer.
    body: serde_json::Value,
    /// Where the verdict goes.
    reply: Subject,
    /// Sends it.
    client: Client,
}

impl Forwarded {
    /// Tells the sender its answer was taken.
    pub(super) async fn accept(&self) {
        verdict(&self.client, self.reply.clone(), TAKEN).await;
    }

    /// Tells the sender its answer was not taken.
    pub(super) async fn refuse(&self) {
        verdict(&self.client, self.reply.clone(), REFUSED).await;
    }

    /// Returns the answer.
    pub(super) fn into_body(self) -> serde_json::Value {
        self.body
    }
}

/// Publishes a verdict; a lost one leaves its sender with a timeout, answered as unavailable.
async fn verdict(client: &Client, reply: Subject, verdict: &'static [u8]) {
    if let Err(error) = client.publish(reply, verdict.into()).await {
        tracing::debug!(
            error = &error as &dyn std::error::Error,
            "CRM answer verdict not sent"
        );
    }
}
