//! `MessageService`: send (optionally held until an asynchronous send's outcome arrives), batch
//! send, edit, delete.

use std::time::Duration;

use futures::StreamExt as _;
use tokio::time::Instant;
use tonic::{Request, Response, Status};

use crate::api::convert::events::event_to_pb;

use crate::error::{ApiError, bounded, rpc_status};
use crate::events::outcomes::SendOutcomes;
use crate::model::{DeleteMessage, EditMessage, SendMessage, ValidationError, Violations};
use crate::proto::pb;
use crate::upstream::CallContext;

use super::{ApiContext, call_context};

/// Most requests one `BatchSendMessages` call may carry.
const MAX_BATCH_SIZE: usize = 100;
/// Sends of one batch in flight at once, for dialects without native batching.
const BATCH_PARALLELISM: usize = 8;

/// How long `wait_for_outcome` holds a call whose deadline is unknown.
const OUTCOME_WAIT_WITHOUT_DEADLINE: Duration = Duration::from_secs(30);
/// How long before the call's deadline `wait_for_outcome` answers without the outcome.
const OUTCOME_WAIT_MARGIN: Duration = Duration::from_millis(100);

/// Serves `wazzup_gateway.v1.MessageService`.
#[derive(Debug)]
pub struct MessagesApi {
    /// Shared adapter state.
    context: ApiContext,
    /// Where `wait_for_outcome` finds the outcome of asynchronous sends.
    outcomes: SendOutcomes,
}

impl MessagesApi {
    /// Creates the service.
    pub fn new(context: ApiContext, outcomes: SendOutcomes) -> Self {
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
        // The outcome can only be stored after this position, and may arrive before the answer.
        let before = wait_for_outcome.then(|| self.outcomes.position());
        let mut response: pb::SendMessageResponse = account.send_message(&send, call).await?.into();
        let pending = response.message_id.is_empty() && !response.request_id.is_empty();
        if let Some(before) = before
            && pending
            && !response.replayed
        {
            let deadline = outcome_wait_deadline(call, Instant::now());
            let found = self
                .outcomes
                .wait(account.name(), &response.request_id, before, deadline)
                .await?;
            if let Some(pb::event::Payload::Status(status)) = found.and_then(|stored| {
                event_to_pb(&stored, 1, self.context.crm_response_timeout).payload
            }) {
                response.message_id.clone_from(&status.message_id);
                response.outcome = Some(status);
            }
        }
        Ok(response)
    }
}

/// When a `wait_for_outcome` send, whose upstream call ended at `now`, stops waiting and answers
/// without its outcome: [`OUTCOME_WAIT_MARGIN`] before the call's deadline, so that the answer
/// reaches the caller in time.
fn outcome_wait_deadline(call: CallContext, now: Instant) -> Instant {
    call.deadline
        .map_or(now + OUTCOME_WAIT_WITHOUT_DEADLINE, |deadline| {
            deadline
                .checked_sub(OUTCOME_WAIT_MARGIN)
                .map_or(now, |before_deadline| before_deadline.max(now))
        })
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
        let call = call_context(&request);
        let batch_account = &request.get_ref().account;
        let sends = request.get_ref().requests.iter().cloned().map(|mut send| {
            if send.account.is_empty() {
                send.account.clone_from(batch_account);
            }
            send
        });
        let results = futures::stream::iter(sends)
            .map(|send| self.send(&request, send, call))
            .buffered(BATCH_PARALLELISM)
            .map(batch_result)
            .collect()
            .await;
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

/// Turns one send's outcome into a batch result.
fn batch_result(outcome: Result<pb::SendMessageResponse, ApiError>) -> pb::BatchSendResult {
    let result = match outcome {
        Ok(response) => pb::batch_send_result::Result::Response(response),
        Err(error) => pb::batch_send_result::Result::Error(rpc_status(error)),
    };
    pb::BatchSendResult {
        result: Some(result),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_outcome_wait_ends_before_the_deadline_fixed_at_arrival() {
        let arrival = Instant::now();
        let call = CallContext {
            deadline: Some(arrival + Duration::from_millis(800)),
        };
        let ms = Duration::from_millis;
        // (upstream call ended after, the wait ends at) — time already spent is not given back.
        let table = [
            (ms(5), ms(700)),
            (ms(150), ms(700)),
            (ms(699), ms(700)),
            (ms(750), ms(750)),
            (ms(900), ms(900)),
        ];
        for (upstream_done_after, wait_ends_after) in table {
            assert_eq!(
                outcome_wait_deadline(call, arrival + upstream_done_after),
                arrival + wait_ends_after,
                "{upstream_done_after:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_known_deadline_the_outcome_wait_is_bounded() {
        let now = Instant::now();
        assert_eq!(
            outcome_wait_deadline(CallContext::default(), now),
            now + OUTCOME_WAIT_WITHOUT_DEADLINE
        );
    }
}
