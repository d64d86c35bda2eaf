//! The Prometheus registry and the metric families the gateway records, rendered in the text
//! exposition format by the admin listener.
//!
//! Telemetry depends on nothing it measures: components record into [`Metrics`], and the gauges
//! read at scrape time come from sources registered at start ([`EventGauges`],
//! [`CredentialGauges`]), which `app` builds over the event log, the fan-out and the accounts.

use std::fmt::Debug;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric as _};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

mod idempotency;
mod upstream;

pub(crate) use idempotency::{IdempotencyMetrics, KeyedSendOutcome};
pub use upstream::UpstreamMetrics;
pub(crate) use upstream::{AttemptObservation, STATUS_TIMEOUT, STATUS_UNREACHABLE};

/// What the event log and the event streams report at one scrape.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct EventReadings {
    /// Events stored since the gateway started (duplicates not counted).
    pub appended: u64,
    /// Bytes of retained events, as counted against the size limit.
    pub stored_bytes: u64,
    /// Bytes the event log's files take on disk.
    pub disk_bytes: u64,
    /// Cursor of the oldest retained event (0 when empty).
    pub oldest_cursor: u64,
    /// Cursor of the newest event (0 when none).
    pub latest_cursor: u64,
    /// How long ago the oldest retained event was received (zero when the log is empty).
    pub oldest_event_age: Duration,
    /// Event streams (Subscribe calls) open now.
    pub open_streams: u64,
    /// The lag, pending events and open streams of each named consumer, in the order to render
    /// them.
    pub consumers: Vec<ConsumerReading>,
}

/// What one named consumer reports at a scrape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ConsumerReading {
    /// The owning account.
    pub account: String,
    /// The consumer name.
    pub consumer: String,
    /// Events after its acked cursor.
    pub lag: u64,
    /// Events delivered to its streams and not acknowledged yet.
    pub pending: u64,
    /// Its streams (group members) open now.
    pub streams: u32,
}

/// Whether one account's upstream refuses its credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CredentialsReading {
    /// The configured account name.
    pub account: String,
    /// True while the latest upstream answer was a 401.
    pub rejected: bool,
}

/// Reads the event log and event stream gauges at each scrape.
pub(crate) trait EventGauges: Debug + Send + Sync + 'static {
    /// Returns the current readings.
    fn read(&self) -> EventReadings;
}

/// Reads the accounts' upstream credential health at each scrape.
pub(crate) trait CredentialGauges: Debug + Send + Sync + 'static {
    /// Returns one reading per configured account, in the order to render them.
    fn read(&self) -> Vec<CredentialsReading>;
}

/// Labels of one finished RPC.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RpcLabels {
    /// Full method path, e.g. `wazzup_gateway.v1.MessageService/SendMessage`.
    pub method: String,
    /// gRPC status code name, e.g. `OK`, `INVALID_ARGUMENT`.
    pub code: &'static str,
}

/// Labels of one webhook request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct WebhookLabels {
    /// The configured account it was addressed to; `-` when the path names no configured
    /// account (so unauthenticated callers cannot grow the label set).
    pub account: String,
    /// The v3 top-level kind (`messages`, `statuses`, …), `mixed`, `test`, `empty`, `unknown`,
    /// or `-` when the body was not read.
    pub kind: &'static str,
    /// What the ingress answered, e.g. `stored`, `unauthorized`, `unavailable`.
    pub outcome: &'static str,
}

/// The values of [`CallerLimitLabels::limit`].
const CALLER_LIMITS: [&str; 2] = ["rate", "streams"];

/// Labels of one call refused by a limit of its caller.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct CallerLimitLabels {
    /// The caller token's name (`anonymous` with authentication off).
    pub caller: String,
    /// The limit that refused it: `rate` or `streams`.
    pub limit: &'static str,
}

/// Every metric the gateway exports.
#[derive(Debug)]
pub(crate) struct Metrics {
    /// The registry rendered at `/metrics`.
    registry: Registry,
    /// RPCs finished, by method and code.
    rpcs_handled: Family<RpcLabels, Counter>,
    /// RPC duration from request to the end of the response, by method and code.
    rpc_seconds: Family<RpcLabels, Histogram>,
    /// Webhook requests, by account, kind and outcome.
    webhooks_received: Family<WebhookLabels, Counter>,
    /// Time webhooks waited for their events to be stored durably.
    append_seconds: Histogram,
    /// Calls refused by a limit of their caller, by caller and limit.
    caller_limit_refusals: Family<CallerLimitLabels, Counter>,
    /// Upstream attempts and rate limiter waits, recorded by the accounts' transports.
    upstream: UpstreamMetrics,
    /// Keyed sends by outcome, recorded by the idempotent sends.
    idempotency: IdempotencyMetrics,
}

