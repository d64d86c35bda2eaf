//! `WazzupTechClient`: the [`Upstream`] operations mapped onto the tech v2 routes, every call
//! sent with the account's current token and repeated once with a renewed one after a 401.

use async_trait::async_trait;
use reqwest::Method;

use super::subscriptions::{settings_of, wanted_events};
use super::token::TokenKeeper;
use super::wire::{
    ChannelReply, EditMessageBody, ExportBody, ExportReply, MessageReply, SendMessageBody,
    SendReply, TemplateReply, WebhookItem, WebhookReply, WebhooksBody, unwrap_data, unwrap_list,
};
use crate::config::AccountConfig;
use crate::model::Dialect;
use crate::model::{
    Channel, DeleteMessage, EditMessage, ExportRequest, MessageExport, MessageRef, SendMessage,
    SentMessage, Template, TemplatePage, WebhookSettings,
};
use crate::upstream::error::UPSTREAM_CREDENTIALS_REJECTED;
use crate::upstream::retry::{Idempotency, RetryPolicy};
use crate::upstream::transport::{
    Answer, Transport, TransportError, TransportShared, UpstreamRequest,
};
use crate::upstream::{CallContext, PageRequest, Upstream, UpstreamError};

/// A Wazzup partner API v2 account (one end customer of a partner).
#[derive(Debug)]
pub struct WazzupTechClient {
    /// The configured account name (set on every channel).
    account: String,
    /// The HTTP stack.
    transport: Transport,
    /// The access token and its renewal.
    token: TokenKeeper,
}

impl WazzupTechClient {
    /// Builds the client of a configured `wazzup_tech` account with its configured retry policy.
    ///
    /// # Errors
    ///
    /// Fails when the account's token or base URL cannot be used, or TLS cannot be set up.
    pub fn new(account: &AccountConfig, shared: &TransportShared) -> Result<Self, TransportError> {
        Self::with_policy(account, RetryPolicy::new(account.retry.clone()), shared)
    }

    /// Builds the client with an explicit retry policy.
    ///
    /// # Errors
    ///
    /// As [`WazzupTechClient::new`].
    pub fn with_policy(
        account: &AccountConfig,
        policy: RetryPolicy,
        shared: &TransportShared,
    ) -> Result<Self, TransportError> {
        Ok(Self {
            account: account.name.clone(),
            transport: Transport::new(account, policy, shared)?,
            token: TokenKeeper::new(account)?,
        })
    }

    /// Sends `request` with the current token; after a 401, renews the token (when the account
    /// can) and sends it once more.
    async fn call(
        &self,
        mut request: UpstreamRequest,
        call: CallContext,
    ) -> Result<Answer, UpstreamError> {
        let issued = self.token.current(&self.transport, call).await?;
        request.credentials = issued.credentials.clone();
        let failure = match self.transport.call(&request, call).await {
            Err(failure) if failure.reason() == UPSTREAM_CREDENTIALS_REJECTED => failure,
            outcome => return outcome,
        };
        let Some(renewed) = self
            .token
            .after_refusal(&issued, &self.transport, call)
            .await?
        else {
            return Err(failure);
        };
        request.credentials = renewed.credentials;
        self.transport.call(&request, call).await
    }

    /// Fetches the channel list.
    async fn fetch_channels(&self, call: CallContext) -> Result<Vec<Channel>, UpstreamError> {
        let request = UpstreamRequest::new(
            Method::GET,
            "/v2/channels",
            &["v2", "channels"],
            "ListChannels",
            Idempotency::Safe,
        );
        let answer = self.call(request, call).await?;
        let replies: Vec<ChannelReply> = unwrap_list(&answer.body, "channels")
            .map_err(|source| decode_failed(&answer, source))?;
        Ok(replies
            .into_iter()
            .map(|reply| reply.into_channel(&self.account))
            .collect())
    }

    /// Lists the account's webhook subscriptions.
    async fn subscriptions(&self, call: CallContext) -> Result<Vec<WebhookReply>, UpstreamError> {
        let request = webhooks_request(Method::GET, "GetWebhookSettings");
        let answer = self.call(request, call).await?;
        unwrap_list(&answer.body, "webhooks").map_err(|source| decode_failed(&answer, source))
    }

    /// Sends a JSON body (or none) to a message route.
    fn message_request(
        method: Method,
        message_id: &str,
        operation: &'static str,
    ) -> UpstreamRequest {
        UpstreamRequest::new(
            method,
            "/v2/messages/:message_id",
            &["v2", "messages", message_id],
            operation,
            Idempotency::Safe,
        )
    }
}

