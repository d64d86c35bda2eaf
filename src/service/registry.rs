//! The registry of the configured accounts: builds one [`Account`] per configured account and
//! resolves the account a request names (or the default one).

use std::sync::Arc;

use crate::config::{AccountConfig, Config};
use crate::upstream;
use crate::upstream::sandbox::SandboxUpstream;
use crate::upstream::transport::{Downloads, TransportError, TransportShared};

use super::IdempotentSends;
use super::account::Account;
use super::webhook_registration::WebhookRegistration;

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

/// Every configured account, and which one serves requests that name none.
#[derive(Debug)]
pub(crate) struct Accounts {
    /// In configuration order.
    accounts: Vec<Arc<Account>>,
    /// Name of the default account, when there is one.
    default_name: Option<String>,
}

impl Accounts {
    /// Builds the registry; `default_name` must be one of the accounts' names.
    pub(crate) fn new(accounts: Vec<Account>, default_name: Option<String>) -> Self {
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
    /// `sends`, and the HTTP clients record their attempts into `shared`'s metrics and take
    /// their rate budgets from `shared`'s budgets.
    ///
    /// # Errors
    ///
    /// Fails when the HTTP client of a `wazzup_v3` or `wazzup_tech` account cannot be built.
    pub(crate) fn from_config(
        config: &Config,
        sends: &Arc<IdempotentSends>,
        shared: &TransportShared,
    ) -> Result<Self, TransportError> {
        let downloads = Downloads::new().map_err(TransportError::Downloads)?;
        let mut accounts = Vec::with_capacity(config.accounts.len());
        for account in &config.accounts {
            let mut built = build_account(config, account, sends, &downloads, shared)?;
            // The sandbox's channels change at once (injected), so its lookups are never cached.
            if built.as_sandbox().is_none() {
                built = built.with_channel_cache(account.channel_cache_ttl);
            }
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
    pub(crate) fn resolve(&self, name: &str) -> Result<Arc<Account>, AccountError> {
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
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<Account>> {
        self.accounts.iter()
    }

    /// Iterates over the sandbox accounts, with their names, in configuration order (for the
    /// wiring of their event log and file routes).
    pub(crate) fn sandboxes(&self) -> impl Iterator<Item = (&str, &Arc<SandboxUpstream>)> {
        self.accounts.iter().filter_map(|account| {
            account
                .as_sandbox()
                .map(|sandbox| (account.name(), sandbox))
        })
    }
}

/// Builds the account of one configured `account` in its dialect, without its webhook
/// registration and channel cache; keyed sends go through `sends`.
///
/// # Errors
///
/// Fails when the HTTP client of a `wazzup_v3` or `wazzup_tech` account cannot be built.
fn build_account(
    config: &Config,
    account: &AccountConfig,
    sends: &Arc<IdempotentSends>,
    downloads: &Downloads,
    shared: &TransportShared,
) -> Result<Account, TransportError> {
    let built = match upstream::registry::spec(account.dialect).build(config, account, shared)? {
        upstream::dialect::BuiltUpstream::Sandbox(sandbox) => {
            Account::sandbox(&account.name, sandbox, sends.clone(), downloads.clone())
        }
        upstream::dialect::BuiltUpstream::Client(upstream) => {
            Account::new(&account.name, upstream, sends.clone(), downloads.clone())
        }
    };
    Ok(built)
}
