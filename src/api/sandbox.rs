//! `SandboxService`: drives the built-in sandbox upstream (served only when a sandbox account is
//! configured).

use tonic::{Request, Response, Status};

use crate::error::ApiError;
use crate::model::{ValidationError, Violations};
use crate::proto::pb;

use super::ApiContext;
use super::convert::channels::channel_state_from_pb;

/// Serves `wazzup_gateway.v1.SandboxService`.
#[derive(Debug)]
pub struct SandboxApi {
    /// Shared adapter state.
    context: ApiContext,
}

impl SandboxApi {
    /// Creates the service.
    pub fn new(context: ApiContext) -> Self {
        Self { context }
    }
}

#[tonic::async_trait]
impl pb::sandbox_service_server::SandboxService for SandboxApi {
    async fn inject_incoming_message(
        &self,
        _request: Request<pb::InjectIncomingMessageRequest>,
    ) -> Result<Response<pb::InjectIncomingMessageResponse>, Status> {
        Err(ApiError::NotBuilt {
            rpc: "SandboxService.InjectIncomingMessage",
            missing: "the event log and EventService, which carry injected messages to subscribers",
        }
        .into())
    }

    #[tracing::instrument(skip_all, fields(account = %request.get_ref().account, channel_id = %request.get_ref().channel_id))]
    async fn set_channel_state(
        &self,
        request: Request<pb::SetChannelStateRequest>,
    ) -> Result<Response<pb::SetChannelStateResponse>, Status> {
        let account = self.context.account(&request, &request.get_ref().account)?;
        let sandbox = account
            .as_sandbox()
            .ok_or_else(|| not_a_sandbox(account.name()))?;
        let state = channel_state_from_pb(request.get_ref().state()).ok_or_else(|| {
            single_violation(
                "state",
                "must be a concrete channel state, not UNSPECIFIED or OTHER",
            )
        })?;
        let channel = sandbox
            .set_channel_state(&request.get_ref().channel_id, state)
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::SetChannelStateResponse {
            channel: Some(channel.into()),
        }))
    }
}

/// The error for a sandbox RPC naming an account that is not a sandbox.
fn not_a_sandbox(account: &str) -> ApiError {
    single_violation(
        "account",
        &format!("account {account:?} is not a sandbox account"),
    )
}

/// An invalid-request error with one violation.
fn single_violation(field: &str, description: &str) -> ApiError {
    let mut violations = Violations::new();
    violations.add(field, description);
    ApiError::InvalidRequest(ValidationError(violations.as_slice().to_vec()))
}
