//! The fingerprint tells repeats from different requests: same request, same fingerprint; any
//! field changed, a different one; the idempotency key itself does not count.

use std::time::Duration;

use super::*;
use crate::model::{ChatType, MaxButtonType, MaxIntent, MaxKeyboard, TemplateButton, WabaButton};

fn some(value: &str) -> Option<String> {
    Some(value.to_owned())
}

/// A send with every top-level field set, carrying a template.
fn full_send() -> SendMessage {
    SendMessage {
        channel_id: "2ffb1f09-2a4c-4c47-a8a3-1e4d3a5f6b7c".to_owned(),
        recipient: Recipient {
            chat_type: Some(ChatType::Whatsapp),
            chat_id: some("79011112233"),
            username: some("alice"),
            phone: some("79011112233"),
            contact_name: some("Alice"),
        },
        content: Some(Content::Template(TemplateMessage {
            template_id: "8d255e5d".to_owned(),
            values: vec!["a".to_owned(), "b".to_owned()],
            buttons: vec![
                TemplateButton {
                    payload: some("p1"),
                    ..TemplateButton::default()
                },
                TemplateButton::default(),
            ],
        })),
        keyboard: Some(Keyboard::Waba(vec![WabaButton {
            text: "Yes".to_owned(),
            payload: some("yes"),
        }])),
        quoted_message_id: some("q-1"),
        crm_user_id: some("user-1"),
        reset_unanswered: Some(false),
        idempotency_key: some("order-1"),
        notify: Some(NotifyOptions {
            callback_data: some("cb"),
            validity: Some(Duration::from_secs(60)),
            language_code: some("en"),
        }),
    }
}

fn attachment_send() -> SendMessage {
    SendMessage {
        content: Some(Content::Attachment(Attachment {
            url: "https://example.com/a.pdf".to_owned(),
            name: some("a.pdf"),
            mime_type: some("application/pdf"),
            size_bytes: Some(10),
            sha1: some("153e030466873745ce4a66da02d0610a7ee6ce4f"),
        })),
        ..full_send()
    }
}

fn telegram_send() -> SendMessage {
    SendMessage {
        keyboard: Some(Keyboard::Telegram(TelegramKeyboard {
            markup: Some(TelegramMarkup::Inline),
            rows: vec![vec![TelegramButton {
                text: "Open".to_owned(),
                url: some("https://example.com"),
                callback_data: None,
            }]],
            one_time: false,
            resize: false,
            selective: false,
            remove: false,
        })),
        ..full_send()
    }
}

fn max_send() -> SendMessage {
    SendMessage {
        keyboard: Some(Keyboard::Max(MaxKeyboard {
            rows: vec![vec![MaxButton {
                button_type: Some(MaxButtonType::Callback),
                text: "Go".to_owned(),
                payload: some("go"),
                url: None,
                intent: Some(MaxIntent::Positive),
            }]],
        })),
        ..full_send()
    }
}

type Change = fn(&mut SendMessage);

