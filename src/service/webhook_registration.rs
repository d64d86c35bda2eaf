//! What `RegisterWebhooks` registers for an account: the gateway's own public webhook URL with the
//! account's secret, and the configured subscriptions; and the redaction of that secret wherever
//! settings are shown.
//!
//! The URL is `{server.public_webhook_base_url}/webhooks/{account}/{webhook_secret}` (each
//! segment percent-encoded), the ingress route that authenticates v3 webhooks, which carry no
//! signature (wazzup-api.md §5, §13). The upstream accepts at most 200 characters (§4.1).

use secrecy::{ExposeSecret as _, SecretString};
use url::Url;

use crate::config::{
    AccountConfig, Config, ENV_ACCOUNT_WEBHOOK_SECRET, ENV_PUBLIC_WEBHOOK_BASE_URL,
    WebhookSubscriptions, account_env_var,
};
use crate::model::WebhookSettings;
use crate::model::limits::WEBHOOK_URI_MAX_CHARS;
use crate::model::webhook::webhook_uri;

use crate::upstream::UpstreamError;

/// Shown instead of the secret in webhook URIs.
pub(crate) const REDACTED_SECRET: &str = "[redacted]";

/// Everything needed to register an account's webhooks.
#[derive(Clone, Debug, Default)]
pub(crate) struct WebhookRegistration {
    /// Public base URL of the webhook listener (`server.public_webhook_base_url`).
    pub public_base_url: Option<String>,
    /// The account's webhook secret.
    pub secret: Option<SecretString>,
    /// The setting that holds the secret, named in errors.
    pub secret_setting: String,
    /// The subscriptions to register.
    pub subscriptions: WebhookSubscriptions,
}

impl WebhookRegistration {
    /// Reads the registration of `account` from the configuration.
    pub(crate) fn from_config(config: &Config, account: &AccountConfig) -> Self {
        Self {
            public_base_url: config.server.public_webhook_base_url.clone(),
            secret: account.webhook_secret.clone(),
            secret_setting: account_env_var(ENV_ACCOUNT_WEBHOOK_SECRET, &account.name),
            subscriptions: account.webhooks,
        }
    }

    /// Returns the settings to register for `account`.
    ///
    /// # Errors
    ///
    /// Fails with [`UpstreamError::WebhookNotConfigured`] when the base URL or the secret is
    /// missing, and [`UpstreamError::WebhookUriTooLong`] when the URI exceeds 200 characters.
    pub(crate) fn settings(&self, account: &str) -> Result<WebhookSettings, UpstreamError> {
        let base = self
            .public_base_url
            .as_deref()
            .ok_or_else(base_url_missing)?;
        let secret = self
            .secret
            .as_ref()
            .ok_or_else(|| UpstreamError::WebhookNotConfigured {
                reason: "WEBHOOK_SECRET_NOT_CONFIGURED",
                missing: format!(
                    "the webhook secret of account {account} ({})",
                    self.secret_setting
                ),
            })?;
        let uri =
            webhook_uri(base, account, secret.expose_secret()).ok_or_else(base_url_missing)?;
        let length = uri.chars().count();
        if length > WEBHOOK_URI_MAX_CHARS {
            return Err(UpstreamError::WebhookUriTooLong {
                length,
                limit: WEBHOOK_URI_MAX_CHARS,
            });
        }
        let subscriptions = self.subscriptions;
        Ok(WebhookSettings {
            uri,
            messages_and_statuses: subscriptions.messages_and_statuses,
            contacts_and_deals_creation: subscriptions.contacts_and_deals_creation,
            channels_updates: subscriptions.channels_updates,
            template_status: subscriptions.template_status,
            events: Vec::new(),
        })
    }

