//! Per-account settings of the upstream HTTP stack beyond the plain limits: the retry policy, the
//! channel cache, and which upstream webhooks `RegisterWebhooks` subscribes to.

use std::time::Duration;

use serde::Deserialize;

use super::{
    ConfigError,
    doc::{SettingDoc, file_only},
    value::{self, DurationText, ValueKind},
};

/// Default for `accounts[].retry.max_attempts`.
pub(crate) const DEFAULT_RETRY_MAX_ATTEMPTS: u32 = 3;
/// Default for `accounts[].retry.base_delay`.
pub(crate) const DEFAULT_RETRY_BASE_DELAY: Duration = Duration::from_millis(250);
/// Default for `accounts[].retry.max_delay`.
pub(crate) const DEFAULT_RETRY_MAX_DELAY: Duration = Duration::from_secs(2);
/// Default for `accounts[].retry.rate_limit_fallback`: the v3 rate window (wazzup-api.md §1.2),
/// used when a 429 carries no `Retry-After`.
pub(crate) const DEFAULT_RETRY_RATE_LIMIT_FALLBACK: Duration = Duration::from_secs(5);
/// Default for `accounts[].retry.max_retry_after`.
pub(crate) const DEFAULT_RETRY_MAX_RETRY_AFTER: Duration = Duration::from_secs(10);
/// Default for `accounts[].retry.total_budget`.
pub(crate) const DEFAULT_RETRY_TOTAL_BUDGET: Duration = Duration::from_secs(40);
/// Longest allowed `accounts[].retry.total_budget`: every attempt of a keyed send must start well
/// inside the upstream's 60 s `crmMessageId` dedupe window (wazzup-api.md §3.3).
pub(crate) const MAX_RETRY_TOTAL_BUDGET: Duration = Duration::from_secs(50);
/// Default for `accounts[].channel_cache_ttl`.
pub(crate) const DEFAULT_CHANNEL_CACHE_TTL: Duration = Duration::from_secs(30);

/// How the upstream HTTP stack retries failed attempts of one operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetrySettings {
    /// Attempts of one operation at most, the first included (≥ 1).
    pub max_attempts: u32,
    /// Backoff before the first retry; doubled for each further retry, then jittered.
    pub base_delay: Duration,
    /// Largest backoff between two attempts (before jitter).
    pub max_delay: Duration,
    /// Wait after a 429 that carries no `Retry-After`.
    pub rate_limit_fallback: Duration,
    /// Longest `Retry-After` the gateway waits out itself; a longer one is passed to the caller.
    pub max_retry_after: Duration,
    /// Time from the first attempt within which every attempt must start (≤ 50 s).
    pub total_budget: Duration,
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            max_attempts: DEFAULT_RETRY_MAX_ATTEMPTS,
            base_delay: DEFAULT_RETRY_BASE_DELAY,
            max_delay: DEFAULT_RETRY_MAX_DELAY,
            rate_limit_fallback: DEFAULT_RETRY_RATE_LIMIT_FALLBACK,
            max_retry_after: DEFAULT_RETRY_MAX_RETRY_AFTER,
            total_budget: DEFAULT_RETRY_TOTAL_BUDGET,
        }
    }
}

impl RetrySettings {
    /// Returns millisecond delays for tests on 127.0.0.1: three attempts, 1–5 ms backoff, a 5 ms
    /// rate-limit fallback, and at most 50 ms of `Retry-After` waited out.
    pub fn for_test() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(5),
            rate_limit_fallback: Duration::from_millis(5),
            max_retry_after: Duration::from_millis(50),
            total_budget: Duration::from_secs(10),
        }
    }

    /// Resolves `[accounts.retry]`; `prefix` is e.g. `accounts[0]`.
    pub(super) fn resolve(file: &FileRetry, prefix: &str) -> Result<Self, ConfigError> {
        let key = |name: &str| format!("{prefix}.retry.{name}");
        let duration = |raw: &Option<DurationText>, default: Duration, name: &str| match raw {
            Some(raw) => value::DURATION.parse_at(raw, &key(name)),
            None => Ok(default),
        };
        let total_budget = match &file.total_budget {
            Some(raw) => TOTAL_BUDGET.parse_at(raw, &key("total_budget"))?,
            None => DEFAULT_RETRY_TOTAL_BUDGET,
        };
        Ok(Self {
            max_attempts: value::positive(
                file.max_attempts,
                DEFAULT_RETRY_MAX_ATTEMPTS,
                &key("max_attempts"),
            )?,
            base_delay: duration(&file.base_delay, DEFAULT_RETRY_BASE_DELAY, "base_delay")?,
            max_delay: duration(&file.max_delay, DEFAULT_RETRY_MAX_DELAY, "max_delay")?,
            rate_limit_fallback: duration(
                &file.rate_limit_fallback,
                DEFAULT_RETRY_RATE_LIMIT_FALLBACK,
                "rate_limit_fallback",
            )?,
            max_retry_after: duration(
                &file.max_retry_after,
                DEFAULT_RETRY_MAX_RETRY_AFTER,
                "max_retry_after",
            )?,
            total_budget,
        })
    }
}

