//! The rate budget shared by every replica through a JetStream key-value bucket
//! (`nats.rate_budget_bucket`).
//!
//! Windows are fixed and numbered alike on every replica: window `n` of an account runs from
//! `n × rate_window` to `(n + 1) × rate_window` after the Unix epoch (replicas' clocks are assumed
//! NTP-close; a replica whose clock lags waits for the window another one has started). The
//! bucket holds one entry per account, `{"window": n, "granted": k}`: how many requests all
//! replicas together were granted in window `n`. A replica leases shares in blocks by
//! compare-and-set on that entry (`create` when absent, `update` at the revision read), so never
//! more than the budget is granted in a window. Its first block in a window is one share, each
//! next one twice the last, up to a twentieth of the budget: a busy replica reaches the bucket
//! about 25 times per window however many requests it sends, and a quiet one holds back at most
//! what it leased last. Shares left in a lease when its window ends are dropped, never carried
//! over; once the bucket says a window's budget is spent, the replica answers "wait for the next
//! window" without asking again.
//!
//! When NATS cannot be reached (disconnected, or no answer within [`LEASE_TIMEOUT`]), sends keep
//! working: the replica paces itself with its own limiter, the whole budget as one process
//! would ([`LocalBudget`]), and counts each such request in
//! `upstream_rate_budget_fallbacks_total`. Until NATS is back, N replicas may then send up to N
//! times the budget; the upstream's own 429 answers (with `Retry-After`) are retried as usual.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::connection::State;
use async_nats::jetstream::kv;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{LocalBudget, RateBudget, RateBudgets};
use crate::config::{NatsConfig, UpstreamLimits};
use crate::nats::{NatsConnection, kv_key};
use crate::telemetry::metrics::UpstreamMetrics;

/// Upper bound for one lease (its reads and compare-and-set attempts) before falling back.
const LEASE_TIMEOUT: Duration = Duration::from_secs(2);
/// The largest block one lease asks for: a twentieth of the budget.
const LEASES_PER_WINDOW: u32 = 20;

/// Budgets shared through the bucket.
#[derive(Debug)]
pub(crate) struct JetStreamBudgets {
    /// The bucket.
    bucket: kv::Store,
    /// Tells whether the connection is up.
    client: async_nats::Client,
    /// Numbers the windows.
    clock: WallClock,
}

impl JetStreamBudgets {
    /// Opens (creating when absent) the bucket `nats.rate_budget_bucket`.
    ///
    /// # Errors
    ///
    /// Fails when JetStream refuses or cannot be reached.
    pub(crate) async fn open(
        connection: &NatsConnection,
        nats: &NatsConfig,
    ) -> Result<Self, async_nats::Error> {
        Self::open_with_clock(connection, nats, WallClock::System).await
    }

    /// Opens the bucket, numbering windows by `clock`.
    async fn open_with_clock(
        connection: &NatsConnection,
        nats: &NatsConfig,
        clock: WallClock,
    ) -> Result<Self, async_nats::Error> {
        let bucket = crate::nats::open_bucket(
            connection.jetstream(),
            &nats.rate_budget_bucket,
            Duration::ZERO,
            nats.replicas,
        )
        .await?;
        Ok(Self {
            bucket,
            client: connection.client().clone(),
            clock,
        })
    }
}

impl RateBudgets for JetStreamBudgets {
    fn budget(
        &self,
        account: &str,
        limits: &UpstreamLimits,
        metrics: &UpstreamMetrics,
    ) -> Arc<dyn RateBudget> {
        let budget = limits.requests_per_window.max(1);
        Arc::new(SharedBudget {
            account: account.to_owned(),
            key: kv_key(account),
            budget,
            window: limits.rate_window.max(Duration::from_millis(1)),
            max_block: (budget / LEASES_PER_WINDOW).max(1),
            bucket: self.bucket.clone(),
            client: self.client.clone(),
            clock: self.clock.clone(),
            lease: tokio::sync::Mutex::new(Lease::default()),
            fallback: LocalBudget::new(limits),
            metrics: metrics.clone(),
        })
    }
}

/// Where the time comes from: the system clock, or a test's.
#[derive(Clone, Debug)]
enum WallClock {
    /// Time since the Unix epoch.
    System,
    /// A time the test sets.
    #[cfg(test)]
    Manual(Arc<parking_lot::Mutex<Duration>>),
}

impl WallClock {
    /// Returns the time since the Unix epoch.
    fn now(&self) -> Duration {
        match self {
            Self::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default(),
            #[cfg(test)]
            Self::Manual(now) => *now.lock(),
        }
    }
}

