//! The per-account channel cache of the HTTP dialects' accounts: validating a send against its
//! channel costs no upstream call while the last channel list is fresh, and concurrent callers
//! share one refresh.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

use crate::model::Channel;
use crate::upstream::UpstreamError;

/// The last channel list of one account and when it was fetched.
#[derive(Debug)]
pub(crate) struct ChannelCache {
    /// The last channel list and when it was fetched.
    channels: Mutex<Option<(Instant, Arc<Vec<Channel>>)>>,
    /// How long the channel list is reused.
    ttl: Duration,
    /// Lets one caller refresh the channel list while the others wait for its answer.
    refresh: tokio::sync::Mutex<()>,
}

impl ChannelCache {
    /// Creates an empty cache whose lists are reused for `ttl`.
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            channels: Mutex::new(None),
            ttl,
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    /// Stores a freshly fetched list and returns it shared.
    pub(crate) fn store(&self, channels: Vec<Channel>) -> Arc<Vec<Channel>> {
        let channels = Arc::new(channels);
        *self.channels.lock() = Some((Instant::now(), channels.clone()));
        channels
    }

    /// Returns the channel `channel_id` from the fresh list, or from a list `fetch` gets (and that
    /// the caller stores with [`ChannelCache::store`]).
    ///
    /// # Errors
    ///
    /// Fails with `fetch`'s error, or [`UpstreamError::ChannelNotFound`].
    pub(crate) async fn find<F>(&self, channel_id: &str, fetch: F) -> Result<Channel, UpstreamError>
    where
        F: Future<Output = Result<Arc<Vec<Channel>>, UpstreamError>>,
    {
        let find = |channels: &[Channel]| {
            channels
                .iter()
                .find(|channel| channel.channel_id == channel_id)
                .cloned()
        };
        if let Some(channel) = self.fresh().and_then(|channels| find(&channels)) {
            return Ok(channel);
        }
        let _refreshing = self.refresh.lock().await;
        // Another caller may have refreshed while this one waited.
        if let Some(channel) = self.fresh().and_then(|channels| find(&channels)) {
            return Ok(channel);
        }
        let channels = fetch.await?;
        find(&channels).ok_or_else(|| UpstreamError::ChannelNotFound {
            channel_id: channel_id.to_owned(),
        })
    }

    /// Returns the cached channel list while it is fresh.
    fn fresh(&self) -> Option<Arc<Vec<Channel>>> {
        let cache = self.channels.lock();
        let (fetched_at, channels) = cache.as_ref()?;
        (fetched_at.elapsed() < self.ttl).then(|| channels.clone())
    }
}
