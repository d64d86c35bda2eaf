//! The Wazzup API v3 webhook dialect (wazzup-api.md §5, §6): a body whose top-level keys name the
//! kinds it carries (`messages`, `statuses`, `channelsUpdates`, `templateStatus`, `createContact`,
//! `createDeal`, `test`), split into one event per item.
//!
//! Order: the keys are taken in the order they appear in the body and the items of each key in
//! array order, so `{"messages": [m1, m2], "statuses": [s1]}` gives m1, m2, s1.
//!
//! Ids are stable (a redelivered webhook gives the same ids, so the log stores it once), prefixed
//! with the dialect tag and the account:
//!
//! | kind | id |
//! |---|---|
//! | incoming message | `{tag}:{account}:message:{messageId}:{status}` |
//! | echo | `{tag}:{account}:echo:{messageId}:{status}` |
//! | edit | `{tag}:{account}:edited:{messageId}:{hash of text and contentUri}` |
//! | deletion | `{tag}:{account}:deleted:{messageId}` |
//! | status | `{tag}:{account}:status:{messageId}:{status}` (`edited` adds `:{timestamp}`) |
//! | channel | `{tag}:{account}:channel:{channelId}:{state}:{tier}:{timestamp}` |
//! | template | `{tag}:{account}:template:{templateGuid}:{status}` |
//! | CRM request | `{tag}:{account}:contact:{hash of the item}` (`deal:` for deals) |
//! | unknown | `{tag}:{account}:unknown:{hash of the raw JSON}` |
//!
//! Statuses are lower-cased. An item missing the field its id is built from is identified by the
//! hash of its JSON instead (`…:h{hash}`).

mod wire;

use serde_json::{Map, Value};

use crate::events::decode::{
    Batch, TopLevel, UnknownReason, WebhookDecoder, WebhookKind, stable_hash,
};
use crate::events::payload::{
    ChannelPayload, CrmEntityKind, CrmRequestPayload, EventPayload, MessagePayload, StatusPayload,
    TemplateStatusPayload, UnknownPayload,
};
use crate::events::{EventType, NewEvent};

use self::wire::{WireChannelUpdate, WireMessage, WireStatus, WireTemplateStatus};

/// The top-level keys of a v3 body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Messages,
    Statuses,
    ChannelsUpdates,
    TemplateStatus,
    CreateContact,
    CreateDeal,
    Test,
}

impl Kind {
    /// Every kind, for parsing.
    const ALL: [Self; 7] = [
        Self::Messages,
        Self::Statuses,
        Self::ChannelsUpdates,
        Self::TemplateStatus,
        Self::CreateContact,
        Self::CreateDeal,
        Self::Test,
    ];

    /// Returns the kind a top-level key names.
    fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.key() == key)
    }

    /// Returns the top-level key, also the metrics label of the kind.
    fn key(self) -> &'static str {
        match self {
            Self::Messages => "messages",
            Self::Statuses => "statuses",
            Self::ChannelsUpdates => "channelsUpdates",
            Self::TemplateStatus => "templateStatus",
            Self::CreateContact => "createContact",
            Self::CreateDeal => "createDeal",
            Self::Test => "test",
        }
    }
}

/// The v3 [`WebhookDecoder`].
#[derive(Debug)]
pub(crate) struct WazzupV3Webhooks;

impl WebhookDecoder for WazzupV3Webhooks {
    fn id_tag(&self) -> &'static str {
        "v3"
    }

    fn split(&self, batch: &mut Batch<'_>, body: TopLevel) {
        split(batch, body);
    }

    fn payload(&self, event: &NewEvent) -> EventPayload {
        payload(event)
    }
}

/// Splits a parsed v3 body into events, in body order.
pub(crate) fn split(batch: &mut Batch<'_>, body: TopLevel) {
    match body {
        TopLevel::Object(entries) => {
            for (key, value) in entries {
                split_entry(batch, key, value);
            }
        }
        TopLevel::Other(value) => batch.push_unknown(value, WebhookKind::Unknown),
    }
}

