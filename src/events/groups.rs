//! The seam between the gRPC event service and whatever serves subscriptions and named consumer
//! groups. The embedded backend serves them in process ([`Fanout`], one dispatcher task per
//! active consumer); a backend with native consumer groups (NATS JetStream durable pull
//! consumers) implements [`ConsumerGroups`] itself, so that a group spans replicas.

use async_trait::async_trait;

use super::Cursor;
use super::consumers::{AccountScope, ConsumerKey};
use super::fanout::{
    ConsumerGauge, ConsumerInfo, Fanout, FanoutError, Subscription, SubscriptionStream,
};

/// Subscriptions over the event log: ephemeral tails, and named consumers whose members share
/// the events (each delivered to one member), with acks, redelivery and stored progress.
#[async_trait]
pub(crate) trait ConsumerGroups: Send + Sync + std::fmt::Debug + 'static {
    /// Opens a subscription: an ephemeral one, or a member joining (and creating) a named
    /// consumer.
    async fn subscribe(&self, request: Subscription) -> Result<SubscriptionStream, FanoutError>;

    /// Acknowledges `cursors` for the consumer `key`; returns its ack floor once durable.
    async fn ack(
        &self,
        key: &ConsumerKey,
        scope: &AccountScope,
        cursors: Vec<Cursor>,
    ) -> Result<Cursor, FanoutError>;

    /// Returns the consumer `key` with its progress, pending count, lag and members.
    async fn consumer(
        &self,
        key: &ConsumerKey,
        scope: &AccountScope,
    ) -> Result<ConsumerInfo, FanoutError>;

    /// Returns the consumers owned by `account` that read only accounts in `scope`, sorted by
    /// name.
    async fn consumers(
        &self,
        account: &str,
        scope: &AccountScope,
    ) -> Result<Vec<ConsumerInfo>, FanoutError>;

    /// Deletes the consumer `key`, ending its members' streams; returns it as it was.
    async fn delete(
        &self,
        key: &ConsumerKey,
        scope: &AccountScope,
    ) -> Result<ConsumerInfo, FanoutError>;

    /// Ends every stream and stores the final progress of every consumer.
    async fn close(&self);

    /// Returns how many subscription streams are open now (a gauge).
    fn open_streams(&self) -> usize;

    /// Returns, for each named consumer, how many events lie after its acked cursor, how many
    /// were delivered and not acknowledged, and how many of its streams are open (gauges).
    fn consumer_gauges(&self) -> Vec<ConsumerGauge>;
}

#[async_trait]
impl ConsumerGroups for Fanout {
    async fn subscribe(&self, request: Subscription) -> Result<SubscriptionStream, FanoutError> {
        Fanout::subscribe(self, request).await
    }

    async fn ack(
        &self,
        key: &ConsumerKey,
        scope: &AccountScope,
        cursors: Vec<Cursor>,
    ) -> Result<Cursor, FanoutError> {
        Fanout::ack(self, key, scope, cursors).await
    }

    async fn consumer(
        &self,
        key: &ConsumerKey,
        scope: &AccountScope,
    ) -> Result<ConsumerInfo, FanoutError> {
        Fanout::consumer(self, key, scope).await
    }

    async fn consumers(
        &self,
        account: &str,
        scope: &AccountScope,
    ) -> Result<Vec<ConsumerInfo>, FanoutError> {
        Fanout::consumers(self, account, scope).await
    }

    async fn delete(
        &self,
        key: &ConsumerKey,
        scope: &AccountScope,
    ) -> Result<ConsumerInfo, FanoutError> {
        Fanout::delete(self, key, scope).await
    }

    async fn close(&self) {
        Fanout::close(self).await;
    }

    fn open_streams(&self) -> usize {
        Fanout::open_streams(self)
    }

    fn consumer_gauges(&self) -> Vec<ConsumerGauge> {
        Fanout::consumer_gauges(self)
    }
}

#[cfg(test)]
mod tests;
