//! Outgoing messages: who they go to, what they carry, and the results of sending, editing and
//! deleting them.

use std::time::Duration;

use super::{ChatType, Keyboard};

/// Who a message goes to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recipient {
    /// The kind of chat; `None` when the caller left it unspecified.
    pub chat_type: Option<ChatType>,
    /// The chat id in the messenger; `None` when the caller addresses Telegram/MAX by username or
    /// phone instead.
    pub chat_id: Option<String>,
    /// Telegram user name without `@`, when the chat id is unknown.
    pub username: Option<String>,
    /// Phone number in international format (digits only), Telegram/MAX, when the chat id is unknown.
    pub phone: Option<String>,
    /// Contact name to show in the CRM (tech v2 `crm_contact_name`).
    pub contact_name: Option<String>,
}

/// A file sent by URL.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Attachment {
    /// Public URL the upstream downloads the file from (no redirects).
    pub url: String,
    /// File name.
    pub name: Option<String>,
    /// MIME type.
    pub mime_type: Option<String>,
    /// Size in bytes.
    pub size_bytes: Option<u64>,
    /// SHA-1 of the content, hex.
    pub sha1: Option<String>,
}

/// A payload bound to one button of a WABA template.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TemplateButton {
    /// Button label (informational: template labels are fixed at moderation).
    pub text: Option<String>,
    /// Button type.
    pub button_type: Option<String>,
    /// Payload returned when the customer presses the button.
    pub payload: Option<String>,
}

/// A WABA template message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TemplateMessage {
    /// The template id (`templateGuid`).
    pub template_id: String,
    /// Values of the template variables, in order.
    pub values: Vec<String>,
    /// Payloads for the template's buttons, in order.
    pub buttons: Vec<TemplateButton>,
}

/// What a message carries: exactly one of text, a file or a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// A file sent by URL.
    Attachment(Attachment),
    /// A WABA template.
    Template(TemplateMessage),
}

/// A request to send one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendMessage {
    /// The channel to send from.
    pub channel_id: String,
    /// Who the message goes to.
    pub recipient: Recipient,
    /// What the message carries; `None` when the caller set nothing (validation rejects that, so
    /// upstream code may rely on `Some`).
    pub content: Option<Content>,
    /// Buttons attached to the message.
    pub keyboard: Option<Keyboard>,
    /// Id of the message to quote.
    pub quoted_message_id: Option<String>,
    /// CRM user shown as the sender.
    pub crm_user_id: Option<String>,
    /// Whether the message resets the unanswered counter; `None` leaves the upstream default.
    pub reset_unanswered: Option<bool>,
    /// The caller's idempotency key.
    pub idempotency_key: Option<String>,
    /// Notification options (Devino dialect only).
    pub notify: Option<NotifyOptions>,
}

/// Options only the notifications dialect understands.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NotifyOptions {
    /// Opaque string echoed back in status callbacks.
    pub callback_data: Option<String>,
    /// How long the provider keeps trying to deliver.
    pub validity: Option<Duration>,
    /// Template language code.
    pub language_code: Option<String>,
}

/// The upstream's answer to a send.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SentMessage {
    /// The upstream message id (empty for asynchronous dialects until the status event arrives).
    pub message_id: String,
    /// The chat the message went to.
    pub chat_id: String,
    /// The request id of asynchronous dialects (tech v2).
    pub request_id: String,
}

/// The new content of an edited message: text or a file, never both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EditContent {
    /// New text.
    Text(String),
    /// New file.
    Attachment(Attachment),
}

/// A request to edit a sent message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EditMessage {
    /// The message to edit.
    pub message_id: String,
    /// The channel the message was sent from, when the caller names it: the new text is then
    /// checked against that channel's transport limit, as a send's is. Never sent upstream (the
    /// edit routes take only the message id).
    pub channel_id: Option<String>,
    /// Its new content; `None` when the caller set nothing (validation rejects that).
    pub content: Option<EditContent>,
    /// CRM user shown as the editor.
    pub crm_user_id: Option<String>,
}

/// A request to delete a sent message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeleteMessage {
    /// The message to delete.
    pub message_id: String,
}

/// The upstream's answer to an edit or a delete.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageRef {
    /// The message id.
    pub message_id: String,
    /// The chat the message belongs to.
    pub chat_id: String,
}

impl MessageRef {
    /// The ids an edit or delete answered; the upstreams may leave the message id out, and then
    /// it is the one the request named.
    pub fn answered(message_id: String, chat_id: String, requested_message_id: &str) -> Self {
        Self {
            message_id: if message_id.is_empty() {
                requested_message_id.to_owned()
            } else {
                message_id
            },
            chat_id,
        }
    }
}

/// The answer to a send as the caller sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SendReply {
    /// The upstream's answer.
    pub sent: SentMessage,
    /// Whether the answer was recorded earlier (a repeat of an idempotent send) instead of coming
    /// from a send made for this call.
    pub replayed: bool,
}

impl SendReply {
    /// Returns the answer of a send made for this call.
    pub fn fresh(sent: SentMessage) -> Self {
        Self {
            sent,
            replayed: false,
        }
    }

    /// Returns an answer recorded earlier, or shared with a concurrent identical call.
    pub fn replayed(sent: SentMessage) -> Self {
        Self {
            sent,
            replayed: true,
        }
    }
}