impl Metrics {
    /// Creates the registry with every family registered.
    pub(crate) fn new() -> Self {
        let mut registry = Registry::default();
        let rpcs_handled = Family::<RpcLabels, Counter>::default();
        registry.register(
            "grpc_server_handled",
            "gRPC calls finished, by method and status code",
            rpcs_handled.clone(),
        );
        let rpc_seconds = Family::<RpcLabels, Histogram>::new_with_constructor(duration_histogram);
        registry.register(
            "grpc_server_handling_seconds",
            "gRPC call duration until the response ended, by method and status code",
            rpc_seconds.clone(),
        );
        let webhooks_received = Family::<WebhookLabels, Counter>::default();
        registry.register(
            "webhooks_received",
            "Webhook requests received, by account, kind and outcome",
            webhooks_received.clone(),
        );
        registry.register(
            "otlp_export_failures",
            "Span batches the OpenTelemetry exporter failed to deliver (collector down or refusing)",
            super::trace_export::export_failures(),
        );
        let append_seconds = duration_histogram();
        registry.register(
            "event_log_append_seconds",
            "Time a stored webhook waited for its events to be durably appended (queue, commit, fsync)",
            append_seconds.clone(),
        );
        let caller_limit_refusals = Family::<CallerLimitLabels, Counter>::default();
        registry.register(
            "caller_limit_refusals",
            "gRPC calls refused by a limit of their caller token, by caller and limit (rate, streams)",
            caller_limit_refusals.clone(),
        );
        let upstream = UpstreamMetrics::default();
        upstream.register(&mut registry);
        let idempotency = IdempotencyMetrics::default();
        idempotency.register(&mut registry);
        Self {
            registry,
            caller_limit_refusals,
            rpcs_handled,
            rpc_seconds,
            webhooks_received,
            append_seconds,
            upstream,
            idempotency,
        }
    }

    /// Adds the event log and event stream metrics, read from `source` at each scrape: events
    /// appended, log size, oldest and latest cursor, lag per named consumer, open streams.
    pub(crate) fn register_events(&mut self, source: impl EventGauges) {
        self.registry.register_collector(Box::new(EventsCollector {
            source: Box::new(source),
        }));
    }

    /// Adds `upstream_credentials_rejected{account}`, read from `source` at each scrape: 1 while
    /// the account's upstream refuses its credentials (its latest answer was a 401).
    pub(crate) fn register_accounts(&mut self, source: impl CredentialGauges) {
        self.registry
            .register_collector(Box::new(AccountsCollector {
                source: Box::new(source),
            }));
    }

    /// Returns the recorder of upstream attempts and rate limiter waits, for the accounts'
    /// transports.
    pub(crate) fn upstream(&self) -> UpstreamMetrics {
        self.upstream.clone()
    }

    /// Returns the recorder of keyed sends, for the idempotent sends.
    pub(crate) fn idempotency(&self) -> IdempotencyMetrics {
        self.idempotency.clone()
    }

    /// Records one finished RPC.
    pub(crate) fn record_rpc(&self, method: &str, code: &'static str, elapsed: Duration) {
        let labels = RpcLabels {
            method: method.to_owned(),
            code,
        };
        self.rpcs_handled.get_or_create(&labels).inc();
        self.rpc_seconds
            .get_or_create(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// Records one webhook request.
    pub(crate) fn record_webhook(&self, account: &str, kind: &'static str, outcome: &'static str) {
        let labels = WebhookLabels {
            account: account.to_owned(),
            kind,
            outcome,
        };
        self.webhooks_received.get_or_create(&labels).inc();
    }

    /// Records how long a webhook waited for its events to be durably appended.
    pub(crate) fn record_append(&self, elapsed: Duration) {
        self.append_seconds.observe(elapsed.as_secs_f64());
    }

    /// Starts the refusal counters of `caller` at zero, so each caller's series exist (and rates
    /// over them work) before its first refusal.
    pub(crate) fn register_caller(&self, caller: &str) {
        for limit in CALLER_LIMITS {
            let labels = CallerLimitLabels {
                caller: caller.to_owned(),
                limit,
            };
            // Creating the series is the point: the counter stays at zero.
            self.caller_limit_refusals.get_or_create(&labels).inc_by(0);
        }
    }

    /// Records one call refused by `limit` (`rate` or `streams`) of `caller`.
    pub(crate) fn record_caller_limit_refusal(&self, caller: &str, limit: &'static str) {
        let labels = CallerLimitLabels {
            caller: caller.to_owned(),
            limit,
        };
        self.caller_limit_refusals.get_or_create(&labels).inc();
    }

    /// Renders every metric in the Prometheus text format.
    pub(crate) fn render(&self) -> String {
        let mut text = String::new();
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            tracing::warn!("metrics could not be rendered");
        }
        text
    }
}

/// A histogram of durations in seconds: 100 µs … ~26 s, doubling.
fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 19))
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Labels of a named consumer.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConsumerLabels {
    /// The owning account.
    account: String,
    /// The consumer name.
    consumer: String,
}

/// Reads the event metrics at scrape time, so the log and the fan-out keep no metric state.
#[derive(Debug)]
struct EventsCollector {
    /// The log's bounds, size and appends; the fan-out's consumers and open streams.
    source: Box<dyn EventGauges>,
}

