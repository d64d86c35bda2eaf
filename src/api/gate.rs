//! One tower layer for the checks that admit or refuse a gRPC call before any service runs
//! (authentication, the drain, the limits per caller): a refused call is answered at once with
//! the error's status, an admitted one goes on, carrying what the check put into its extensions,
//! and its response holds the check's permit until the response ends (for a server stream: until
//! the stream ends or the client goes away).

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures::future::{Either, Ready, ready as ready_future};

use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use tonic::Status;
use tower::{Layer, Service};

use crate::error::ApiError;

/// A check of each call before the services run.
pub(crate) trait CallGate: Clone {
    /// What an admitted call holds until its response body is dropped (e.g. a stream slot of
    /// its caller); `()` for checks that hold nothing.
    type Permit: Send + 'static;

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
    ) -> Result<Self::Permit, ApiError>;
}

/// The tower layer that runs a [`CallGate`] on every call.
#[derive(Clone, Debug)]
pub(crate) struct GateLayer<G> {
    /// The check.
    gate: G,
}

impl<G> GateLayer<G> {
    /// Creates the layer running `gate`.
    pub(crate) fn new(gate: G) -> Self {
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
pub(crate) struct Gated<S, G> {
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
    type Response = http::Response<HeldBody<ResponseBody, G::Permit>>;
    type Error = S::Error;
    type Future = GatedFuture<S::Future, G::Permit, ResponseBody, S::Error>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<RequestBody>) -> Self::Future {
        let (mut parts, body) = request.into_parts();
        match self
            .gate
            .admit(parts.uri.path(), &parts.headers, &mut parts.extensions)
        {
            Ok(permit) => GatedFuture {
                inner: Either::Right(self.inner.call(http::Request::from_parts(parts, body))),
                permit: Some(permit),
            },
            Err(error) => GatedFuture {
                inner: Either::Left(ready_future(Ok(Status::from(error).into_http()))),
                permit: None,
            },
        }
    }
}

pin_project! {
    /// The answer of a [`Gated`] service: the status of a refused call at once, or the service's
    /// response holding the call's permit.
    #[derive(Debug)]
    pub struct GatedFuture<F, P, B, E> {
        #[pin]
        inner: Either<Ready<Result<http::Response<B>, E>>, F>,
        permit: Option<P>,
    }
}

impl<F, P, B, E> Future for GatedFuture<F, P, B, E>
where
    F: Future<Output = Result<http::Response<B>, E>>,
{
    type Output = Result<http::Response<HeldBody<B, P>>, E>;

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = ready!(this.inner.poll(context));
        let permit = this.permit.take();
        Poll::Ready(response.map(|response| {
            response.map(|inner| HeldBody {
                inner,
                _permit: permit,
            })
        }))
    }
}

pin_project! {
    /// A response body that holds the permit of its call until it is dropped.
    #[derive(Debug)]
    pub struct HeldBody<B, P> {
        #[pin]
        inner: B,
        _permit: Option<P>,
    }
}

impl<B: Default, P> Default for HeldBody<B, P> {
    /// An empty body holding nothing (what a refusal by an outer gate answers with).
    fn default() -> Self {
        Self {
            inner: B::default(),
            _permit: None,
        }
    }
}

impl<B: Body, P> Body for HeldBody<B, P> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        self.project().inner.poll_frame(context)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
