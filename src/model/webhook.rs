//! An account's upstream webhook subscription, and the gateway's own webhook URL the upstreams
//! deliver to.

use url::Url;

/// Where the upstream delivers webhooks and which kinds it sends.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebhookSettings {
    /// Receiver URL; empty when none is registered.
    pub uri: String,
    /// v3: `messages` and `statuses` webhooks.
    pub messages_and_statuses: bool,
    /// v3: `createContact` / `createDeal` requests.
    pub contacts_and_deals_creation: bool,
    /// v3: `channelsUpdates` webhooks.
    pub channels_updates: bool,
    /// v3: `templateStatus` (WABA moderation) webhooks.
    pub template_status: bool,
    /// Tech v2: subscribed event names.
    pub events: Vec<String>,
}

/// Returns the gateway's webhook URL of `account`: `{base}/webhooks/{account}/{secret}`, each
/// segment percent-encoded (the ingress route that authenticates by the URL secret). `None` when
/// `base` is not a URL that can carry a path.
pub(crate) fn webhook_uri(base: &str, account: &str, secret: &str) -> Option<String> {
    let mut url = Url::parse(base).ok()?;
    url.path_segments_mut()
        .ok()?
        .pop_if_empty()
        .extend(["webhooks", account, secret]);
    Some(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_webhook_uri_appends_encoded_segments_to_the_base_path() {
        assert_eq!(
            webhook_uri("https://gw.example.com/base/", "main", "s e/c").as_deref(),
            Some("https://gw.example.com/base/webhooks/main/s%20e%2Fc")
        );
        assert_eq!(webhook_uri("not a url", "main", "s"), None);
    }
}
