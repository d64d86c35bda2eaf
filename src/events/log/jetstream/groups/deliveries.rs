//! One member's events: the messages JetStream hands its pull subscription on the durable
//! consumer, turned into deliveries. Messages the consumer's filter rejects (what its one filter
//! subject could not express) are acked here and skipped; a message that does not decode is
//! terminated (never redelivered) and logged; members in auto-ack mode ack each event as it is
//! handed to their stream.

use std::sync::Arc;

use async_nats::jetstream::consumer::pull;
use async_nats::jetstream::{AckKind, Message};
use futures::StreamExt as _;
use futures::stream::BoxStream;

use super::super::rows;
use crate::events::StoredEvent;
use crate::events::consumers::{ConsumerKey, EventFilter};
use crate::events::fanout::{Delivery, FanoutError};

/// What a member's deliveries need to know.
#[derive(Debug)]
pub(super) struct MemberFeed {
    /// The consumer, for logs and errors.
    pub(super) key: ConsumerKey,
    /// Its whole filter.
    pub(super) filter: EventFilter,
    /// Acks each event as it is handed out.
    pub(super) auto_ack: bool,
}

/// Turns the pull subscription `messages` into the member's deliveries; the first error ends
/// them (a deleted consumer as [`FanoutError::ConsumerDeleted`], anything else as
/// [`FanoutError::LogFailed`]: the connection or JetStream failed, the caller subscribes again).
pub(super) fn deliveries(
    messages: pull::Stream,
    feed: MemberFeed,
) -> BoxStream<'static, Result<Delivery, FanoutError>> {
    let feed = Arc::new(feed);
    messages
        .filter_map(move |message| {
            let feed = Arc::clone(&feed);
            async move {
                match message {
                    Ok(message) => feed.deliver(message).await.map(Ok),
                    Err(error) => Some(Err(feed.failed(&error))),
                }
            }
        })
        .boxed()
}

impl MemberFeed {
    /// Returns the delivery of `message`, or `None` (after acking or terminating it) when it is
    /// not for this consumer or cannot be read.
    async fn deliver(&self, message: Message) -> Option<Delivery> {
        let (cursor, delivery_count) = match message.info() {
            Ok(info) => (
                info.stream_sequence,
                u32::try_from(info.delivered).unwrap_or(u32::MAX),
            ),
            Err(error) => {
                tracing::warn!(consumer = %self.key.name, %error, "a JetStream message without ack metadata was skipped");
                return None;
            }
        };
        let event = match rows::decode_event(&message.payload) {
            Ok(event) => event,
            Err(error) => {
                tracing::error!(
                    consumer = %self.key.name,
                    cursor,
                    error = &error as &dyn std::error::Error,
                    "an event that does not decode was skipped for good"
                );
                self.settle(&message, AckKind::Term).await;
                return None;
            }
        };
        if !self.filter.matches(&event) {
            self.settle(&message, AckKind::Ack).await;
            return None;
        }
        if self.auto_ack {
            self.settle(&message, AckKind::Ack).await;
        }
        Some(Delivery {
            event: Arc::new(StoredEvent { cursor, event }),
            delivery_count,
        })
    }

    /// Sends `kind` for `message` without waiting for JetStream's confirmation: a lost ack only
    /// means a redelivery after `ack_wait`.
    async fn settle(&self, message: &Message, kind: AckKind) {
        if let Err(error) = message.ack_with(kind).await {
            tracing::warn!(consumer = %self.key.name, %error, "an ack was not sent; JetStream will redeliver");
        }
    }

    /// Returns the error that ends the member after the pull subscription failed.
    fn failed(&self, error: &pull::MessagesError) -> FanoutError {
        if error.kind() == pull::MessagesErrorKind::ConsumerDeleted {
            return FanoutError::ConsumerDeleted(self.key.clone());
        }
        tracing::warn!(consumer = %self.key.name, %error, "a consumer's pull subscription failed");
        FanoutError::LogFailed
    }
}
