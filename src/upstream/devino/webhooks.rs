//! Devino's callbacks (whatsapp-notify-api.md §5, §6), delivered to the account's webhook route
//! (the `callbackUrl` of every send, and the URL given to Devino for incoming messages): a body is
//! one object or an array of them, and each object is a status callback (`messageId` + `status`)
//! or an incoming message (`incomingMessageId`). Anything else is kept whole as unknown.
//!
//! Ids are stable, so a redelivered callback is stored once:
//!
//! | kind | id |
//! |---|---|
//! | status | `devino:{account}:status:{messageId}:{status, lower-case}:{ts}` |
//! | incoming message | `devino:{account}:incoming:{incomingMessageId}` |
//! | unknown | `devino:{account}:unknown:{hash of the raw JSON}` |
//!
//! An item missing the field its id is built from is identified by the hash of its JSON instead
//! (`…:h{hash}`). Several fields are unconfirmed in the notes, so every field is read tolerantly
//! and the item's JSON is kept as the event's `raw`.

use serde_json::Value;

use crate::events::decode::{
    Batch, TopLevel, UnknownReason, WebhookDecoder, WebhookKind, stable_hash,
};
use crate::events::payload::{
    Contact, Direction, EventPayload, Location, MessageError, MessagePayload, MessageStatus,
    MessageType, StatusPayload, UnknownPayload,
};
use crate::events::{EventType, NewEvent};
use crate::model::lenient::{self, time_ms};
use crate::model::{ChatType, Dialect};

use super::channels::Sender;
use super::reasons::status_error;

/// Metrics kind of a status callback.
const KIND_STATUS: &str = "status";
/// Metrics kind of an incoming message.
const KIND_INCOMING: &str = "incoming";

/// The Devino [`WebhookDecoder`].
#[derive(Debug)]
pub(super) struct DevinoWebhooks;

impl WebhookDecoder for DevinoWebhooks {
    fn id_tag(&self) -> &'static str {
        Dialect::Devino.as_str()
    }

    fn split(&self, batch: &mut Batch<'_>, body: TopLevel) {
        match body.into_value() {
            Value::Array(items) => {
                for item in items {
                    push_item(batch, item);
                }
            }
            item @ Value::Object(_) => push_item(batch, item),
            other => batch.push_unknown(other, WebhookKind::Unknown),
        }
    }

    fn payload(&self, event: &NewEvent) -> EventPayload {
        let raw = &event.raw;
        match event.event_type {
            EventType::MessageStatus if raw.is_object() => EventPayload::Status(status(raw)),
            EventType::MessageReceived if raw.is_object() => {
                EventPayload::Message(Box::new(incoming(raw)))
            }
            _ => EventPayload::Unknown(unknown(raw)),
        }
    }
}

/// Turns one item into an event: a status, an incoming message, or an unknown item.
fn push_item(batch: &mut Batch<'_>, item: Value) {
    if item.get("incomingMessageId").is_some() {
        batch.note_kind(WebhookKind::Known(KIND_INCOMING));
        let id_suffix = match field(&item, "incomingMessageId") {
            id if id.is_empty() => format!("incoming:h{}", stable_hash(&item)),
            id => format!("incoming:{id}"),
        };
        let channel_id = Some(field(&item, "to"))
            .filter(|to| !to.is_empty())
            .map(|to| Sender::new(&to).channel_id);
        let occurred_at_ms = item.get("ts").and_then(time_ms);
        batch.push(
            EventType::MessageReceived,
            id_suffix,
            channel_id,
            occurred_at_ms,
            item,
        );
    } else if item.get("messageId").is_some() && item.get("status").is_some() {
        batch.note_kind(WebhookKind::Known(KIND_STATUS));
        let message_id = field(&item, "messageId");
        let status = field(&item, "status").to_ascii_lowercase();
        let ts = field(&item, "ts");
        let id_suffix = if message_id.is_empty() {
            format!("status:h{}", stable_hash(&item))
        } else {
            format!("status:{message_id}:{status}:{ts}")
        };
        let occurred_at_ms = item.get("ts").and_then(time_ms);
        batch.push(
            EventType::MessageStatus,
            id_suffix,
            None,
            occurred_at_ms,
            item,
        );
    } else {
        batch.push_unknown(item, WebhookKind::Unknown);
    }
}

/// Reads a field as text; absent or unusable is empty.
fn field(item: &Value, name: &str) -> String {
    item.get(name).and_then(lenient::text).unwrap_or_default()
}