impl Collector for EventsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let readings = self.source.read();
        let appended = ConstCounter::new(readings.appended);
        appended.encode(encoder.encode_descriptor(
            "events_appended",
            "Events stored in the event log since the gateway started (duplicates not counted)",
            None,
            appended.metric_type(),
        )?)?;
        let gauges = [
            (
                "event_log_bytes",
                "Bytes of retained events, as counted against the size limit",
                readings.stored_bytes,
            ),
            (
                "event_log_disk_bytes",
                "Bytes the event log's files take on disk, bounded by the size limit after each retention pass",
                readings.disk_bytes,
            ),
            (
                "event_log_oldest_cursor",
                "Cursor of the oldest retained event (0 when empty)",
                readings.oldest_cursor,
            ),
            (
                "event_log_latest_cursor",
                "Cursor of the newest event (0 when none)",
                readings.latest_cursor,
            ),
            (
                "event_streams_open",
                "Event streams (Subscribe calls) open now",
                readings.open_streams,
            ),
        ];
        for (name, help, value) in gauges {
            let gauge = ConstGauge::new(value);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        let age = ConstGauge::new(readings.oldest_event_age.as_secs_f64());
        age.encode(encoder.encode_descriptor(
            "event_log_oldest_event_age_seconds",
            "Seconds since the oldest retained event was received (0 when the log is empty)",
            None,
            age.metric_type(),
        )?)?;
        encode_consumers(&mut encoder, &readings.consumers)
    }
}

/// One per-consumer gauge: its name, its help text, and how to read it.
type ConsumerGaugeSpec = (&'static str, &'static str, fn(&ConsumerReading) -> u64);

/// Encodes the lag, pending and stream gauges of every named consumer.
fn encode_consumers(
    encoder: &mut DescriptorEncoder<'_>,
    consumers: &[ConsumerReading],
) -> Result<(), std::fmt::Error> {
    let gauges: [ConsumerGaugeSpec; 3] = [
        (
            "event_consumer_lag",
            "Events after the acked cursor of each named consumer",
            |reading| reading.lag,
        ),
        (
            "event_consumer_pending",
            "Events delivered to each named consumer's streams and not acknowledged yet",
            |reading| reading.pending,
        ),
        (
            "event_consumer_streams",
            "Streams (group members) open now on each named consumer",
            |reading| u64::from(reading.streams),
        ),
    ];
    for (name, help, value) in gauges {
        let mut family = encoder.encode_descriptor(
            name,
            help,
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for reading in consumers {
            let labels = ConsumerLabels {
                account: reading.account.clone(),
                consumer: reading.consumer.clone(),
            };
            ConstGauge::new(value(reading)).encode(family.encode_family(&labels)?)?;
        }
    }
    Ok(())
}

/// Labels of an upstream account.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AccountLabels {
    /// The configured account name.
    account: String,
}

/// Reads the accounts' upstream health at scrape time.
#[derive(Debug)]
struct AccountsCollector {
    /// The accounts' credential health.
    source: Box<dyn CredentialGauges>,
}

impl Collector for AccountsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(
            "upstream_credentials_rejected",
            "1 while the upstream refuses the account's API key or token (its latest answer was a 401)",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for CredentialsReading { account, rejected } in self.source.read() {
            let labels = AccountLabels { account };
            ConstGauge::new(u64::from(rejected)).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fixed event readings.
    #[derive(Debug)]
    struct FixedEvents;

    impl EventGauges for FixedEvents {
        fn read(&self) -> EventReadings {
            EventReadings {
                appended: 7,
                stored_bytes: 1024,
                disk_bytes: 4096,
                oldest_cursor: 2,
                latest_cursor: 9,
                oldest_event_age: Duration::from_millis(90_500),
                open_streams: 3,
                consumers: vec![ConsumerReading {
                    account: "main".to_owned(),
                    consumer: "crm".to_owned(),
                    lag: 4,
                    pending: 2,
                    streams: 1,
                }],
            }
        }
    }

    /// One account whose credentials are refused.
    #[derive(Debug)]
    struct RefusedAccount;

    impl CredentialGauges for RefusedAccount {
        fn read(&self) -> Vec<CredentialsReading> {
            vec![CredentialsReading {
                account: "main".to_owned(),
                rejected: true,
            }]
        }
    }

    #[test]
    fn registered_sources_are_read_at_each_scrape() {
        let mut metrics = Metrics::new();
        metrics.register_events(FixedEvents);
        metrics.register_accounts(RefusedAccount);

        let text = metrics.render();

        for line in [
            "events_appended_total 7",
            "event_log_bytes 1024",
            "event_log_disk_bytes 4096",
            "event_log_oldest_cursor 2",
            "event_log_latest_cursor 9",
            "event_log_oldest_event_age_seconds 90.5",
            "event_streams_open 3",
            "event_consumer_lag{account=\"main\",consumer=\"crm\"} 4",
            "event_consumer_pending{account=\"main\",consumer=\"crm\"} 2",
            "event_consumer_streams{account=\"main\",consumer=\"crm\"} 1",
            "upstream_credentials_rejected{account=\"main\"} 1",
        ] {
            assert!(
                text.lines().any(|rendered| rendered == line),
                "{line}\n{text}"
            );
        }
    }
}