    /// Returns `settings` with the account's secret replaced wherever it is a whole path segment
    /// or query value of the URI.
    pub(crate) fn redact(&self, mut settings: WebhookSettings) -> WebhookSettings {
        let Some(secret) = &self.secret else {
            return settings;
        };
        let encoded = encoded_segment(secret.expose_secret());
        if encoded.is_empty() {
            return settings;
        }
        settings.uri = settings
            .uri
            .split('/')
            .map(|segment| redact_segment(segment, &encoded))
            .collect::<Vec<_>>()
            .join("/");
        settings
    }
}

/// The error for a missing or unusable public base URL.
fn base_url_missing() -> UpstreamError {
    UpstreamError::WebhookNotConfigured {
        reason: "WEBHOOK_BASE_URL_NOT_CONFIGURED",
        missing: format!("server.public_webhook_base_url (or {ENV_PUBLIC_WEBHOOK_BASE_URL})"),
    }
}

/// Returns a value percent-encoded as one path segment.
fn encoded_segment(value: &str) -> String {
    let mut url = Url::parse("http://x/").expect("a constant URL parses");
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.clear().push(value);
    }
    url.path().trim_start_matches('/').to_owned()
}

/// Replaces a segment equal to the secret, and query values equal to it.
fn redact_segment(segment: &str, encoded_secret: &str) -> String {
    if segment == encoded_secret {
        return REDACTED_SECRET.to_owned();
    }
    let Some((path, query)) = segment.split_once('?') else {
        return segment.to_owned();
    };
    let path = if path == encoded_secret {
        REDACTED_SECRET
    } else {
        path
    };
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) if value == encoded_secret => format!("{key}={REDACTED_SECRET}"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{path}?{}", query.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration(base: Option<&str>, secret: Option<&str>) -> WebhookRegistration {
        WebhookRegistration {
            public_base_url: base.map(str::to_owned),
            secret: secret.map(SecretString::from),
            secret_setting: "WGW_ACCOUNT_MAIN_WEBHOOK_SECRET".to_owned(),
            subscriptions: WebhookSubscriptions::default(),
        }
    }

    #[test]
    fn the_uri_is_base_account_and_encoded_secret_with_configured_subscriptions() {
        let settings = registration(Some("https://gw.example.com/hooks"), Some("s3cr/et"))
            .settings("main")
            .expect("settings");

        assert_eq!(
            settings.uri,
            "https://gw.example.com/hooks/webhooks/main/s3cr%2Fet"
        );
        assert!(settings.messages_and_statuses && settings.channels_updates);
        assert!(settings.template_status && !settings.contacts_and_deals_creation);
    }

    #[test]
    fn missing_pieces_and_long_uris_are_failed_preconditions() {
        let reasons = [
            registration(None, Some("secret")).settings("main"),
            registration(Some("https://gw.example.com"), None).settings("main"),
            registration(Some("https://gw.example.com"), Some(&"s".repeat(200))).settings("main"),
        ]
        .map(|outcome| outcome.expect_err("refused").reason().to_owned());

        assert_eq!(
            reasons,
            [
                "WEBHOOK_BASE_URL_NOT_CONFIGURED",
                "WEBHOOK_SECRET_NOT_CONFIGURED",
                "WEBHOOK_URI_TOO_LONG"
            ]
        );
    }

    #[test]
    fn the_secret_is_redacted_as_a_segment_or_query_value_only() {
        let registration = registration(Some("https://gw.example.com"), Some("abc"));
        let redact = |uri: &str| {
            registration
                .redact(WebhookSettings {
                    uri: uri.to_owned(),
                    ..WebhookSettings::default()
                })
                .uri
        };

        assert_eq!(
            redact("https://gw.example.com/webhooks/main/abc"),
            "https://gw.example.com/webhooks/main/[redacted]"
        );
        assert_eq!(
            redact("https://x.example/hook?k=abc&z=1"),
            "https://x.example/hook?k=[redacted]&z=1"
        );
        assert_eq!(
            redact("https://abc.example/abcd"),
            "https://abc.example/abcd"
        );
    }
}
