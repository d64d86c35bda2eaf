//! `ChannelService`: the account's channels.

use tonic::{Request, Response, Status};

use crate::error::{ApiError, bounded};
use crate::model::Violations;
use crate::model::validate::check_required_id;
use crate::proto::pb;

use super::convert::channels::transport_from_pb;
use super::{ApiContext, call_context};

/// Serves `wazzup_gateway.v1.ChannelService`.
#[derive(Debug)]
pub(crate) struct ChannelsApi {
    /// Shared adapter state.
    context: ApiContext,
}

impl ChannelsApi {
    /// Creates the service.
    pub(crate) fn new(context: ApiContext) -> Self {
        Self { context }
    }
}

#[tonic::async_trait]
impl pb::channel_service_server::ChannelService for ChannelsApi {
    #[tracing::instrument(skip_all, fields(account = %bounded(&request.get_ref().account)))]
    async fn list_channels(
        &self,
        request: Request<pb::ListChannelsRequest>,
    ) -> Result<Response<pb::ListChannelsResponse>, Status> {
        let account = self.context.account(&request, &request.get_ref().account)?;
        let channels = account
            .list_channels(call_context(&request))
            .await
            .map_err(ApiError::from)?;
        let wanted: Vec<_> = request
            .get_ref()
            .transports()
            .filter_map(transport_from_pb)
            .collect();
        let channels = channels
            .into_iter()
            .filter(|channel| wanted.is_empty() || wanted.contains(&channel.transport))
            .filter(|channel| !request.get_ref().active_only || channel.state.allows_sending())
            .map(Into::into)
            .collect();
        Ok(Response::new(pb::ListChannelsResponse { channels }))
    }

    #[tracing::instrument(skip_all, fields(account = %bounded(&request.get_ref().account), channel_id = %bounded(&request.get_ref().channel_id)))]
    async fn get_channel(
        &self,
        request: Request<pb::GetChannelRequest>,
    ) -> Result<Response<pb::GetChannelResponse>, Status> {
        let mut violations = Violations::new();
        check_required_id("channel_id", &request.get_ref().channel_id, &mut violations);
        violations.finish().map_err(ApiError::from)?;
        let account = self.context.account(&request, &request.get_ref().account)?;
        let channel = account
            .get_channel(&request.get_ref().channel_id, call_context(&request))
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::GetChannelResponse {
            channel: Some(channel.into()),
        }))
    }
}
