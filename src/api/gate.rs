//! One tower layer for the checks that admit or refuse a gRPC call before any service runs
//! (authentication, the drain): a refused call is answered at once with the error's status, an
//! admitted one goes on, carrying what the check put into its extensions.

use std::task::{Context, Poll};

use futures::future::{Either, Ready, ready};
use tonic::Status;
use tower::{Layer, Service};

use crate::error::ApiError;

/// A check of each call before the services run.
pub trait CallGate: Clone {
    /// Admits the call to `path` (`/package.Service/Method`) with `headers`, adding what later
    /// layers and the services need to `extensions`, or refuses it.
    ///
    /// # Errors
    ///
    /// The error the caller gets instead of an answer.
    fn admit(
        &self,
        path: &str,
        headers: &http::HeaderMap,
        extensions: &mut http::Extensions,
    ) -> Result<(), ApiError>;
}

/// The tower layer that runs a [`CallGate`] on every call.
#[derive(Clone, Debug)]
pub struct GateLayer<G> {
    /// The check.
    gate: G,
}

impl<G> GateLayer<G> {
    /// Creates the layer running `gate`.
    pub fn new(gate: G) -> Self {
        Self { gate }
    }
}

impl<S, G: Clone> Layer<S> for GateLayer<G> {
    type Service = Gated<S, G>;

    fn layer(&self, inner: S) -> Self::Service {
        Gated {
            inner,
            gate: self.gate.clone(),
        }
    }
}

/// The service produced by [`GateLayer`].
#[derive(Clone, Debug)]
pub struct Gated<S, G> {
    /// The wrapped service.
    inner: S,
    /// The check.
    gate: G,
}

impl<S, G, RequestBody, ResponseBody> Service<http::Request<RequestBody>> for Gated<S, G>
where
    S: Service<http::Request<RequestBody>, Response = http::Response<ResponseBody>>,
    G: CallGate,
    ResponseBody: Default,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Either<Ready<Result<S::Response, S::Error>>, S::Future>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<RequestBody>) -> Self::Future {
        let (mut parts, body) = request.into_parts();
        match self
            .gate
            .admit(parts.uri.path(), &parts.headers, &mut parts.extensions)
        {
            Ok(()) => Either::Right(self.inner.call(http::Request::from_parts(parts, body))),
            Err(error) => Either::Left(ready(Ok(Status::from(error).into_http()))),
        }
    }
}