/// A positive duration no longer than [`MAX_RETRY_TOTAL_BUDGET`].
const TOTAL_BUDGET: ValueKind<Duration> = ValueKind::new(
    |raw| {
        humantime::parse_duration(raw)
            .ok()
            .filter(|budget| !budget.is_zero() && *budget <= MAX_RETRY_TOTAL_BUDGET)
    },
    "a duration greater than zero and at most 50s (the upstream dedupes sends for 60s)",
);

/// Which upstream webhooks `RegisterWebhooks` subscribes the account to (v3 `subscriptions`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WebhookSubscriptions {
    /// `messages` and `statuses` webhooks.
    pub messages_and_statuses: bool,
    /// `createContact` / `createDeal` requests; off unless a client answers them.
    pub contacts_and_deals_creation: bool,
    /// `channelsUpdates` webhooks.
    pub channels_updates: bool,
    /// `templateStatus` (WABA moderation) webhooks.
    pub template_status: bool,
}

impl Default for WebhookSubscriptions {
    fn default() -> Self {
        Self {
            messages_and_statuses: true,
            contacts_and_deals_creation: false,
            channels_updates: true,
            template_status: true,
        }
    }
}

impl WebhookSubscriptions {
    /// Resolves `[accounts.webhooks]` (file only).
    pub(super) fn resolve(file: &FileWebhooks) -> Self {
        let defaults = Self::default();
        Self {
            messages_and_statuses: file
                .messages_and_statuses
                .unwrap_or(defaults.messages_and_statuses),
            contacts_and_deals_creation: file
                .contacts_and_deals_creation
                .unwrap_or(defaults.contacts_and_deals_creation),
            channels_updates: file.channels_updates.unwrap_or(defaults.channels_updates),
            template_status: file.template_status.unwrap_or(defaults.template_status),
        }
    }
}

/// `[accounts.retry]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileRetry {
    pub(super) max_attempts: Option<u32>,
    pub(super) base_delay: Option<DurationText>,
    pub(super) max_delay: Option<DurationText>,
    pub(super) rate_limit_fallback: Option<DurationText>,
    pub(super) max_retry_after: Option<DurationText>,
    pub(super) total_budget: Option<DurationText>,
}

/// `[accounts.webhooks]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileWebhooks {
    pub(super) messages_and_statuses: Option<bool>,
    pub(super) contacts_and_deals_creation: Option<bool>,
    pub(super) channels_updates: Option<bool>,
    pub(super) template_status: Option<bool>,
}