/// Turns one top-level key into events: one per object item; anything else is kept as unknown.
fn split_entry(batch: &mut Batch<'_>, key: String, value: Value) {
    let Some(kind) = Kind::parse(&key) else {
        batch.push_unknown(keyed(key, value), WebhookKind::Unknown);
        return;
    };
    if kind == Kind::Test {
        batch.note_kind(WebhookKind::Test);
        return;
    }
    batch.note_kind(WebhookKind::Known(kind.key()));
    // Arrays are documented for the list kinds and single objects for the others; both are
    // accepted for every kind, since either could drift.
    let items = match value {
        Value::Array(items) => items,
        single => vec![single],
    };
    for item in items {
        if item.is_object() {
            push_item(batch, kind, item);
        } else {
            batch.push_unknown(keyed(key.clone(), item), WebhookKind::Known(kind.key()));
        }
    }
}

/// Wraps a value under its top-level key, so an unknown event says what kind it came as.
fn keyed(key: String, value: Value) -> Value {
    Value::Object(Map::from_iter([(key, value)]))
}

/// What the ingress takes from one item: its type, id suffix, channel and time.
struct ItemHead {
    event_type: EventType,
    id_suffix: String,
    channel_id: Option<String>,
    occurred_at_ms: Option<i64>,
}

impl ItemHead {
    /// An item with neither channel nor time.
    fn bare(event_type: EventType, id_suffix: String) -> Self {
        Self {
            event_type,
            id_suffix,
            channel_id: None,
            occurred_at_ms: None,
        }
    }
}

/// Turns one object item into an event.
fn push_item(batch: &mut Batch<'_>, kind: Kind, item: Value) {
    let head = match kind {
        Kind::Messages => message_head(wire::read(&item), &item),
        Kind::Statuses => status_head(wire::read(&item), &item),
        Kind::ChannelsUpdates => channel_head(wire::read(&item), &item),
        Kind::TemplateStatus => template_head(&wire::read(&item), &item),
        Kind::CreateContact => ItemHead::bare(
            EventType::ContactRequested,
            format!("contact:{}", stable_hash(&item)),
        ),
        Kind::CreateDeal => ItemHead::bare(
            EventType::DealRequested,
            format!("deal:{}", stable_hash(&item)),
        ),
        Kind::Test => unreachable!("test probes carry no items"),
    };
    batch.push(
        head.event_type,
        head.id_suffix,
        head.channel_id,
        head.occurred_at_ms,
        item,
    );
}

/// Classifies a message item and identifies it. A deletion wins over an edit, which wins over an
/// echo.
fn message_head(message: WireMessage, item: &Value) -> ItemHead {
    let event_type = message_type(&message);
    let id_suffix = match message.message_id.as_deref().filter(|id| !id.is_empty()) {
        None => format!("message:h{}", stable_hash(item)),
        Some(message_id) => {
            let status = lowercase(message.status.as_deref());
            match event_type {
                EventType::MessageDeleted => format!("deleted:{message_id}"),
                EventType::MessageEdited => {
                    let content = serde_json::json!([message.text, message.content_uri]);
                    format!("edited:{message_id}:{}", stable_hash(&content))
                }
                EventType::MessageEcho => format!("echo:{message_id}:{status}"),
                _ => format!("message:{message_id}:{status}"),
            }
        }
    };
    ItemHead {
        event_type,
        id_suffix,
        channel_id: message.channel_id,
        occurred_at_ms: message.date_time,
    }
}

/// Returns the event type of a message item.
fn message_type(message: &WireMessage) -> EventType {
    if message.is_deleted {
        EventType::MessageDeleted
    } else if message.is_edited {
        EventType::MessageEdited
    } else if message.is_echo {
        EventType::MessageEcho
    } else {
        EventType::MessageReceived
    }
}

/// Identifies a status item; repeated `edited` statuses differ by time.
fn status_head(status: WireStatus, item: &Value) -> ItemHead {
    let status_name = lowercase(status.status.as_deref());
    let id_suffix = match (status.message_id.as_deref(), status.timestamp) {
        (None | Some(""), _) => format!("status:h{}", stable_hash(item)),
        (Some(message_id), Some(timestamp)) if status_name == "edited" => {
            format!("status:{message_id}:edited:{timestamp}")
        }
        (Some(message_id), _) => format!("status:{message_id}:{status_name}"),
    };
    ItemHead {
        event_type: EventType::MessageStatus,
        id_suffix,
        channel_id: status.channel_id,
        occurred_at_ms: status.timestamp,
    }
}

