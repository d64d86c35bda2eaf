//! OpenTelemetry trace export over OTLP, configured by the standard `OTEL_*` variables.
//!
//! Export is on when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set,
//! unless `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`. The SDK reads the rest itself:
//! the protocol (`OTEL_EXPORTER_OTLP_PROTOCOL`: `http/protobuf`, the default, or `grpc`), headers,
//! timeout, the sampler (`OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`), the resource
//! (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`) and the batch queue (`OTEL_BSP_*`).
//!
//! Spans are handed to a batch processor with a bounded queue on its own thread, so export never
//! blocks a request; when the collector is down, spans beyond the queue are dropped and each
//! failed export counts in [`export_failures`] (`otlp_export_failures_total` at `/metrics`).
//! W3C trace context (`traceparent`, `tracestate`) is the propagation format both ways.

use std::sync::LazyLock;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanData, SpanExporter};
use prometheus_client::metrics::counter::Counter;

/// The service name reported when neither `OTEL_SERVICE_NAME` nor `OTEL_RESOURCE_ATTRIBUTES`
/// names one.
const DEFAULT_SERVICE_NAME: &str = "wazzup-gateway";

/// How long shutdown waits for the last spans to be exported.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Failed span exports since the process started. Process-wide, like the tracer provider itself.
static EXPORT_FAILURES: LazyLock<Counter> = LazyLock::new(Counter::default);

/// Returns the counter of failed span exports, for the metrics registry.
pub(crate) fn export_failures() -> Counter {
    EXPORT_FAILURES.clone()
}

/// A running trace export; dropping it without [`TraceExport::shutdown`] loses queued spans.
#[derive(Debug)]
pub struct TraceExport {
    /// The installed provider.
    provider: SdkTracerProvider,
}

impl TraceExport {
    /// Starts exporting when the environment asks for it, and installs the W3C propagator either
    /// way (so a caller's context is still read when export is off).
    ///
    /// Call inside the Tokio runtime: the gRPC exporter spawns its connection there.
    ///
    /// # Errors
    ///
    /// Fails when the exporter cannot be built from the environment (e.g. a malformed endpoint).
    pub fn start_from_env()
    -> Result<Option<(Self, SdkTracer)>, opentelemetry_otlp::ExporterBuildError> {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        if !export_requested(|name| std::env::var(name).ok()) {
            return Ok(None);
        }
        // The HTTP exporter's client, like the upstream clients, uses ring for TLS.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let exporter = CountingExporter {
            inner: opentelemetry_otlp::SpanExporter::builder().build()?,
        };
        let provider = SdkTracerProvider::builder()
            .with_resource(resource(|name| std::env::var(name).ok()))
            .with_batch_exporter(exporter)
            .build();
        let tracer = provider.tracer(env!("CARGO_PKG_NAME"));
        opentelemetry::global::set_tracer_provider(provider.clone());
        Ok(Some((Self { provider }, tracer)))
    }

    /// Exports what is queued, waiting at most a few seconds, and stops.
    pub fn shutdown(self) {
        if let Err(error) = self.provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT) {
            tracing::warn!("the last spans could not be exported: {error}");
        }
    }
}

/// Decides from the `OTEL_*` variables whether traces are exported.
fn export_requested(lookup: impl Fn(&str) -> Option<String>) -> bool {
    let is = |name: &str, expected: &str| {
        lookup(name).is_some_and(|value| value.trim().eq_ignore_ascii_case(expected))
    };
    if is("OTEL_SDK_DISABLED", "true") || is("OTEL_TRACES_EXPORTER", "none") {
        return false;
    }
    [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    .iter()
    .any(|name| lookup(name).is_some_and(|value| !value.trim().is_empty()))
}

/// The resource from the environment, named `wazzup-gateway` unless the environment names it.
fn resource(lookup: impl Fn(&str) -> Option<String>) -> Resource {
    let named_by_environment = lookup("OTEL_SERVICE_NAME").is_some_and(|name| !name.is_empty())
        || lookup("OTEL_RESOURCE_ATTRIBUTES").is_some_and(|attributes| {
            attributes
                .split(',')
                .any(|pair| pair.trim_start().starts_with("service.name="))
        });
    let builder = Resource::builder();
    if named_by_environment {
        builder.build()
    } else {
        builder.with_service_name(DEFAULT_SERVICE_NAME).build()
    }
}

/// The OTLP exporter, counting the batches it fails to deliver.
#[derive(Debug)]
struct CountingExporter<E> {
    /// The exporter that sends.
    inner: E,
}

impl<E: SpanExporter> SpanExporter for CountingExporter<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let outcome = self.inner.export(batch).await;
        if outcome.is_err() {
            EXPORT_FAILURES.inc();
        }
        outcome
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn environment(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn export_is_on_only_when_an_endpoint_is_set_and_nothing_turns_it_off() {
        let cases: &[(&[(&str, &str)], bool)] = &[
            (&[], false),
            (&[("OTEL_SERVICE_NAME", "gw")], false),
            (
                &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")],
                true,
            ),
            (
                &[(
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                    "http://127.0.0.1:4318/v1/traces",
                )],
                true,
            ),
            (&[("OTEL_EXPORTER_OTLP_ENDPOINT", " ")], false),
            (
                &[
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                    ("OTEL_SDK_DISABLED", "TRUE"),
                ],
                false,
            ),
            (
                &[
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                    ("OTEL_SDK_DISABLED", "false"),
                ],
                true,
            ),
            (
                &[
                    ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                    ("OTEL_TRACES_EXPORTER", "none"),
                ],
                false,
            ),
        ];
        for (pairs, expected) in cases {
            assert_eq!(export_requested(environment(pairs)), *expected, "{pairs:?}");
        }
    }

    #[test]
    fn the_service_is_named_wazzup_gateway_unless_the_environment_names_it() {
        let service_name = |pairs: &[(&str, &str)]| {
            let resource = resource(environment(pairs));
            resource
                .get(&opentelemetry::Key::new("service.name"))
                .map(|value| value.to_string())
        };
        assert_eq!(service_name(&[]).as_deref(), Some(DEFAULT_SERVICE_NAME));
        assert_ne!(
            service_name(&[("OTEL_SERVICE_NAME", "from-env")]).as_deref(),
            Some(DEFAULT_SERVICE_NAME)
        );
        assert_ne!(
            service_name(&[("OTEL_RESOURCE_ATTRIBUTES", "team=x,service.name=from-env")])
                .as_deref(),
            Some(DEFAULT_SERVICE_NAME)
        );
    }
}
