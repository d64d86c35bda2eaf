//! Webhook settings.

use crate::model::WebhookSettings;
use crate::proto::pb;

impl From<pb::WebhookSettings> for WebhookSettings {
    fn from(settings: pb::WebhookSettings) -> Self {
        Self {
            uri: settings.uri,
            messages_and_statuses: settings.messages_and_statuses,
            contacts_and_deals_creation: settings.contacts_and_deals_creation,
            channels_updates: settings.channels_updates,
            template_status: settings.template_status,
            events: settings.events,
        }
    }
}

impl From<WebhookSettings> for pb::WebhookSettings {
    fn from(settings: WebhookSettings) -> Self {
        Self {
            uri: settings.uri,
            messages_and_statuses: settings.messages_and_statuses,
            contacts_and_deals_creation: settings.contacts_and_deals_creation,
            channels_updates: settings.channels_updates,
            template_status: settings.template_status,
            events: settings.events,
        }
    }
}
