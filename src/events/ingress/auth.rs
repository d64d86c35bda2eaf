//! Webhook authentication: the account's URL secret and/or crmKey, compared in constant time.
//!
//! v3 webhooks carry no signature (wazzup-api.md §5): the upstream adds `Authorization: Bearer
//! <crmKey>` only when it holds a crmKey, so the URL secret is the usual credential. Every
//! credential the account configures must be presented; an account with none accepts nothing.

use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::{HeaderMap, header};
use secrecy::{ExposeSecret as _, SecretString};
use subtle::ConstantTimeEq as _;

use crate::bearer::bearer_token;
use crate::config::{
    AccountConfig, ENV_ACCOUNT_CRM_KEY, ENV_ACCOUNT_WEBHOOK_SECRET, account_env_var,
};
use crate::model::Dialect;

/// One account as the ingress sees it.
#[derive(Debug)]
pub(super) struct WebhookAccount {
    /// The configured name (safe to log).
    pub(super) name: String,
    /// How its webhook bodies are read.
    pub(super) dialect: Dialect,
    /// The secret expected as the last URL segment.
    webhook_secret: Option<SecretString>,
    /// The key expected as `Authorization: Bearer`.
    crm_key: Option<SecretString>,
    /// Set once the "no credential configured" warning was logged.
    warned_unusable: AtomicBool,
}

/// Why a request was refused (logged, never shown to the sender).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    /// The account configures neither a webhook secret nor a crmKey.
    NoCredentialConfigured,
    /// The URL has no secret segment.
    MissingSecret,
    /// The URL secret does not match.
    WrongSecret,
    /// No `Authorization: Bearer` header.
    MissingCrmKey,
    /// The bearer key does not match.
    WrongCrmKey,
}

impl Refusal {
    /// Returns a log-friendly name.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::NoCredentialConfigured => "no webhook credential configured",
            Self::MissingSecret => "missing URL secret",
            Self::WrongSecret => "wrong URL secret",
            Self::MissingCrmKey => "missing bearer crmKey",
            Self::WrongCrmKey => "wrong bearer crmKey",
        }
    }
}

impl WebhookAccount {
    /// Takes the account's name, dialect and webhook credentials.
    pub(super) fn from_config(account: &AccountConfig) -> Self {
        Self {
            name: account.name.clone(),
            dialect: account.dialect,
            webhook_secret: account.webhook_secret.clone(),
            crm_key: account.crm_key.clone(),
            warned_unusable: AtomicBool::new(false),
        }
    }

    /// Checks the request's credentials: `url_secret` (the last path segment, when the route has
    /// one) against the webhook secret, and the bearer token against the crmKey, each when
    /// configured.
    pub(super) fn authenticate(
        &self,
        url_secret: Option<&str>,
        headers: &HeaderMap,
    ) -> Result<(), Refusal> {
        if self.webhook_secret.is_none() && self.crm_key.is_none() {
            self.warn_unusable_once();
            return Err(Refusal::NoCredentialConfigured);
        }
        if let Some(expected) = &self.webhook_secret {
            let given = url_secret.ok_or(Refusal::MissingSecret)?;
            if !same(given.as_bytes(), expected) {
                return Err(Refusal::WrongSecret);
            }
        }
        if let Some(expected) = &self.crm_key {
            let given = headers
                .get(header::AUTHORIZATION)
                .and_then(|value| bearer_token(value.as_bytes()))
                .ok_or(Refusal::MissingCrmKey)?;
            if !same(given, expected) {
                return Err(Refusal::WrongCrmKey);
            }
        }
        Ok(())
    }

    /// Says once per process that this account can receive no webhook, and how to fix it.
    fn warn_unusable_once(&self) {
        if self.warned_unusable.swap(true, Ordering::Relaxed) {
            return;
        }
        tracing::warn!(
            account = %self.name,
            webhook_secret = %account_env_var(ENV_ACCOUNT_WEBHOOK_SECRET, &self.name),
            crm_key = %account_env_var(ENV_ACCOUNT_CRM_KEY, &self.name),
            "webhooks for this account are refused: configure a webhook secret or a crmKey"
        );
    }
}

/// Compares a presented credential with the configured one in constant time (the length may
/// leak; the content does not).
fn same(given: &[u8], expected: &SecretString) -> bool {
    given.ct_eq(expected.expose_secret().as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn account(secret: Option<&str>, crm_key: Option<&str>) -> WebhookAccount {
        WebhookAccount {
            name: "main".to_owned(),
            dialect: Dialect::WazzupV3,
            webhook_secret: secret.map(SecretString::from),
            crm_key: crm_key.map(SecretString::from),
            warned_unusable: AtomicBool::new(false),
        }
    }

    fn bearer(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(token).unwrap());
        headers
    }

    #[test]
    fn every_configured_credential_must_match() {
        let none = HeaderMap::new();
        let cases = [
            (account(Some("s3"), None), Some("s3"), none.clone(), Ok(())),
            (
                account(Some("s3"), None),
                Some("s4"),
                none.clone(),
                Err(Refusal::WrongSecret),
            ),
            (
                account(Some("s3"), None),
                None,
                none.clone(),
                Err(Refusal::MissingSecret),
            ),
            (account(None, Some("k1")), None, bearer("Bearer k1"), Ok(())),
            (
                account(None, Some("k1")),
                None,
                bearer("bearer  k1 "),
                Ok(()),
            ),
            (
                account(None, Some("k1")),
                None,
                bearer("Bearer k2"),
                Err(Refusal::WrongCrmKey),
            ),
            (
                account(None, Some("k1")),
                None,
                bearer("Basic k1"),
                Err(Refusal::MissingCrmKey),
            ),
            (
                account(None, Some("k1")),
                None,
                none.clone(),
                Err(Refusal::MissingCrmKey),
            ),
            (
                account(Some("s3"), Some("k1")),
                Some("s3"),
                bearer("Bearer k1"),
                Ok(()),
            ),
            (
                account(Some("s3"), Some("k1")),
                Some("s3"),
                none.clone(),
                Err(Refusal::MissingCrmKey),
            ),
            (
                account(Some("s3"), Some("k1")),
                None,
                bearer("Bearer k1"),
                Err(Refusal::MissingSecret),
            ),
            (
                account(None, None),
                Some("s3"),
                bearer("Bearer k1"),
                Err(Refusal::NoCredentialConfigured),
            ),
        ];
        for (index, (account, url_secret, headers, expected)) in cases.into_iter().enumerate() {
            assert_eq!(
                account.authenticate(url_secret, &headers),
                expected,
                "case {index}"
            );
        }
    }

    #[test]
    fn a_prefix_of_the_secret_is_not_the_secret() {
        let account = account(Some("secret-value"), None);
        let refused = account.authenticate(Some("secret"), &HeaderMap::new());
        assert_eq!(refused, Err(Refusal::WrongSecret));
    }
}
