//! The provider-neutral upstream interface, implemented once per API dialect: the upstream
//! clients and nothing else.
//!
//! The [`service`](crate::service) layer picks the implementation for each request and runs the
//! flows over the [`Upstream`] trait; the dialects (`sandbox`, `wazzup_v3`, `wazzup_tech` and
//! `devino`) never see gRPC types. The shared HTTP stack is [`transport`] with its
//! [`retry`] policy; [`error`] classifies failures.
//! Every dialect implements [`dialect::DialectSpec`] in its own folder, and [`registry`] lists
//! them, one line each.

pub(crate) mod devino;
pub(crate) mod dialect;
pub(crate) mod error;
pub(crate) mod registry;
pub(crate) mod retry;
pub(crate) mod sandbox;
pub(crate) mod transport;
pub(crate) mod wazzup_tech;
pub(crate) mod wazzup_v3;

use std::fmt;

use async_trait::async_trait;
use tokio::time::Instant;

use crate::model::Dialect;
use crate::model::{
    Channel, DeleteMessage, EditMessage, ExportRequest, MessageExport, MessageRef, SendMessage,
    SentMessage, Template, TemplatePage, WebhookSettings,
};

pub use error::UpstreamError;
pub use retry::RetryPolicy;
pub use wazzup_tech::WazzupTechClient;

/// Per-call facts an upstream needs beyond the request itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallContext {
    /// When the call must be answered by (the caller's gRPC deadline, counted from the call's
    /// arrival); upstream timeouts, retries and waits end by it.
    pub deadline: Option<Instant>,
}

/// A page request for listings the upstream pages by offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRequest {
    /// How many items to return at most.
    pub limit: u32,
    /// How many items to skip.
    pub offset: u32,
}

/// The operations the gRPC services need from an upstream API.
///
/// Every method has a default that answers [`UpstreamError::Unsupported`] naming the dialect and
/// the operation, so a dialect implements what its API offers and nothing is ever a silent no-op.
/// Callers go through `service::Account`, which validates requests before any method here is called.
#[async_trait]
pub trait Upstream: Send + Sync + fmt::Debug + 'static {
    /// Returns the dialect this upstream speaks.
    fn dialect(&self) -> Dialect;

    /// Lists the account's channels.
    async fn list_channels(&self, _call: CallContext) -> Result<Vec<Channel>, UpstreamError> {
        Err(self.unsupported("listing channels"))
    }

    /// Returns one channel, or [`UpstreamError::ChannelNotFound`].
    async fn get_channel(
        &self,
        channel_id: &str,
        call: CallContext,
    ) -> Result<Channel, UpstreamError> {
        let channels = self.list_channels(call).await?;
        channels
            .into_iter()
            .find(|channel| channel.channel_id == channel_id)
            .ok_or_else(|| UpstreamError::ChannelNotFound {
                channel_id: channel_id.to_owned(),
            })
    }

    /// Sends a message that already passed validation against its channel.
    async fn send_message(
        &self,
        _send: &SendMessage,
        _call: CallContext,
    ) -> Result<SentMessage, UpstreamError> {
        Err(self.unsupported("sending messages"))
    }

    /// Tells whether [`send_batch`](Self::send_batch) sends several messages per upstream
    /// request; otherwise a batch is sent message by message.
    fn sends_batches_natively(&self) -> bool {
        false
    }

    /// Sends messages that already passed validation against their channels in as few upstream
    /// requests as the dialect allows; one result per send, in order. Only called when
    /// [`sends_batches_natively`](Self::sends_batches_natively) says so.
    async fn send_batch(
        &self,
        sends: &[SendMessage],
        _call: CallContext,
    ) -> Vec<Result<SentMessage, UpstreamError>> {
        sends
            .iter()
            .map(|_| Err(self.unsupported("sending native batches")))
            .collect()
    }

    /// Edits a sent message.
    async fn edit_message(
        &self,
        _edit: &EditMessage,
        _call: CallContext,
    ) -> Result<MessageRef, UpstreamError> {
        Err(self.unsupported("editing messages"))
    }

    /// Deletes a sent message.
    async fn delete_message(
        &self,
        _delete: &DeleteMessage,
        _call: CallContext,
    ) -> Result<MessageRef, UpstreamError> {
        Err(self.unsupported("deleting messages"))
    }

    /// Lists WABA templates, one page at a time.
    async fn list_templates(
        &self,
        _page: PageRequest,
        _call: CallContext,
    ) -> Result<TemplatePage, UpstreamError> {
        Err(self.unsupported("listing templates"))
    }

    /// Returns one WABA template, or [`UpstreamError::TemplateNotFound`].
    async fn get_template(
        &self,
        _template_id: &str,
        _call: CallContext,
    ) -> Result<Template, UpstreamError> {
        Err(self.unsupported("reading templates"))
    }

    /// Returns the account's upstream webhook subscription.
    async fn get_webhook_settings(
        &self,
        _call: CallContext,
    ) -> Result<WebhookSettings, UpstreamError> {
        Err(self.unsupported("reading webhook settings"))
    }

    /// Replaces the account's upstream webhook subscription and returns the settings in effect.
    async fn update_webhook_settings(
        &self,
        _settings: &WebhookSettings,
        _call: CallContext,
    ) -> Result<WebhookSettings, UpstreamError> {
        Err(self.unsupported("changing webhook settings"))
    }

    /// Starts a message history export job (tech v2 `messages_dump`).
    async fn create_message_export(
        &self,
        _request: &ExportRequest,
        _call: CallContext,
    ) -> Result<MessageExport, UpstreamError> {
        Err(self.unsupported("exporting messages"))
    }

    /// Returns the current state of an export job.
    async fn get_message_export(
        &self,
        _export_id: &str,
        _call: CallContext,
    ) -> Result<MessageExport, UpstreamError> {
        Err(self.unsupported("exporting messages"))
    }

    /// Tells whether the upstream currently refuses the account's credentials (its latest answer
    /// was a 401); dialects without credentials never do.
    fn credentials_rejected(&self) -> bool {
        false
    }

    /// Builds the error for an operation this dialect does not offer.
    fn unsupported(&self, operation: &'static str) -> UpstreamError {
        UpstreamError::Unsupported {
            dialect: self.dialect(),
            operation,
        }
    }
}
