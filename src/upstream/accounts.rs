//! The configured accounts and the one path every operation takes through them: resolve the
//! account, validate the request against the upstream's rules, then call the dialect.

use std::sync::Arc;

use crate::config::{Config, Dialect};
use crate::events::log::EventLog;
use crate::model::validate::{check_delete, check_edit, check_send, check_send_for_channel};
use crate::model::{
    Channel, DeleteMessage, EditMessage, MessageRef, SendMessage, SentMessage, Template,
    TemplatePage, Violations,
};

use super::sandbox::SandboxUpstream;
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
}

impl Account {
    /// Wraps an upstream as the account `name`.
    pub fn new(name: impl Into<String>, upstream: Arc<dyn Upstream>) -> Self {
        Self {
            name: name.into(),
            upstream,
            sandbox: None,
        }
    }

    /// Creates a sandbox account.
    pub fn sandbox(name: impl Into<String>, sandbox: Arc<SandboxUpstream>) -> Self {
        let upstream: Arc<dyn Upstream> = sandbox.clone();
        Self {
            name: name.into(),
            upstream,
            sandbox: Some(sandbox),
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
    /// that the channel can send, then sends.
    ///
    /// # Errors
    ///
    /// Fails with every field violation at once, [`UpstreamError::ChannelNotFound`],
    /// [`UpstreamError::ChannelNotActive`], or the upstream's error.
    pub async fn send_message(
        &self,
        send: &SendMessage,
        call: CallContext,
    ) -> Result<SentMessage, UpstreamError> {
        let mut violations = Violations::new();
        check_send(send, &mut violations);
        if send.notify.is_some() && self.dialect() != Dialect::Devino {
            violations.add(
                "notify",
                format!("is only for devino accounts, not {}", self.dialect()),
            );
        }
        violations.finish()?;
        let channel = self.upstream.get_channel(&send.channel_id, call).await?;
        let mut channel_violations = Violations::new();
        check_send_for_channel(send, &channel, &mut channel_violations);
        channel_violations.finish()?;
        if !channel.state.allows_sending() {
            return Err(UpstreamError::ChannelNotActive {
                channel_id: channel.channel_id,
                state_raw: channel.state_raw,
            });
        }
        self.upstream.send_message(send, call).await
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

    /// Builds one upstream per configured account.
    pub fn from_config(config: &Config) -> Self {
        let accounts = config
            .accounts
            .iter()
            .map(|account| match account.dialect {
                Dialect::Sandbox => Account::sandbox(
                    &account.name,
                    Arc::new(SandboxUpstream::new(
                        &account.name,
                        config.server.sandbox_latency,
                    )),
                ),
                dialect => Account::new(&account.name, Arc::new(PendingDialect { dialect })),
            })
            .collect();
        let default_name = config.default_account().map(|account| account.name.clone());
        Self::new(accounts, default_name)
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

/// The upstream of a dialect whose client is not part of this build yet: every operation answers
/// [`UpstreamError::Unsupported`] naming the dialect, so callers get `UNIMPLEMENTED`, not silence.
#[derive(Debug)]
struct PendingDialect {
    /// The configured dialect.
    dialect: Dialect,
}

#[async_trait::async_trait]
impl Upstream for PendingDialect {
    fn dialect(&self) -> Dialect {
        self.dialect
    }
}
