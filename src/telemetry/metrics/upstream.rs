//! The upstream HTTP metrics: every attempt by account, method, route template, status and
//! attempt number, the waits and refusals of each account's rate limiter, and the requests paced
//! locally because the rate budget shared through NATS was unreachable.
//!
//! The labels stay bounded: accounts are the configured ones, routes are the dialects' route
//! templates (never a URL with ids), the status is an HTTP status code or one of a closed set of
//! failures, and attempt numbers past [`MAX_ATTEMPT_LABEL`] share one label.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tokio::time::Instant;

use super::duration_histogram;

/// Attempt labels; attempts after the last one share it.
const ATTEMPT_LABELS: [&str; 5] = ["1", "2", "3", "4", "5+"];
/// The highest attempt number with a label of its own.
const MAX_ATTEMPT_LABEL: u32 = 4;

/// Status label of an attempt that timed out before an answer arrived.
pub(crate) const STATUS_TIMEOUT: &str = "timeout";
/// Status label of an attempt whose connection failed or broke before an answer arrived.
pub(crate) const STATUS_UNREACHABLE: &str = "unreachable";
/// Status label of an attempt abandoned by its caller before it ended.
const STATUS_CANCELLED: &str = "cancelled";

/// Labels of one upstream attempt.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AttemptLabels {
    /// The configured account.
    account: String,
    /// The HTTP method.
    method: String,
    /// The route template, e.g. `/v3/message/:messageId`.
    route: &'static str,
    /// The HTTP status code, or `timeout`, `unreachable`, `cancelled`.
    status: String,
    /// `1`, `2`, `3`, `4` or `5+`.
    attempt: &'static str,
}

/// Labels of the attempt latency histogram: the attempt number is left out, so each route has
/// one histogram per status.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LatencyLabels {
    /// The configured account.
    account: String,
    /// The HTTP method.
    method: String,
    /// The route template.
    route: &'static str,
    /// As in [`AttemptLabels::status`].
    status: String,
}

/// Labels of one account's rate limiter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimiterLabels {
    /// The configured account.
    account: String,
}

/// Records upstream attempts and rate limiter waits; cheap to clone, every clone records into
/// the same families. A default one records into families no registry renders (for tests and
/// tools that build a transport alone).
#[derive(Clone, Debug)]
pub struct UpstreamMetrics {
    /// Attempts, by account, method, route, status and attempt number.
    attempts: Family<AttemptLabels, Counter>,
    /// Attempt duration, by account, method, route and status.
    attempt_seconds: Family<LatencyLabels, Histogram>,
    /// Requests that waited for the account's rate limiter.
    limiter_waits: Family<LimiterLabels, Counter>,
    /// Seconds requests waited for the account's rate limiter.
    limiter_wait_seconds: Family<LimiterLabels, Counter<f64>>,
    /// Requests refused because the limiter's wait would pass the caller's deadline.
    limiter_refusals: Family<LimiterLabels, Counter>,
    /// Requests paced by the replica's own limiter because the shared budget was unreachable.
    budget_fallbacks: Family<LimiterLabels, Counter>,
}

impl Default for UpstreamMetrics {
    fn default() -> Self {
        Self {
            attempts: Family::default(),
            attempt_seconds: Family::new_with_constructor(duration_histogram),
            limiter_waits: Family::default(),
            limiter_wait_seconds: Family::default(),
            limiter_refusals: Family::default(),
            budget_fallbacks: Family::default(),
        }
    }
}

