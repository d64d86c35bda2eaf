//! Refuses calls that arrive once the gateway is draining.
//!
//! Stopping the listener is not enough on its own: the accept loop notices the drain on its own
//! task, so for a short while after readiness turned false a new connection could still be
//! accepted, and a client with an open connection can start calls until it has read the server's
//! GOAWAY. This gate reads the same drain flag as readiness, on the call's own path, so every call
//! that arrives after `/readyz` answers 503 is refused with `UNAVAILABLE` (`SHUTTING_DOWN`, with a
//! retry delay) while calls already admitted finish. Health checks pass through, so probes keep
//! reading `NOT_SERVING` instead of an error.

use tokio::sync::watch;

use super::gate::CallGate;
use crate::error::ApiError;

/// The path prefix of `grpc.health.v1.Health`, which keeps answering while draining.
const HEALTH_PATH_PREFIX: &str = "/grpc.health.v1.Health/";

/// Refuses new calls once draining has started (a [`CallGate`]).
#[derive(Clone, Debug)]
pub(crate) struct DrainGate {
    /// True once the gateway drains; the same flag readiness reports.
    draining: watch::Receiver<bool>,
}

impl DrainGate {
    /// Creates the gate over the gateway's drain flag.
    pub(crate) fn new(draining: watch::Receiver<bool>) -> Self {
        Self { draining }
    }
}

impl CallGate for DrainGate {
    type Permit = ();

    /// Admits every call while serving, and only health checks once draining.
    fn admit(
        &self,
        path: &str,
        _headers: &http::HeaderMap,
        _extensions: &mut http::Extensions,
    ) -> Result<(), ApiError> {
        if *self.draining.borrow() && !path.starts_with(HEALTH_PATH_PREFIX) {
            return Err(ApiError::ShuttingDown);
        }
        Ok(())
    }
}

/// Completes once `draining` turns true, or when its sender is gone (which also means stop).
pub(crate) async fn drain_started(mut draining: watch::Receiver<bool>) {
    let _ = draining.wait_for(|draining| *draining).await;
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tonic::{Code, Status};
    use tower::{Layer as _, Service, ServiceExt as _};

    use super::*;
    use crate::api::gate::GateLayer;

    /// A service that answers 200 with an empty body to every call.
    fn answering() -> impl Service<
        http::Request<()>,
        Response = http::Response<String>,
        Error = Infallible,
        Future = impl Send,
    > + Clone {
        tower::service_fn(|_request: http::Request<()>| async {
            Ok::<_, Infallible>(http::Response::new(String::new()))
        })
    }

    async fn call(gate: &DrainGate, path: &str) -> http::Response<impl Sized> {
        let request = http::Request::builder().uri(path).body(()).unwrap();
        GateLayer::new(gate.clone())
            .layer(answering())
            .oneshot(request)
            .await
            .unwrap()
    }

    fn grpc_code<B>(response: &http::Response<B>) -> Option<Code> {
        Status::from_header_map(response.headers()).map(|status| status.code())
    }

    #[tokio::test]
    async fn admits_every_call_while_serving() {
        let (_drain, draining) = watch::channel(false);
        let gate = DrainGate::new(draining);

        let response = call(&gate, "/wazzup_gateway.v1.MessageService/SendMessage").await;

        assert_eq!(grpc_code(&response), None);
    }

    #[tokio::test]
    async fn refuses_a_call_that_arrives_after_the_drain_started_with_shutting_down() {
        let (drain, draining) = watch::channel(false);
        let gate = DrainGate::new(draining);
        drain.send(true).unwrap();

        let response = call(&gate, "/wazzup_gateway.v1.MessageService/SendMessage").await;

        let status = Status::from_header_map(response.headers()).expect("a gRPC status");
        assert_eq!(status.code(), Code::Unavailable);
        let details = tonic_types::StatusExt::get_error_details(&status);
        assert_eq!(details.error_info().unwrap().reason, "SHUTTING_DOWN");
        assert!(details.retry_info().is_some());
    }

    #[tokio::test]
    async fn lets_health_checks_through_while_draining() {
        let (drain, draining) = watch::channel(false);
        let gate = DrainGate::new(draining);
        drain.send(true).unwrap();

        let response = call(&gate, "/grpc.health.v1.Health/Check").await;

        assert_eq!(grpc_code(&response), None);
    }
}
