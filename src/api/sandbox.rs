//! `SandboxService`: drives the built-in sandbox upstream (served only when a sandbox account is
//! configured).

use tonic::{Request, Response, Status};

use crate::error::{ApiError, bounded};
use crate::model::limits::MAX_TEXT_CHARS_ANY_TRANSPORT;
use crate::model::validate::{check_optional_name, check_required_id};
use crate::model::{ValidationError, Violations};
use crate::proto::pb;
use crate::upstream::sandbox::IncomingMessage;

use super::ApiContext;
use super::convert::channels::{channel_state_from_pb, chat_type_from_pb};
use super::convert::events::event_to_pb;

/// Serves `wazzup_gateway.v1.SandboxService`.
#[derive(Debug)]
pub(crate) struct SandboxApi {
    /// Shared adapter state.
    context: ApiContext,
}

impl SandboxApi {
    /// Creates the service.
    pub(crate) fn new(context: ApiContext) -> Self {
        Self { context }
    }
}

#[tonic::async_trait]
impl pb::sandbox_service_server::SandboxService for SandboxApi {
    #[tracing::instrument(skip_all, fields(account = %bounded(&request.get_ref().account), channel_id = %bounded(&request.get_ref().channel_id)))]
    async fn inject_incoming_message(
        &self,
        request: Request<pb::InjectIncomingMessageRequest>,
    ) -> Result<Response<pb::InjectIncomingMessageResponse>, Status> {
        check_injection(request.get_ref()).map_err(ApiError::from)?;
        let account = self.context.account(&request, &request.get_ref().account)?;
        let sandbox = account
            .as_sandbox()
            .ok_or_else(|| not_a_sandbox(account.name()))?;
        let message = incoming_message_from_pb(request.into_inner());
        let stored = sandbox
            .inject_incoming_message(&message)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::InjectIncomingMessageResponse {
            event: Some(event_to_pb(&stored, 1, self.context.crm_response_timeout)),
        }))
    }

    #[tracing::instrument(skip_all, fields(account = %bounded(&request.get_ref().account), channel_id = %bounded(&request.get_ref().channel_id)))]
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
            .change_channel_state(&request.get_ref().channel_id, state)
            .await
            .map_err(ApiError::from)?;
        Ok(Response::new(pb::SetChannelStateResponse {
            channel: Some(channel.into()),
        }))
    }
}

/// Checks an injection request: the channel and chat ids are required, the text and the contact
/// name bounded like those of a send.
fn check_injection(request: &pb::InjectIncomingMessageRequest) -> Result<(), ValidationError> {
    let mut violations = Violations::new();
    check_required_id("channel_id", &request.channel_id, &mut violations);
    check_required_id("chat_id", &request.chat_id, &mut violations);
    let text_chars = request.text.chars().count();
    if text_chars > MAX_TEXT_CHARS_ANY_TRANSPORT {
        violations.add(
            "text",
            format!(
                "is {text_chars} characters; at most {MAX_TEXT_CHARS_ANY_TRANSPORT} are allowed"
            ),
        );
    }
    check_optional_name(
        "contact_name",
        Some(request.contact_name.as_str()),
        &mut violations,
    );
    violations.finish()
}