impl UpstreamMetrics {
    /// Registers every family in `registry`.
    pub(super) fn register(&self, registry: &mut Registry) {
        registry.register(
            "upstream_requests",
            "Upstream HTTP attempts, by account, method, route template, status and attempt number",
            self.attempts.clone(),
        );
        registry.register(
            "upstream_request_seconds",
            "Upstream HTTP attempt duration until the answer was read, by account, method, route template and status",
            self.attempt_seconds.clone(),
        );
        registry.register(
            "upstream_rate_limiter_waits",
            "Upstream requests that waited for the account's rate limiter",
            self.limiter_waits.clone(),
        );
        registry.register(
            "upstream_rate_limiter_wait_seconds",
            "Seconds upstream requests waited for the account's rate limiter",
            self.limiter_wait_seconds.clone(),
        );
        registry.register(
            "upstream_rate_limiter_refusals",
            "Upstream requests not sent because the account's rate limiter would have made them miss the caller's deadline",
            self.limiter_refusals.clone(),
        );
        registry.register(
            "upstream_rate_budget_fallbacks",
            "Upstream requests paced by this replica's own limiter because the rate budget shared through NATS could not be reached",
            self.budget_fallbacks.clone(),
        );
    }

    /// Starts measuring one attempt of `account` to `method route`; it is recorded when the
    /// returned observation is dropped, as `cancelled` unless an outcome was set.
    pub fn start_attempt(
        &self,
        account: &str,
        method: &str,
        route: &'static str,
        attempt: u32,
    ) -> AttemptObservation {
        AttemptObservation {
            metrics: self.clone(),
            labels: AttemptLabels {
                account: account.to_owned(),
                method: method.to_owned(),
                route,
                status: STATUS_CANCELLED.to_owned(),
                attempt: attempt_label(attempt),
            },
            started: Instant::now(),
        }
    }

    /// Renders these families alone in the text format.
    #[cfg(test)]
    pub(crate) fn render(&self) -> String {
        let mut registry = Registry::default();
        self.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).expect("renders");
        text
    }

    /// Starts the rate limiter series of `account` at zero, so that they exist (for `rate()` and
    /// alerts) before its first wait or refusal.
    pub fn include_account(&self, account: &str) {
        let labels = limiter_labels(account);
        self.limiter_waits.get_or_create(&labels).inc_by(0);
        self.limiter_wait_seconds.get_or_create(&labels).inc_by(0.0);
        self.limiter_refusals.get_or_create(&labels).inc_by(0);
        self.budget_fallbacks.get_or_create(&labels).inc_by(0);
    }

    /// Records that a request of `account` waited `waited` for the rate limiter.
    pub fn record_limiter_wait(&self, account: &str, waited: Duration) {
        let labels = limiter_labels(account);
        self.limiter_waits.get_or_create(&labels).inc();
        self.limiter_wait_seconds
            .get_or_create(&labels)
            .inc_by(waited.as_secs_f64());
    }

    /// Records that a request of `account` was refused by the rate limiter.
    pub fn record_limiter_refusal(&self, account: &str) {
        self.limiter_refusals
            .get_or_create(&limiter_labels(account))
            .inc();
    }

    /// Records that a request of `account` was paced by this replica's own limiter because the
    /// shared rate budget could not be reached.
    pub fn record_budget_fallback(&self, account: &str) {
        self.budget_fallbacks
            .get_or_create(&limiter_labels(account))
            .inc();
    }
}

/// One attempt being measured; recorded exactly once, when dropped.
#[derive(Debug)]
pub struct AttemptObservation {
    /// Where to record.
    metrics: UpstreamMetrics,
    /// The labels, the status filled in by [`AttemptObservation::answered`] or
    /// [`AttemptObservation::failed`].
    labels: AttemptLabels,
    /// When the attempt started.
    started: Instant,
}

impl AttemptObservation {
    /// Sets the outcome to the HTTP status the upstream answered.
    pub fn answered(&mut self, status: u16) {
        self.labels.status = status.to_string();
    }

    /// Sets the outcome to a failure without an answer: [`STATUS_TIMEOUT`] or
    /// [`STATUS_UNREACHABLE`].
    pub fn failed(&mut self, status: &'static str) {
        self.labels.status = status.to_owned();
    }
}

