//! The Wazzup partner (tech) API v2 webhook dialect (wazzup-api.md §16.5, §16.6): an envelope
//! `{event, data, meta{idempotency_key, timestamp}}` whose `data` is an array of items (an object
//! is accepted as one item), split into one event per item.
//!
//! | event | type |
//! |---|---|
//! | `message.add` | `MESSAGE_RECEIVED` (`MESSAGE_ECHO` when `direction` is `outbound`) |
//! | `message.edit` / `message.delete` | `MESSAGE_EDITED` / `MESSAGE_DELETED` |
//! | `message.status_update` | `MESSAGE_STATUS`, with `request_id` and the real `message_id` |
//! | `waba_template.status_update` | `TEMPLATE_STATUS` |
//! | `channel.status_update`, `.create`, `.delete`, `.qr_update`, `.waba_tier_update` | `CHANNEL_UPDATED` |
//! | `group_chat.memberships_update` / `group_chat.update` | `GROUP_CHAT_UPDATED` |
//! | `crm_entities.contact_add` / `crm_entities.deal_add` | `CONTACT_REQUESTED` / `DEAL_REQUESTED` |
//! | `messages_dump.status_update` | `EXPORT_READY` |
//! | anything else | `UNKNOWN`, the event name as its kind |
//!
//! Ids: `{tag}:{account}:{idempotency_key}:{item index}`, so a redelivery (same key) is stored
//! once; without a key, `{tag}:{account}:{event}:h{hash of the item}`.
//!
//! `Event.raw` of a v2 event is the envelope narrowed to its item, `{event, data: item, meta}`:
//! the item alone would lose the event name, which tells e.g. a channel creation from a deletion.
//! Only `message.add` and `channel.status_update` items were observed [S]; the other item shapes
//! are not documented [U], so their fields are read tolerantly under the likely names and the item
//! is always kept whole in `raw`.

mod wire;

use serde_json::{Map, Value};

use crate::events::decode::{
    Batch, TopLevel, UnknownReason, WebhookDecoder, WebhookKind, stable_hash,
};
use crate::events::payload::{
    CrmEntityKind, CrmRequestPayload, EventPayload, GroupChatChange, GroupChatPayload,
    UnknownPayload,
};
use crate::events::{EventType, NewEvent};

use crate::model::lenient::{text, time_ms};

/// The v2 event names the gateway decodes, with their event types.
const EVENTS: &[(&str, EventType)] = &[
    ("message.add", EventType::MessageReceived),
    ("message.edit", EventType::MessageEdited),
    ("message.delete", EventType::MessageDeleted),
    ("message.status_update", EventType::MessageStatus),
    ("waba_template.status_update", EventType::TemplateStatus),
    ("channel.status_update", EventType::ChannelUpdated),
    ("channel.create", EventType::ChannelUpdated),
    ("channel.delete", EventType::ChannelUpdated),
    ("channel.qr_update", EventType::ChannelUpdated),
    ("channel.waba_tier_update", EventType::ChannelUpdated),
    ("group_chat.memberships_update", EventType::GroupChatUpdated),
    ("group_chat.update", EventType::GroupChatUpdated),
    ("crm_entities.contact_add", EventType::ContactRequested),
    ("crm_entities.deal_add", EventType::DealRequested),
    ("messages_dump.status_update", EventType::ExportReady),
];

/// Returns the known event name (as a static string, the metrics label) and its type.
fn known_event(name: &str) -> Option<(&'static str, EventType)> {
    EVENTS.iter().copied().find(|(known, _)| *known == name)
}

/// The tech v2 [`WebhookDecoder`].
#[derive(Debug)]
pub(crate) struct WazzupTechWebhooks;

impl WebhookDecoder for WazzupTechWebhooks {
    fn id_tag(&self) -> &'static str {
        "wazzup_tech"
    }

    fn split(&self, batch: &mut Batch<'_>, body: TopLevel) {
        split(batch, body);
    }

    fn payload(&self, event: &NewEvent) -> EventPayload {
        payload(event)
    }
}

/// Tells whether a top-level object is a v2 envelope: a string `event` and a `data`.
pub(crate) fn is_envelope(entries: &[(String, Value)]) -> bool {
    let has = |key: &str, test: fn(&Value) -> bool| {
        entries
            .iter()
            .any(|(name, value)| name == key && test(value))
    };
    has("event", Value::is_string) && has("data", |_| true)
}

