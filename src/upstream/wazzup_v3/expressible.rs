//! What a v3 request body cannot carry, refused before anything is sent rather than dropped
//! silently (wazzup-api.md §3.1, §3.4, §3.5).
//!
//! A file goes to v3 as `contentUri` alone: there is no field for its name, MIME type or SHA-1,
//! on a send or an edit. Those are refused, because dropping them changes what the recipient
//! gets (the file is named and typed after its URL and download) or skips a check the caller
//! asked for. `attachment.size_bytes` is not refused: the gateway itself checks it against the
//! 10 MB limit and the upstream measures the file anyway, so nothing the caller relies on is lost.
//! Telegram's `resize` and `selective` have no v3 field either.

use crate::model::{Attachment, Content, EditContent, EditMessage, Keyboard, SendMessage};
use crate::model::{TelegramKeyboard, Violations};

/// Adds a violation for every field of `send` that a v3 body cannot carry.
pub(super) fn check_send(send: &SendMessage, violations: &mut Violations) {
    if let Some(Content::Attachment(attachment)) = &send.content {
        check_attachment(attachment, violations);
    }
    if let Some(Keyboard::Telegram(keyboard)) = &send.keyboard {
        check_telegram_keyboard(keyboard, violations);
    }
}

/// Adds a violation for every field of `edit` that a v3 body cannot carry.
pub(super) fn check_edit(edit: &EditMessage, violations: &mut Violations) {
    if let Some(EditContent::Attachment(attachment)) = &edit.content {
        check_attachment(attachment, violations);
    }
}

/// Refuses the attachment fields v3 has no place for (`contentUri` is the only one).
fn check_attachment(attachment: &Attachment, violations: &mut Violations) {
    let unsupported = [
        (
            attachment.name.as_deref(),
            "attachment.name",
            "the file is named after its url",
        ),
        (
            attachment.mime_type.as_deref(),
            "attachment.mime_type",
            "the type is taken from the downloaded file",
        ),
        (
            attachment.sha1.as_deref(),
            "attachment.sha1",
            "the upstream does not verify the file",
        ),
    ];
    for (value, field, consequence) in unsupported {
        if value.is_some_and(|value| !value.is_empty()) {
            violations.add(
                field,
                format!("has no wazzup_v3 equivalent ({consequence}); leave it unset"),
            );
        }
    }
}

/// Refuses the Telegram keyboard flags v3 has no place for.
fn check_telegram_keyboard(keyboard: &TelegramKeyboard, violations: &mut Violations) {
    for (set, field) in [
        (keyboard.resize, "keyboard.telegram.resize"),
        (keyboard.selective, "keyboard.telegram.selective"),
    ] {
        if set {
            violations.add(field, "has no wazzup_v3 equivalent; leave it unset");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ChatType, Recipient};

    fn file(attachment: Attachment) -> SendMessage {
        SendMessage {
            channel_id: "e0629e11-0f67-4567-92a9-2237e91ec1b9".to_owned(),
            recipient: Recipient {
                chat_type: Some(ChatType::Whatsapp),
                chat_id: Some("79011112233".to_owned()),
                ..Recipient::default()
            },
            content: Some(Content::Attachment(attachment)),
            keyboard: None,
            quoted_message_id: None,
            crm_user_id: None,
            reset_unanswered: None,
            idempotency_key: None,
            notify: None,
        }
    }

    fn full_attachment() -> Attachment {
        Attachment {
            url: "https://files.example.com/new.pdf".to_owned(),
            name: Some("new.pdf".to_owned()),
            mime_type: Some("application/pdf".to_owned()),
            size_bytes: Some(86_176),
            sha1: Some("153e030466873745ce4a66da02d0610a7ee6ce4f".to_owned()),
        }
    }

    fn fields(check: impl FnOnce(&mut Violations)) -> Vec<String> {
        let mut violations = Violations::new();
        check(&mut violations);
        violations
            .as_slice()
            .iter()
            .map(|violation| violation.field.clone())
            .collect()
    }

    #[test]
    fn attachment_fields_v3_cannot_carry_are_refused_on_sends_and_edits() {
        let send = file(full_attachment());
        let edit = EditMessage {
            message_id: "m-1".to_owned(),
            channel_id: None,
            content: Some(EditContent::Attachment(full_attachment())),
            crm_user_id: None,
        };
        let expected = ["attachment.name", "attachment.mime_type", "attachment.sha1"];
        assert_eq!(fields(|violations| check_send(&send, violations)), expected);
        assert_eq!(fields(|violations| check_edit(&edit, violations)), expected);
    }

    #[test]
    fn a_url_and_a_size_are_all_v3_needs() {
        let attachment = Attachment {
            url: "https://files.example.com/new.pdf".to_owned(),
            size_bytes: Some(86_176),
            name: Some(String::new()),
            ..Attachment::default()
        };
        assert!(fields(|violations| check_send(&file(attachment), violations)).is_empty());
    }

    #[test]
    fn telegram_resize_and_selective_are_refused() {
        let mut send = file(Attachment::default());
        send.content = Some(Content::Text("hi".to_owned()));
        send.keyboard = Some(Keyboard::Telegram(TelegramKeyboard {
            markup: None,
            rows: Vec::new(),
            one_time: true,
            resize: true,
            selective: true,
            remove: true,
        }));
        assert_eq!(
            fields(|violations| check_send(&send, violations)),
            ["keyboard.telegram.resize", "keyboard.telegram.selective"]
        );
    }
}
