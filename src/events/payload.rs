//! Typed event payloads: what an event says, decoded from its raw upstream JSON by its dialect
//! (see [`super::decode::WebhookDecoders`]): once when the webhook is received, for the events
//! delivered from memory, and when an event is read back from storage, which keeps `raw` only.
//! Plain domain types, independent of both the upstream dialects' JSON and the gRPC encoding.
//!
//! Every enum that mirrors an upstream string has an `Other` value and travels with the string as
//! the upstream spelled it (`*_raw`), so an unknown value is never lost. Upstream structures the
//! reference leaves undocumented (quoted message, Instagram post, Salesbot buttons, Avito advert)
//! are kept as JSON.

use serde_json::Value;

use crate::model::{ChannelState, ChatType, MessageExport, TemplateStatus, Transport};

/// The decoded content of one event; the variant follows the event's type.
#[derive(Clone, Debug, PartialEq)]
pub enum EventPayload {
    /// A message: received, echoed, edited or deleted.
    Message(Box<MessagePayload>),
    /// A status change of an outgoing message.
    Status(StatusPayload),
    /// A channel change.
    Channel(ChannelPayload),
    /// A WABA template moderation change.
    TemplateStatus(TemplateStatusPayload),
    /// A request to create a CRM contact or deal.
    CrmRequest(CrmRequestPayload),
    /// A message export job reached a final state (tech v2 `messages_dump.status_update`).
    Export(MessageExport),
    /// A group chat changed (tech v2 `group_chat.*`).
    GroupChat(GroupChatPayload),
    /// A webhook (or item) the gateway stored but cannot decode.
    Unknown(UnknownPayload),
}

/// A message seen by the upstream (v3 `messages[]`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MessagePayload {
    /// Upstream message id.
    pub message_id: String,
    /// Channel that received or sent it.
    pub channel_id: String,
    /// Kind of chat.
    pub chat_type: Option<ChatType>,
    /// `chat_type` as the upstream spelled it.
    pub chat_type_raw: String,
    /// Contact's (or group's) id in the messenger.
    pub chat_id: String,
    /// Avito only: the Avito profile id.
    pub avito_profile_id: String,
    /// When the messenger says it was sent, in ms since the Unix epoch.
    pub sent_at_ms: Option<i64>,
    /// Content type.
    pub message_type: Option<MessageType>,
    /// `message_type` as the upstream spelled it.
    pub type_raw: String,
    /// True for an outgoing message not sent through the API.
    pub is_echo: bool,
    /// Text; empty for pure content messages.
    pub text: String,
    /// Link to the media file.
    pub content_uri: String,
    /// Message status.
    pub status: Option<MessageStatus>,
    /// `status` as the upstream spelled it.
    pub status_raw: String,
    /// Delivery failure, when the status is an error.
    pub error: Option<MessageError>,
    /// Name of the author (v3: echoes only).
    pub author_name: String,
    /// CRM user id of the author.
    pub author_id: String,
    /// The chat's contact.
    pub contact: Option<Contact>,
    /// The quoted message, as sent.
    pub quoted_message: Option<Value>,
    /// True when this event reports an edit.
    pub is_edited: bool,
    /// True when this event reports a deletion.
    pub is_deleted: bool,
    /// Previous text and author, for edits and deletions.
    pub old_info: Option<OldInfo>,
    /// Instagram comments: the post commented on, as sent.
    pub instagram_post: Option<Value>,
    /// amoCRM Salesbot buttons attached to the message, as sent (objects only).
    pub interactive: Vec<Value>,
    /// True when sent from the native Wazzup chat app.
    pub sent_from_app: bool,
    /// Direction relative to the account (v3: derived from `is_echo`).
    pub direction: Option<Direction>,
    /// Avito: the listing the customer wrote about, as sent.
    pub advert: Option<Value>,
    /// `direction` as the upstream spelled it (tech v2); empty when derived (v3).
    pub direction_raw: String,
    /// Tech v2: the asynchronous send's `request_id` this message resulted from.
    pub request_id: String,
    /// Tech v2: CRM user id the message was sent as.
    pub crm_user_id: String,
    /// Tech v2 group chats: the participant who wrote.
    pub sender: Option<Contact>,
    /// MIME type of the content at `content_uri`, when the upstream says (Devino `contentType`).
    pub content_mime_type: String,
    /// File name of the content at `content_uri`, when the upstream says (Devino `contentName`).
    pub content_name: String,
    /// A shared location (Devino `location`).
    pub location: Option<Location>,
    /// Shared contact cards as sent, objects only (Devino `contacts`; the shape of each card is
    /// described but unconfirmed).
    pub shared_contacts: Vec<Value>,
}