/// Maps a Devino status, current (`DELIVERED`) or legacy (`delivered`, `vp_expired`), compared
/// case-insensitively; `None` for a status this build does not know (kept raw).
fn status_of(raw: &str) -> Option<MessageStatus> {
    let status = match raw.trim().to_ascii_lowercase().as_str() {
        "sent" => MessageStatus::Sent,
        "delivered" => MessageStatus::Delivered,
        "read" => MessageStatus::Read,
        "enqueued" | "queued" | "accepted" | "scheduled" => MessageStatus::Accepted,
        "undelivered" | "failed" | "rejected" | "cancelled" | "canceled" | "error" => {
            MessageStatus::Error
        }
        "expired" | "vp_expired" => MessageStatus::Expired,
        "clicked" | "visited" => MessageStatus::Clicked,
        "" => return None,
        _ => MessageStatus::Other,
    };
    Some(status)
}

/// Decodes a status callback.
fn status(item: &Value) -> StatusPayload {
    let status_raw = field(item, "status");
    let callback_data = Some(field(item, "callbackData"))
        .filter(|data| !data.is_empty())
        .unwrap_or_else(|| field(item, "options"));
    StatusPayload {
        message_id: field(item, "messageId"),
        status: status_of(&status_raw),
        error: status_failure(item),
        occurred_at_ms: item.get("ts").and_then(time_ms),
        callback_data,
        status_raw,
        ..StatusPayload::default()
    }
}

/// Reads `errorCode`: a documented code (2000–2313) as its reason and description, another
/// non-zero code as sent; the code itself is kept in the error's data.
fn status_failure(item: &Value) -> Option<MessageError> {
    let raw_code = field(item, "errorCode");
    let trimmed = raw_code.trim();
    if trimmed.is_empty() || trimmed == "0" {
        return None;
    }
    let data = Some(serde_json::json!({ "errorCode": item.get("errorCode") }));
    let documented = trimmed.parse::<u32>().ok().and_then(status_error);
    Some(match documented {
        Some((reason, description)) => MessageError {
            code: reason.to_owned(),
            description: description.to_owned(),
            data,
        },
        None => MessageError {
            code: trimmed.to_owned(),
            description: String::new(),
            data,
        },
    })
}

/// Decodes an incoming message.
fn incoming(item: &Value) -> MessagePayload {
    let from = field(item, "from");
    let content_mime_type = field(item, "contentType");
    let location = item.get("location").filter(|value| value.is_object());
    let shared_contacts: Vec<Value> = match item.get("contacts") {
        Some(Value::Array(cards)) => cards
            .iter()
            .filter(|card| card.is_object())
            .cloned()
            .collect(),
        _ => Vec::new(),
    };
    let text = field(item, "text");
    let message_type = if location.is_some() {
        MessageType::Geo
    } else if !shared_contacts.is_empty() {
        MessageType::Vcard
    } else if !content_mime_type.is_empty() {
        media_type(&content_mime_type)
    } else {
        MessageType::Text
    };
    let to = field(item, "to");
    MessagePayload {
        message_id: field(item, "incomingMessageId"),
        channel_id: if to.is_empty() {
            String::new()
        } else {
            Sender::new(&to).channel_id
        },
        chat_type: Some(ChatType::Whatsapp),
        sent_at_ms: item.get("ts").and_then(time_ms),
        message_type: Some(message_type),
        content_uri: field(item, "contentUrl"),
        content_name: field(item, "contentName"),
        status: Some(MessageStatus::Inbound),
        contact: Some(Contact {
            name: field(item, "profileName"),
            phone: from.clone(),
            ..Contact::default()
        }),
        direction: Some(Direction::Inbound),
        location: location.map(read_location),
        chat_id: from,
        content_mime_type,
        shared_contacts,
        text,
        ..MessagePayload::default()
    }
}

/// Returns the message type of a content MIME type.
fn media_type(mime_type: &str) -> MessageType {
    let kind = mime_type.split('/').next().unwrap_or_default();
    match kind.trim().to_ascii_lowercase().as_str() {
        "image" => MessageType::Image,
        "video" => MessageType::Video,
        "audio" => MessageType::Audio,
        _ => MessageType::Document,
    }
}

/// Reads a `location` object; coordinates may come as numbers or numeric text.
fn read_location(value: &Value) -> Location {
    let coordinate = |name: &str| {
        value
            .get(name)
            .and_then(|raw| raw.as_f64().or_else(|| raw.as_str()?.trim().parse().ok()))
            .unwrap_or_default()
    };
    let url = Some(field(value, "addressurl"))
        .filter(|url| !url.is_empty())
        .unwrap_or_else(|| field(value, "addressUrl"));
    Location {
        latitude: coordinate("latitude"),
        longitude: coordinate("longitude"),
        address: field(value, "address"),
        address_name: field(value, "addressName"),
        url,
    }
}

/// Explains an unknown item.
fn unknown(raw: &Value) -> UnknownPayload {
    if raw.is_object() {
        UnknownReason::UnknownKind.payload(String::new())
    } else {
        UnknownReason::NotAnObject.payload(String::new())
    }
}

#[cfg(test)]
mod tests;
