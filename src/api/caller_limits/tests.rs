use std::convert::Infallible;
use std::time::Duration;

use tonic::{Code, Status};
use tower::{Layer as _, ServiceExt as _};

use super::*;
use crate::api::auth::CallerAuth;
use crate::api::gate::GateLayer;
use crate::config::{CallerLimitOverrides, CallerToken};

const SEND: &str = "/wazzup_gateway.v1.MessageService/SendMessage";
const SUBSCRIBE: &str = "/wazzup_gateway.v1.EventService/Subscribe";
const WATCH: &str = "/wazzup_gateway.v1.ExportService/WatchMessageExport";

fn limits(per_second: u32, burst: u32, max_streams: u32) -> LimitsConfig {
    LimitsConfig {
        callers: CallerLimits {
            requests_per_second: NonZeroU32::new(per_second),
            request_burst: NonZeroU32::new(burst),
            max_streams: NonZeroU32::new(max_streams),
        },
        ..LimitsConfig::default()
    }
}

fn token(name: &str, overrides: CallerLimitOverrides) -> CallerToken {
    CallerToken {
        name: name.to_owned(),
        token: format!("secret-{name}").into(),
        accounts: Vec::new(),
        services: Vec::new(),
        limits: overrides,
        client_cert_names: Vec::new(),
    }
}

/// The gateway's order: authentication, then the limits, then a service answering 200 with an
/// empty body.
struct Stack {
    auth: CallerAuth,
    limits: CallerLimitGate,
    metrics: Arc<Metrics>,
}

impl Stack {
    fn new(limits: &LimitsConfig, tokens: Vec<CallerToken>) -> Self {
        let auth = AuthConfig {
            tokens,
            open_health_and_reflection: true,
        };
        let metrics = Arc::new(Metrics::new());
        Self {
            auth: CallerAuth::from_config(&auth),
            limits: CallerLimitGate::new(limits, &auth, metrics.clone()),
            metrics,
        }
    }

    /// Calls `path` as `caller` (no token when `None`); returns the response, whose body holds
    /// the call's permits.
    async fn call(&self, path: &str, caller: Option<&str>) -> http::Response<impl Send> {
        let answering = tower::service_fn(|_request: http::Request<()>| async {
            Ok::<_, Infallible>(http::Response::new(String::new()))
        });
        let mut request = http::Request::builder().uri(path);
        if let Some(caller) = caller {
            request = request.header("authorization", format!("Bearer secret-{caller}"));
        }
        GateLayer::new(self.auth.clone())
            .layer(GateLayer::new(self.limits.clone()).layer(answering))
            .oneshot(request.body(()).unwrap())
            .await
            .unwrap()
    }
}

fn status<B>(response: &http::Response<B>) -> Option<Status> {
    Status::from_header_map(response.headers())
}

fn reason<B>(response: &http::Response<B>) -> Option<String> {
    let status = status(response)?;
    let details = tonic_types::StatusExt::get_error_details(&status);
    Some(details.error_info()?.reason.clone())
}

fn retry_after<B>(response: &http::Response<B>) -> Option<Duration> {
    let status = status(response)?;
    let details = tonic_types::StatusExt::get_error_details(&status);
    details.retry_info()?.retry_delay
}

#[tokio::test(start_paused = true)]
async fn a_caller_over_its_rate_is_refused_until_its_bucket_refills() {
    let stack = Stack::new(
        &limits(2, 3, 0),
        vec![token("billing", CallerLimitOverrides::default())],
    );

    for _ in 0..3 {
        assert!(status(&stack.call(SEND, Some("billing")).await).is_none());
    }
    let refused = stack.call(SEND, Some("billing")).await;

    let refusal = status(&refused).expect("a refusal");
    assert_eq!(refusal.code(), Code::ResourceExhausted);
    assert_eq!(reason(&refused).as_deref(), Some("CALLER_RATE_LIMITED"));
    assert_eq!(retry_after(&refused), Some(Duration::from_millis(500)));
    let details = tonic_types::StatusExt::get_error_details(&refusal);
    let metadata = &details.error_info().unwrap().metadata;
    assert_eq!(metadata["caller"], "billing");
    assert_eq!(metadata["requestsPerSecond"], "2");
    assert_eq!(metadata["retryAfterMs"], "500");

    tokio::time::advance(Duration::from_millis(499)).await;
    assert_eq!(
        reason(&stack.call(SEND, Some("billing")).await).as_deref(),
        Some("CALLER_RATE_LIMITED")
    );
    tokio::time::advance(Duration::from_millis(1)).await;
    assert!(status(&stack.call(SEND, Some("billing")).await).is_none());
    assert!(
        stack
            .metrics
            .render()
            .contains("caller_limit_refusals_total{caller=\"billing\",limit=\"rate\"} 2"),
        "{}",
        stack.metrics.render()
    );
}

