//! The clock of the accounts' rate limiters: Tokio's, so the limiter's waits and the caller's
//! deadlines (both `tokio::time`) are measured on one clock, and a paused test clock paces
//! requests exactly as it paces the sleeps; and the quota an account's limits give.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

use crate::config::UpstreamLimits;
use tokio::time::Instant;

/// One account's rate limiter on the Tokio clock.
pub(super) type Pacer = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Duration>>;

/// Tokio's monotonic clock, read as the time since the limiter was built.
#[derive(Clone, Debug)]
pub(super) struct TokioClock {
    /// When the limiter was built.
    origin: Instant,
}

impl Clock for TokioClock {
    type Instant = Duration;

    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// Returns the account's quota: `requests_per_window` per `rate_window`, all usable at once.
pub(super) fn quota(limits: &UpstreamLimits) -> Quota {
    let burst = NonZeroU32::new(limits.requests_per_window).unwrap_or(NonZeroU32::MIN);
    let period = limits.rate_window / burst.get();
    Quota::with_period(period.max(Duration::from_nanos(1)))
        .unwrap_or_else(|| Quota::per_second(burst))
        .allow_burst(burst)
}

/// Builds a limiter for `quota` on the Tokio clock, returning it with its clock.
pub(super) fn pacer(quota: Quota) -> (Pacer, TokioClock) {
    let clock = TokioClock {
        origin: Instant::now(),
    };
    (RateLimiter::direct_with_clock(quota, clock.clone()), clock)
}

#[cfg(test)]
mod tests {
    use governor::clock::Clock as _;

    use super::*;

    #[test]
    fn the_quota_allows_the_whole_window_at_once_then_paces() {
        let limits = UpstreamLimits {
            requests_per_window: 3,
            rate_window: Duration::from_secs(60),
            ..UpstreamLimits::default()
        };
        let (limiter, _) = pacer(quota(&limits));
        assert!((0..3).all(|_| limiter.check().is_ok()));
        assert!(limiter.check().is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn the_limiter_follows_the_tokio_clock() {
        let quota = Quota::with_period(Duration::from_secs(10))
            .expect("a positive period")
            .allow_burst(NonZeroU32::MIN);
        let (limiter, clock) = pacer(quota);
        assert!(limiter.check().is_ok());
        let not_until = limiter.check().expect_err("the burst is spent");
        assert_eq!(
            not_until.wait_time_from(clock.now()),
            Duration::from_secs(10)
        );

        tokio::time::advance(Duration::from_secs(10)).await;

        assert!(limiter.check().is_ok());
    }
}