/// Identifies a channel update by channel, state, tier and time.
fn channel_head(update: WireChannelUpdate, item: &Value) -> ItemHead {
    let id_suffix = match (update.channel_id.as_deref(), update.timestamp) {
        (Some(channel_id), Some(timestamp)) => {
            let state = lowercase(update.state.as_deref());
            let tier = update.tier.as_deref().unwrap_or_default();
            format!("channel:{channel_id}:{state}:{tier}:{timestamp}")
        }
        _ => format!("channel:h{}", stable_hash(item)),
    };
    ItemHead {
        event_type: EventType::ChannelUpdated,
        id_suffix,
        channel_id: update.channel_id,
        occurred_at_ms: update.timestamp,
    }
}

/// Identifies a template status by template and status.
fn template_head(template: &WireTemplateStatus, item: &Value) -> ItemHead {
    let id_suffix = match template
        .template_guid
        .as_deref()
        .filter(|id| !id.is_empty())
    {
        Some(guid) => format!("template:{guid}:{}", lowercase(template.status.as_deref())),
        None => format!("template:h{}", stable_hash(item)),
    };
    ItemHead::bare(EventType::TemplateStatus, id_suffix)
}

/// Lower-cases an optional upstream string (absent → empty).
fn lowercase(raw: Option<&str>) -> String {
    raw.unwrap_or_default().to_ascii_lowercase()
}

/// Decodes the typed payload of a stored v3 (or sandbox) event from its raw JSON.
pub(crate) fn payload(event: &NewEvent) -> EventPayload {
    let raw = &event.raw;
    if event.event_type != EventType::Unknown && !raw.is_object() {
        return EventPayload::Unknown(UnknownPayload {
            reason: "stored item is not a JSON object".to_owned(),
            kind: String::new(),
        });
    }
    match event.event_type {
        EventType::MessageReceived
        | EventType::MessageEcho
        | EventType::MessageEdited
        | EventType::MessageDeleted => {
            let message = MessagePayload::from(wire::read::<WireMessage>(raw));
            EventPayload::Message(Box::new(message))
        }
        EventType::MessageStatus => {
            EventPayload::Status(StatusPayload::from(wire::read::<WireStatus>(raw)))
        }
        EventType::ChannelUpdated => {
            EventPayload::Channel(ChannelPayload::from(wire::read::<WireChannelUpdate>(raw)))
        }
        EventType::TemplateStatus => {
            EventPayload::TemplateStatus(TemplateStatusPayload::from(wire::read::<
                WireTemplateStatus,
            >(raw)))
        }
        EventType::ContactRequested => crm_request(CrmEntityKind::Contact, raw),
        EventType::DealRequested => crm_request(CrmEntityKind::Deal, raw),
        EventType::ExportReady | EventType::GroupChatUpdated | EventType::Unknown => {
            EventPayload::Unknown(unknown(raw))
        }
    }
}

/// A CRM entity request carries the upstream's object as its body.
fn crm_request(kind: CrmEntityKind, raw: &Value) -> EventPayload {
    EventPayload::CrmRequest(CrmRequestPayload {
        kind,
        body: raw.clone(),
    })
}

/// Explains an unknown event from its raw JSON: an unknown top-level key, an item of a known
/// kind that is not an object, or a body that is not an object at all.
fn unknown(raw: &Value) -> UnknownPayload {
    let Some(object) = raw.as_object() else {
        return UnknownReason::NotAnObject.payload(String::new());
    };
    let mut keys = object.keys();
    match (keys.next(), keys.next()) {
        (Some(key), None) if Kind::parse(key).is_some() => {
            UnknownReason::ItemNotAnObject.payload(key.clone())
        }
        (Some(key), None) => UnknownReason::UnknownKind.payload(key.clone()),
        _ => UnknownReason::UnknownKind.payload(String::new()),
    }
}

#[cfg(test)]
mod tests;
