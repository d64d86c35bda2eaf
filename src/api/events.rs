//! `EventService`: webhooks as durable gRPC streams. Part of the contract; it arrives with the
//! webhook ingress and the embedded event log, so every RPC answers `UNIMPLEMENTED` naming what is
//! missing.

use futures::stream::BoxStream;
use tonic::{Request, Response, Status};

use crate::error::ApiError;
use crate::proto::pb;

/// What every event RPC is waiting for.
const MISSING: &str = "the webhook ingress and the durable event log";

/// Serves `wazzup_gateway.v1.EventService`.
#[derive(Debug)]
pub struct EventsApi;

#[tonic::async_trait]
impl pb::event_service_server::EventService for EventsApi {
    type SubscribeStream = BoxStream<'static, Result<pb::SubscribeResponse, Status>>;

    async fn subscribe(
        &self,
        _request: Request<pb::SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        Err(ApiError::NotBuilt {
            rpc: "EventService.Subscribe",
            missing: MISSING,
        }
        .into())
    }

    async fn ack(
        &self,
        _request: Request<pb::AckRequest>,
    ) -> Result<Response<pb::AckResponse>, Status> {
        Err(ApiError::NotBuilt {
            rpc: "EventService.Ack",
            missing: MISSING,
        }
        .into())
    }

    async fn respond(
        &self,
        _request: Request<pb::RespondRequest>,
    ) -> Result<Response<pb::RespondResponse>, Status> {
        Err(ApiError::NotBuilt {
            rpc: "EventService.Respond",
            missing: MISSING,
        }
        .into())
    }

    async fn get_consumer(
        &self,
        _request: Request<pb::GetConsumerRequest>,
    ) -> Result<Response<pb::GetConsumerResponse>, Status> {
        Err(ApiError::NotBuilt {
            rpc: "EventService.GetConsumer",
            missing: MISSING,
        }
        .into())
    }

    async fn list_consumers(
        &self,
        _request: Request<pb::ListConsumersRequest>,
    ) -> Result<Response<pb::ListConsumersResponse>, Status> {
        Err(ApiError::NotBuilt {
            rpc: "EventService.ListConsumers",
            missing: MISSING,
        }
        .into())
    }

    async fn delete_consumer(
        &self,
        _request: Request<pb::DeleteConsumerRequest>,
    ) -> Result<Response<pb::DeleteConsumerResponse>, Status> {
        Err(ApiError::NotBuilt {
            rpc: "EventService.DeleteConsumer",
            missing: MISSING,
        }
        .into())
    }
}
