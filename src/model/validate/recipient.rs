//! Rules for `recipient`: the chat type, and which of `chat_id`, `username` and `phone` identify
//! the contact, in what shape (§3.1; tech v2 `recipient`).

use super::Violations;
use super::ids::{check_optional_id, check_optional_name};
use super::shape::{accepted_phone, given, is_blank, phone_problem};
use crate::model::{ChatType, Recipient};

/// Checks the recipient of a send; needs no channel.
pub(super) fn check_recipient(recipient: &Recipient, violations: &mut Violations) {
    let chat_type = recipient.chat_type;
    match chat_type {
        None => violations.add(
            "recipient.chat_type",
            "is missing; a chat type such as whatsapp, telegram or max is required",
        ),
        // The value events carry for a chat type the gateway does not know: no upstream accepts
        // it, and it must not go out as the literal "other".
        Some(ChatType::Other) => violations.add(
            "recipient.chat_type",
            "is other, which names no chat type; a chat type such as whatsapp, telegram or max \
             is required",
        ),
        Some(_) => {}
    }
    let username = given(recipient.username.as_deref());
    let phone = given(recipient.phone.as_deref());
    check_chat_id(recipient, username.is_some(), phone.is_some(), violations);
    if let Some(username) = username {
        check_username(username, chat_type, violations);
    }
    if let Some(phone) = phone {
        check_phone(phone, chat_type, violations);
    }
    check_optional_name(
        "recipient.contact_name",
        recipient.contact_name.as_deref(),
        violations,
    );
}

/// Tells whether a chat of this type can be addressed by Telegram username (§3.1: Telegram only).
fn accepts_username(chat_type: ChatType) -> bool {
    chat_type == ChatType::Telegram
}

/// Tells whether a chat of this type can be addressed by phone (§3.1: Telegram and MAX only).
fn accepts_phone(chat_type: ChatType) -> bool {
    matches!(chat_type, ChatType::Telegram | ChatType::Max)
}

/// Checks that a chat id is present unless a fitting username or phone replaces it, and that it
/// has the shape its chat type needs.
fn check_chat_id(
    recipient: &Recipient,
    has_username: bool,
    has_phone: bool,
    violations: &mut Violations,
) {
    let chat_type = recipient.chat_type;
    let chat_id = recipient.chat_id.as_deref();
    if let Some(chat_id) = chat_id.filter(|chat_id| !is_blank(chat_id)) {
        check_chat_id_shape(chat_id, chat_type, violations);
        return;
    }
    let identified_otherwise = match chat_type {
        // The missing chat type is reported on its own; a username or phone may still fit.
        None => has_username || has_phone,
        Some(chat_type) => {
            (has_username && accepts_username(chat_type)) || (has_phone && accepts_phone(chat_type))
        }
    };
    if !identified_otherwise {
        violations.add(
            "recipient.chat_id",
            "is missing or blank; the contact's id in the messenger is required \
             (telegram chats may pass username or phone instead, max chats phone)",
        );
    }
}

/// Checks the shape of a present chat id: phone digits for WhatsApp and Viber; otherwise no
/// longer than an id may be, and no `@` for Instagram. Other chat types take ids from incoming
/// events, which the gateway does not judge further.
fn check_chat_id_shape(chat_id: &str, chat_type: Option<ChatType>, violations: &mut Violations) {
    match chat_type {
        Some(chat_type @ (ChatType::Whatsapp | ChatType::Viber)) => {
            if let Some(problem) = phone_problem(chat_id) {
                let accepted = accepted_phone();
                violations.add(
                    "recipient.chat_id",
                    format!("{problem}; {chat_type} chat ids are phone numbers: {accepted}"),
                );
            }
        }
        Some(ChatType::Instagram) if chat_id.starts_with('@') => violations.add(
            "recipient.chat_id",
            "starts with @; instagram chat ids are the account name without @",
        ),
        _ => check_optional_id("recipient.chat_id", Some(chat_id), violations),
    }
}

/// Checks a Telegram username: no leading `@`, and only for Telegram chats.
fn check_username(username: &str, chat_type: Option<ChatType>, violations: &mut Violations) {
    check_optional_id("recipient.username", Some(username), violations);
    if username.starts_with('@') {
        violations.add(
            "recipient.username",
            "starts with @; the telegram username without @ is accepted",
        );
    }
    if let Some(chat_type) = chat_type
        && !accepts_username(chat_type)
    {
        violations.add(
            "recipient.username",
            format!("is set for a {chat_type} chat; username is accepted only for telegram chats"),
        );
    }
}

/// Checks a phone: digits only, and only for Telegram and MAX chats.
fn check_phone(phone: &str, chat_type: Option<ChatType>, violations: &mut Violations) {
    if let Some(problem) = phone_problem(phone) {
        let accepted = accepted_phone();
        violations.add("recipient.phone", format!("{problem}; {accepted}"));
    }
    if let Some(chat_type) = chat_type
        && !accepts_phone(chat_type)
    {
        violations.add(
            "recipient.phone",
            format!(
                "is set for a {chat_type} chat; phone is accepted only for telegram and max chats"
            ),
        );
    }
}
