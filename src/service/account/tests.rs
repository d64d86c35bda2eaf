//! Channel lookups: an account with a channel cache asks the upstream once per fresh list, a
//! listing refreshes it, and an account without one asks every time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use super::*;
use crate::idempotency::EmbeddedIdempotencyStore;
use crate::model::{ChannelState, Transport};
use crate::service::SendTiming;
use crate::telemetry::metrics::IdempotencyMetrics;

/// How long the cache of the test accounts keeps a list.
const TTL: Duration = Duration::from_secs(5);

/// An upstream with one channel that counts its channel listings.
#[derive(Debug, Default)]
struct CountingUpstream {
    listings: AtomicUsize,
}

#[async_trait::async_trait]
impl Upstream for CountingUpstream {
    fn dialect(&self) -> Dialect {
        Dialect::WazzupV3
    }

    async fn list_channels(&self, _call: CallContext) -> Result<Vec<Channel>, UpstreamError> {
        self.listings.fetch_add(1, Ordering::SeqCst);
        Ok(vec![Channel {
            account: "account".to_owned(),
            channel_id: "channel".to_owned(),
            transport: Transport::Whatsapp,
            transport_raw: "whatsapp".to_owned(),
            plain_id: "79000000000".to_owned(),
            state: ChannelState::Active,
            state_raw: "active".to_owned(),
            provider: "wazzup_v3".to_owned(),
        }])
    }
}

/// Returns an account over `upstream`, with the idempotency store it needs in a temp dir.
fn account(upstream: Arc<CountingUpstream>) -> (Account, tempfile::TempDir) {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let store =
        EmbeddedIdempotencyStore::open(data_dir.path(), SystemTime::now()).expect("store opens");
    let sends = Arc::new(IdempotentSends::new(
        Arc::new(store),
        SendTiming::for_test(TTL),
        IdempotencyMetrics::default(),
    ));
    let downloads = Downloads::new().expect("client builds");
    (
        Account::new("account", upstream, sends, downloads),
        data_dir,
    )
}

#[tokio::test(start_paused = true)]
async fn a_cached_account_asks_the_upstream_once_per_fresh_list() {
    let upstream = Arc::new(CountingUpstream::default());
    let (account, _data_dir) = account(upstream.clone());
    let account = account.with_channel_cache(TTL);
    let call = CallContext::default();

    account.get_channel("channel", call).await.expect("found");
    account.get_channel("channel", call).await.expect("found");
    assert_eq!(upstream.listings.load(Ordering::SeqCst), 1);

    tokio::time::advance(TTL).await;
    account.get_channel("channel", call).await.expect("found");
    assert_eq!(upstream.listings.load(Ordering::SeqCst), 2);

    // A listing refreshes the cache, which then answers the lookup.
    tokio::time::advance(TTL).await;
    account.list_channels(call).await.expect("listed");
    account.get_channel("channel", call).await.expect("found");
    assert_eq!(upstream.listings.load(Ordering::SeqCst), 3);

    let missing = account.get_channel("other", call).await;
    assert!(matches!(
        missing,
        Err(UpstreamError::ChannelNotFound { channel_id }) if channel_id == "other"
    ));
}

#[tokio::test(start_paused = true)]
async fn an_account_without_a_cache_asks_the_upstream_every_time() {
    let upstream = Arc::new(CountingUpstream::default());
    let (account, _data_dir) = account(upstream.clone());
    let call = CallContext::default();

    account.get_channel("channel", call).await.expect("found");
    account.get_channel("channel", call).await.expect("found");
    assert_eq!(upstream.listings.load(Ordering::SeqCst), 2);
}