/// The settings of this file, for [`SETTINGS`](super::SETTINGS).
pub(super) const TUNING_SETTINGS: [SettingDoc; 11] = [
    file_only(
        "accounts[].channel_cache_ttl",
        "30s",
        "How long the account's channel list is reused to validate sends before it is fetched again.",
    ),
    file_only(
        "accounts[].retry.max_attempts",
        "3",
        "Upstream attempts of one operation at most, the first included (> 0).",
    ),
    file_only(
        "accounts[].retry.base_delay",
        "250ms",
        "Backoff before the first retry; doubled per retry, plus up to 25% jitter.",
    ),
    file_only(
        "accounts[].retry.max_delay",
        "2s",
        "Largest backoff between two attempts, before jitter.",
    ),
    file_only(
        "accounts[].retry.rate_limit_fallback",
        "5s",
        "Wait after an upstream 429 without Retry-After.",
    ),
    file_only(
        "accounts[].retry.max_retry_after",
        "10s",
        "Longest Retry-After waited out in the gateway; longer ones go to the caller as RetryInfo.",
    ),
    file_only(
        "accounts[].retry.total_budget",
        "40s",
        "Every attempt starts within this time of the first (at most 50s: sends dedupe for 60s).",
    ),
    file_only(
        "accounts[].webhooks.messages_and_statuses",
        "true",
        "RegisterWebhooks subscribes to messages and statuses webhooks.",
    ),
    file_only(
        "accounts[].webhooks.channels_updates",
        "true",
        "RegisterWebhooks subscribes to channelsUpdates webhooks.",
    ),
    file_only(
        "accounts[].webhooks.template_status",
        "true",
        "RegisterWebhooks subscribes to templateStatus (WABA moderation) webhooks.",
    ),
    file_only(
        "accounts[].webhooks.contacts_and_deals_creation",
        "false",
        "RegisterWebhooks subscribes to createContact/createDeal requests (answer them via EventService.Respond).",
    ),
];

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::config::Config;

    const ACCOUNT: &str = "[[accounts]]\nname = \"main\"\ndialect = \"wazzup_v3\"\n";

    fn env() -> HashMap<String, String> {
        HashMap::from([("WGW_ACCOUNT_MAIN_API_KEY".to_owned(), "k".to_owned())])
    }

    fn documented_default(file_key: &str) -> &'static str {
        TUNING_SETTINGS
            .iter()
            .find(|setting| setting.file_key == file_key)
            .map(|setting| setting.default)
            .unwrap_or_default()
    }

    #[test]
    fn documented_defaults_match_the_typed_defaults() {
        let retry = RetrySettings::default();
        let duration = |key: &str| humantime::parse_duration(documented_default(key)).ok();
        assert_eq!(
            documented_default("accounts[].retry.max_attempts"),
            retry.max_attempts.to_string()
        );
        assert_eq!(
            duration("accounts[].retry.base_delay"),
            Some(retry.base_delay)
        );
        assert_eq!(
            duration("accounts[].retry.max_delay"),
            Some(retry.max_delay)
        );
        assert_eq!(
            duration("accounts[].retry.rate_limit_fallback"),
            Some(retry.rate_limit_fallback)
        );
        assert_eq!(
            duration("accounts[].retry.max_retry_after"),
            Some(retry.max_retry_after)
        );
        assert_eq!(
            duration("accounts[].retry.total_budget"),
            Some(retry.total_budget)
        );
        assert_eq!(
            duration("accounts[].channel_cache_ttl"),
            Some(DEFAULT_CHANNEL_CACHE_TTL)
        );
        let webhooks = WebhookSubscriptions::default();
        for (key, value) in [
            (
                "accounts[].webhooks.messages_and_statuses",
                webhooks.messages_and_statuses,
            ),
            (
                "accounts[].webhooks.channels_updates",
                webhooks.channels_updates,
            ),
            (
                "accounts[].webhooks.template_status",
                webhooks.template_status,
            ),
            (
                "accounts[].webhooks.contacts_and_deals_creation",
                webhooks.contacts_and_deals_creation,
            ),
        ] {
            assert_eq!(documented_default(key), value.to_string(), "{key}");
        }
    }

    #[test]
    fn retry_cache_and_webhook_tables_are_read_per_account() {
        let text = format!(
            "{ACCOUNT}channel_cache_ttl = \"5s\"\n[accounts.retry]\nmax_attempts = 5\n\
             base_delay = \"1ms\"\ntotal_budget = \"20s\"\n[accounts.webhooks]\n\
             template_status = false\ncontacts_and_deals_creation = true\n"
        );

        let config = Config::from_toml_str(&text, &env()).expect("config");

        let account = &config.accounts[0];
        assert_eq!(account.channel_cache_ttl, Duration::from_secs(5));
        assert_eq!(account.retry.max_attempts, 5);
        assert_eq!(account.retry.base_delay, Duration::from_millis(1));
        assert_eq!(account.retry.max_delay, DEFAULT_RETRY_MAX_DELAY);
        assert_eq!(account.retry.total_budget, Duration::from_secs(20));
        assert!(!account.webhooks.template_status && account.webhooks.contacts_and_deals_creation);
        assert!(account.webhooks.messages_and_statuses && account.webhooks.channels_updates);
    }

    #[test]
    fn a_retry_budget_past_the_dedupe_window_or_zero_attempts_is_refused() {
        for (table, key) in [
            ("total_budget = \"55s\"", "accounts[0].retry.total_budget"),
            ("max_attempts = 0", "accounts[0].retry.max_attempts"),
        ] {
            let text = format!("{ACCOUNT}[accounts.retry]\n{table}\n");
            let error = Config::from_toml_str(&text, &env()).expect_err("refused");
            assert!(error.to_string().contains(key), "{error}");
        }
    }
}
