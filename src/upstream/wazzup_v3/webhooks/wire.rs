//! Serde mirrors of the v3 webhook items (wazzup-api.md §6), camelCase, tolerant: unknown fields
//! are ignored, and every field goes through a [`lenient`] reader, so a field of an unexpected
//! type reads as absent instead of failing the item. Each mirror converts into its domain payload.

use serde::Deserialize;
use serde_json::Value;

use crate::events::payload::{
    ChannelChange, ChannelPayload, Contact, Direction, MessageError, MessagePayload, MessageStatus,
    MessageType, OldInfo, StatusPayload, TemplateStatusPayload,
};
use crate::model::lenient;
use crate::model::{ChannelState, ChatType, TemplateStatus};

/// One `messages[]` item (§6.1).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct WireMessage {
    #[serde(deserialize_with = "lenient::string")]
    pub(super) message_id: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub(super) channel_id: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    chat_type: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    chat_id: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    avito_profile_id: Option<String>,
    #[serde(deserialize_with = "lenient::time")]
    pub(super) date_time: Option<i64>,
    #[serde(rename = "type", deserialize_with = "lenient::string")]
    message_type: Option<String>,
    #[serde(deserialize_with = "lenient::boolean")]
    pub(super) is_echo: bool,
    #[serde(deserialize_with = "lenient::string")]
    pub(super) text: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub(super) content_uri: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub(super) status: Option<String>,
    #[serde(deserialize_with = "lenient::nested")]
    error: Option<WireError>,
    #[serde(deserialize_with = "lenient::string")]
    author_name: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    author_id: Option<String>,
    #[serde(deserialize_with = "lenient::nested")]
    contact: Option<WireContact>,
    #[serde(deserialize_with = "lenient::object")]
    inst_post: Option<Value>,
    #[serde(deserialize_with = "lenient::objects")]
    interactive: Vec<Value>,
    #[serde(deserialize_with = "lenient::object")]
    quoted_message: Option<Value>,
    #[serde(deserialize_with = "lenient::boolean")]
    sent_from_app: bool,
    #[serde(deserialize_with = "lenient::boolean")]
    pub(super) is_edited: bool,
    #[serde(deserialize_with = "lenient::boolean")]
    pub(super) is_deleted: bool,
    #[serde(deserialize_with = "lenient::nested")]
    old_info: Option<WireOldInfo>,
    #[serde(deserialize_with = "lenient::object")]
    advert: Option<Value>,
}

/// `messages[].contact`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct WireContact {
    #[serde(deserialize_with = "lenient::string")]
    name: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    avatar_uri: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    username: Option<String>,
    /// A string or a number (§16.6 observes numbers).
    #[serde(deserialize_with = "lenient::string")]
    phone: Option<String>,
}

/// `messages[].error` and `statuses[].error`: `{ error: CODE, description, data? }`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct WireError {
    #[serde(deserialize_with = "lenient::string")]
    error: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    description: Option<String>,
    data: Option<Value>,
}

/// `messages[].oldInfo`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct WireOldInfo {
    #[serde(deserialize_with = "lenient::string")]
    old_text: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    old_author_id: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    old_author_name: Option<String>,
}

/// One `statuses[]` item (§6.2). `channelId` and `chatId` are not documented for v3; the
/// sandbox sends them, and they are read when present.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct WireStatus {
    #[serde(deserialize_with = "lenient::string")]
    pub(super) message_id: Option<String>,
    #[serde(deserialize_with = "lenient::time")]
    pub(super) timestamp: Option<i64>,
    #[serde(deserialize_with = "lenient::string")]
    pub(super) status: Option<String>,
    #[serde(deserialize_with = "lenient::nested")]
    error: Option<WireError>,
    #[serde(deserialize_with = "lenient::string")]
    pub(super) channel_id: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    chat_id: Option<String>,
}

/// One `channelsUpdates[]` item (§6.4).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct WireChannelUpdate {
    #[serde(deserialize_with = "lenient::string")]
    pub(super) channel_id: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub(super) state: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub(super) tier: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    qr: Option<String>,
    #[serde(deserialize_with = "lenient::time")]
    pub(super) timestamp: Option<i64>,
}

/// The `templateStatus` object (§6.5).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct WireTemplateStatus {
    #[serde(deserialize_with = "lenient::string")]
    pub(super) template_guid: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    name: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub(super) status: Option<String>,
    /// Not documented on the webhook; the template listing names it `rejected_reason`.
    #[serde(alias = "rejected_reason", deserialize_with = "lenient::string")]
    rejected_reason: Option<String>,
}

/// Reads a v3 item of any kind from stored JSON; an item that is not an object reads as the
/// default (all fields absent).
pub(super) fn read<T: for<'de> Deserialize<'de> + Default>(raw: &Value) -> T {
    T::deserialize(raw).unwrap_or_default()
}

