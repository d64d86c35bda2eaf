//! Observes every gRPC call: counts and times it by method and status code, whether the code
//! arrives in the response headers (errors, "trailers-only") or in the trailers at the end of the
//! body, and wraps it in an OpenTelemetry server span (RPC semantic conventions) that continues
//! the caller's W3C trace context and ends with the call.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tonic::Code;
use tower::{Layer, Service};

use crate::telemetry::{Metrics, trace_context};

/// The tower layer that records RPC metrics.
#[derive(Clone, Debug)]
pub(crate) struct RpcMetricsLayer {
    /// Where to record.
    metrics: Arc<Metrics>,
}

impl RpcMetricsLayer {
    /// Creates the layer.
    pub(crate) fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics }
    }
}

impl<S> Layer<S> for RpcMetricsLayer {
    type Service = RpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcMetrics {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

/// The service produced by [`RpcMetricsLayer`].
#[derive(Clone, Debug)]
pub(crate) struct RpcMetrics<S> {
    /// The wrapped service.
    inner: S,
    /// Where to record.
    metrics: Arc<Metrics>,
}

impl<S, RequestBody, ResponseBody> Service<http::Request<RequestBody>> for RpcMetrics<S>
where
    S: Service<http::Request<RequestBody>, Response = http::Response<ResponseBody>>,
{
    type Response = http::Response<MeteredBody<ResponseBody>>;
    type Error = S::Error;
    type Future = MeteredFuture<S::Future>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<RequestBody>) -> Self::Future {
        let method = request.uri().path().trim_start_matches('/').to_owned();
        let span = server_span(&method);
        trace_context::continue_from(request.headers(), &span);
        let inner = span.in_scope(|| self.inner.call(request));
        let observation = Observation {
            method,
            started: Instant::now(),
            metrics: self.metrics.clone(),
            code: None,
            ended: false,
            span,
        };
        MeteredFuture {
            inner,
            observation: Some(observation),
        }
    }
}

pin_project! {
    /// Waits for the response headers, then hands the observation to the body.
    #[derive(Debug)]
    pub struct MeteredFuture<F> {
        #[pin]
        inner: F,
        observation: Option<Observation>,
    }
}

impl<F, ResponseBody, E> Future for MeteredFuture<F>
where
    F: Future<Output = Result<http::Response<ResponseBody>, E>>,
{
    type Output = Result<http::Response<MeteredBody<ResponseBody>>, E>;

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = {
            let _entered = this
                .observation
                .as_ref()
                .map(|observation| observation.span.enter());
            ready!(this.inner.poll(context))
        };
        let mut observation = this.observation.take().expect("polled after completion");
        Poll::Ready(response.map(|response| {
            observation.read_status(response.headers());
            response.map(|inner| MeteredBody { inner, observation })
        }))
    }
}

pin_project! {
    /// A response body that records the call when its trailers pass, or when it is dropped.
    #[derive(Debug)]
    pub struct MeteredBody<B> {
        #[pin]
        inner: B,
        observation: Observation,
    }
}

impl<B: Body> Body for MeteredBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let frame = {
            let _entered = this.observation.span.enter();
            ready!(this.inner.poll_frame(context))
        };
        match &frame {
            Some(Ok(frame)) => {
                if let Some(trailers) = frame.trailers_ref() {
                    this.observation.read_status(trailers);
                }
            }
            Some(Err(_)) | None => this.observation.ended = true,
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// One call being measured; recorded exactly once, when dropped.
#[derive(Debug)]
struct Observation {
    /// `package.Service/Method`.
    method: String,
    /// When the request arrived.
    started: Instant,
    /// Where to record.
    metrics: Arc<Metrics>,
    /// The status code, once seen.
    code: Option<Code>,
    /// Whether the body reached its end (else the client went away first).
    ended: bool,
    /// The call's server span; it ends when the observation is dropped.
    span: tracing::Span,
}

impl Observation {
    /// Takes the status code from headers or trailers, when they carry one.
    fn read_status(&mut self, headers: &http::HeaderMap) {
        if let Some(code) = headers
            .get("grpc-status")
            .and_then(|value| value.to_str().ok())
        {
            self.code = code.parse::<i32>().ok().map(Code::from_i32);
        }
    }
}

impl Drop for Observation {
    fn drop(&mut self) {
        let code = match (self.code, self.ended) {
            (Some(code), _) => code_name(code),
            (None, true) => "UNKNOWN",
            (None, false) => "CANCELLED",
        };
        self.metrics
            .record_rpc(&self.method, code, self.started.elapsed());
        let numeric_code = self.code.map_or(
            if self.ended {
                Code::Unknown
            } else {
                Code::Cancelled
            },
            |code| code,
        );
        self.span
            .record("rpc.grpc.status_code", i32::from(numeric_code));
        if is_server_error(numeric_code) {
            self.span.record("otel.status_code", "ERROR");
        }
    }
}

/// The server span of one call to `method` (`package.Service/Method`), named as the RPC
/// semantic conventions ask; the status fields are filled in when the call ends.
fn server_span(method: &str) -> tracing::Span {
    let (service, rpc_method) = method.split_once('/').unwrap_or((method, ""));
    tracing::info_span!(
        "rpc.server",
        otel.name = method,
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        rpc.system = "grpc",
        rpc.service = service,
        rpc.method = rpc_method,
        rpc.grpc.status_code = tracing::field::Empty,
    )
}

/// Whether a status code marks the server span as failed: per the gRPC semantic conventions,
/// the codes that mean the server could not do its part, not the caller's mistakes.
fn is_server_error(code: Code) -> bool {
    matches!(
        code,
        Code::Unknown
            | Code::DeadlineExceeded
            | Code::Unimplemented
            | Code::Internal
            | Code::Unavailable
            | Code::DataLoss
    )
}

/// Returns the canonical upper-case name of a gRPC status code.
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}