/// A field name, the request to start from, and a change of that field.
type FieldChange = (&'static str, fn() -> SendMessage, Change);

fn changed(base: fn() -> SendMessage, change: Change) -> SendMessage {
    let mut send = base();
    change(&mut send);
    send
}

fn template_of(send: &mut SendMessage) -> &mut TemplateMessage {
    match &mut send.content {
        Some(Content::Template(template)) => template,
        _ => unreachable!("full_send carries a template"),
    }
}

fn attachment_of(send: &mut SendMessage) -> &mut Attachment {
    match &mut send.content {
        Some(Content::Attachment(attachment)) => attachment,
        _ => unreachable!("attachment_send carries an attachment"),
    }
}

fn telegram_of(send: &mut SendMessage) -> &mut TelegramKeyboard {
    match &mut send.keyboard {
        Some(Keyboard::Telegram(keyboard)) => keyboard,
        _ => unreachable!("telegram_send carries a telegram keyboard"),
    }
}

fn max_button_of(send: &mut SendMessage) -> &mut MaxButton {
    match &mut send.keyboard {
        Some(Keyboard::Max(keyboard)) => &mut keyboard.rows[0][0],
        _ => unreachable!("max_send carries a max keyboard"),
    }
}

fn notify_of(send: &mut SendMessage) -> &mut NotifyOptions {
    send.notify.as_mut().expect("full_send has notify options")
}

/// One row per field: the base request and a change of exactly that field.
fn field_changes() -> Vec<FieldChange> {
    vec![
        ("channel_id", full_send, |s| s.channel_id.push('x')),
        ("chat_type", full_send, |s| {
            s.recipient.chat_type = Some(ChatType::Viber)
        }),
        ("chat_type unset", full_send, |s| {
            s.recipient.chat_type = None
        }),
        ("chat_id", full_send, |s| {
            s.recipient.chat_id = some("79011112234")
        }),
        ("username", full_send, |s| {
            s.recipient.username = some("bob")
        }),
        ("phone", full_send, |s| s.recipient.phone = None),
        ("contact_name", full_send, |s| {
            s.recipient.contact_name = some("Bob")
        }),
        ("text instead of template", full_send, |s| {
            s.content = Some(Content::Text("a".to_owned()))
        }),
        ("no content", full_send, |s| s.content = None),
        ("template_id", full_send, |s| {
            template_of(s).template_id.push('x')
        }),
        ("template value", full_send, |s| {
            template_of(s).values[1] = "c".to_owned()
        }),
        ("template value order", full_send, |s| {
            template_of(s).values.reverse()
        }),
        ("template button payload moved", full_send, |s| {
            template_of(s).buttons.reverse()
        }),
        ("template button text", full_send, |s| {
            template_of(s).buttons[1].text = some("t")
        }),
        ("template button type", full_send, |s| {
            template_of(s).buttons[1].button_type = some("QUICK_REPLY")
        }),
        ("attachment url", attachment_send, |s| {
            attachment_of(s).url.push('x')
        }),
        ("attachment name", attachment_send, |s| {
            attachment_of(s).name = None
        }),
        ("attachment mime type", attachment_send, |s| {
            attachment_of(s).mime_type = some("text/plain")
        }),
        ("attachment size", attachment_send, |s| {
            attachment_of(s).size_bytes = Some(11)
        }),
        ("attachment sha1", attachment_send, |s| {
            attachment_of(s).sha1 = None
        }),
        ("waba button text", full_send, |s| {
            s.keyboard = Some(Keyboard::Waba(vec![WabaButton {
                text: "No".to_owned(),
                payload: some("yes"),
            }]))
        }),
        ("waba button payload", full_send, |s| {
            s.keyboard = Some(Keyboard::Waba(vec![WabaButton {
                text: "Yes".to_owned(),
                payload: None,
            }]))
        }),
        ("no keyboard", full_send, |s| s.keyboard = None),
        ("telegram markup", telegram_send, |s| {
            telegram_of(s).markup = Some(TelegramMarkup::Reply)
        }),
        ("telegram one_time", telegram_send, |s| {
            telegram_of(s).one_time = true
        }),
        ("telegram resize", telegram_send, |s| {
            telegram_of(s).resize = true
        }),
        ("telegram selective", telegram_send, |s| {
            telegram_of(s).selective = true
        }),
        ("telegram remove", telegram_send, |s| {
            telegram_of(s).remove = true
        }),
        ("telegram button url", telegram_send, |s| {
            telegram_of(s).rows[0][0].url = None
        }),
        ("telegram button callback", telegram_send, |s| {
            telegram_of(s).rows[0][0].callback_data = some("cb")
        }),
        ("telegram rows split", telegram_send, |s| {
            telegram_of(s).rows.push(Vec::new())
        }),
        ("max button type", max_send, |s| {
            max_button_of(s).button_type = Some(MaxButtonType::Link)
        }),
        ("max button text", max_send, |s| {
            max_button_of(s).text.push('x')
        }),
        ("max button payload", max_send, |s| {
            max_button_of(s).payload = None
        }),
        ("max button url", max_send, |s| {
            max_button_of(s).url = some("https://example.com")
        }),
        ("max button intent", max_send, |s| {
            max_button_of(s).intent = Some(MaxIntent::Negative)
        }),
        ("quoted_message_id", full_send, |s| {
            s.quoted_message_id = some("q-2")
        }),
        ("crm_user_id", full_send, |s| s.crm_user_id = None),
        ("reset_unanswered true", full_send, |s| {
            s.reset_unanswered = Some(true)
        }),
        ("reset_unanswered unset", full_send, |s| {
            s.reset_unanswered = None
        }),
        ("notify callback_data", full_send, |s| {
            notify_of(s).callback_data = some("other")
        }),
        ("notify validity", full_send, |s| {
            notify_of(s).validity = Some(Duration::from_secs(61))
        }),
        ("notify language", full_send, |s| {
            notify_of(s).language_code = some("ru")
        }),
        ("no notify", full_send, |s| s.notify = None),
    ]
}

#[test]
fn the_same_request_has_the_same_fingerprint() {
    for base in [full_send, attachment_send, telegram_send, max_send] {
        assert_eq!(Fingerprint::of_send(&base()), Fingerprint::of_send(&base()));
    }
}

#[test]
fn the_idempotency_key_does_not_count() {
    let other_key = changed(full_send, |s| s.idempotency_key = some("order-2"));
    let no_key = changed(full_send, |s| s.idempotency_key = None);

    assert_eq!(
        Fingerprint::of_send(&other_key),
        Fingerprint::of_send(&full_send())
    );
    assert_eq!(
        Fingerprint::of_send(&no_key),
        Fingerprint::of_send(&full_send())
    );
}

#[test]
fn any_field_change_changes_the_fingerprint() {
    for (field, base, change) in field_changes() {
        assert_ne!(
            Fingerprint::of_send(&changed(base, change)),
            Fingerprint::of_send(&base()),
            "{field}"
        );
    }
}

#[test]
fn no_two_field_changes_collide() {
    let fingerprints: Vec<_> = field_changes()
        .into_iter()
        .map(|(field, base, change)| (field, Fingerprint::of_send(&changed(base, change))))
        .collect();
    for (index, (field, fingerprint)) in fingerprints.iter().enumerate() {
        for (other_field, other) in &fingerprints[index + 1..] {
            assert_ne!(fingerprint, other, "{field} vs {other_field}");
        }
    }
}

#[test]
fn the_encoding_is_stable_across_releases() {
    // Records outlive the process: a change here breaks every stored key. Bump ENCODING_VERSION
    // deliberately instead.
    let fingerprint = Fingerprint::of_send(&full_send());

    assert_eq!(fingerprint.to_hex(), PINNED_FULL_SEND);
}

const PINNED_FULL_SEND: &str = "f5bc776042aa3fbbeff2f6e27fed4eff8112f39f88a366b21533cdf9b47c73e0";

#[test]
fn fingerprints_round_trip_through_hex() {
    let fingerprint = Fingerprint::of_send(&full_send());

    assert_eq!(
        Fingerprint::from_hex(&fingerprint.to_hex()),
        Some(fingerprint)
    );
    assert_eq!(Fingerprint::from_hex("zz"), None);
    assert_eq!(Fingerprint::from_hex(&"g".repeat(64)), None);
}
