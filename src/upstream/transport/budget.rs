//! Where an account's rate budget (`requests_per_window` per `rate_window`) is kept: the seam
//! between the transport, which takes one share of the budget per request, and the backend the
//! application picks.
//!
//! - [`LocalBudgets`]: each process paces itself to the whole budget with an in-memory limiter
//!   (the embedded backend, one replica).
//! - [`JetStreamBudgets`]: the budget is shared by every replica through a JetStream key-value
//!   bucket, so N replicas together send at most the budget per window (the nats backend).

mod jetstream;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use governor::clock::Clock as _;

use super::pacing;
use crate::config::UpstreamLimits;
use crate::telemetry::metrics::UpstreamMetrics;

pub(crate) use self::jetstream::JetStreamBudgets;

/// Builds each account's budget.
pub trait RateBudgets: Send + Sync + fmt::Debug {
    /// Returns the budget of `account` with its `limits`; fallbacks are counted in `metrics`.
    fn budget(
        &self,
        account: &str,
        limits: &UpstreamLimits,
        metrics: &UpstreamMetrics,
    ) -> Arc<dyn RateBudget>;
}

/// One account's budget, shared by every caller of the account.
#[async_trait]
pub trait RateBudget: Send + Sync + fmt::Debug {
    /// Takes one request's share of the budget: `Err` with how long to wait before asking again
    /// when the budget is spent for now.
    async fn take(&self) -> Result<(), Duration>;
}

/// Budgets kept by this process alone.
#[derive(Debug, Default)]
pub(crate) struct LocalBudgets;

impl RateBudgets for LocalBudgets {
    fn budget(
        &self,
        _account: &str,
        limits: &UpstreamLimits,
        _metrics: &UpstreamMetrics,
    ) -> Arc<dyn RateBudget> {
        Arc::new(LocalBudget::new(limits))
    }
}

/// The whole budget paced in memory: all of it usable at once, then refilled evenly over the
/// window (a GCRA limiter on the Tokio clock).
#[derive(Debug)]
pub(crate) struct LocalBudget {
    /// The limiter.
    pacer: pacing::Pacer,
    /// Its clock, to turn its answers into waits.
    clock: pacing::TokioClock,
}

impl LocalBudget {
    /// Builds the budget of `limits`.
    pub(crate) fn new(limits: &UpstreamLimits) -> Self {
        let (pacer, clock) = pacing::pacer(pacing::quota(limits));
        Self { pacer, clock }
    }

    /// Takes one share now, or tells how long until one is free.
    fn take_now(&self) -> Result<(), Duration> {
        self.pacer
            .check()
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }
}

#[async_trait]
impl RateBudget for LocalBudget {
    async fn take(&self) -> Result<(), Duration> {
        self.take_now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_local_budget_spends_the_window_then_says_how_long_to_wait() {
        let limits = UpstreamLimits {
            requests_per_window: 2,
            rate_window: Duration::from_secs(10),
            ..UpstreamLimits::default()
        };
        let budget = LocalBudgets.budget("main", &limits, &UpstreamMetrics::default());

        assert_eq!(budget.take().await, Ok(()));
        assert_eq!(budget.take().await, Ok(()));
        assert_eq!(budget.take().await, Err(Duration::from_secs(5)));
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(budget.take().await, Ok(()));
    }
}
