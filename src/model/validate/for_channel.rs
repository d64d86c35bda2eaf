//! Rules that depend on the sending channel's transport: which chat types, text lengths,
//! templates and keyboards it accepts (§3.1, §3.2, §3.4); an edit's text meets the same length
//! limit as a send's.
//!
//! Only rules that the channel-free checks cannot make live here, so running both never reports
//! the same problem twice. A transport the gateway does not know (`Transport::Other`) is not
//! checked: the upstream decides.

use super::Violations;
use super::shape::{char_count, too_many_chars};
use crate::model::limits::{MAX_TEXT_CHARS_ANY_TRANSPORT, max_text_chars};
use crate::model::{ChatType, Content, Keyboard, Transport};

/// Returns how violations name a transport (the upstream strings, such as `wapi`, mean little to a
/// caller).
pub(super) fn transport_label(transport: Transport) -> &'static str {
    match transport {
        Transport::Whatsapp => "whatsapp",
        Transport::Waba => "waba",
        Transport::Instagram => "instagram",
        Transport::TelegramPersonal => "telegram personal",
        Transport::TelegramBot => "telegram bot",
        Transport::Vk => "vk",
        Transport::Avito => "avito",
        Transport::Viber => "viber",
        Transport::Max => "max",
        Transport::MaxBot => "max bot",
        Transport::Other => "other",
    }
}

/// Checks that the chat type is one the transport can write to.
pub(super) fn check_chat_type_fits(
    chat_type: Option<ChatType>,
    transport: Transport,
    violations: &mut Violations,
) {
    // A missing or unknown chat type is reported without the channel.
    let Some(chat_type) = chat_type.filter(|chat_type| *chat_type != ChatType::Other) else {
        return;
    };
    let accepted = transport.chat_types();
    if transport == Transport::Other || accepted.contains(&chat_type) {
        return;
    }
    let label = transport_label(transport);
    let accepted_list: Vec<&str> = accepted
        .iter()
        .map(|accepted| accepted.as_upstream())
        .collect();
    let accepted_list = accepted_list.join(", ");
    violations.add(
        "recipient.chat_type",
        format!(
            "is {chat_type}, which {label} channels cannot write to; accepted: {accepted_list}"
        ),
    );
}

/// Checks the content against the transport: the text length limit and WABA-only templates.
pub(super) fn check_content_fits(
    content: &Content,
    transport: Transport,
    violations: &mut Violations,
) {
    match content {
        Content::Text(text) => check_text_fits(text, transport, violations),
        Content::Template(_) if !matches!(transport, Transport::Waba | Transport::Other) => {
            let label = transport_label(transport);
            violations.add(
                "template",
                format!("is accepted only on waba channels; this is a {label} channel"),
            );
        }
        Content::Attachment(_) | Content::Template(_) => {}
    }
}

/// Checks a text, a send's or an edit's, against the transport's length limit.
pub(super) fn check_text_fits(text: &str, transport: Transport, violations: &mut Violations) {
    let length = char_count(text);
    let limit = max_text_chars(transport);
    // Longer than any transport accepts is already reported without the channel.
    if length > limit && length <= MAX_TEXT_CHARS_ANY_TRANSPORT {
        let scope = format!(" for {} channels", transport_label(transport));
        violations.add("text", too_many_chars(length, limit, &scope));
    }
}

/// Checks that the keyboard shape is the one the transport understands.
pub(super) fn check_keyboard_fits(
    keyboard: &Keyboard,
    transport: Transport,
    violations: &mut Violations,
) {
    let (shape, needed) = match keyboard {
        Keyboard::Waba(_) => ("waba", Transport::Waba),
        Keyboard::Telegram(_) => ("telegram", Transport::TelegramBot),
        Keyboard::Max(_) => ("max", Transport::MaxBot),
    };
    if transport == needed || transport == Transport::Other {
        return;
    }
    let needed_label = transport_label(needed);
    let label = transport_label(transport);
    violations.add(
        "keyboard",
        format!(
            "is a {shape} keyboard, accepted only on {needed_label} channels; \
             this is a {label} channel"
        ),
    );
}
