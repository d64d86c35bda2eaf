//! Tolerant readers of tech v2 webhook items (snake_case). Each field is read with the
//! [`lenient`](crate::model::lenient) readers: a string or a number (phones arrive as
//! numbers, §16.6), a missing or mistyped field reads as empty. Where the reference marks a
//! payload unconfirmed [U], the likely alternative names are tried in order.

use serde_json::Value;

use crate::events::EventType;
use crate::events::payload::{
    ChannelChange, ChannelPayload, Contact, Direction, MessageError, MessagePayload, MessageStatus,
    MessageType, StatusPayload, TemplateStatusPayload,
};
use crate::model::lenient::{text, time_ms};
use crate::model::{ChannelState, ChatType, ExportState, MessageExport, TemplateStatus, Transport};

/// Reads the first of `keys` that holds a scalar, as text; empty when none does.
fn field(item: &Value, keys: &[&str]) -> String {
    keys.iter()
        .find_map(|key| item.get(*key).and_then(text))
        .unwrap_or_default()
}

/// Parses an upstream enum string; an absent (empty) string stays unset rather than `Other`.
fn known<T>(raw: &str, parse: fn(&str) -> T) -> Option<T> {
    (!raw.is_empty()).then(|| parse(raw))
}

/// Reads a `sender` / `recipient` object [S: `chat_type`, `chat_id`, `name`, `username`, `phone`
/// as a string or a number].
fn contact(value: &Value) -> Option<Contact> {
    value.is_object().then(|| Contact {
        name: field(value, &["name"]),
        avatar_uri: field(value, &["avatar_uri", "avatar"]),
        username: field(value, &["username"]),
        phone: field(value, &["phone"]),
        chat_id: field(value, &["chat_id"]),
    })
}

/// Reads an `error` that is an object (`code`/`error`, `description`/`message`) or a string.
fn error(item: &Value) -> Option<MessageError> {
    match item.get("error") {
        Some(object @ Value::Object(_)) => Some(MessageError {
            code: field(object, &["code", "error"]),
            description: field(object, &["description", "message"]),
            data: object.get("data").filter(|data| data.is_object()).cloned(),
        }),
        Some(Value::String(code)) if !code.is_empty() => Some(MessageError {
            code: code.clone(),
            description: field(item, &["error_description", "description"]),
            data: None,
        }),
        _ => None,
    }
}

/// A `message.*` item [S for `message.add`; edits and deletions assumed alike, U]. The chat is
/// the `recipient` (a customer or a group); `sender` is set in groups.
pub(super) fn message(item: &Value, event_type: EventType) -> MessagePayload {
    let recipient = item.get("recipient").and_then(contact);
    let sender = item.get("sender").and_then(contact);
    let chat_holder = item
        .get("recipient")
        .filter(|value| value.is_object())
        .or_else(|| item.get("sender"))
        .unwrap_or(&Value::Null);
    let chat_type_raw = field(chat_holder, &["chat_type"]);
    let direction_raw = field(item, &["direction"]);
    let status_raw = field(item, &["status"]);
    let type_raw = field(item, &["type", "content_type"]);
    let attachment = item.get("attachment").unwrap_or(&Value::Null);
    let mut content_uri = field(item, &["content_uri", "content_url", "file_url"]);
    if content_uri.is_empty() {
        content_uri = field(attachment, &["url"]);
    }
    MessagePayload {
        message_id: field(item, &["message_id", "id"]),
        channel_id: field(item, &["channel_id"]),
        chat_type: known(&chat_type_raw, ChatType::from_upstream),
        chat_id: field(chat_holder, &["chat_id"]),
        sent_at_ms: item.get("timestamp").and_then(time_ms),
        message_type: known(&type_raw, MessageType::from_upstream),
        is_echo: event_type == EventType::MessageEcho,
        text: field(item, &["text"]),
        content_uri,
        status: known(&status_raw, MessageStatus::from_upstream),
        error: error(item),
        author_name: field(item, &["author_name", "crm_user_name"]),
        author_id: field(item, &["author_id"]),
        contact: recipient,
        quoted_message: item
            .get("quoted_message")
            .filter(|value| value.is_object())
            .cloned(),
        is_edited: event_type == EventType::MessageEdited,
        is_deleted: event_type == EventType::MessageDeleted,
        direction: match direction_raw.to_ascii_lowercase().as_str() {
            "inbound" => Some(Direction::Inbound),
            "outbound" => Some(Direction::Outbound),
            _ => None,
        },
        request_id: field(item, &["request_id"]),
        crm_user_id: field(item, &["crm_user_id"]),
        sender,
        chat_type_raw,
        direction_raw,
        status_raw,
        type_raw,
        ..MessagePayload::default()
    }
}

/// A `message.status_update` item [U]: the outcome of a send, carrying the send's `request_id`
/// and, once known, the real `message_id`.
pub(super) fn status(item: &Value) -> StatusPayload {
    let status_raw = field(item, &["status"]);
    let recipient = item.get("recipient").unwrap_or(&Value::Null);
    let mut chat_id = field(item, &["chat_id"]);
    if chat_id.is_empty() {
        chat_id = field(recipient, &["chat_id"]);
    }
    StatusPayload {
        message_id: field(item, &["message_id"]),
        request_id: field(item, &["request_id"]),
        status: known(&status_raw, MessageStatus::from_upstream),
        error: error(item),
        occurred_at_ms: item.get("timestamp").and_then(time_ms),
        channel_id: field(item, &["channel_id"]),
        chat_id,
        status_raw,
        ..StatusPayload::default()
    }
}

/// A `channel.*` item [S for `channel.status_update`: `channel_id`, `status`, `reason`; U for
/// the others]; the event name says what changed.
pub(super) fn channel(event: &str, item: &Value) -> ChannelPayload {
    let state_raw = field(item, &["status", "state"]);
    let transport_raw = field(item, &["transport"]);
    let change = match event {
        "channel.create" => ChannelChange::Created,
        "channel.delete" => ChannelChange::Deleted,
        "channel.qr_update" => ChannelChange::Qr,
        "channel.waba_tier_update" => ChannelChange::Tier,
        _ => ChannelChange::State,
    };
    ChannelPayload {
        channel_id: field(item, &["channel_id", "id"]),
        change,
        state: known(&state_raw, ChannelState::from_upstream),
        tier: field(item, &["tier", "waba_tier"]),
        qr: field(item, &["qr", "qr_code", "qrcode"]),
        changed_at_ms: item.get("timestamp").and_then(time_ms),
        pairing_code: field(item, &["pairing_code", "code"]),
        reason: field(item, &["reason"]),
        transport: known(&transport_raw, Transport::from_upstream),
        transport_raw,
        state_raw,
    }
}

/// A `waba_template.status_update` item [U].
pub(super) fn template(item: &Value) -> TemplateStatusPayload {
    let status_raw = field(item, &["status"]);
    TemplateStatusPayload {
        template_id: field(item, &["template_id", "template_guid", "id"]),
        name: field(item, &["name", "title"]),
        status: known(&status_raw, TemplateStatus::from_upstream),
        rejected_reason: field(item, &["rejected_reason", "reason"]),
        status_raw,
    }
}

/// A `messages_dump.status_update` item [S: used by clients; shape as the job's GET, §16.8].
pub(super) fn export(item: &Value) -> MessageExport {
    let state_raw = field(item, &["status", "state"]);
    MessageExport {
        export_id: field(item, &["export_id", "dump_id", "id"]),
        state: ExportState::from_upstream(&state_raw),
        url: field(item, &["url", "file_url", "link"]),
        state_raw,
    }
}