impl From<WireMessage> for MessagePayload {
    fn from(wire: WireMessage) -> Self {
        let chat_type_raw = wire.chat_type.unwrap_or_default();
        let type_raw = wire.message_type.unwrap_or_default();
        let status_raw = wire.status.unwrap_or_default();
        Self {
            message_id: wire.message_id.unwrap_or_default(),
            channel_id: wire.channel_id.unwrap_or_default(),
            chat_type: known(&chat_type_raw, ChatType::from_upstream),
            chat_id: wire.chat_id.unwrap_or_default(),
            avito_profile_id: wire.avito_profile_id.unwrap_or_default(),
            sent_at_ms: wire.date_time,
            message_type: known(&type_raw, MessageType::from_upstream),
            is_echo: wire.is_echo,
            text: wire.text.unwrap_or_default(),
            content_uri: wire.content_uri.unwrap_or_default(),
            status: known(&status_raw, MessageStatus::from_upstream),
            error: wire.error.map(MessageError::from),
            author_name: wire.author_name.unwrap_or_default(),
            author_id: wire.author_id.unwrap_or_default(),
            contact: wire.contact.map(Contact::from),
            quoted_message: wire.quoted_message,
            is_edited: wire.is_edited,
            is_deleted: wire.is_deleted,
            old_info: wire.old_info.map(OldInfo::from),
            instagram_post: wire.inst_post,
            interactive: wire.interactive,
            sent_from_app: wire.sent_from_app,
            // v3 has no direction field: an echo is ours, everything else the customer's (§6.1).
            direction: Some(if wire.is_echo {
                Direction::Outbound
            } else {
                Direction::Inbound
            }),
            advert: wire.advert,
            direction_raw: String::new(),
            request_id: String::new(),
            crm_user_id: String::new(),
            sender: None,
            chat_type_raw,
            type_raw,
            status_raw,
            ..Self::default()
        }
    }
}

impl From<WireContact> for Contact {
    fn from(wire: WireContact) -> Self {
        Self {
            name: wire.name.unwrap_or_default(),
            avatar_uri: wire.avatar_uri.unwrap_or_default(),
            username: wire.username.unwrap_or_default(),
            phone: wire.phone.unwrap_or_default(),
            chat_id: String::new(),
        }
    }
}

impl From<WireError> for MessageError {
    fn from(wire: WireError) -> Self {
        Self {
            code: wire.error.unwrap_or_default(),
            description: wire.description.unwrap_or_default(),
            data: wire.data.filter(Value::is_object),
        }
    }
}

impl From<WireOldInfo> for OldInfo {
    fn from(wire: WireOldInfo) -> Self {
        Self {
            old_text: wire.old_text.unwrap_or_default(),
            old_author_id: wire.old_author_id.unwrap_or_default(),
            old_author_name: wire.old_author_name.unwrap_or_default(),
        }
    }
}

impl From<WireStatus> for StatusPayload {
    fn from(wire: WireStatus) -> Self {
        let status_raw = wire.status.unwrap_or_default();
        Self {
            message_id: wire.message_id.unwrap_or_default(),
            status: known(&status_raw, MessageStatus::from_upstream),
            error: wire.error.map(MessageError::from),
            occurred_at_ms: wire.timestamp,
            channel_id: wire.channel_id.unwrap_or_default(),
            chat_id: wire.chat_id.unwrap_or_default(),
            request_id: String::new(),
            status_raw,
            ..Self::default()
        }
    }
}

impl From<WireChannelUpdate> for ChannelPayload {
    fn from(wire: WireChannelUpdate) -> Self {
        let state_raw = wire.state.unwrap_or_default();
        let tier = wire.tier.unwrap_or_default();
        let change = if state_raw.is_empty() && !tier.is_empty() {
            ChannelChange::Tier
        } else {
            ChannelChange::State
        };
        Self {
            channel_id: wire.channel_id.unwrap_or_default(),
            change,
            state: known(&state_raw, ChannelState::from_upstream),
            qr: wire.qr.unwrap_or_default(),
            changed_at_ms: wire.timestamp,
            pairing_code: String::new(),
            reason: String::new(),
            transport: None,
            transport_raw: String::new(),
            state_raw,
            tier,
        }
    }
}

impl From<WireTemplateStatus> for TemplateStatusPayload {
    fn from(wire: WireTemplateStatus) -> Self {
        let status_raw = wire.status.unwrap_or_default();
        Self {
            template_id: wire.template_guid.unwrap_or_default(),
            name: wire.name.unwrap_or_default(),
            status: known(&status_raw, TemplateStatus::from_upstream),
            rejected_reason: wire.rejected_reason.unwrap_or_default(),
            status_raw,
        }
    }
}

/// Parses an upstream enum string; an absent (empty) string stays unset rather than `Other`.
fn known<T>(raw: &str, parse: fn(&str) -> T) -> Option<T> {
    (!raw.is_empty()).then(|| parse(raw))
}
