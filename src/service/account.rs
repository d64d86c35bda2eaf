//! One configured account: its upstream, and the path every operation takes through it:
//! validate the request against the upstream's rules, then call the dialect.

use std::sync::Arc;
use std::time::Duration;

use crate::model::Dialect;
use crate::model::validate::{
    check_delete, check_edit, check_edit_for_channel, check_export, check_export_id,
    check_webhook_settings,
};
use crate::model::{
    Channel, DeleteMessage, EditMessage, ExportRequest, MessageExport, MessageRef, Template,
    TemplatePage, Violations, WebhookSettings,
};
use crate::upstream::registry;
use crate::upstream::sandbox::SandboxUpstream;
use crate::upstream::transport::Downloads;
use crate::upstream::{CallContext, PageRequest, Upstream, UpstreamError};

use super::IdempotentSends;
use super::channel_cache::ChannelCache;
use super::webhook_registration::WebhookRegistration;

/// One configured upstream account.
#[derive(Debug)]
pub(crate) struct Account {
    /// The configured name, as callers pass it in `account`.
    pub(super) name: String,
    /// The upstream implementation chosen by the account's dialect.
    pub(super) upstream: Arc<dyn Upstream>,
    /// The same upstream, typed, when the account is a sandbox (for `SandboxService`).
    sandbox: Option<Arc<SandboxUpstream>>,
    /// Runs sends that carry an idempotency key at most once.
    pub(super) sends: Arc<IdempotentSends>,
    /// What `RegisterWebhooks` registers.
    webhooks: WebhookRegistration,
    /// Fetches export files.
    pub(super) downloads: Downloads,
    /// The last channel list, reused to validate sends; none when every lookup asks the upstream.
    pub(super) channels: Option<Arc<ChannelCache>>,
}

impl Account {
    /// Wraps an upstream as the account `name`; keyed sends go through `sends`, export files
    /// are fetched with `downloads`.
    pub(crate) fn new(
        name: impl Into<String>,
        upstream: Arc<dyn Upstream>,
        sends: Arc<IdempotentSends>,
        downloads: Downloads,
    ) -> Self {
        Self {
            name: name.into(),
            upstream,
            sandbox: None,
            sends,
            webhooks: WebhookRegistration::default(),
            downloads,
            channels: None,
        }
    }

    /// Sets what `RegisterWebhooks` registers for this account.
    pub(crate) fn with_webhooks(mut self, webhooks: WebhookRegistration) -> Self {
        self.webhooks = webhooks;
        self
    }

    /// Reuses the channel list for `ttl` to answer channel lookups (the HTTP dialects' accounts;
    /// a listing refreshes it).
    pub(crate) fn with_channel_cache(mut self, ttl: Duration) -> Self {
        self.channels = Some(Arc::new(ChannelCache::new(ttl)));
        self
    }

    /// Creates a sandbox account; keyed sends go through `sends`, as for every dialect.
    pub(crate) fn sandbox(
        name: impl Into<String>,
        sandbox: Arc<SandboxUpstream>,
        sends: Arc<IdempotentSends>,
        downloads: Downloads,
    ) -> Self {
        let upstream: Arc<dyn Upstream> = sandbox.clone();
        Self {
            name: name.into(),
            upstream,
            sandbox: Some(sandbox),
            sends,
            webhooks: WebhookRegistration::default(),
            downloads,
            channels: None,
        }
    }

    /// Returns the configured name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Returns the account's dialect.
    pub(crate) fn dialect(&self) -> Dialect {
        self.upstream.dialect()
    }

    /// Returns the sandbox behind this account, when it is one.
    pub(crate) fn as_sandbox(&self) -> Option<&Arc<SandboxUpstream>> {
        self.sandbox.as_ref()
    }

    /// Tells whether the upstream currently refuses the account's credentials (see
    /// [`Upstream::credentials_rejected`]).
    pub(crate) fn credentials_rejected(&self) -> bool {
        self.upstream.credentials_rejected()
    }

    /// Lists the account's channels.
    ///
    /// # Errors
    ///
    /// Fails with the upstream's error.
    pub(crate) async fn list_channels(
        &self,
        call: CallContext,
    ) -> Result<Vec<Channel>, UpstreamError> {
        let channels = self.upstream.list_channels(call).await?;
        if let Some(cache) = &self.channels {
            cache.store(channels.clone());
        }
        Ok(channels)
    }

    /// Returns one channel.
    ///
    /// # Errors
    ///
    /// Fails with [`UpstreamError::ChannelNotFound`] or the upstream's error.
    pub(crate) async fn get_channel(
        &self,
        channel_id: &str,
        call: CallContext,
    ) -> Result<Channel, UpstreamError> {
        find_channel(
            self.upstream.as_ref(),
            self.channels.as_deref(),
            channel_id,
            call,
        )
        .await
    }

