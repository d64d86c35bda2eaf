//! The configured accounts and the one path every operation takes through them: resolve the
//! account, validate the request against the upstream's rules, then call the dialect.

use std::sync::Arc;

use futures::StreamExt as _;
use futures::stream::BoxStream;

use crate::config::{Config, Dialect};
use crate::events::log::EventLog;
use crate::exports::csv::{CsvError, DEFAULT_MAX_RECORD_BYTES};
use crate::exports::export_rows;
use crate::idempotency::{Fingerprint, IdempotentSends, RecordKey, SendError};
use crate::model::validate::{
    check_delete, check_edit, check_export, check_export_id, check_send, check_send_for_channel,
    check_webhook_settings,
};
use crate::model::{
    Channel, DeleteMessage, EditMessage, ExportRequest, ExportRow, MessageExport, MessageRef,
    SendMessage, SendReply, SentMessage, Template, TemplatePage, Violations, WebhookSettings,
};

use super::dialect::BuiltUpstream;
use super::registry;
use super::sandbox::SandboxUpstream;
use super::transport::{Downloads, TransportError, describe_download_error};
use super::webhook_registration::WebhookRegistration;
use super::{CallContext, PageRequest, Upstream, UpstreamError};

/// A request named an account that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// No configured account has that name.
    #[error("account {account:?} is not configured")]
    Unknown {
        /// The name the request gave.
        account: String,
    },
    /// The request named no account, and no account is the default.
    #[error("the request names no account and several accounts are configured without a default")]
    Required,
}

/// One configured upstream account.
#[derive(Debug)]
pub struct Account {
    /// The configured name, as callers pass it in `account`.
    name: String,
    /// The upstream implementation chosen by the account's dialect.
    upstream: Arc<dyn Upstream>,
    /// The same upstream, typed, when the account is a sandbox (for `SandboxService`).
    sandbox: Option<Arc<SandboxUpstream>>,
    /// Runs sends that carry an idempotency key at most once.
    sends: Arc<IdempotentSends>,
    /// What `RegisterWebhooks` registers.
    webhooks: WebhookRegistration,
    /// Fetches export files.
    downloads: Downloads,
}

/// The rows of an export file as they are parsed, ending at the first failure.
pub type ExportRows = BoxStream<'static, Result<ExportRow, UpstreamError>>;