/// One account's budget on the bucket.
#[derive(Debug)]
struct SharedBudget {
    /// The account, for metrics.
    account: String,
    /// Its entry's key.
    key: String,
    /// Requests per window, for all replicas together.
    budget: u32,
    /// The window.
    window: Duration,
    /// The most shares asked for in one lease.
    max_block: u32,
    /// The bucket.
    bucket: kv::Store,
    /// Tells whether the connection is up.
    client: async_nats::Client,
    /// Numbers the windows.
    clock: WallClock,
    /// The shares this replica holds; one lease at a time, the other callers wait for it.
    lease: tokio::sync::Mutex<Lease>,
    /// Paces requests while the bucket cannot be reached.
    fallback: LocalBudget,
    /// Counts the fallbacks.
    metrics: UpstreamMetrics,
}

/// Shares this replica was granted and has not used yet.
#[derive(Debug, Default)]
struct Lease {
    /// The window they belong to.
    window: u64,
    /// How many are left.
    left: u32,
    /// The size of the last block leased in the window.
    last_block: u32,
    /// The bucket said the window's budget is spent: wait for the next without asking again.
    spent: bool,
}

/// The bucket entry of one account.
#[derive(Debug, Serialize, Deserialize)]
struct Granted {
    /// The window number.
    window: u64,
    /// Shares granted in it, by all replicas together.
    granted: u32,
}

/// What asking the bucket for shares gave.
#[derive(Debug, PartialEq, Eq)]
enum Leased {
    /// This many shares of window.
    Shares(u32),
    /// The budget is spent until window `.0` starts.
    SpentUntil(u64),
}

#[async_trait]
impl RateBudget for SharedBudget {
    async fn take(&self) -> Result<(), Duration> {
        let mut lease = self.lease.lock().await;
        let now = self.clock.now();
        let window = self.window_of(now);
        if lease.window == window {
            if lease.left > 0 {
                lease.left -= 1;
                return Ok(());
            }
            if lease.spent {
                return Err(self.start_of(window + 1).saturating_sub(now));
            }
        }
        let block = if lease.window == window {
            lease.last_block.saturating_mul(2).clamp(1, self.max_block)
        } else {
            1
        };
        let leased = if self.client.connection_state() == State::Connected {
            tokio::time::timeout(LEASE_TIMEOUT, self.lease(window, block))
                .await
                .ok()
                .and_then(Result::ok)
        } else {
            None
        };
        match leased {
            Some(Leased::Shares(shares)) => {
                *lease = Lease {
                    window,
                    left: shares - 1,
                    last_block: shares,
                    spent: false,
                };
                Ok(())
            }
            Some(Leased::SpentUntil(next)) => {
                if next == window + 1 {
                    *lease = Lease {
                        window,
                        left: 0,
                        last_block: 0,
                        spent: true,
                    };
                }
                Err(self.start_of(next).saturating_sub(now))
            }
            None => {
                self.metrics.record_budget_fallback(&self.account);
                self.fallback.take_now()
            }
        }
    }
}

impl SharedBudget {
    /// Returns the number of the window `now` is in.
    fn window_of(&self, now: Duration) -> u64 {
        u64::try_from(now.as_nanos() / self.window.as_nanos()).unwrap_or(u64::MAX)
    }

    /// Returns when window `window` starts.
    fn start_of(&self, window: u64) -> Duration {
        let nanos = u128::from(window) * self.window.as_nanos();
        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    /// Asks the bucket for `block` shares of `window` (fewer when fewer are left), retrying when
    /// another replica changed the entry in between.
    async fn lease(&self, window: u64, block: u32) -> Result<Leased, async_nats::Error> {
        loop {
            let entry = self.bucket.entry(self.key.as_str()).await?;
            let current = entry
                .as_ref()
                .filter(|entry| entry.operation == kv::Operation::Put);
            let stored =
                current.and_then(|entry| serde_json::from_slice::<Granted>(&entry.value).ok());
            let granted = match stored {
                // Another replica's clock is ahead: wait for its window.
                Some(stored) if stored.window > window => {
                    return Ok(Leased::SpentUntil(stored.window));
                }
                Some(stored) if stored.window == window => stored.granted,
                _ => 0,
            };
            if granted >= self.budget {
                return Ok(Leased::SpentUntil(window + 1));
            }
            let shares = block.min(self.budget - granted);
            let value = serde_json::to_vec(&Granted {
                window,
                granted: granted + shares,
            })?;
            // False when another replica changed the entry since it was read.
            let written = match entry {
                Some(entry) => match self
                    .bucket
                    .update(self.key.as_str(), value.into(), entry.revision)
                    .await
                {
                    Ok(_) => true,
                    Err(error) if error.kind() == kv::UpdateErrorKind::WrongLastRevision => false,
                    Err(error) => return Err(error.into()),
                },
                None => match self.bucket.create(self.key.as_str(), value.into()).await {
                    Ok(_) => true,
                    Err(error) if error.kind() == kv::CreateErrorKind::AlreadyExists => false,
                    Err(error) => return Err(error.into()),
                },
            };
            if written {
                return Ok(Leased::Shares(shares));
            }
        }
    }
}

#[cfg(test)]
mod tests;