/// Splits a parsed v2 body into events, in item order.
pub(crate) fn split(batch: &mut Batch<'_>, body: TopLevel) {
    let entries = match body {
        TopLevel::Object(entries) => entries,
        TopLevel::Other(value) => {
            batch.push_unknown(value, WebhookKind::Unknown);
            return;
        }
    };
    if !is_envelope(&entries) {
        batch.push_unknown(TopLevel::Object(entries).into_value(), WebhookKind::Unknown);
        return;
    }
    let mut envelope: Map<String, Value> = entries.into_iter().collect();
    let name = envelope
        .get("event")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let meta = envelope.remove("meta").unwrap_or(Value::Null);
    let items = match envelope.remove("data") {
        Some(Value::Array(items)) => items,
        Some(single) => vec![single],
        None => Vec::new(),
    };
    let known = known_event(&name);
    let kind = known.map_or(WebhookKind::Unknown, |(label, _)| WebhookKind::Known(label));
    batch.note_kind(kind);
    let key = meta
        .get("idempotency_key")
        .and_then(text)
        .filter(|key| !key.is_empty());
    let meta_time = meta.get("timestamp").and_then(time_ms);
    for (index, item) in items.into_iter().enumerate() {
        let event_type = match known {
            Some(_) if !item.is_object() => EventType::Unknown,
            Some((_, event_type)) => refine(event_type, &item),
            None => EventType::Unknown,
        };
        let id_suffix = match &key {
            Some(key) => format!("{key}:{index}"),
            None => format!("{name}:h{}", stable_hash(&item)),
        };
        let channel_id = item.get("channel_id").and_then(text);
        let occurred_at_ms = item.get("timestamp").and_then(time_ms).or(meta_time);
        let raw = serde_json::json!({ "event": name, "data": item, "meta": meta });
        batch.push(event_type, id_suffix, channel_id, occurred_at_ms, raw);
    }
}

/// An outbound `message.add` is an operator's message sent outside the API: an echo.
fn refine(event_type: EventType, item: &Value) -> EventType {
    let outbound = item
        .get("direction")
        .and_then(Value::as_str)
        .is_some_and(|direction| direction.eq_ignore_ascii_case("outbound"));
    if event_type == EventType::MessageReceived && outbound {
        EventType::MessageEcho
    } else {
        event_type
    }
}

/// Decodes the typed payload of a stored v2 event from its raw `{event, data, meta}`.
pub(crate) fn payload(event: &NewEvent) -> EventPayload {
    let name = event
        .raw
        .get("event")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let item = event.raw.get("data").unwrap_or(&Value::Null);
    if event.event_type == EventType::Unknown || !item.is_object() {
        let reason = if known_event(name).is_some() {
            UnknownReason::ItemNotAnObject
        } else if event.raw.get("event").is_some() {
            UnknownReason::UnknownKind
        } else {
            UnknownReason::NotAnObject
        };
        return EventPayload::Unknown(reason.payload(name.to_owned()));
    }
    match event.event_type {
        EventType::MessageReceived
        | EventType::MessageEcho
        | EventType::MessageEdited
        | EventType::MessageDeleted => {
            EventPayload::Message(Box::new(wire::message(item, event.event_type)))
        }
        EventType::MessageStatus => EventPayload::Status(wire::status(item)),
        EventType::ChannelUpdated => EventPayload::Channel(wire::channel(name, item)),
        EventType::TemplateStatus => EventPayload::TemplateStatus(wire::template(item)),
        EventType::ContactRequested => crm_request(CrmEntityKind::Contact, item),
        EventType::DealRequested => crm_request(CrmEntityKind::Deal, item),
        EventType::ExportReady => EventPayload::Export(wire::export(item)),
        EventType::GroupChatUpdated => EventPayload::GroupChat(GroupChatPayload {
            channel_id: item.get("channel_id").and_then(text).unwrap_or_default(),
            chat_id: item
                .get("chat_id")
                .or_else(|| item.get("group_id"))
                .and_then(text)
                .unwrap_or_default(),
            change: if name == "group_chat.memberships_update" {
                GroupChatChange::Memberships
            } else {
                GroupChatChange::Info
            },
            data: item.clone(),
        }),
        EventType::Unknown => EventPayload::Unknown(UnknownPayload {
            reason: "unknown webhook kind".to_owned(),
            kind: name.to_owned(),
        }),
    }
}

/// A CRM entity request carries the item as its body.
fn crm_request(kind: CrmEntityKind, item: &Value) -> EventPayload {
    EventPayload::CrmRequest(CrmRequestPayload {
        kind,
        body: item.clone(),
    })
}

#[cfg(test)]
mod tests;