/// A request to `/v2/webhooks`.
fn webhooks_request(method: Method, operation: &'static str) -> UpstreamRequest {
    UpstreamRequest::new(
        method,
        "/v2/webhooks",
        &["v2", "webhooks"],
        operation,
        Idempotency::Safe,
    )
}

/// Turns a serialization failure of our own structs into a contract error (it cannot happen for
/// the plain structs of `wire`, but is reported rather than unwrapped).
fn encode_failed(operation: &'static str, source: serde_json::Error) -> UpstreamError {
    UpstreamError::ContractChanged {
        operation,
        http_status: 0,
        source,
    }
}

/// A success answer whose body does not decode.
fn decode_failed(answer: &Answer, source: serde_json::Error) -> UpstreamError {
    UpstreamError::ContractChanged {
        operation: answer.operation(),
        http_status: answer.status,
        source,
    }
}

/// Returns the HTTP status of an upstream refusal.
pub(super) fn http_status(failure: &UpstreamError) -> Option<u16> {
    failure
        .metadata()
        .into_iter()
        .find(|(key, _)| key == "httpStatus")
        .and_then(|(_, status)| status.parse().ok())
}

/// Reads an edit or delete answer: ids when present.
fn message_ref(body: &[u8], message_id: &str) -> MessageRef {
    let reply: MessageReply = unwrap_data(body).unwrap_or_default();
    MessageRef::answered(reply.message_id, reply.chat_id, message_id)
}

#[async_trait]
impl Upstream for WazzupTechClient {
    fn dialect(&self) -> Dialect {
        Dialect::WazzupTech
    }

    fn credentials_rejected(&self) -> bool {
        self.transport.credentials_rejected()
    }

    async fn list_channels(&self, call: CallContext) -> Result<Vec<Channel>, UpstreamError> {
        self.fetch_channels(call).await
    }

    async fn send_message(
        &self,
        send: &SendMessage,
        call: CallContext,
    ) -> Result<SentMessage, UpstreamError> {
        // Tech v2 has no upstream idempotency key: the gateway's own store deduplicates keyed
        // sends, and an unanswered attempt is never repeated.
        let request = UpstreamRequest::new(
            Method::POST,
            "/v2/messages",
            &["v2", "messages"],
            "SendMessage",
            Idempotency::Unsafe,
        )
        .with_json(&SendMessageBody::new(send))
        .map_err(|source| encode_failed("SendMessage", source))?;
        let answer = self.call(request, call).await?;
        let reply: SendReply =
            unwrap_data(&answer.body).map_err(|source| decode_failed(&answer, source))?;
        Ok(SentMessage {
            message_id: reply.message_id,
            chat_id: reply.chat_id,
            request_id: reply.request_id,
        })
    }

    async fn edit_message(
        &self,
        edit: &EditMessage,
        call: CallContext,
    ) -> Result<MessageRef, UpstreamError> {
        let request = Self::message_request(Method::PATCH, &edit.message_id, "EditMessage")
            .with_json(&EditMessageBody::new(edit))
            .map_err(|source| encode_failed("EditMessage", source))?;
        let answer = self.call(request, call).await?;
        Ok(message_ref(&answer.body, &edit.message_id))
    }

    async fn delete_message(
        &self,
        delete: &DeleteMessage,
        call: CallContext,
    ) -> Result<MessageRef, UpstreamError> {
        let request = Self::message_request(Method::DELETE, &delete.message_id, "DeleteMessage");
        let answer = self.call(request, call).await?;
        Ok(message_ref(&answer.body, &delete.message_id))
    }

    /// **Unconfirmed route** (wazzup-api.md §16.10: only `POST /v2/templates/waba` is documented):
    /// `GET /v2/templates/waba?limit=&offset=`, the templates under `data` (or `data.templates`).
    async fn list_templates(
        &self,
        page: PageRequest,
        call: CallContext,
    ) -> Result<TemplatePage, UpstreamError> {
        let mut request = UpstreamRequest::new(
            Method::GET,
            "/v2/templates/waba",
            &["v2", "templates", "waba"],
            "ListTemplates",
            Idempotency::Safe,
        );
        request.query = vec![
            ("limit", page.limit.to_string()),
            ("offset", page.offset.to_string()),
        ];
        let answer = self.call(request, call).await?;
        let replies: Vec<TemplateReply> = unwrap_list(&answer.body, "templates")
            .map_err(|source| decode_failed(&answer, source))?;
        let count = u32::try_from(replies.len()).unwrap_or(u32::MAX);
        let full = count >= page.limit && count > 0;
        Ok(TemplatePage {
            templates: replies
                .into_iter()
                .map(TemplateReply::into_template)
                .collect(),
            next_offset: full.then(|| page.offset.saturating_add(count)),
        })
    }

