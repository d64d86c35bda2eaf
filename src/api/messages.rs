//! `MessageService`: send (optionally held until an asynchronous send's outcome arrives), batch
//! send, edit, delete.

mod batch;

use tonic::{Request, Response, Status};

use crate::api::convert::events::event_to_pb;

use crate::error::{ApiError, bounded};
use crate::events::outcomes::SendOutcomes;
use crate::model::{DeleteMessage, EditMessage, SendMessage, ValidationError, Violations};
use crate::proto::pb;
use crate::service::CallContext;

use super::{ApiContext, call_context};

/// Most requests one `BatchSendMessages` call may carry.
const MAX_BATCH_SIZE: usize = 100;

/// Serves `wazzup_gateway.v1.MessageService`.
#[derive(Debug)]
pub(crate) struct MessagesApi {
    /// Shared adapter state.
    context: ApiContext,
    /// Where `wait_for_outcome` finds the outcome of asynchronous sends.
    outcomes: SendOutcomes,
}

impl MessagesApi {
    /// Creates the service.
    pub(crate) fn new(context: ApiContext, outcomes: SendOutcomes) -> Self {
        Self { context, outcomes }
    }

    /// Sends one message on behalf of the caller of `request`.
    async fn send<T>(
        &self,
        request: &Request<T>,
        send: pb::SendMessageRequest,
        call: CallContext,
    ) -> Result<pb::SendMessageResponse, ApiError> {
        let account = self.context.account(request, &send.account)?;
        let wait_for_outcome = send.wait_for_outcome;
        let send = SendMessage::try_from(send)?;
        let outcomes = wait_for_outcome.then_some(&self.outcomes);
        let answer = account.send_and_wait(&send, outcomes, call).await?;
        let mut response: pb::SendMessageResponse = answer.reply.into();
        if let Some(pb::event::Payload::Status(status)) = answer
            .outcome
            .and_then(|stored| event_to_pb(&stored, 1, self.context.crm_response_timeout).payload)
        {
            response.message_id.clone_from(&status.message_id);
            response.outcome = Some(status);
        }
        Ok(response)
    }
}

#[tonic::async_trait]
impl pb::message_service_server::MessageService for MessagesApi {
    #[tracing::instrument(skip_all, fields(account = %bounded(&request.get_ref().account), channel_id = %bounded(&request.get_ref().channel_id)))]
    async fn send_message(
        &self,
        request: Request<pb::SendMessageRequest>,
    ) -> Result<Response<pb::SendMessageResponse>, Status> {
        let send = request.get_ref().clone();
        let sent = self.send(&request, send, call_context(&request)).await?;
        Ok(Response::new(sent))
    }

    #[tracing::instrument(skip_all, fields(account = %bounded(&request.get_ref().account), requests = request.get_ref().requests.len()))]
    async fn batch_send_messages(
        &self,
        request: Request<pb::BatchSendMessagesRequest>,
    ) -> Result<Response<pb::BatchSendMessagesResponse>, Status> {
        check_batch_size(request.get_ref().requests.len()).map_err(ApiError::from)?;
        let results = batch::send_batch(self, &request, call_context(&request)).await;
        Ok(Response::new(pb::BatchSendMessagesResponse { results }))
    }

    #[tracing::instrument(skip_all, fields(account = %bounded(&request.get_ref().account), message_id = %bounded(&request.get_ref().message_id)))]
    async fn edit_message(
        &self,
        request: Request<pb::EditMessageRequest>,
    ) -> Result<Response<pb::EditMessageResponse>, Status> {
        let account = self.context.account(&request, &request.get_ref().account)?;
        let edit = EditMessage::try_from(request.get_ref().clone()).map_err(ApiError::from)?;
        let edited = account
            .edit_message(&edit, call_context(&request))
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(edited.into()))
    }

    #[tracing::instrument(skip_all, fields(account = %bounded(&request.get_ref().account), message_id = %bounded(&request.get_ref().message_id)))]
    async fn delete_message(
        &self,
        request: Request<pb::DeleteMessageRequest>,
    ) -> Result<Response<pb::DeleteMessageResponse>, Status> {
        let account = self.context.account(&request, &request.get_ref().account)?;
        let delete = DeleteMessage::from(request.get_ref().clone());
        let deleted = account
            .delete_message(&delete, call_context(&request))
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(deleted.into()))
    }
}

/// Refuses empty and oversized batches.
fn check_batch_size(size: usize) -> Result<(), ValidationError> {
    let mut violations = Violations::new();
    if size == 0 {
        violations.add("requests", "must hold at least one request");
    } else if size > MAX_BATCH_SIZE {
        violations.add(
            "requests",
            format!("holds {size} requests; at most {MAX_BATCH_SIZE} are allowed"),
        );
    }
    violations.finish()
}
