//! An account's upstream webhook subscription.

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
