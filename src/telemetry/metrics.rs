//! The Prometheus registry and the metric families the gateway records, rendered in the text
//! exposition format by the admin listener.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric as _};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::events::fanout::Fanout;
use crate::events::log::EventLog;
use crate::service::Accounts;

/// Labels of one finished RPC.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RpcLabels {
    /// Full method path, e.g. `wazzup_gateway.v1.MessageService/SendMessage`.
    pub method: String,
    /// gRPC status code name, e.g. `OK`, `INVALID_ARGUMENT`.
    pub code: &'static str,
}

/// Labels of one webhook request.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabels {
    /// The configured account it was addressed to; `-` when the path names no configured
    /// account (so unauthenticated callers cannot grow the label set).
    pub account: String,
    /// The v3 top-level kind (`messages`, `statuses`, …), `mixed`, `test`, `empty`, `unknown`,
    /// or `-` when the body was not read.
    pub kind: &'static str,
    /// What the ingress answered, e.g. `stored`, `unauthorized`, `unavailable`.
    pub outcome: &'static str,
}

/// Every metric the gateway exports.
#[derive(Debug)]
pub struct Metrics {
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
}

impl Metrics {
    /// Creates the registry with every family registered.
    pub fn new() -> Self {
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
        Self {
            registry,
            rpcs_handled,
            rpc_seconds,
            webhooks_received,
            append_seconds,
        }
    }

    /// Adds the event log and event stream metrics, read from `log` and `fanout` at each scrape:
    /// events appended, log size, oldest and latest cursor, lag per named consumer, open streams.
    pub fn register_events(&mut self, log: Arc<dyn EventLog>, fanout: Arc<Fanout>) {
        self.registry
            .register_collector(Box::new(EventsCollector { log, fanout }));
    }

    /// Adds `upstream_credentials_rejected{account}`, read from `accounts` at each scrape: 1 while
    /// the account's upstream refuses its credentials (its latest answer was a 401).
    pub fn register_accounts(&mut self, accounts: Arc<Accounts>) {
        self.registry
            .register_collector(Box::new(AccountsCollector { accounts }));
    }

    /// Records one finished RPC.
    pub fn record_rpc(&self, method: &str, code: &'static str, elapsed: Duration) {
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
    pub fn record_webhook(&self, account: &str, kind: &'static str, outcome: &'static str) {
        let labels = WebhookLabels {
            account: account.to_owned(),
            kind,
            outcome,
        };
        self.webhooks_received.get_or_create(&labels).inc();
    }

    /// Records how long a webhook waited for its events to be durably appended.
    pub fn record_append(&self, elapsed: Duration) {
        self.append_seconds.observe(elapsed.as_secs_f64());
    }

    /// Renders every metric in the Prometheus text format.
    pub fn render(&self) -> String {
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
    /// Bounds, size and appends.
    log: Arc<dyn EventLog>,
    /// Consumers and open streams.
    fanout: Arc<Fanout>,
}

impl Collector for EventsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let stats = self.log.stats();
        let appended = ConstCounter::new(stats.appended);
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
                stats.stored_bytes,
            ),
            (
                "event_log_oldest_cursor",
                "Cursor of the oldest retained event (0 when empty)",
                stats.bounds.oldest,
            ),
            (
                "event_log_latest_cursor",
                "Cursor of the newest event (0 when none)",
                stats.bounds.latest,
            ),
            (
                "event_streams_open",
                "Event streams (Subscribe calls) open now",
                self.fanout.open_streams() as u64,
            ),
        ];
        for (name, help, value) in gauges {
            let gauge = ConstGauge::new(value);
            gauge.encode(encoder.encode_descriptor(name, help, None, gauge.metric_type())?)?;
        }
        self.encode_lags(&mut encoder)
    }
}

impl EventsCollector {
    /// Encodes one lag gauge per named consumer.
    fn encode_lags(&self, encoder: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let mut lag_encoder = encoder.encode_descriptor(
            "event_consumer_lag",
            "Events after the acked cursor of each named consumer",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for (key, lag) in self.fanout.consumer_lags() {
            let labels = ConsumerLabels {
                account: key.account,
                consumer: key.name,
            };
            ConstGauge::new(lag).encode(lag_encoder.encode_family(&labels)?)?;
        }
        Ok(())
    }
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
    accounts: Arc<Accounts>,
}

impl Collector for AccountsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(
            "upstream_credentials_rejected",
            "1 while the upstream refuses the account's API key or token (its latest answer was a 401)",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for account in self.accounts.iter() {
            let labels = AccountLabels {
                account: account.name().to_owned(),
            };
            let rejected = u64::from(account.credentials_rejected());
            ConstGauge::new(rejected).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}