    /// **Unconfirmed route** (§16.10): `GET /v2/templates/waba/{template_id}`; a 404 is
    /// [`UpstreamError::TemplateNotFound`].
    async fn get_template(
        &self,
        template_id: &str,
        call: CallContext,
    ) -> Result<Template, UpstreamError> {
        let request = UpstreamRequest::new(
            Method::GET,
            "/v2/templates/waba/:template_id",
            &["v2", "templates", "waba", template_id],
            "GetTemplate",
            Idempotency::Safe,
        );
        let answer = match self.call(request, call).await {
            Err(failure) if http_status(&failure) == Some(404) => {
                return Err(UpstreamError::TemplateNotFound {
                    template_id: template_id.to_owned(),
                });
            }
            outcome => outcome?,
        };
        let reply: TemplateReply =
            unwrap_data(&answer.body).map_err(|source| decode_failed(&answer, source))?;
        Ok(reply.into_template())
    }

    async fn get_webhook_settings(
        &self,
        call: CallContext,
    ) -> Result<WebhookSettings, UpstreamError> {
        let subscriptions = self.subscriptions(call).await?;
        let uri = subscriptions
            .first()
            .map(|subscription| subscription.url.clone())
            .unwrap_or_default();
        let events = subscriptions
            .into_iter()
            .filter(|subscription| subscription.url == uri)
            .map(|subscription| subscription.event)
            .collect();
        Ok(settings_of(uri, events))
    }

    /// Makes the subscriptions exactly `settings`: deletes those to another URL or of an event not
    /// wanted, then creates the missing ones.
    async fn update_webhook_settings(
        &self,
        settings: &WebhookSettings,
        call: CallContext,
    ) -> Result<WebhookSettings, UpstreamError> {
        let uri = settings.uri.trim();
        let wanted = wanted_events(settings);
        let existing = self.subscriptions(call).await?;
        let stale: Vec<WebhookItem<'_>> = existing
            .iter()
            .filter(|old| old.url != uri || !wanted.contains(&old.event))
            .filter(|old| !old.id.is_empty())
            .map(|old| WebhookItem {
                id: Some(&old.id),
                url: None,
                event: None,
            })
            .collect();
        if !stale.is_empty() {
            let request = webhooks_request(Method::DELETE, "UpdateWebhookSettings")
                .with_json(&WebhooksBody { data: stale })
                .map_err(|source| encode_failed("UpdateWebhookSettings", source))?;
            self.call(request, call).await?;
        }
        let missing: Vec<WebhookItem<'_>> = wanted
            .iter()
            .filter(|event| {
                !existing
                    .iter()
                    .any(|old| old.url == uri && &&old.event == event)
            })
            .map(|event| WebhookItem {
                id: None,
                url: Some(uri),
                event: Some(event),
            })
            .collect();
        if !missing.is_empty() {
            let request = webhooks_request(Method::POST, "UpdateWebhookSettings")
                .with_json(&WebhooksBody { data: missing })
                .map_err(|source| encode_failed("UpdateWebhookSettings", source))?;
            self.call(request, call).await?;
        }
        Ok(settings_of(uri.to_owned(), wanted))
    }

    async fn create_message_export(
        &self,
        export: &ExportRequest,
        call: CallContext,
    ) -> Result<MessageExport, UpstreamError> {
        // Creating a job twice makes two jobs: an unanswered attempt is not repeated.
        let request = UpstreamRequest::new(
            Method::POST,
            "/v2/messages/messages_dump",
            &["v2", "messages", "messages_dump"],
            "CreateMessageExport",
            Idempotency::Unsafe,
        )
        .with_json(&ExportBody::new(export))
        .map_err(|source| encode_failed("CreateMessageExport", source))?;
        let answer = self.call(request, call).await?;
        let reply: ExportReply =
            unwrap_data(&answer.body).map_err(|source| decode_failed(&answer, source))?;
        Ok(reply.into_export(""))
    }

    async fn get_message_export(
        &self,
        export_id: &str,
        call: CallContext,
    ) -> Result<MessageExport, UpstreamError> {
        let request = UpstreamRequest::new(
            Method::GET,
            "/v2/messages/messages_dump/:export_id",
            &["v2", "messages", "messages_dump", export_id],
            "GetMessageExport",
            Idempotency::Safe,
        );
        let answer = self.call(request, call).await?;
        let reply: ExportReply =
            unwrap_data(&answer.body).map_err(|source| decode_failed(&answer, source))?;
        Ok(reply.into_export(export_id))
    }
}