    /// Validates and applies an edit: first the rules that need no channel (the shared ones and
    /// the dialect's), then, when the edit
    /// names the channel its message was sent from, that channel's rules (as a send's).
    ///
    /// # Errors
    ///
    /// Fails with every field violation at once, [`UpstreamError::ChannelNotFound`], or the
    /// upstream's error.
    pub(crate) async fn edit_message(
        &self,
        edit: &EditMessage,
        call: CallContext,
    ) -> Result<MessageRef, UpstreamError> {
        let mut violations = Violations::new();
        check_edit(edit, &mut violations);
        registry::spec(self.dialect()).check_edit(edit, &mut violations);
        violations.finish()?;
        if let Some(channel_id) = edit.channel_id.as_deref() {
            let channel = self.get_channel(channel_id, call).await?;
            let mut channel_violations = Violations::new();
            check_edit_for_channel(edit, &channel, &mut channel_violations);
            channel_violations.finish()?;
        }
        let edited = self.upstream.edit_message(edit, call).await;
        edited.map_err(|error| error.about_message(&edit.message_id))
    }

    /// Validates and applies a delete.
    ///
    /// # Errors
    ///
    /// Fails with every field violation at once, or the upstream's error.
    pub(crate) async fn delete_message(
        &self,
        delete: &DeleteMessage,
        call: CallContext,
    ) -> Result<MessageRef, UpstreamError> {
        let mut violations = Violations::new();
        check_delete(delete, &mut violations);
        violations.finish()?;
        let deleted = self.upstream.delete_message(delete, call).await;
        deleted.map_err(|error| error.about_message(&delete.message_id))
    }

    /// Lists one page of templates.
    ///
    /// # Errors
    ///
    /// Fails with the upstream's error.
    pub(crate) async fn list_templates(
        &self,
        page: PageRequest,
        call: CallContext,
    ) -> Result<TemplatePage, UpstreamError> {
        self.upstream.list_templates(page, call).await
    }

    /// Returns one template.
    ///
    /// # Errors
    ///
    /// Fails with [`UpstreamError::TemplateNotFound`] or the upstream's error.
    pub(crate) async fn get_template(
        &self,
        template_id: &str,
        call: CallContext,
    ) -> Result<Template, UpstreamError> {
        self.upstream.get_template(template_id, call).await
    }

    /// Returns the upstream webhook settings, the account's secret redacted from the URI.
    ///
    /// # Errors
    ///
    /// Fails with the upstream's error.
    pub(crate) async fn get_webhook_settings(
        &self,
        call: CallContext,
    ) -> Result<WebhookSettings, UpstreamError> {
        let settings = self.upstream.get_webhook_settings(call).await?;
        Ok(self.webhooks.redact(settings))
    }

    /// Validates and applies new webhook settings; the answer has the secret redacted.
    ///
    /// # Errors
    ///
    /// Fails with every field violation at once, or the upstream's error.
    pub(crate) async fn update_webhook_settings(
        &self,
        settings: &WebhookSettings,
        call: CallContext,
    ) -> Result<WebhookSettings, UpstreamError> {
        let mut violations = Violations::new();
        check_webhook_settings(settings, &mut violations);
        if !settings.events.is_empty() && !registry::spec(self.dialect()).subscribes_by_event_name()
        {
            violations.add(
                "settings.events",
                format!(
                    "is only for wazzup_tech accounts; {} accounts use the boolean subscriptions",
                    self.dialect()
                ),
            );
        }
        violations.finish()?;
        let applied = self
            .upstream
            .update_webhook_settings(settings, call)
            .await?;
        Ok(self.webhooks.redact(applied))
    }

    /// Validates the period and starts a message export job.
    ///
    /// # Errors
    ///
    /// Fails with every field violation at once, or the upstream's error.
    pub(crate) async fn create_message_export(
        &self,
        request: &ExportRequest,
        call: CallContext,
    ) -> Result<MessageExport, UpstreamError> {
        let mut violations = Violations::new();
        check_export(request, &mut violations);
        violations.finish()?;
        self.upstream.create_message_export(request, call).await
    }

    /// Returns the current state of an export job.
    ///
    /// # Errors
    ///
    /// Fails with a missing id, [`UpstreamError::ExportNotFound`], or the upstream's error.
    pub(crate) async fn get_message_export(
        &self,
        export_id: &str,
        call: CallContext,
    ) -> Result<MessageExport, UpstreamError> {
        let mut violations = Violations::new();
        check_export_id(export_id, &mut violations);
        violations.finish()?;
        self.upstream.get_message_export(export_id, call).await
    }

    /// Points the upstream at this gateway's own webhook URL with the configured subscriptions.
    ///
    /// # Errors
    ///
    /// Fails with `FAILED_PRECONDITION` errors when the public base URL or the account's webhook
    /// secret is not configured or the URI would be too long, or the upstream's error.
    pub(crate) async fn register_webhooks(
        &self,
        call: CallContext,
    ) -> Result<WebhookSettings, UpstreamError> {
        let settings = self.webhooks.settings(&self.name)?;
        let applied = self
            .upstream
            .update_webhook_settings(&settings, call)
            .await?;
        Ok(self.webhooks.redact(applied))
    }
}

/// Returns the channel `channel_id` of `upstream`, from `cache` while its list is fresh.
///
/// # Errors
///
/// Fails with [`UpstreamError::ChannelNotFound`] or the upstream's error.
pub(super) async fn find_channel(
    upstream: &dyn Upstream,
    cache: Option<&ChannelCache>,
    channel_id: &str,
    call: CallContext,
) -> Result<Channel, UpstreamError> {
    let Some(cache) = cache else {
        return upstream.get_channel(channel_id, call).await;
    };
    let fetch = async { Ok(cache.store(upstream.list_channels(call).await?)) };
    cache.find(channel_id, fetch).await
}

#[cfg(test)]
mod tests;
