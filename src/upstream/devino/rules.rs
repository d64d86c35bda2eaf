//! Devino's own send rules, checked before anything is sent (whatsapp-notify-api.md §3.1, §3.2):
//! its text and name limits, its media table, its notification options, and everything a send may
//! carry that Devino has no field for, which is refused rather than dropped.
//!
//! The shared rules run first (`model::validate`): recipient shape (a WhatsApp chat id is 9 to 16
//! digits, Devino's `to`), the attachment URL, and the WABA rules of the sender's channel.

use crate::model::{Attachment, Content, NotifyOptions, SendMessage, Violations};

/// Longest `text`, in characters.
pub(super) const MAX_TEXT_CHARS: usize = 1000;
/// Longest `contentName`, in characters.
const MAX_CONTENT_NAME_CHARS: usize = 100;
/// Longest `callbackData`, in characters (a gateway bound; the document gives none).
const MAX_CALLBACK_DATA_CHARS: usize = 255;
/// Accepted length of `languageCode`, in characters (a gateway bound: language and locale codes
/// such as `en` or `pt_BR`).
const LANGUAGE_CODE_CHARS: std::ops::RangeInclusive<usize> = 2..=10;
/// One decimal megabyte: where the document's sizes could be read as 10^6 or 2^20 bytes, the
/// smaller is enforced.
const MB: u64 = 1_000_000;

/// One row of the media table: the MIME types of a kind and the largest file accepted.
struct MediaKind {
    /// The kind, as violations name it.
    name: &'static str,
    /// Its MIME types (`audio/acc` as the document spells it, beside `audio/aac`).
    mime_types: &'static [&'static str],
    /// The largest size, in bytes.
    max_bytes: u64,
}

/// The media table (§3.2). Images: the table says 16 MB, but status error 2303 refuses an image
/// of 5 MB or more; the smaller wins. Any MIME type not listed is sent as a document.
const MEDIA_TABLE: [MediaKind; 4] = [
    MediaKind {
        name: "image",
        mime_types: &["image/jpeg", "image/png", "image/gif"],
        max_bytes: 5 * MB - 1,
    },
    MediaKind {
        name: "video",
        mime_types: &["video/mp4", "video/3gpp"],
        max_bytes: 5 * MB,
    },
    MediaKind {
        name: "audio",
        mime_types: &[
            "audio/aac",
            "audio/acc",
            "audio/mp4",
            "audio/amr",
            "audio/mpeg",
            "audio/ogg",
        ],
        max_bytes: 16 * MB,
    },
    MediaKind {
        name: "document",
        mime_types: &[],
        max_bytes: 100 * MB,
    },
];

/// Adds the violations of Devino's own rules.
pub(super) fn check_send(send: &SendMessage, violations: &mut Violations) {
    match &send.content {
        Some(Content::Text(text)) => {
            let length = text.chars().count();
            if length > MAX_TEXT_CHARS {
                violations.add(
                    "text",
                    format!("has {length} characters; devino accepts at most {MAX_TEXT_CHARS}"),
                );
            }
        }
        Some(Content::Attachment(attachment)) => check_attachment(attachment, violations),
        Some(Content::Template(template)) if !template.buttons.is_empty() => {
            violations.add(
                "template.buttons",
                "has no devino equivalent (templateParams carry values only); leave it empty",
            );
        }
        Some(Content::Template(_)) | None => {}
    }
    let is_template = matches!(send.content, Some(Content::Template(_)));
    if let Some(notify) = &send.notify {
        check_notify(notify, is_template, violations);
    }
    check_inexpressible(send, violations);
}

