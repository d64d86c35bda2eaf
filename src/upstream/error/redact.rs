//! The one redaction rule for upstream text: before anything an upstream wrote (its error code,
//! description, request id, debugging data) becomes part of a gateway error, and so of a gRPC
//! status or a log line, every secret of the account and of the request is cut out of it. An
//! upstream that echoes the `Authorization` header, the request body or its own configuration in
//! an error description therefore cannot leak them.
//!
//! The secrets are the account's configured ones (API key or access token, webhook secret, CRM
//! key, refresh token, partner credentials and their password) and the request's own (the
//! `Authorization` value it was sent with, and secrets its body carries such as a rotated refresh
//! token). Redaction happens before any text is shortened, so no prefix of a secret survives a cut.

use std::fmt;

use secrecy::{ExposeSecret as _, SecretString};

use crate::config::AccountConfig;

/// What replaces a secret in upstream text.
pub(crate) const REDACTED: &str = "[redacted]";

/// Secrets that upstream text must not carry into the gateway's errors.
#[derive(Clone, Default)]
pub struct Redactor {
    /// The secrets, longest first, so a secret that contains another one goes as a whole.
    secrets: Vec<SecretString>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Redactor")
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

impl Redactor {
    /// Returns the redactor of `account`'s configured secrets.
    pub fn for_account(account: &AccountConfig) -> Self {
        let configured = [
            &account.api_key,
            &account.webhook_secret,
            &account.crm_key,
            &account.token_refresh.refresh_token,
            &account.token_refresh.partner_credentials,
        ];
        let mut secrets: Vec<String> = configured
            .into_iter()
            .flatten()
            .map(|secret| secret.expose_secret().to_owned())
            .collect();
        if let Some(credentials) = &account.token_refresh.partner_credentials
            && let Some((_, password)) = credentials.expose_secret().split_once(':')
        {
            secrets.push(password.to_owned());
        }
        Self::default().with(secrets)
    }

    /// Returns this redactor with `more` secrets (empty ones are ignored).
    pub fn with(&self, more: impl IntoIterator<Item = String>) -> Self {
        let mut secrets = self.secrets.clone();
        secrets.extend(
            more.into_iter()
                .filter(|secret| !secret.is_empty())
                .map(SecretString::from),
        );
        secrets.sort_by_key(|secret| std::cmp::Reverse(secret.expose_secret().len()));
        secrets.dedup_by(|left, right| left.expose_secret() == right.expose_secret());
        Self { secrets }
    }

    /// Returns `text` with every occurrence of every secret replaced by [`REDACTED`].
    pub fn redact(&self, text: &str) -> String {
        let mut redacted = text.to_owned();
        for secret in &self.secrets {
            let secret = secret.expose_secret();
            if redacted.contains(secret) {
                redacted = redacted.replace(secret, REDACTED);
            }
        }
        redacted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor(secrets: &[&str]) -> Redactor {
        Redactor::default().with(secrets.iter().map(|secret| (*secret).to_owned()))
    }

    #[test]
    fn every_occurrence_of_every_secret_is_cut() {
        let redactor = redactor(&["k3y", "Bearer k3y", "", "t0ken"]);
        let table = [
            ("no secret here", "no secret here"),
            ("Authorization: Bearer k3y", "Authorization: [redacted]"),
            ("k3yk3y and t0ken", "[redacted][redacted] and [redacted]"),
            ("", ""),
        ];
        for (text, expected) in table {
            assert_eq!(redactor.redact(text), expected, "{text}");
        }
    }

    #[test]
    fn debug_output_shows_no_secret() {
        let shown = format!("{:?}", redactor(&["s3cr3t-value"]));

        assert!(!shown.contains("s3cr3t"), "{shown}");
    }
}