#[tokio::test(start_paused = true)]
async fn each_token_has_its_own_bucket_and_its_overrides() {
    let stack = Stack::new(
        &limits(1, 0, 0),
        vec![
            token("billing", CallerLimitOverrides::default()),
            token(
                "bulk",
                CallerLimitOverrides {
                    requests_per_second: Some(0),
                    ..CallerLimitOverrides::default()
                },
            ),
            token(
                "reports",
                CallerLimitOverrides {
                    requests_per_second: Some(1),
                    request_burst: Some(2),
                    ..CallerLimitOverrides::default()
                },
            ),
        ],
    );

    assert!(status(&stack.call(SEND, Some("billing")).await).is_none());
    assert!(status(&stack.call(SEND, Some("billing")).await).is_some());
    for _ in 0..100 {
        assert!(status(&stack.call(SEND, Some("bulk")).await).is_none());
    }
    assert!(status(&stack.call(SEND, Some("reports")).await).is_none());
    assert!(status(&stack.call(SEND, Some("reports")).await).is_none());
    assert!(status(&stack.call(SEND, Some("reports")).await).is_some());
}

#[tokio::test(start_paused = true)]
async fn a_stream_holds_its_callers_slot_until_its_response_is_dropped() {
    let stack = Stack::new(
        &limits(0, 0, 2),
        vec![token("billing", CallerLimitOverrides::default())],
    );

    let first = stack.call(SUBSCRIBE, Some("billing")).await;
    let second = stack.call(WATCH, Some("billing")).await;
    assert!(status(&first).is_none() && status(&second).is_none());
    assert!(
        status(&stack.call(SEND, Some("billing")).await).is_none(),
        "unary calls take no stream slot"
    );
    let refused = stack.call(SUBSCRIBE, Some("billing")).await;
    assert_eq!(status(&refused).unwrap().code(), Code::ResourceExhausted);
    assert_eq!(
        reason(&refused).as_deref(),
        Some("CALLER_STREAMS_EXHAUSTED")
    );

    drop(first);
    assert!(status(&stack.call(SUBSCRIBE, Some("billing")).await).is_none());
    drop(second);
    assert!(
        stack
            .metrics
            .render()
            .contains("caller_limit_refusals_total{caller=\"billing\",limit=\"streams\"} 1"),
        "{}",
        stack.metrics.render()
    );
}

#[tokio::test(start_paused = true)]
async fn without_authentication_every_call_shares_the_anonymous_budget() {
    let stack = Stack::new(&limits(1, 0, 0), Vec::new());

    assert!(status(&stack.call(SEND, None).await).is_none());
    let refused = stack.call(SEND, None).await;

    assert_eq!(reason(&refused).as_deref(), Some("CALLER_RATE_LIMITED"));
    assert!(
        stack
            .metrics
            .render()
            .contains("caller_limit_refusals_total{caller=\"anonymous\",limit=\"rate\"} 1")
    );
}

#[test]
fn every_caller_that_can_appear_has_its_counters_from_the_start() {
    let with_tokens = Stack::new(
        &LimitsConfig::default(),
        vec![
            token("billing", CallerLimitOverrides::default()),
            token("ops", CallerLimitOverrides::default()),
        ],
    );
    let rendered = with_tokens.metrics.render();
    for caller in ["billing", "ops"] {
        for limit in ["rate", "streams"] {
            let series =
                format!("caller_limit_refusals_total{{caller=\"{caller}\",limit=\"{limit}\"}} 0");
            assert!(rendered.contains(&series), "{series} in {rendered}");
        }
    }
    assert!(!rendered.contains("anonymous"), "{rendered}");

    let open = Stack::new(&LimitsConfig::default(), Vec::new());
    assert!(
        open.metrics
            .render()
            .contains("caller_limit_refusals_total{caller=\"anonymous\",limit=\"rate\"} 0")
    );
}

#[tokio::test(start_paused = true)]
async fn health_and_reflection_are_never_limited() {
    let stack = Stack::new(&limits(1, 0, 1), Vec::new());

    for path in [
        "/grpc.health.v1.Health/Check",
        "/grpc.health.v1.Health/Watch",
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    ] {
        let mut held = Vec::new();
        for _ in 0..5 {
            let response = stack.call(path, None).await;
            assert!(status(&response).is_none(), "{path}");
            held.push(response);
        }
    }
}

#[test]
fn the_server_streaming_methods_come_from_the_descriptors() {
    let mut paths: Vec<String> = server_streaming_paths().into_iter().collect();
    paths.sort();

    let mut expected = [
        SUBSCRIBE,
        WATCH,
        "/wazzup_gateway.v1.ExportService/ReadMessageExport",
    ];
    expected.sort_unstable();

    assert_eq!(paths, expected);
}
