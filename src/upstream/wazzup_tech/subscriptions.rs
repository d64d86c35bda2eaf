//! Tech v2 webhook subscriptions are per event name (wazzup-api.md §16.4, §16.5); the gateway's
//! four v3-style switches (`[accounts.webhooks]`, used by `RegisterWebhooks`) stand for groups of
//! them.

use crate::model::WebhookSettings;

/// Events of the `messages_and_statuses` switch (message events and the export completion).
const MESSAGES_AND_STATUSES: &[&str] = &[
    "message.add",
    "message.status_update",
    "message.edit",
    "message.delete",
    "group_chat.memberships_update",
    "group_chat.update",
    "messages_dump.status_update",
];
/// Events of the `contacts_and_deals_creation` switch.
const CONTACTS_AND_DEALS_CREATION: &[&str] = &["crm_entities.contact_add", "crm_entities.deal_add"];
/// Events of the `channels_updates` switch.
const CHANNELS_UPDATES: &[&str] = &[
    "channel.status_update",
    "channel.create",
    "channel.delete",
    "channel.qr_update",
    "channel.waba_tier_update",
];
/// Events of the `template_status` switch.
const TEMPLATE_STATUS: &[&str] = &["waba_template.status_update"];

/// Returns the event names to subscribe to: the explicit `events` when given, else those of the
/// switches that are on, in documentation order, without duplicates.
pub(crate) fn wanted_events(settings: &WebhookSettings) -> Vec<String> {
    let mut events: Vec<String> = if settings.events.is_empty() {
        [
            (settings.messages_and_statuses, MESSAGES_AND_STATUSES),
            (
                settings.contacts_and_deals_creation,
                CONTACTS_AND_DEALS_CREATION,
            ),
            (settings.channels_updates, CHANNELS_UPDATES),
            (settings.template_status, TEMPLATE_STATUS),
        ]
        .into_iter()
        .filter(|(on, _)| *on)
        .flat_map(|(_, events)| events.iter().map(|event| (*event).to_owned()))
        .collect()
    } else {
        settings
            .events
            .iter()
            .map(|event| event.trim().to_owned())
            .collect()
    };
    let mut seen = std::collections::HashSet::new();
    events.retain(|event| seen.insert(event.clone()));
    events
}

/// Returns the settings in effect for `uri` and `events`: a switch is on when all of its events
/// are subscribed.
pub(crate) fn settings_of(uri: String, events: Vec<String>) -> WebhookSettings {
    let all = |group: &[&str]| group.iter().all(|event| events.iter().any(|e| e == event));
    WebhookSettings {
        uri,
        messages_and_statuses: all(MESSAGES_AND_STATUSES),
        contacts_and_deals_creation: all(CONTACTS_AND_DEALS_CREATION),
        channels_updates: all(CHANNELS_UPDATES),
        template_status: all(TEMPLATE_STATUS),
        events,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_stand_for_their_event_groups_and_back() {
        let settings = WebhookSettings {
            uri: "https://gw.example.com/webhooks/tech/s".to_owned(),
            channels_updates: true,
            template_status: true,
            ..WebhookSettings::default()
        };
        let events = wanted_events(&settings);
        assert_eq!(
            events,
            [
                "channel.status_update",
                "channel.create",
                "channel.delete",
                "channel.qr_update",
                "channel.waba_tier_update",
                "waba_template.status_update"
            ]
        );
        let back = settings_of(settings.uri.clone(), events);
        assert!(back.channels_updates && back.template_status);
        assert!(!back.messages_and_statuses && !back.contacts_and_deals_creation);
    }

    #[test]
    fn explicit_events_win_and_are_deduplicated() {
        let settings = WebhookSettings {
            messages_and_statuses: true,
            events: vec![
                "message.add".to_owned(),
                " message.add ".to_owned(),
                "future.event".to_owned(),
            ],
            ..WebhookSettings::default()
        };
        assert_eq!(wanted_events(&settings), ["message.add", "future.event"]);
    }
}