/// Checks the name, the MIME type and, when the size is known, the media table.
fn check_attachment(attachment: &Attachment, violations: &mut Violations) {
    if let Some(name) = &attachment.name {
        let length = name.chars().count();
        if name.trim().is_empty() || length > MAX_CONTENT_NAME_CHARS {
            violations.add(
                "attachment.name",
                format!("has {length} characters; devino accepts 1 to {MAX_CONTENT_NAME_CHARS}"),
            );
        }
    }
    if attachment.sha1.is_some() {
        violations.add(
            "attachment.sha1",
            "has no devino equivalent; leave it unset",
        );
    }
    let Some(mime_type) = &attachment.mime_type else {
        return;
    };
    if !is_mime_type(mime_type) {
        violations.add(
            "attachment.mime_type",
            "is not a MIME type such as image/jpeg or application/pdf",
        );
        return;
    }
    let kind = media_kind(mime_type);
    if let Some(size) = attachment.size_bytes
        && size > kind.max_bytes
    {
        violations.add(
            "attachment.size_bytes",
            format!(
                "is {size} bytes; devino accepts {} files ({mime_type}) of at most {} bytes",
                kind.name, kind.max_bytes
            ),
        );
    }
}

/// Returns the media table row of a MIME type (parameters such as `; codecs=opus` ignored).
fn media_kind(mime_type: &str) -> &'static MediaKind {
    let essence = mime_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    MEDIA_TABLE
        .iter()
        .find(|kind| kind.mime_types.contains(&essence.as_str()))
        .unwrap_or(&MEDIA_TABLE[3])
}

/// Tells whether the text is `type/subtype` (with optional parameters) of token characters.
fn is_mime_type(raw: &str) -> bool {
    let essence = raw.split(';').next().unwrap_or_default().trim();
    let token = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || "!#$&-^_.+".contains(ch))
    };
    essence
        .split_once('/')
        .is_some_and(|(kind, subtype)| token(kind) && token(subtype))
}

/// Checks the notification options: validity in whole seconds and only with a template, the
/// callback data's and the language code's length.
fn check_notify(notify: &NotifyOptions, is_template: bool, violations: &mut Violations) {
    if let Some(validity) = notify.validity {
        if validity.is_zero() || validity.subsec_nanos() != 0 {
            violations.add(
                "notify.validity",
                "must be a positive whole number of seconds",
            );
        } else if !is_template {
            violations.add(
                "notify.validity",
                "applies to template messages only (devino ignores it otherwise); leave it unset",
            );
        }
    }
    if let Some(data) = &notify.callback_data {
        let length = data.chars().count();
        if length > MAX_CALLBACK_DATA_CHARS {
            violations.add(
                "notify.callback_data",
                format!("has {length} characters; at most {MAX_CALLBACK_DATA_CHARS} are accepted"),
            );
        }
    }
    if let Some(code) = &notify.language_code {
        let valid_chars = code
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-');
        if !LANGUAGE_CODE_CHARS.contains(&code.chars().count()) || !valid_chars {
            violations.add(
                "notify.language_code",
                "must be a language code such as en or pt_BR (2 to 10 letters, digits, _ or -)",
            );
        }
    }
}

