//! `EventService.Subscribe` with each event encoded once for all the streams that deliver it.
//!
//! The generated server encodes every message of every stream itself, so an event delivered to a
//! hundred subscriptions would be converted and encoded a hundred times. This route serves
//! `Subscribe` with a codec whose items are already-encoded `SubscribeResponse` messages: the
//! bytes of an event are made once (`convert::shared_events`) and copied into each stream. Every other
//! `EventService` method goes to the generated server unchanged. The bytes on the wire are those
//! the generated server would send (a test compares them).

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{BufMut as _, Bytes};
use futures::StreamExt as _;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::server::{Grpc, NamedService, ServerStreamingService};
use tonic::{Request, Response, Status};

use super::{EventsApi, now_ms};
use crate::proto::codec::decode_request;
use crate::proto::pb;
use crate::proto::pb::event_service_server::EventServiceServer;

/// The gRPC path of `Subscribe`.
const SUBSCRIBE_PATH: &str = "/wazzup_gateway.v1.EventService/Subscribe";

/// One `SubscribeResponse`, already encoded.
#[derive(Clone, Debug)]
struct EncodedResponse(Bytes);

/// Writes [`EncodedResponse`]s as they are and reads `SubscribeRequest`s as every service does
/// ([`decode_request`]).
#[derive(Clone, Copy, Debug, Default)]
struct EncodedCodec;

impl Codec for EncodedCodec {
    type Encode = EncodedResponse;
    type Decode = pb::SubscribeRequest;
    type Encoder = Self;
    type Decoder = Self;

    fn encoder(&mut self) -> Self::Encoder {
        *self
    }

    fn decoder(&mut self) -> Self::Decoder {
        *self
    }
}

impl Encoder for EncodedCodec {
    type Item = EncodedResponse;
    type Error = Status;

    fn encode(&mut self, item: Self::Item, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        dst.put_slice(&item.0);
        Ok(())
    }
}

impl Decoder for EncodedCodec {
    type Item = pb::SubscribeRequest;
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Self::Error> {
        decode_request(src).map(Some)
    }
}

/// `EventService` with `Subscribe` served from encoded events.
#[derive(Clone, Debug)]
pub(crate) struct EventServiceRoute {
    api: Arc<EventsApi>,
    generated: EventServiceServer<EventsApi>,
}

impl EventServiceRoute {
    /// Serves `api`.
    pub(crate) fn new(api: EventsApi) -> Self {
        let api = Arc::new(api);
        Self {
            generated: EventServiceServer::from_arc(Arc::clone(&api)),
            api,
        }
    }
}

impl NamedService for EventServiceRoute {
    const NAME: &'static str = <EventServiceServer<EventsApi> as NamedService>::NAME;
}

impl tower::Service<http::Request<tonic::body::Body>> for EventServiceRoute {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        if request.uri().path() != SUBSCRIBE_PATH {
            return self.generated.call(request);
        }
        let method = SubscribeMethod(Arc::clone(&self.api));
        Box::pin(async move {
            Ok(Grpc::new(EncodedCodec)
                .server_streaming(method, request)
                .await)
        })
    }
}

/// `Subscribe` as a server-streaming method of encoded responses.
struct SubscribeMethod(Arc<EventsApi>);

impl ServerStreamingService<pb::SubscribeRequest> for SubscribeMethod {
    type Response = EncodedResponse;
    type ResponseStream = BoxStream<'static, Result<EncodedResponse, Status>>;
    type Future = BoxFuture<'static, Result<Response<Self::ResponseStream>, Status>>;

    fn call(&mut self, request: Request<pb::SubscribeRequest>) -> Self::Future {
        let api = Arc::clone(&self.0);
        Box::pin(async move {
            let stream = api.open(&request).await?;
            let shared = api.shared_events();
            let responses =
                stream.map(move |item| Ok(EncodedResponse(shared.encode(item?, now_ms()))));
            Ok(Response::new(responses.boxed()))
        })
    }
}