/// A geographic location shared in a message.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Location {
    /// Latitude in degrees.
    pub latitude: f64,
    /// Longitude in degrees.
    pub longitude: f64,
    /// Street address.
    pub address: String,
    /// Name of the place.
    pub address_name: String,
    /// Link to the place on a map.
    pub url: String,
}

/// A person in a chat.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Contact {
    /// Display name.
    pub name: String,
    /// Link to the avatar.
    pub avatar_uri: String,
    /// Telegram username without `@`.
    pub username: String,
    /// Phone number, digits (the upstream sends it as a string or a number).
    pub phone: String,
    /// The person's id in the messenger, when it differs from the event's chat (tech v2 senders).
    pub chat_id: String,
}

/// A delivery failure reported by the upstream.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MessageError {
    /// Upstream error code, e.g. `BAD_CONTACT`.
    pub code: String,
    /// Upstream description.
    pub description: String,
    /// Extra upstream data, as sent.
    pub data: Option<Value>,
}

/// What a message looked like before an edit or deletion.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OldInfo {
    /// Previous text.
    pub old_text: String,
    /// CRM user id of the previous author.
    pub old_author_id: String,
    /// Name of the previous author.
    pub old_author_name: String,
}

/// A status change of an outgoing message (v3 `statuses[]`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatusPayload {
    /// Upstream message id.
    pub message_id: String,
    /// New status.
    pub status: Option<MessageStatus>,
    /// `status` as the upstream spelled it.
    pub status_raw: String,
    /// The failure, when the status is an error.
    pub error: Option<MessageError>,
    /// When the status changed, in ms since the Unix epoch.
    pub occurred_at_ms: Option<i64>,
    /// Channel of the message, when the upstream (or the sandbox) says.
    pub channel_id: String,
    /// Chat of the message, when the upstream (or the sandbox) says.
    pub chat_id: String,
    /// Tech v2: the `request_id` of the asynchronous send this status is the outcome of.
    pub request_id: String,
    /// Devino: the send's `NotifyOptions.callback_data`, echoed back.
    pub callback_data: String,
}

/// What changed about a channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelChange {
    /// The state changed (possibly with a QR code to scan).
    State,
    /// The channel was created (tech v2 `channel.create`).
    Created,
    /// The channel was deleted (tech v2 `channel.delete`).
    Deleted,
    /// A new QR or pairing code is to be shown (tech v2 `channel.qr_update`).
    Qr,
    /// Only the WABA tier was reported.
    Tier,
}

/// A channel change (v3 `channelsUpdates[]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelPayload {
    /// Channel id.
    pub channel_id: String,
    /// What changed.
    pub change: ChannelChange,
    /// New state, when reported.
    pub state: Option<ChannelState>,
    /// `state` as the upstream spelled it.
    pub state_raw: String,
    /// WABA messaging tier as sent, e.g. `TIER_1K`.
    pub tier: String,
    /// QR code to scan, a data URI.
    pub qr: String,
    /// When the state was set, in ms since the Unix epoch.
    pub changed_at_ms: Option<i64>,
    /// Pairing code to type instead of scanning the QR (tech v2).
    pub pairing_code: String,
    /// Reason for the state (tech v2 `reason`).
    pub reason: String,
    /// Transport of the channel, when sent.
    pub transport: Option<Transport>,
    /// `transport` as the upstream spelled it.
    pub transport_raw: String,
}

/// What changed about a group chat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupChatChange {
    /// Members joined, left or were renamed (`group_chat.memberships_update`).
    Memberships,
    /// The group's info changed (`group_chat.update`).
    Info,
}

/// A group chat change (tech v2 `group_chat.*`; the item's shape is undocumented).
#[derive(Clone, Debug, PartialEq)]
pub struct GroupChatPayload {
    /// Channel the group belongs to.
    pub channel_id: String,
    /// The group's chat id.
    pub chat_id: String,
    /// What changed.
    pub change: GroupChatChange,
    /// The upstream item, as sent.
    pub data: Value,
}

/// A WABA template moderation change (v3 `templateStatus`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateStatusPayload {
    /// Template id (`templateGuid`).
    pub template_id: String,
    /// Template name registered with Meta.
    pub name: String,
    /// New status.
    pub status: Option<TemplateStatus>,
    /// `status` as the upstream spelled it.
    pub status_raw: String,
    /// Why it was rejected, when sent.
    pub rejected_reason: String,
}

/// Which CRM entity the upstream asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrmEntityKind {
    /// A contact (`createContact`).
    Contact,
    /// A deal (`createDeal`).
    Deal,
}