/// Converts an injection request; an unspecified (or unknown) chat type means the channel's
/// default, which the sandbox picks.
fn incoming_message_from_pb(request: pb::InjectIncomingMessageRequest) -> IncomingMessage {
    IncomingMessage {
        chat_type: chat_type_from_pb(request.chat_type()),
        channel_id: request.channel_id,
        chat_id: request.chat_id,
        text: request.text,
        contact_name: request.contact_name,
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    use tonic::Code;

    use crate::events::log::EventLog;
    use crate::events::testing::RecordingLog;
    use crate::idempotency::EmbeddedIdempotencyStore;
    use crate::proto::pb::sandbox_service_server::SandboxService as _;
    use crate::service::{Account, Accounts, IdempotentSends, SendTiming};
    use crate::telemetry::metrics::IdempotencyMetrics;
    use crate::upstream::sandbox::SandboxUpstream;
    use crate::upstream::transport::Downloads;

    use super::*;

    const WHATSAPP_CHANNEL_ID: &str = "11111111-1111-4111-8111-111111111111";

    fn api() -> (SandboxApi, Arc<RecordingLog>, tempfile::TempDir) {
        let sandbox = Arc::new(SandboxUpstream::new("sandbox", Duration::ZERO));
        let data_dir = tempfile::tempdir().expect("temp dir");
        let store = EmbeddedIdempotencyStore::open(data_dir.path(), SystemTime::now())
            .expect("store opens");
        let sends = Arc::new(IdempotentSends::new(
            Arc::new(store),
            SendTiming::for_test(Duration::from_secs(3600)),
            IdempotencyMetrics::default(),
        ));
        let accounts = Accounts::new(
            vec![Account::sandbox(
                "sandbox",
                sandbox,
                sends,
                Downloads::new().expect("client builds"),
            )],
            Some("sandbox".to_owned()),
        );
        let log = Arc::new(RecordingLog::new());
        let shared: Arc<dyn EventLog> = log.clone();
        for (name, sandbox) in accounts.sandboxes() {
            sandbox.connect_event_log(name, shared.clone());
        }
        let context = ApiContext {
            accounts: Arc::new(accounts),
            crm_response_timeout: std::time::Duration::from_secs(25),
        };
        (SandboxApi::new(context), log, data_dir)
    }

    #[tokio::test]
    async fn an_injected_message_comes_back_as_the_stored_event() {
        let (api, log, _data_dir) = api();
        let request = pb::InjectIncomingMessageRequest {
            channel_id: WHATSAPP_CHANNEL_ID.to_owned(),
            chat_id: "79011112233".to_owned(),
            text: "hello".to_owned(),
            contact_name: "Ivan".to_owned(),
            ..Default::default()
        };
        let response = api
            .inject_incoming_message(Request::new(request))
            .await
            .unwrap()
            .into_inner();
        let event = response.event.unwrap();
        assert_eq!(event.cursor, 1);
        assert_eq!(event.r#type(), pb::EventType::MessageReceived);
        assert_eq!(event.account, "sandbox");
        assert_eq!(event.dialect, "sandbox");
        assert_eq!(event.id, log.events()[0].id);
        let Some(pb::event::Payload::Message(message)) = event.payload else {
            panic!("a message payload");
        };
        assert_eq!(message.text, "hello");
        assert_eq!(message.chat_type(), pb::ChatType::Whatsapp);
        assert_eq!(message.contact.unwrap().name, "Ivan");
    }

    #[tokio::test]
    async fn an_injection_with_a_chat_type_the_channel_cannot_have_is_invalid() {
        let (api, log, _data_dir) = api();
        let request = pb::InjectIncomingMessageRequest {
            channel_id: WHATSAPP_CHANNEL_ID.to_owned(),
            chat_id: "79011112233".to_owned(),
            text: "hello".to_owned(),
            chat_type: pb::ChatType::Vk.into(),
            ..Default::default()
        };
        let status = api
            .inject_incoming_message(Request::new(request))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(log.events().is_empty());
    }

    #[tokio::test]
    async fn a_state_change_is_also_a_channel_event() {
        let (api, log, _data_dir) = api();
        let request = pb::SetChannelStateRequest {
            channel_id: WHATSAPP_CHANNEL_ID.to_owned(),
            state: pb::ChannelState::Qr.into(),
            ..Default::default()
        };
        let channel = api
            .set_channel_state(Request::new(request))
            .await
            .unwrap()
            .into_inner()
            .channel
            .unwrap();
        assert_eq!(channel.state(), pb::ChannelState::Qr);
        let events = log.events();
        assert_eq!(events.len(), 1);
        assert_eq!(
            events[0].event_type,
            crate::events::EventType::ChannelUpdated
        );
    }
}