impl Account {
    /// Wraps an upstream as the account `name`; keyed sends go through `sends`, export files
    /// are fetched with `downloads`.
    pub fn new(
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
        }
    }

    /// Sets what `RegisterWebhooks` registers for this account.
    pub fn with_webhooks(mut self, webhooks: WebhookRegistration) -> Self {
        self.webhooks = webhooks;
        self
    }

    /// Creates a sandbox account; keyed sends go through `sends`, as for every dialect.
    pub fn sandbox(
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
        }
    }

    /// Returns the configured name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Returns the account's dialect.
    pub fn dialect(&self) -> Dialect {
        self.upstream.dialect()
    }

    /// Returns the sandbox behind this account, when it is one.
    pub fn as_sandbox(&self) -> Option<&Arc<SandboxUpstream>> {
        self.sandbox.as_ref()
    }

    /// Tells whether the upstream currently refuses the account's credentials (see
    /// [`Upstream::credentials_rejected`]).
    pub fn credentials_rejected(&self) -> bool {
        self.upstream.credentials_rejected()
    }

    /// Lists the account's channels.
    ///
    /// # Errors
    ///
    /// Fails with the upstream's error.
    pub async fn list_channels(&self, call: CallContext) -> Result<Vec<Channel>, UpstreamError> {
        self.upstream.list_channels(call).await
    }

    /// Returns one channel.
    ///
    /// # Errors
    ///
    /// Fails with [`UpstreamError::ChannelNotFound`] or the upstream's error.
    pub async fn get_channel(
        &self,
        channel_id: &str,
        call: CallContext,
    ) -> Result<Channel, UpstreamError> {
        self.upstream.get_channel(channel_id, call).await
    }

    /// Validates a send (first the rules that need no channel, then those of its channel), checks
    /// that the channel can send, then sends. A send with an idempotency key goes through
    /// [`IdempotentSends`] after the first validation step: a repeat is answered from the record
    /// (`replayed`), concurrent duplicates share one upstream call, and the channel checks run
    /// only when a send is actually made.
    ///
    /// # Errors
    ///
    /// Fails with every field violation at once, [`UpstreamError::ChannelNotFound`],
    /// [`UpstreamError::ChannelNotActive`], the upstream's error, or an
    /// [`IdempotencyError`](crate::idempotency::IdempotencyError).
    pub async fn send_message(
        &self,
        send: &SendMessage,
        call: CallContext,
    ) -> Result<SendReply, SendError> {
        let mut violations = Violations::new();
        check_send(send, &mut violations);
        let spec = registry::spec(self.dialect());
        spec.check_send(send, &mut violations);
        if send.notify.is_some() && !spec.accepts_notify() {
            violations.add(
                "notify",
                format!("is only for devino accounts, not {}", self.dialect()),
            );
        }
        violations.finish().map_err(UpstreamError::from)?;
        let Some(idempotency_key) = send.idempotency_key.clone() else {
            let sent = send_to_channel(self.upstream.as_ref(), send, call).await?;
            return Ok(SendReply::fresh(sent));
        };
        let key = RecordKey {
            account: self.name.clone(),
            idempotency_key,
        };
        let upstream = self.upstream.clone();
        let owned_send = send.clone();
        let send_once = async move { send_to_channel(upstream.as_ref(), &owned_send, call).await };
        self.sends
            .send(key, Fingerprint::of_send(send), call.deadline, send_once)
            .await
    }

    /// Validates and applies an edit.
    ///
    /// # Errors
    ///
    /// Fails with every field violation at once, or the upstream's error.
    pub async fn edit_message(
        &self,
        edit: &EditMessage,
        call: CallContext,
    ) -> Result<MessageRef, UpstreamError> {
        let mut violations = Violations::new();
        check_edit(edit, &mut violations);
        violations.finish()?;
        self.upstream.edit_message(edit, call).await
    }

    /// Validates and applies a delete.
    ///
    /// # Errors
    ///
    /// Fails with every field violation at once, or the upstream's error.
    pub async fn delete_message(
        &self,
        delete: &DeleteMessage,
        call: CallContext,
    ) -> Result<MessageRef, UpstreamError> {
        let mut violations = Violations::new();
        check_delete(delete, &mut violations);
        violations.finish()?;
        self.upstream.delete_message(delete, call).await
    }

    /// Lists one page of templates.
    ///
    /// # Errors
    ///
    /// Fails with the upstream's error.
    pub async fn list_templates(
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
    pub async fn get_template(
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
    pub async fn get_webhook_settings(
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
    pub async fn update_webhook_settings(
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
    pub async fn create_message_export(
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
    pub async fn get_message_export(
        &self,
        export_id: &str,
        call: CallContext,
    ) -> Result<MessageExport, UpstreamError> {
        let mut violations = Violations::new();
        check_export_id(export_id, &mut violations);
        violations.finish()?;
        self.upstream.get_message_export(export_id, call).await
    }

    /// Checks that the export is finished, starts downloading its CSV and returns its rows as
    /// they are parsed: memory stays at one network chunk and one record, whatever the size.
    ///
    /// # Errors
    ///
    /// Fails as [`get_message_export`](Self::get_message_export), with
    /// [`UpstreamError::ExportNotFinished`] before the export is done, or
    /// [`UpstreamError::ExportDownloadFailed`]. The stream itself ends with
    /// [`UpstreamError::ExportDownloadFailed`] when the transfer breaks and
    /// [`UpstreamError::ExportFileMalformed`] at a row that cannot be read.
    pub async fn read_message_export(
        &self,
        export_id: &str,
        call: CallContext,
    ) -> Result<(MessageExport, ExportRows), UpstreamError> {
        let export = self.get_message_export(export_id, call).await?;
        if !export.state.is_terminal() {
            return Err(UpstreamError::ExportNotFinished {
                export_id: export.export_id,
                state_raw: export.state_raw,
            });
        }
        let chunks = self.downloads.open(&export.export_id, &export.url).await?;
        let chunks = chunks.map(|chunk| chunk.map_err(|error| describe_download_error(&error)));
        let id = export.export_id.clone();
        let rows = export_rows(chunks, DEFAULT_MAX_RECORD_BYTES).map(move |row| {
            row.map_err(|error| match error {
                CsvError::Source(detail) => UpstreamError::ExportDownloadFailed {
                    export_id: id.clone(),
                    detail,
                },
                malformed => UpstreamError::ExportFileMalformed {
                    export_id: id.clone(),
                    detail: malformed.to_string(),
                },
            })
        });
        Ok((export, rows.boxed()))
    }

    /// Points the upstream at this gateway's own webhook URL with the configured subscriptions.
    ///
    /// # Errors
    ///
    /// Fails with `FAILED_PRECONDITION` errors when the public base URL or the account's webhook
    /// secret is not configured or the URI would be too long, or the upstream's error.
    pub async fn register_webhooks(
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

/// Every configured account, and which one serves requests that name none.
#[derive(Debug)]
pub struct Accounts {
    /// In configuration order.
    accounts: Vec<Arc<Account>>,
    /// Name of the default account, when there is one.
    default_name: Option<String>,
}

impl Accounts {
    /// Builds the registry; `default_name` must be one of the accounts' names.
    pub fn new(accounts: Vec<Account>, default_name: Option<String>) -> Self {
        debug_assert!(
            default_name
                .as_deref()
                .is_none_or(|name| accounts.iter().any(|account| account.name == name))
        );
        Self {
            accounts: accounts.into_iter().map(Arc::new).collect(),
            default_name,
        }
    }

    /// Builds one upstream per configured account; keyed sends of every account go through
    /// `sends`.
    ///
    /// # Errors
    ///
    /// Fails when the HTTP client of a `wazzup_v3` or `wazzup_tech` account cannot be built.
    pub fn from_config(
        config: &Config,
        sends: &Arc<IdempotentSends>,
    ) -> Result<Self, TransportError> {
        let downloads = Downloads::new().map_err(TransportError::Downloads)?;
        let mut accounts = Vec::with_capacity(config.accounts.len());
        for account in &config.accounts {
            let built = match registry::spec(account.dialect).build(config, account)? {
                BuiltUpstream::Sandbox(sandbox) => {
                    Account::sandbox(&account.name, sandbox, sends.clone(), downloads.clone())
                }
                BuiltUpstream::Client(upstream) => {
                    Account::new(&account.name, upstream, sends.clone(), downloads.clone())
                }
            };
            accounts.push(built.with_webhooks(WebhookRegistration::from_config(config, account)));
        }
        let default_name = config.default_account().map(|account| account.name.clone());
        Ok(Self::new(accounts, default_name))
    }

    /// Returns the account `name`, or the default one when `name` is empty.
    ///
    /// # Errors
    ///
    /// Fails with [`AccountError::Unknown`] for a name that is not configured, and
    /// [`AccountError::Required`] for an empty name when there is no default account.
    pub fn resolve(&self, name: &str) -> Result<Arc<Account>, AccountError> {
        let wanted = if name.is_empty() {
            self.default_name.as_deref().ok_or(AccountError::Required)?
        } else {
            name
        };
        self.accounts
            .iter()
            .find(|account| account.name == wanted)
            .cloned()
            .ok_or_else(|| AccountError::Unknown {
                account: name.to_owned(),
            })
    }

    /// Iterates over every account, in configuration order.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Account>> {
        self.accounts.iter()
    }

    /// Tells every sandbox account where the gateway serves its export files (see
    /// [`SandboxUpstream::serve_files_at`]).
    pub fn serve_sandbox_files_at(&self, base_url: &str) {
        for account in &self.accounts {
            if let Some(sandbox) = account.as_sandbox() {
                sandbox.serve_files_at(base_url);
            }
        }
    }

    /// Connects every sandbox account to the event log, so that its sends (statuses), injected
    /// messages and channel changes become events. Real accounts get their events from webhooks.
    pub fn connect_event_log(&self, log: &Arc<dyn EventLog>) {
        for account in &self.accounts {
            if let Some(sandbox) = account.as_sandbox() {
                sandbox.connect_event_log(account.name(), log.clone());
            }
        }
    }
}

/// Looks the send's channel up, applies the rules of its transport, checks that it can send, then
/// sends.
async fn send_to_channel(
    upstream: &dyn Upstream,
    send: &SendMessage,
    call: CallContext,
) -> Result<SentMessage, UpstreamError> {
    let channel = upstream.get_channel(&send.channel_id, call).await?;
    let mut channel_violations = Violations::new();
    check_send_for_channel(send, &channel, &mut channel_violations);
    channel_violations.finish()?;
    if !channel.state.allows_sending() {
        return Err(UpstreamError::ChannelNotActive {
            channel_id: channel.channel_id,
            state_raw: channel.state_raw,
        });
    }
    upstream.send_message(send, call).await
}