/// Refuses what a send may carry but Devino has no field for.
fn check_inexpressible(send: &SendMessage, violations: &mut Violations) {
    let unset = "has no devino equivalent; leave it unset";
    if send.keyboard.is_some() {
        violations.add("keyboard", unset);
    }
    if send.quoted_message_id.is_some() {
        violations.add("quoted_message_id", unset);
    }
    if send.crm_user_id.is_some() {
        violations.add("crm_user_id", unset);
    }
    if send.reset_unanswered.is_some() {
        violations.add("reset_unanswered", unset);
    }
    if send.recipient.contact_name.is_some() {
        violations.add("recipient.contact_name", unset);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::model::{ChatType, Recipient, TemplateButton, TemplateMessage};

    fn send(content: Content) -> SendMessage {
        SendMessage {
            channel_id: "c".to_owned(),
            recipient: Recipient {
                chat_type: Some(ChatType::Whatsapp),
                chat_id: Some("79034567890".to_owned()),
                ..Recipient::default()
            },
            content: Some(content),
            keyboard: None,
            quoted_message_id: None,
            crm_user_id: None,
            reset_unanswered: None,
            idempotency_key: None,
            notify: None,
        }
    }

    fn fields(send: &SendMessage) -> Vec<String> {
        let mut violations = Violations::new();
        check_send(send, &mut violations);
        violations
            .as_slice()
            .iter()
            .map(|violation| violation.field.clone())
            .collect()
    }

    fn file(mime_type: &str, size_bytes: u64) -> Content {
        Content::Attachment(Attachment {
            url: "https://example.com/f".to_owned(),
            mime_type: Some(mime_type.to_owned()),
            size_bytes: Some(size_bytes),
            ..Attachment::default()
        })
    }

    #[test]
    fn text_is_limited_to_1000_characters() {
        assert!(fields(&send(Content::Text("я".repeat(1000)))).is_empty());
        assert_eq!(fields(&send(Content::Text("я".repeat(1001)))), ["text"]);
    }

    #[test]
    fn the_media_table_is_checked_when_the_size_is_known() {
        let table = [
            ("image/jpeg", 4_999_999, true),
            ("image/png", 5_000_000, false),
            ("video/mp4", 5_000_000, true),
            ("video/3gpp", 5_000_001, false),
            ("audio/ogg; codecs=opus", 16_000_000, true),
            ("audio/mpeg", 16_000_001, false),
            ("application/pdf", 100_000_000, true),
            ("application/pdf", 100_000_001, false),
        ];
        for (mime_type, size, accepted) in table {
            let found = fields(&send(file(mime_type, size)));
            let expected: &[&str] = if accepted {
                &[]
            } else {
                &["attachment.size_bytes"]
            };
            assert_eq!(found, expected, "{mime_type} {size}");
        }
        assert_eq!(fields(&send(file("jpeg", 1))), ["attachment.mime_type"]);
    }

    #[test]
    fn names_sha1_and_template_buttons_are_checked() {
        let named = |name: &str| {
            Content::Attachment(Attachment {
                url: "https://example.com/f".to_owned(),
                name: Some(name.to_owned()),
                sha1: Some("a".repeat(40)),
                ..Attachment::default()
            })
        };
        assert_eq!(fields(&send(named(&"n".repeat(100)))), ["attachment.sha1"]);
        assert_eq!(
            fields(&send(named(&"n".repeat(101)))),
            ["attachment.name", "attachment.sha1"]
        );
        let template = Content::Template(TemplateMessage {
            template_id: "t".to_owned(),
            values: vec!["a".to_owned()],
            buttons: vec![TemplateButton::default()],
        });
        assert_eq!(fields(&send(template)), ["template.buttons"]);
    }

    #[test]
    fn notify_options_and_inexpressible_fields_are_checked() {
        let template = Content::Template(TemplateMessage {
            template_id: "t".to_owned(),
            ..TemplateMessage::default()
        });
        let mut with_notify = send(template);
        with_notify.notify = Some(NotifyOptions {
            callback_data: Some("x".repeat(255)),
            validity: Some(Duration::from_secs(86_400)),
            language_code: Some("pt_BR".to_owned()),
        });
        assert!(fields(&with_notify).is_empty());
        with_notify.notify = Some(NotifyOptions {
            callback_data: Some("x".repeat(256)),
            validity: Some(Duration::from_millis(1500)),
            language_code: Some("e".to_owned()),
        });
        assert_eq!(
            fields(&with_notify),
            [
                "notify.validity",
                "notify.callback_data",
                "notify.language_code"
            ]
        );
        let mut text = send(Content::Text("hi".to_owned()));
        text.notify = Some(NotifyOptions {
            validity: Some(Duration::from_secs(60)),
            ..NotifyOptions::default()
        });
        text.quoted_message_id = Some("q".to_owned());
        text.crm_user_id = Some("u".to_owned());
        text.reset_unanswered = Some(false);
        text.recipient.contact_name = Some("n".to_owned());
        assert_eq!(
            fields(&text),
            [
                "notify.validity",
                "quoted_message_id",
                "crm_user_id",
                "reset_unanswered",
                "recipient.contact_name"
            ]
        );
    }
}
