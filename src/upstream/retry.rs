//! When a failed upstream attempt is tried again: a pure decision over the operation's
//! idempotency, the attempts made and the failure, plus the time budget of the whole operation.
//!
//! The rules (wazzup-api.md §1.2, §3.3; STYLE §8.7):
//! - a connect error is always retried: nothing reached the upstream;
//! - a 429 is always retried, after `Retry-After` or the fallback, unless that wait is longer than
//!   the gateway is willing to hold the call (then the caller gets `RetryInfo`);
//! - a 5xx or a timeout is retried only for [`Idempotency::Safe`] operations and for sends that
//!   carry a `crmMessageId` ([`Idempotency::Keyed`]), because the upstream may have acted on the
//!   request: an unkeyed send could go out twice;
//! - any other answer (4xx) is final;
//! - every attempt starts within `total_budget` of the first, which stays well inside the
//!   upstream's 60 s `crmMessageId` dedupe window.

use std::time::Duration;

use crate::config::RetrySettings;
use crate::failure::ErrorClass;

use super::UpstreamError;

/// What the caller may safely repeat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idempotency {
    /// Reads, and writes that set a final state (edit, delete, webhook settings): repeating adds no
    /// side effect.
    Safe,
    /// Sends that carry an idempotency key (`crmMessageId`) the upstream deduplicates on for 60 s.
    Keyed,
    /// Sends without a key: repeating after the request was sent may duplicate the message.
    Unsafe,
}

/// The next step after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Try again after the delay.
    RetryAfter(Duration),
    /// Report the failure.
    GiveUp,
}

/// Where an operation stands after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    /// Attempts made so far (≥ 1).
    pub attempts_made: u32,
    /// Time since the first attempt started.
    pub elapsed: Duration,
    /// Time left before the caller's deadline, when it has one.
    pub remaining: Option<Duration>,
}

/// How failed attempts are retried; built from an account's [`RetrySettings`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The configured numbers.
    settings: RetrySettings,
}

/// Share of a delay added at most as jitter, so that callers rejected together do not retry in
/// lockstep.
const JITTER_SHARE: f64 = 0.25;

impl RetryPolicy {
    /// Builds the policy from configured settings.
    pub fn new(settings: RetrySettings) -> Self {
        debug_assert!(settings.max_attempts >= 1);
        Self { settings }
    }

    /// Returns the production policy: three attempts, 250 ms → 2 s backoff, 5 s after a bare 429,
    /// a 40 s budget.
    pub fn standard() -> Self {
        Self::new(RetrySettings::default())
    }

    /// Returns a policy with millisecond delays for tests ([`RetrySettings::for_test`]).
    pub fn for_test() -> Self {
        Self::new(RetrySettings::for_test())
    }

    /// Returns the wait after a 429 without `Retry-After`.
    pub fn rate_limit_fallback(&self) -> Duration {
        self.settings.rate_limit_fallback
    }

    /// Returns the time from the first attempt within which every attempt must start.
    pub fn total_budget(&self) -> Duration {
        self.settings.total_budget
    }

    /// Decides whether attempt number `attempts_made + 1` should happen, ignoring time budgets.
    pub fn decide(
        &self,
        idempotency: Idempotency,
        attempts_made: u32,
        failure: &UpstreamError,
    ) -> Step {
        if attempts_made >= self.settings.max_attempts {
            return Step::GiveUp;
        }
        if failure.is_connect_error() {
            // Nothing reached the upstream: repeating cannot duplicate anything.
            return Step::RetryAfter(self.backoff(attempts_made));
        }
        match failure.class() {
            // A rate-limited request was refused before it did anything.
            ErrorClass::RateLimited => {
                let wait = failure
                    .retry_after()
                    .unwrap_or(self.settings.rate_limit_fallback);
                if wait > self.settings.max_retry_after {
                    Step::GiveUp
                } else {
                    Step::RetryAfter(wait)
                }
            }
            // The request may or may not have taken effect.
            ErrorClass::Unavailable | ErrorClass::Timeout if idempotency != Idempotency::Unsafe => {
                Step::RetryAfter(self.backoff(attempts_made))
            }
            _ => Step::GiveUp,
        }
    }