/// A request to create a CRM contact or deal (v3 `createContact` / `createDeal`).
#[derive(Clone, Debug, PartialEq)]
pub struct CrmRequestPayload {
    /// Contact or deal.
    pub kind: CrmEntityKind,
    /// The upstream's request body (the object under `createContact` / `createDeal`).
    pub body: Value,
}

/// A webhook the gateway stored but cannot decode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownPayload {
    /// Why it was not decoded.
    pub reason: String,
    /// The upstream kind (the v3 top-level key, the tech v2 event name), empty when not
    /// recognisable.
    pub kind: String,
}

/// Content type of a message (upstream `type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageType {
    /// `text` (WhatsApp polls too).
    Text,
    /// `image` (WhatsApp stickers too).
    Image,
    /// `audio`.
    Audio,
    /// `video`.
    Video,
    /// `document`.
    Document,
    /// `vcard`.
    Vcard,
    /// `geo`.
    Geo,
    /// `wapi_template`.
    WapiTemplate,
    /// `unsupported`.
    Unsupported,
    /// `missing_call`.
    MissingCall,
    /// `unknown` (the upstream itself does not know).
    Unknown,
    /// `system`.
    System,
    /// A value this version does not know.
    Other,
}

impl MessageType {
    /// Parses the upstream type case-insensitively; unknown → `Other`.
    pub fn from_upstream(raw: &str) -> Self {
        match raw.to_ascii_lowercase().as_str() {
            "text" => Self::Text,
            "image" => Self::Image,
            "audio" => Self::Audio,
            "video" => Self::Video,
            "document" => Self::Document,
            "vcard" => Self::Vcard,
            "geo" => Self::Geo,
            "wapi_template" => Self::WapiTemplate,
            "unsupported" => Self::Unsupported,
            "missing_call" => Self::MissingCall,
            "unknown" => Self::Unknown,
            "system" => Self::System,
            _ => Self::Other,
        }
    }
}

/// Status of a message (upstream `status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageStatus {
    /// `sent`.
    Sent,
    /// `delivered`.
    Delivered,
    /// `read`.
    Read,
    /// `error`.
    Error,
    /// `edited` (in the messenger, not through the API).
    Edited,
    /// `inbound` (incoming messages).
    Inbound,
    /// `accepted` (tech v2).
    Accepted,
    /// `expired`: validity ran out before delivery (Devino; any dialect reporting it).
    Expired,
    /// `clicked`: a link in the message was followed (Devino; any dialect reporting it).
    Clicked,
    /// A value this version does not know.
    Other,
}

impl MessageStatus {
    /// Parses the upstream status case-insensitively; unknown → `Other`.
    pub fn from_upstream(raw: &str) -> Self {
        match raw.to_ascii_lowercase().as_str() {
            "sent" => Self::Sent,
            "delivered" => Self::Delivered,
            "read" => Self::Read,
            "error" => Self::Error,
            "edited" => Self::Edited,
            "inbound" => Self::Inbound,
            "accepted" => Self::Accepted,
            "expired" => Self::Expired,
            "clicked" => Self::Clicked,
            _ => Self::Other,
        }
    }

    /// Returns the v3 spelling.
    pub fn as_upstream(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Delivered => "delivered",
            Self::Read => "read",
            Self::Error => "error",
            Self::Edited => "edited",
            Self::Inbound => "inbound",
            Self::Accepted => "accepted",
            Self::Expired => "expired",
            Self::Clicked => "clicked",
            Self::Other => "other",
        }
    }
}

/// Direction of a message relative to the account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// From the customer to us.
    Inbound,
    /// From us to the customer.
    Outbound,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_enums_parse_case_insensitively_and_keep_unknown_values_apart() {
        assert_eq!(
            MessageType::from_upstream("WAPI_TEMPLATE"),
            MessageType::WapiTemplate
        );
        assert_eq!(MessageType::from_upstream("hologram"), MessageType::Other);
        assert_eq!(
            MessageStatus::from_upstream("Delivered"),
            MessageStatus::Delivered
        );
        assert_eq!(
            MessageStatus::from_upstream("teleported"),
            MessageStatus::Other
        );
        assert_eq!(
            MessageStatus::from_upstream("EXPIRED"),
            MessageStatus::Expired
        );
        assert_eq!(
            MessageStatus::from_upstream("CLICKED"),
            MessageStatus::Clicked
        );
        for status in [
            MessageStatus::Sent,
            MessageStatus::Delivered,
            MessageStatus::Read,
            MessageStatus::Error,
            MessageStatus::Edited,
            MessageStatus::Inbound,
            MessageStatus::Accepted,
            MessageStatus::Expired,
            MessageStatus::Clicked,
        ] {
            assert_eq!(MessageStatus::from_upstream(status.as_upstream()), status);
        }
    }
}
