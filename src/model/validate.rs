//! Request validation: every rule from the limits table, collected into one list of field
//! violations so a caller learns about every bad field at once.
//!
//! Field paths use the protobuf field names of the gRPC request (AIP-193 style:
//! `recipient.chat_id`, `keyboard.telegram.rows[0].buttons[2].callback_data`), because that is
//! what the caller wrote. Descriptions say what is wrong and what is accepted.
//!
//! The rules are pure functions. [`check_send`] holds those that need no channel;
//! [`check_send_for_channel`] holds only those that depend on the channel's transport, so a
//! caller that runs both never sees one problem twice. No rule stops the others: every violation
//! is collected. proto3 cannot tell an empty string from an unset one, so an optional string set
//! to `""` counts as unset.

mod content;
mod export;
mod for_channel;
mod ids;
mod keyboard;
#[cfg(test)]
mod properties;
mod recipient;
mod shape;
#[cfg(test)]
mod tests;
mod webhook;

use std::fmt;

use super::limits::{IDEMPOTENCY_KEY_MAX_CHARS, MAX_ID_CHARS};
use super::path_segment;
use super::{Channel, Content, DeleteMessage, EditContent, EditMessage, SendMessage};
pub(crate) use export::{check_export, check_export_id};
use ids::check_optional_id;
pub(crate) use ids::{check_optional_name, check_required_id};
pub(crate) use shape::is_filled;
use shape::{char_count, given, is_blank, too_many_chars};
pub(crate) use webhook::check_webhook_settings;

/// One invalid field of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path of the field in the request, in protobuf field names.
    pub field: String,
    /// What is wrong and what would be accepted.
    pub description: String,
}

impl fmt::Display for FieldViolation {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}: {}", self.field, self.description)
    }
}

/// Collects the field violations of one request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Violations(Vec<FieldViolation>);

impl Violations {
    /// Creates an empty collection.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Records that `field` is invalid.
    pub(crate) fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
    }

    /// Returns the recorded violations.
    pub(crate) fn as_slice(&self) -> &[FieldViolation] {
        &self.0
    }

    /// Succeeds when nothing was recorded, else fails with every recorded violation.
    ///
    /// # Errors
    ///
    /// Returns [`ValidationError`] holding every violation when there is at least one.
    pub(crate) fn finish(self) -> Result<(), ValidationError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ValidationError(self.0))
        }
    }
}

/// A request failed validation; holds one entry per bad field, in the order found.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("request has {} invalid field(s)", .0.len())]
pub struct ValidationError(pub Vec<FieldViolation>);

/// Checks a send against every rule that needs no channel: required fields, recipient shapes,
/// content, keyboard shapes, and the any-transport text limit.
pub(crate) fn check_send(send: &SendMessage, violations: &mut Violations) {
    if is_blank(&send.channel_id) {
        violations.add(
            "channel_id",
            "is missing or blank; the id of the channel to send from is required",
        );
    } else {
        ids::check_max_chars("channel_id", &send.channel_id, MAX_ID_CHARS, violations);
    }
    recipient::check_recipient(&send.recipient, violations);
    content::check_send_content(send.content.as_ref(), violations);
    if let Some(keyboard) = &send.keyboard {
        let with_template = matches!(send.content, Some(Content::Template(_)));
        keyboard::check_keyboard(keyboard, with_template, violations);
    }
    if let Some(quoted_message_id) = given(send.quoted_message_id.as_deref())
        && is_blank(quoted_message_id)
    {
        violations.add(
            "quoted_message_id",
            "is blank; the id of the message to quote is accepted, or leave it unset",
        );
    }
    check_optional_id(
        "quoted_message_id",
        send.quoted_message_id.as_deref(),
        violations,
    );
    check_optional_id("crm_user_id", send.crm_user_id.as_deref(), violations);
    check_idempotency_key(send.idempotency_key.as_deref(), violations);
}

/// Checks an idempotency key, when one is set: not too long, no control characters.
fn check_idempotency_key(key: Option<&str>, violations: &mut Violations) {
    let Some(key) = given(key) else {
        return;
    };
    let length = char_count(key);
    if length > IDEMPOTENCY_KEY_MAX_CHARS {
        violations.add(
            "idempotency_key",
            too_many_chars(length, IDEMPOTENCY_KEY_MAX_CHARS, ""),
        );
    }
    if key.chars().any(char::is_control) {
        violations.add(
            "idempotency_key",
            "contains control characters; only printable characters are accepted",
        );
    }
}

