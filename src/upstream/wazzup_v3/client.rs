//! `WazzupV3Client`: the [`Upstream`] operations mapped onto the v3 routes, with a per-account
//! channel cache so that validating a send against its channel costs no upstream call most of the
//! time.

use async_trait::async_trait;
use reqwest::Method;

use super::wire::{
    ChannelReply, EditMessageBody, MessageReply, SendMessageBody, TemplateReply, WebhooksBody,
    WebhooksReply,
};
use crate::config::AccountConfig;
use crate::model::Dialect;
use crate::model::lenient::ListReply;
use crate::model::{
    Channel, DeleteMessage, EditMessage, MessageRef, SendMessage, SentMessage, Template,
    TemplatePage, WebhookSettings,
};
use crate::upstream::retry::{Idempotency, RetryPolicy};
use crate::upstream::transport::{Transport, TransportError, TransportShared, UpstreamRequest};
use crate::upstream::{CallContext, PageRequest, Upstream, UpstreamError};

/// Templates fetched per page while looking one up by id.
const TEMPLATE_LOOKUP_PAGE: u32 = 100;
/// Pages searched at most while looking a template up by id (10 000 templates).
const TEMPLATE_LOOKUP_MAX_PAGES: u32 = 100;

/// A Wazzup API v3 account.
#[derive(Debug)]
pub(crate) struct WazzupV3Client {
    /// The configured account name (set on every channel).
    account: String,
    /// The HTTP stack.
    transport: Transport,
}

impl WazzupV3Client {
    /// Builds the client of a configured `wazzup_v3` account with its configured retry policy.
    ///
    /// # Errors
    ///
    /// Fails when the account's key or base URL cannot be used, or TLS cannot be set up.
    pub(crate) fn new(
        account: &AccountConfig,
        shared: &TransportShared,
    ) -> Result<Self, TransportError> {
        Self::with_policy(account, RetryPolicy::new(account.retry.clone()), shared)
    }

    /// Builds the client with an explicit retry policy (tests use [`RetryPolicy::for_test`]).
    ///
    /// # Errors
    ///
    /// As [`WazzupV3Client::new`].
    pub(crate) fn with_policy(
        account: &AccountConfig,
        policy: RetryPolicy,
        shared: &TransportShared,
    ) -> Result<Self, TransportError> {
        Ok(Self {
            account: account.name.clone(),
            transport: Transport::new(account, policy, shared)?,
        })
    }

    /// Fetches the channel list.
    async fn fetch_channels(&self, call: CallContext) -> Result<Vec<Channel>, UpstreamError> {
        let request = UpstreamRequest::new(
            Method::GET,
            "/v3/channels",
            &["v3", "channels"],
            "ListChannels",
            Idempotency::Safe,
        );
        let answer = self.transport.call(&request, call).await?;
        let (replies, _) = answer.decode::<ListReply<ChannelReply>>()?.into_parts();
        Ok(replies
            .into_iter()
            .map(|reply| reply.into_channel(&self.account))
            .collect())
    }

    /// Fetches one page of templates.
    async fn template_page(
        &self,
        page: PageRequest,
        call: CallContext,
    ) -> Result<TemplatePage, UpstreamError> {
        let mut request = UpstreamRequest::new(
            Method::GET,
            "/v3/templates/whatsapp",
            &["v3", "templates", "whatsapp"],
            "ListTemplates",
            Idempotency::Safe,
        );
        request.query = vec![
            ("limit", page.limit.to_string()),
            ("offset", page.offset.to_string()),
        ];
        let answer = self.transport.call(&request, call).await?;
        let (replies, total_opt) = answer.decode::<ListReply<TemplateReply>>()?.into_parts();
        let end = page.offset.saturating_add(replies.len() as u32);
        let more = match total_opt {
            Some(total) => u64::from(end) < total,
            None => replies.len() as u32 >= page.limit && !replies.is_empty(),
        };
        Ok(TemplatePage {
            templates: replies
                .into_iter()
                .map(TemplateReply::into_template)
                .collect(),
            next_offset: more.then_some(end),
        })
    }