impl Drop for AttemptObservation {
    fn drop(&mut self) {
        let elapsed = self.started.elapsed();
        self.metrics.attempts.get_or_create(&self.labels).inc();
        let latency = LatencyLabels {
            account: self.labels.account.clone(),
            method: self.labels.method.clone(),
            route: self.labels.route,
            status: self.labels.status.clone(),
        };
        self.metrics
            .attempt_seconds
            .get_or_create(&latency)
            .observe(elapsed.as_secs_f64());
    }
}

/// Returns the label of attempt number `attempt` (1-based).
fn attempt_label(attempt: u32) -> &'static str {
    let index = attempt.clamp(1, MAX_ATTEMPT_LABEL + 1) - 1;
    ATTEMPT_LABELS[index as usize]
}

/// Returns the labels of `account`'s rate limiter.
fn limiter_labels(account: &str) -> LimiterLabels {
    LimiterLabels {
        account: account.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempt_numbers_past_the_last_label_share_it() {
        let labels: Vec<&str> = (0..=7).map(attempt_label).collect();
        assert_eq!(labels, ["1", "1", "2", "3", "4", "5+", "5+", "5+"]);
    }

    #[tokio::test(start_paused = true)]
    async fn an_attempt_is_recorded_once_with_its_outcome_and_duration() {
        let metrics = UpstreamMetrics::default();
        {
            let mut observation = metrics.start_attempt("main", "POST", "/v3/message", 2);
            tokio::time::sleep(Duration::from_millis(300)).await;
            observation.answered(429);
        }
        drop(metrics.start_attempt("main", "GET", "/v3/channels", 1));
        {
            let mut observation = metrics.start_attempt("main", "GET", "/v3/channels", 1);
            observation.failed(STATUS_TIMEOUT);
        }

        let text = metrics.render();
        for line in [
            "upstream_requests_total{account=\"main\",method=\"POST\",route=\"/v3/message\",status=\"429\",attempt=\"2\"} 1",
            "upstream_requests_total{account=\"main\",method=\"GET\",route=\"/v3/channels\",status=\"cancelled\",attempt=\"1\"} 1",
            "upstream_requests_total{account=\"main\",method=\"GET\",route=\"/v3/channels\",status=\"timeout\",attempt=\"1\"} 1",
            "upstream_request_seconds_sum{account=\"main\",method=\"POST\",route=\"/v3/message\",status=\"429\"} 0.3",
            "upstream_request_seconds_count{account=\"main\",method=\"POST\",route=\"/v3/message\",status=\"429\"} 1",
        ] {
            assert!(
                text.lines().any(|rendered| rendered == line),
                "{line}\n{text}"
            );
        }
    }

    #[test]
    fn an_included_account_shows_its_limiter_series_at_zero() {
        let metrics = UpstreamMetrics::default();
        metrics.include_account("main");

        let text = metrics.render();
        for line in [
            "upstream_rate_limiter_waits_total{account=\"main\"} 0",
            "upstream_rate_limiter_wait_seconds_total{account=\"main\"} 0.0",
            "upstream_rate_limiter_refusals_total{account=\"main\"} 0",
        ] {
            assert!(
                text.lines().any(|rendered| rendered == line),
                "{line}\n{text}"
            );
        }
    }

    #[test]
    fn limiter_waits_and_refusals_are_counted_by_account() {
        let metrics = UpstreamMetrics::default();
        metrics.record_limiter_wait("main", Duration::from_millis(1500));
        metrics.record_limiter_wait("main", Duration::from_millis(500));
        metrics.record_limiter_refusal("other");

        let text = metrics.render();
        for line in [
            "upstream_rate_limiter_waits_total{account=\"main\"} 2",
            "upstream_rate_limiter_wait_seconds_total{account=\"main\"} 2.0",
            "upstream_rate_limiter_refusals_total{account=\"other\"} 1",
        ] {
            assert!(
                text.lines().any(|rendered| rendered == line),
                "{line}\n{text}"
            );
        }
    }
}
