//! Send, edit and delete requests and their answers.

use crate::model::{
    Attachment, Content, DeleteMessage, EditContent, EditMessage, MessageRef, NotifyOptions,
    Recipient, SendMessage, SendReply, TemplateButton, TemplateMessage, ValidationError,
    Violations,
};
use crate::proto::pb;

use super::channels::chat_type_from_pb;
use super::keyboards::keyboard_from_pb;
use super::{duration_from_pb, non_empty};

/// Returns the enum for a raw wire number, recording a violation on `field` for a number this
/// build does not know (a newer client's value); `None` then.
pub(crate) fn known_enum<E: TryFrom<i32>>(
    raw: i32,
    field: &str,
    violations: &mut Violations,
) -> Option<E> {
    match E::try_from(raw) {
        Ok(value) => Some(value),
        Err(_) => {
            violations.add(field, format!("has unknown enum number {raw}"));
            None
        }
    }
}

impl TryFrom<pb::SendMessageRequest> for SendMessage {
    type Error = ValidationError;

    fn try_from(request: pb::SendMessageRequest) -> Result<Self, Self::Error> {
        let mut violations = Violations::new();
        let recipient = recipient_from_pb(request.recipient.unwrap_or_default(), &mut violations);
        let content = request.content.map(|content| match content {
            pb::send_message_request::Content::Text(text) => Content::Text(text),
            pb::send_message_request::Content::Attachment(attachment) => {
                Content::Attachment(attachment_from_pb(attachment, &mut violations))
            }
            pb::send_message_request::Content::Template(template) => {
                Content::Template(template_from_pb(template))
            }
        });
        let keyboard = request
            .keyboard
            .and_then(|keyboard| keyboard_from_pb(keyboard, &mut violations));
        let notify = request
            .notify
            .map(|notify| notify_from_pb(notify, &mut violations));
        violations.finish()?;
        Ok(Self {
            channel_id: request.channel_id,
            recipient,
            content,
            keyboard,
            quoted_message_id: non_empty(request.quoted_message_id),
            crm_user_id: non_empty(request.crm_user_id),
            reset_unanswered: request.reset_unanswered,
            idempotency_key: non_empty(request.idempotency_key),
            notify,
        })
    }
}

/// Converts the recipient.
fn recipient_from_pb(recipient: pb::Recipient, violations: &mut Violations) -> Recipient {
    let chat_type =
        known_enum::<pb::ChatType>(recipient.chat_type, "recipient.chat_type", violations)
            .and_then(chat_type_from_pb);
    Recipient {
        chat_type,
        chat_id: non_empty(recipient.chat_id),
        username: non_empty(recipient.username),
        phone: non_empty(recipient.phone),
        contact_name: non_empty(recipient.contact_name),
    }
}

/// Converts an attachment; a negative size cannot be represented and is reported.
fn attachment_from_pb(attachment: pb::Attachment, violations: &mut Violations) -> Attachment {
    let size_bytes = match u64::try_from(attachment.size_bytes) {
        Ok(0) => None,
        Ok(size) => Some(size),
        Err(_) => {
            violations.add("attachment.size_bytes", "must not be negative");
            None
        }
    };
    Attachment {
        url: attachment.url,
        name: non_empty(attachment.name),
        mime_type: non_empty(attachment.mime_type),
        size_bytes,
        sha1: non_empty(attachment.sha1),
    }
}

/// Converts a template message.
fn template_from_pb(template: pb::TemplateMessage) -> TemplateMessage {
    TemplateMessage {
        template_id: template.template_id,
        values: template.values,
        buttons: template
            .buttons
            .into_iter()
            .map(|button| TemplateButton {
                text: non_empty(button.text),
                button_type: non_empty(button.r#type),
                payload: non_empty(button.payload),
            })
            .collect(),
    }
}

/// Converts the Devino options; a negative or malformed validity is reported.
fn notify_from_pb(notify: pb::NotifyOptions, violations: &mut Violations) -> NotifyOptions {
    let validity = notify
        .validity
        .and_then(|validity| match duration_from_pb(validity) {
            Some(validity) => Some(validity),
            None => {
                violations.add(
                    "notify.validity",
                    "must be a positive, well-formed duration (nanos of the sign of seconds)",
                );
                None
            }
        });
    NotifyOptions {
        callback_data: non_empty(notify.callback_data),
        validity,
        language_code: non_empty(notify.language_code),
    }
}

impl From<SendReply> for pb::SendMessageResponse {
    fn from(reply: SendReply) -> Self {
        Self {
            message_id: reply.sent.message_id,
            chat_id: reply.sent.chat_id,
            request_id: reply.sent.request_id,
            replayed: reply.replayed,
            outcome: None,
        }
    }
}

impl TryFrom<pb::EditMessageRequest> for EditMessage {
    type Error = ValidationError;

    fn try_from(request: pb::EditMessageRequest) -> Result<Self, Self::Error> {
        let mut violations = Violations::new();
        let content = request.content.map(|content| match content {
            pb::edit_message_request::Content::Text(text) => EditContent::Text(text),
            pb::edit_message_request::Content::Attachment(attachment) => {
                EditContent::Attachment(attachment_from_pb(attachment, &mut violations))
            }
        });
        violations.finish()?;
        Ok(Self {
            message_id: request.message_id,
            channel_id: non_empty(request.channel_id),
            content,
            crm_user_id: non_empty(request.crm_user_id),
        })
    }
}

impl From<pb::DeleteMessageRequest> for DeleteMessage {
    fn from(request: pb::DeleteMessageRequest) -> Self {
        Self {
            message_id: request.message_id,
        }
    }
}

impl From<MessageRef> for pb::EditMessageResponse {
    fn from(message: MessageRef) -> Self {
        Self {
            message_id: message.message_id,
            chat_id: message.chat_id,
        }
    }
}

impl From<MessageRef> for pb::DeleteMessageResponse {
    fn from(message: MessageRef) -> Self {
        Self {
            message_id: message.message_id,
            chat_id: message.chat_id,
        }
    }
}