    /// Sends a JSON body to a message route.
    fn message_request(
        method: Method,
        message_id: &str,
        operation: &'static str,
    ) -> UpstreamRequest {
        UpstreamRequest::new(
            method,
            "/v3/message/:messageId",
            &["v3", "message", message_id],
            operation,
            Idempotency::Safe,
        )
    }
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

/// Reads an edit or delete answer, whose body the docs do not show: ids when present.
fn message_ref(body: &[u8], message_id: &str) -> MessageRef {
    let reply: MessageReply = serde_json::from_slice(body).unwrap_or_default();
    MessageRef::answered(reply.message_id, reply.chat_id, message_id)
}

#[async_trait]
impl Upstream for WazzupV3Client {
    fn dialect(&self) -> Dialect {
        Dialect::WazzupV3
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
        let body = SendMessageBody::new(send);
        let idempotency = match body.crm_message_id {
            Some(_) => Idempotency::Keyed,
            None => Idempotency::Unsafe,
        };
        let mut request = UpstreamRequest::new(
            Method::POST,
            "/v3/message",
            &["v3", "message"],
            "SendMessage",
            idempotency,
        )
        .with_json(&body)
        .map_err(|source| encode_failed("SendMessage", source))?;
        request.crm_message_id = body.crm_message_id.map(str::to_owned);
        let reply: MessageReply = self.transport.call(&request, call).await?.decode()?;
        Ok(SentMessage {
            message_id: reply.message_id,
            chat_id: reply.chat_id,
            request_id: String::new(),
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
        let answer = self.transport.call(&request, call).await?;
        Ok(message_ref(&answer.body, &edit.message_id))
    }

    async fn delete_message(
        &self,
        delete: &DeleteMessage,
        call: CallContext,
    ) -> Result<MessageRef, UpstreamError> {
        let request = Self::message_request(Method::DELETE, &delete.message_id, "DeleteMessage");
        let answer = self.transport.call(&request, call).await?;
        Ok(message_ref(&answer.body, &delete.message_id))
    }

    async fn list_templates(
        &self,
        page: PageRequest,
        call: CallContext,
    ) -> Result<TemplatePage, UpstreamError> {
        self.template_page(page, call).await
    }

    async fn get_template(
        &self,
        template_id: &str,
        call: CallContext,
    ) -> Result<Template, UpstreamError> {
        // v3 has no single-template route: page through the list.
        let mut page = PageRequest {
            limit: TEMPLATE_LOOKUP_PAGE,
            offset: 0,
        };
        for _ in 0..TEMPLATE_LOOKUP_MAX_PAGES {
            let listed = self.template_page(page, call).await?;
            if let Some(template) = listed
                .templates
                .into_iter()
                .find(|template| template.template_id == template_id)
            {
                return Ok(template);
            }
            let Some(next_offset) = listed.next_offset else {
                break;
            };
            page.offset = next_offset;
        }
        Err(UpstreamError::TemplateNotFound {
            template_id: template_id.to_owned(),
        })
    }

    async fn get_webhook_settings(
        &self,
        call: CallContext,
    ) -> Result<WebhookSettings, UpstreamError> {
        let request = UpstreamRequest::new(
            Method::GET,
            "/v3/webhooks",
            &["v3", "webhooks"],
            "GetWebhookSettings",
            Idempotency::Safe,
        );
        let reply: WebhooksReply = self.transport.call(&request, call).await?.decode()?;
        Ok(reply.into_settings())
    }

    async fn update_webhook_settings(
        &self,
        settings: &WebhookSettings,
        call: CallContext,
    ) -> Result<WebhookSettings, UpstreamError> {
        let request = UpstreamRequest::new(
            Method::PATCH,
            "/v3/webhooks",
            &["v3", "webhooks"],
            "UpdateWebhookSettings",
            Idempotency::Safe,
        )
        .with_json(&WebhooksBody::new(settings))
        .map_err(|source| encode_failed("UpdateWebhookSettings", source))?;
        // The documented answer is `{ ok }`, not JSON: any 2xx means the settings are in effect.
        self.transport.call(&request, call).await?;
        Ok(WebhookSettings {
            events: Vec::new(),
            ..settings.clone()
        })
    }
}