    /// Decides the next step with the time budgets applied: a retry happens only when it starts
    /// within the total budget and before the caller's deadline. `jitter_unit` in `[0, 1)` adds up
    /// to a quarter of the delay.
    pub fn next_step(
        &self,
        idempotency: Idempotency,
        progress: Progress,
        failure: &UpstreamError,
        jitter_unit: f64,
    ) -> Step {
        let Step::RetryAfter(delay) = self.decide(idempotency, progress.attempts_made, failure)
        else {
            return Step::GiveUp;
        };
        let delay = with_jitter(delay, jitter_unit);
        let starts_at = progress.elapsed.saturating_add(delay);
        let past_deadline = progress
            .remaining
            .is_some_and(|remaining| delay >= remaining);
        if starts_at > self.settings.total_budget || past_deadline {
            return Step::GiveUp;
        }
        Step::RetryAfter(delay)
    }

    /// Returns the backoff before retry number `attempts_made` (1 → base delay, doubling, capped).
    fn backoff(&self, attempts_made: u32) -> Duration {
        let doublings = attempts_made.saturating_sub(1).min(16);
        self.settings
            .base_delay
            .saturating_mul(1 << doublings)
            .min(self.settings.max_delay)
    }
}

/// Adds `jitter_unit` (clamped to `[0, 1]`) times a quarter of `delay` to `delay`.
pub(crate) fn with_jitter(delay: Duration, jitter_unit: f64) -> Duration {
    delay.saturating_add(delay.mul_f64(JITTER_SHARE * jitter_unit.clamp(0.0, 1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::error::{ErrorBody, Rejection};

    const SECOND: Duration = Duration::from_secs(1);

    fn answered(status: u16, code: Option<&str>, retry_after: Option<Duration>) -> UpstreamError {
        let body = ErrorBody {
            error: code.map(str::to_owned),
            ..ErrorBody::default()
        };
        UpstreamError::Rejected(Box::new(Rejection::from_answer(
            status,
            &body,
            retry_after,
            crate::upstream::error::UPSTREAM_DOMAIN,
        )))
    }

    fn connect_error() -> UpstreamError {
        UpstreamError::Unreachable {
            connect: true,
            source: None,
        }
    }

    fn timeout() -> UpstreamError {
        UpstreamError::Timeout {
            timeout: Duration::from_secs(30),
        }
    }

    fn standard_with(max_attempts: u32) -> RetryPolicy {
        RetryPolicy::new(RetrySettings {
            max_attempts,
            ..RetrySettings::default()
        })
    }

    #[test]
    fn every_failure_kind_retries_only_where_repeating_is_safe() {
        use Idempotency::{Keyed, Safe, Unsafe};
        let policy = RetryPolicy::standard();
        let base = Duration::from_millis(250);
        let fallback = Duration::from_secs(5);
        let table: Vec<(&str, UpstreamError, [Step; 3])> = vec![
            (
                "connect error",
                connect_error(),
                [Step::RetryAfter(base); 3],
            ),
            (
                "429 with Retry-After",
                answered(429, None, Some(2 * SECOND)),
                [Step::RetryAfter(2 * SECOND); 3],
            ),
            (
                "429 without Retry-After",
                answered(429, None, None),
                [Step::RetryAfter(fallback); 3],
            ),
            (
                "429 asking longer than we hold a call",
                answered(429, None, Some(60 * SECOND)),
                [Step::GiveUp; 3],
            ),
            (
                "500",
                answered(500, None, None),
                [Step::RetryAfter(base), Step::RetryAfter(base), Step::GiveUp],
            ),
            (
                "503",
                answered(503, None, None),
                [Step::RetryAfter(base), Step::RetryAfter(base), Step::GiveUp],
            ),
            (
                "504",
                answered(504, None, None),
                [Step::RetryAfter(base), Step::RetryAfter(base), Step::GiveUp],
            ),
            (
                "our timeout",
                timeout(),
                [Step::RetryAfter(base), Step::RetryAfter(base), Step::GiveUp],
            ),
            (
                "body sent, connection lost",
                UpstreamError::Unreachable {
                    connect: false,
                    source: None,
                },
                [Step::RetryAfter(base), Step::RetryAfter(base), Step::GiveUp],
            ),
            (
                "400 validation",
                answered(400, Some("INVALID_MESSAGE_DATA"), None),
                [Step::GiveUp; 3],
            ),
            ("401", answered(401, None, None), [Step::GiveUp; 3]),
            ("403", answered(403, None, None), [Step::GiveUp; 3]),
            ("404", answered(404, None, None), [Step::GiveUp; 3]),
            (
                "repeated crmMessageId",
                answered(400, Some("REPEATED_CRM_MESSAGE_ID"), None),
                [Step::GiveUp; 3],
            ),
            (
                "channel blocked",
                answered(400, Some("CHANNEL_BLOCKED"), None),
                [Step::GiveUp; 3],
            ),
        ];
        for (name, failure, expected) in table {
            for (idempotency, step) in [Safe, Keyed, Unsafe].into_iter().zip(expected) {
                assert_eq!(
                    policy.decide(idempotency, 1, &failure),
                    step,
                    "{name}, {idempotency:?}"
                );
            }
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_attempts_are_bounded() {
        let policy = standard_with(6);
        let delays: Vec<Step> = (1..=6)
            .map(|made| policy.decide(Idempotency::Safe, made, &timeout()))
            .collect();
        let millis = |ms| Step::RetryAfter(Duration::from_millis(ms));
        assert_eq!(
            delays,
            [
                millis(250),
                millis(500),
                millis(1000),
                millis(2000),
                millis(2000),
                Step::GiveUp
            ]
        );
    }

    #[test]
    fn retries_never_start_after_the_budget_or_the_callers_deadline() {
        let policy = RetryPolicy::standard();
        let progress = |elapsed: Duration, remaining: Option<Duration>| Progress {
            attempts_made: 1,
            elapsed,
            remaining,
        };
        let step = |progress| policy.next_step(Idempotency::Keyed, progress, &timeout(), 0.0);

        assert_eq!(
            step(progress(SECOND, None)),
            Step::RetryAfter(Duration::from_millis(250))
        );
        assert_eq!(step(progress(Duration::from_secs(40), None)), Step::GiveUp);
        assert_eq!(
            step(progress(SECOND, Some(Duration::from_millis(100)))),
            Step::GiveUp
        );
    }

    #[test]
    fn a_keyed_send_finishes_retrying_well_inside_the_dedupe_window() {
        let policy = RetryPolicy::standard();
        assert!(policy.total_budget() <= crate::config::MAX_RETRY_TOTAL_BUDGET);
        assert!(crate::config::MAX_RETRY_TOTAL_BUDGET < Duration::from_secs(60));
    }

    #[test]
    fn jitter_adds_at_most_a_quarter() {
        let delay = Duration::from_millis(400);
        assert_eq!(with_jitter(delay, 0.0), delay);
        assert_eq!(with_jitter(delay, 0.5), Duration::from_millis(450));
        assert_eq!(with_jitter(delay, 7.0), Duration::from_millis(500));
    }

    #[test]
    fn the_test_policy_waits_milliseconds() {
        let policy = RetryPolicy::for_test();
        assert_eq!(
            policy.decide(Idempotency::Safe, 1, &answered(429, None, None)),
            Step::RetryAfter(Duration::from_millis(5))
        );
        assert_eq!(
            policy.decide(Idempotency::Safe, 3, &timeout()),
            Step::GiveUp
        );
    }
}