/// Checks a send against the rules that depend on the channel it goes out of: the chat types of
/// the transport, its text limit, WABA-only templates and the keyboard shape it understands.
///
/// Reports nothing [`check_send`] reports, so both can run on one request.
pub(crate) fn check_send_for_channel(
    send: &SendMessage,
    channel: &Channel,
    violations: &mut Violations,
) {
    let transport = channel.transport;
    for_channel::check_chat_type_fits(send.recipient.chat_type, transport, violations);
    if let Some(content) = &send.content {
        for_channel::check_content_fits(content, transport, violations);
    }
    if let Some(keyboard) = &send.keyboard {
        for_channel::check_keyboard_fits(keyboard, transport, violations);
    }
}

/// Checks an edit: a message id and new content (text or a file) of the right shape, and the
/// channel id's shape when one is named.
pub(crate) fn check_edit(edit: &EditMessage, violations: &mut Violations) {
    check_message_id(&edit.message_id, violations);
    check_optional_id("channel_id", edit.channel_id.as_deref(), violations);
    check_optional_id("crm_user_id", edit.crm_user_id.as_deref(), violations);
    match &edit.content {
        None => violations.add("text", "is missing; one of text or attachment is required"),
        Some(EditContent::Text(text)) => content::check_text(text, violations),
        Some(EditContent::Attachment(attachment)) => {
            content::check_attachment(attachment, violations)
        }
    }
}

/// Checks an edit against the rules of the channel its message was sent from: the new text
/// against the transport's length limit, as [`check_send_for_channel`] checks a send's.
///
/// Reports nothing [`check_edit`] reports, so both can run on one request.
pub(crate) fn check_edit_for_channel(
    edit: &EditMessage,
    channel: &Channel,
    violations: &mut Violations,
) {
    if let Some(EditContent::Text(text)) = &edit.content {
        for_channel::check_text_fits(text, channel.transport, violations);
    }
}

/// Checks a delete: a message id.
pub(crate) fn check_delete(delete: &DeleteMessage, violations: &mut Violations) {
    check_message_id(&delete.message_id, violations);
}

/// Checks that the id of the message to edit or delete is present, one URL path segment and not
/// too long.
fn check_message_id(message_id: &str, violations: &mut Violations) {
    if is_blank(message_id) {
        violations.add(
            "message_id",
            "is missing or blank; the id of a sent message is required",
        );
    } else if let Some(problem) = path_segment::problem(message_id) {
        violations.add("message_id", problem);
    } else {
        ids::check_max_chars("message_id", message_id, MAX_ID_CHARS, violations);
    }
}

/// Validates a send against the rules that need no channel ([`check_send`]).
///
/// # Errors
///
/// Returns [`ValidationError`] with every violation found.
#[cfg(test)]
pub(crate) fn validate_send(send: &SendMessage) -> Result<(), ValidationError> {
    let mut violations = Violations::new();
    check_send(send, &mut violations);
    violations.finish()
}

/// Validates a send completely once its channel is known: [`check_send`] and then
/// [`check_send_for_channel`], each problem reported once.
///
/// # Errors
///
/// Returns [`ValidationError`] with every violation found.
#[cfg(test)]
pub(crate) fn validate_send_for_channel(
    send: &SendMessage,
    channel: &Channel,
) -> Result<(), ValidationError> {
    let mut violations = Violations::new();
    check_send(send, &mut violations);
    check_send_for_channel(send, channel, &mut violations);
    violations.finish()
}

/// Validates an edit ([`check_edit`]).
///
/// # Errors
///
/// Returns [`ValidationError`] with every violation found.
#[cfg(test)]
pub(crate) fn validate_edit(edit: &EditMessage) -> Result<(), ValidationError> {
    let mut violations = Violations::new();
    check_edit(edit, &mut violations);
    violations.finish()
}

/// Validates a delete ([`check_delete`]).
///
/// # Errors
///
/// Returns [`ValidationError`] with every violation found.
#[cfg(test)]
pub(crate) fn validate_delete(delete: &DeleteMessage) -> Result<(), ValidationError> {
    let mut violations = Violations::new();
    check_delete(delete, &mut violations);
    violations.finish()
}
