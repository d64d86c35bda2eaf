//! Table tests of the validation rules: one row per rule with the exact field paths it reports.

use super::*;
use crate::model::limits::{MAX_TEXT_CHARS_ANY_TRANSPORT, max_text_chars};
use crate::model::{
    Attachment, ChannelState, ChatType, Keyboard, MaxButton, MaxButtonType, MaxKeyboard, Recipient,
    TelegramButton, TelegramKeyboard, TelegramMarkup, TemplateButton, TemplateMessage, Transport,
    WabaButton,
};

fn text_send(text: &str) -> SendMessage {
    SendMessage {
        channel_id: String::from("2ffb1f09-2a4c-4c47-a8a3-1e4d3a5f6b7c"),
        recipient: Recipient {
            chat_type: Some(ChatType::Whatsapp),
            chat_id: Some(String::from("79011112233")),
            ..Recipient::default()
        },
        content: Some(Content::Text(String::from(text))),
        keyboard: None,
        quoted_message_id: None,
        crm_user_id: None,
        reset_unanswered: None,
        idempotency_key: None,
        notify: None,
    }
}

/// A valid WhatsApp text send, changed by `change`.
fn send_with(change: impl FnOnce(&mut SendMessage)) -> SendMessage {
    let mut send = text_send("hello");
    change(&mut send);
    send
}

fn to(send: &mut SendMessage, chat_type: ChatType, chat_id: Option<&str>) {
    send.recipient.chat_type = Some(chat_type);
    send.recipient.chat_id = chat_id.map(String::from);
}

fn some(value: &str) -> Option<String> {
    Some(String::from(value))
}

fn attachment(url: &str) -> Attachment {
    Attachment {
        url: String::from(url),
        name: some("new.pdf"),
        mime_type: some("application/pdf"),
        size_bytes: Some(86_176),
        sha1: some("153e030466873745ce4a66da02d0610a7ee6ce4f"),
    }
}

fn template(values: &[&str], payloads: &[Option<&str>]) -> Content {
    Content::Template(TemplateMessage {
        template_id: String::from("385bf0c5-9f2a-4f9f-be85-9b84d797cf95"),
        values: values.iter().map(|value| String::from(*value)).collect(),
        buttons: payloads
            .iter()
            .map(|payload| TemplateButton {
                payload: payload.map(String::from),
                ..TemplateButton::default()
            })
            .collect(),
    })
}

fn waba(texts: &[&str]) -> Option<Keyboard> {
    let buttons = texts
        .iter()
        .map(|text| WabaButton {
            text: String::from(*text),
            payload: some("yes"),
        })
        .collect();
    Some(Keyboard::Waba(buttons))
}

fn tg(text: &str, url: Option<&str>, callback_data: Option<&str>) -> TelegramButton {
    TelegramButton {
        text: String::from(text),
        url: url.map(String::from),
        callback_data: callback_data.map(String::from),
    }
}

fn telegram(rows: Vec<Vec<TelegramButton>>) -> Option<Keyboard> {
    Some(Keyboard::Telegram(TelegramKeyboard {
        markup: Some(TelegramMarkup::Inline),
        rows,
        one_time: false,
        resize: false,
        selective: false,
        remove: false,
    }))
}

fn mx(
    kind: Option<MaxButtonType>,
    text: &str,
    payload: Option<&str>,
    url: Option<&str>,
) -> MaxButton {
    MaxButton {
        button_type: kind,
        text: String::from(text),
        payload: payload.map(String::from),
        url: url.map(String::from),
        intent: None,
    }
}

fn max(rows: Vec<Vec<MaxButton>>) -> Option<Keyboard> {
    Some(Keyboard::Max(MaxKeyboard { rows }))
}

/// An active channel of `transport` on account `main`.
pub(super) fn channel(transport: Transport) -> Channel {
    Channel {
        account: String::from("main"),
        channel_id: String::from("2ffb1f09-2a4c-4c47-a8a3-1e4d3a5f6b7c"),
        transport,
        transport_raw: String::from(transport.as_upstream()),
        plain_id: String::from("79000000000"),
        state: ChannelState::Active,
        state_raw: String::from("active"),
        provider: String::from("wazzup_v3"),
    }
}

fn paths(violations: &Violations) -> Vec<&str> {
    violations
        .as_slice()
        .iter()
        .map(|violation| violation.field.as_str())
        .collect()
}

fn send_paths(send: &SendMessage) -> Vec<String> {
    let mut violations = Violations::new();
    check_send(send, &mut violations);
    paths(&violations).into_iter().map(String::from).collect()
}

fn channel_paths(send: &SendMessage, transport: Transport) -> Vec<String> {
    let mut violations = Violations::new();
    check_send_for_channel(send, &channel(transport), &mut violations);
    paths(&violations).into_iter().map(String::from).collect()
}

fn all_violations(send: &SendMessage, transport: Transport) -> Vec<FieldViolation> {
    match validate_send_for_channel(send, &channel(transport)) {
        Ok(()) => Vec::new(),
        Err(ValidationError(violations)) => violations,
    }
}

/// Builds the expected list of field paths.
macro_rules! fields {
    ($($field:expr),* $(,)?) => {
        vec![$(String::from($field)),*]
    };
}

fn repeat(text: &str, times: usize) -> String {
    text.repeat(times)
}

/// One row per channel-free rule: the request and the exact field paths it produces.
fn channel_free_rules() -> Vec<(&'static str, SendMessage, Vec<String>)> {
    const M: &str = "keyboard.max.rows[0].buttons[0]";
    let callback = Some(MaxButtonType::Callback);
    let link = Some(MaxButtonType::Link);
    let message = Some(MaxButtonType::Message);
    vec![
        (
            "channel id is required",
            send_with(|s| s.channel_id = String::from(" ")),
            fields!["channel_id"],
        ),
        (
            "chat type is required",
            send_with(|s| s.recipient.chat_type = None),
            fields!["recipient.chat_type"],
        ),
        (
            "an unknown chat type is never sent upstream as \"other\"",
            send_with(|s| to(s, ChatType::Other, Some("1"))),
            fields!["recipient.chat_type"],
        ),
        (
            "chat id is required",
            send_with(|s| s.recipient.chat_id = None),
            fields!["recipient.chat_id"],
        ),
        (
            "a blank chat id is missing",
            send_with(|s| s.recipient.chat_id = some("  ")),
            fields!["recipient.chat_id"],
        ),
        (
            "a telegram username replaces the chat id",
            send_with(|s| {
                to(s, ChatType::Telegram, None);
                s.recipient.username = some("john_doe");
            }),
            fields![],
        ),
        (
            "a telegram phone replaces the chat id",
            send_with(|s| {
                to(s, ChatType::Telegram, None);
                s.recipient.phone = some("79011112233");
            }),
            fields![],
        ),
        (
            "a max phone replaces the chat id",
            send_with(|s| {
                to(s, ChatType::Max, None);
                s.recipient.phone = some("79011112233");
            }),
            fields![],
        ),
        (
            "a username does not replace a max chat id",
            send_with(|s| {
                to(s, ChatType::Max, None);
                s.recipient.username = some("john_doe");
            }),
            fields!["recipient.chat_id", "recipient.username"],
        ),
        (
            "a phone does not replace a whatsapp chat id",
            send_with(|s| {
                to(s, ChatType::Whatsapp, None);
                s.recipient.phone = some("79011112233");
            }),
            fields!["recipient.chat_id", "recipient.phone"],
        ),
        (
            "a missing chat type with a username only reports the chat type",
            send_with(|s| {
                s.recipient = Recipient {
                    username: some("john_doe"),
                    ..Recipient::default()
                };
            }),
            fields!["recipient.chat_type"],
        ),
        (
            "whatsapp chat ids are digits only",
            send_with(|s| to(s, ChatType::Whatsapp, Some("+79011112233"))),
            fields!["recipient.chat_id"],
        ),
        (
            "viber chat ids have at least 9 digits",
            send_with(|s| to(s, ChatType::Viber, Some("12345678"))),
            fields!["recipient.chat_id"],
        ),
        (
            "instagram chat ids have no leading @",
            send_with(|s| to(s, ChatType::Instagram, Some("@shop"))),
            fields!["recipient.chat_id"],
        ),
        (
            "other chat ids are free form",
            send_with(|s| to(s, ChatType::Vk, Some("@x y+"))),
            fields![],
        ),
        (
            "usernames have no leading @",
            send_with(|s| {
                to(s, ChatType::Telegram, Some("123"));
                s.recipient.username = some("@john");
            }),
            fields!["recipient.username"],
        ),
        (
            "usernames are for telegram chats only",
            send_with(|s| s.recipient.username = some("john")),
            fields!["recipient.username"],
        ),
        (
            "phones are digits only",
            send_with(|s| {
                to(s, ChatType::Telegram, None);
                s.recipient.phone = some("+7 901 111 22 33");
            }),
            fields!["recipient.phone"],
        ),
        (
            "phones are for telegram and max chats only",
            send_with(|s| {
                to(s, ChatType::Vk, Some("123"));
                s.recipient.phone = some("79011112233");
            }),
            fields!["recipient.phone"],
        ),
        (
            "content is required",
            send_with(|s| s.content = None),
            fields!["text"],
        ),
        ("text is not blank", text_send(" \n\t "), fields!["text"]),
        (
            "text fits any transport",
            text_send(&repeat("a", MAX_TEXT_CHARS_ANY_TRANSPORT + 1)),
            fields!["text"],
        ),
        (
            "an attachment needs a url",
            send_with(|s| s.content = Some(Content::Attachment(attachment("")))),
            fields!["attachment.url"],
        ),
        (
            "an attachment url is absolute",
            send_with(|s| s.content = Some(Content::Attachment(attachment("files/new.pdf")))),
            fields!["attachment.url"],
        ),
        (
            "an attachment url is http or https",
            send_with(|s| {
                s.content = Some(Content::Attachment(attachment("ftp://example.com/new.pdf")))
            }),
            fields!["attachment.url"],
        ),
        (
            "an attachment is at most 10 MB",
            send_with(|s| {
                let mut file = attachment("https://example.com/new.pdf");
                file.size_bytes = Some(10_000_001);
                s.content = Some(Content::Attachment(file));
            }),
            fields!["attachment.size_bytes"],
        ),
        (
            "an attachment sha1 is 40 hex characters",
            send_with(|s| {
                let mut file = attachment("https://example.com/new.pdf");
                file.sha1 = some("153e0304");
                s.content = Some(Content::Attachment(file));
            }),
            fields!["attachment.sha1"],
        ),
        (
            "an attachment mime type is type/subtype",
            send_with(|s| {
                let mut file = attachment("https://example.com/new.pdf");
                file.mime_type = some("pdf");
                s.content = Some(Content::Attachment(file));
            }),
            fields!["attachment.mime_type"],
        ),
        (
            "a template needs an id",
            send_with(|s| {
                let mut content = template(&["Anna"], &[]);
                if let Content::Template(template) = &mut content {
                    template.template_id = String::from(" ");
                }
                s.content = Some(content);
            }),
            fields!["template.template_id"],
        ),
        (
            "template values are not blank",
            send_with(|s| s.content = Some(template(&["Anna", " "], &[]))),
            fields!["template.values[1]"],
        ),
        (
            "one template value fits the template message",
            send_with(|s| s.content = Some(template(&[&repeat("ж", 551)], &[]))),
            fields!["template.values"],
        ),
        (
            "template values together fit the template message",
            send_with(|s| {
                s.content = Some(template(&[&repeat("ж", 300), &repeat("ё", 251)], &[]));
            }),
            fields!["template.values"],
        ),
        (
            "a template has at most 50 values",
            send_with(|s| s.content = Some(template(&["v"; 51], &[]))),
            fields!["template.values"],
        ),
        (
            "template buttons carry a payload",
            send_with(|s| s.content = Some(template(&[], &[None, Some("yes")]))),
            fields!["template.buttons[0].payload"],
        ),
        (
            "a template has at most 10 button payloads",
            send_with(|s| s.content = Some(template(&[], &[Some("yes"); 11]))),
            fields!["template.buttons"],
        ),
        (
            "a waba keyboard does not go with a template",
            send_with(|s| {
                s.content = Some(template(&["Anna"], &[]));
                s.keyboard = waba(&["Yes"]);
            }),
            fields!["keyboard.waba"],
        ),
        (
            "a waba keyboard has buttons",
            send_with(|s| s.keyboard = waba(&[])),
            fields!["keyboard.waba.buttons"],
        ),
        (
            "a waba keyboard has at most 10 buttons",
            send_with(|s| s.keyboard = waba(&["b"; 11])),
            fields!["keyboard.waba.buttons"],
        ),
        (
            "a waba button has a label",
            send_with(|s| s.keyboard = waba(&["a", "b", "c", " "])),
            fields!["keyboard.waba.buttons[3].text"],
        ),
        (
            "a waba button label is at most 20 characters",
            send_with(|s| s.keyboard = waba(&[&repeat("a", 21)])),
            fields!["keyboard.waba.buttons[0].text"],
        ),
        (
            "a telegram keyboard has at most 12 buttons in all rows",
            send_with(|s| {
                s.keyboard = telegram(vec![
                    vec![tg("a", None, None); 7],
                    vec![tg("b", None, None); 6],
                ])
            }),
            fields!["keyboard.telegram.rows"],
        ),
        (
            "a telegram keyboard has rows unless it removes the keyboard",
            send_with(|s| s.keyboard = telegram(fields![])),
            fields!["keyboard.telegram.rows"],
        ),
        (
            "a telegram row is not empty",
            send_with(|s| s.keyboard = telegram(vec![vec![tg("a", None, None)], vec![]])),
            fields!["keyboard.telegram.rows[1].buttons"],
        ),
        (
            "removing a telegram keyboard takes no rows",
            send_with(|s| {
                s.keyboard = telegram(vec![vec![tg("a", None, None)]]);
                if let Some(Keyboard::Telegram(keyboard)) = &mut s.keyboard {
                    keyboard.remove = true;
                }
            }),
            fields!["keyboard.telegram.remove"],
        ),
        (
            "a telegram button has a label",
            send_with(|s| s.keyboard = telegram(vec![vec![tg("", None, Some("x"))]])),
            fields!["keyboard.telegram.rows[0].buttons[0].text"],
        ),
        (
            "a telegram button label is at most 64 characters",
            send_with(|s| s.keyboard = telegram(vec![vec![tg(&repeat("a", 65), None, None)]])),
            fields!["keyboard.telegram.rows[0].buttons[0].text"],
        ),
        (
            "telegram callback data is at most 64 bytes",
            send_with(|s| {
                let long = repeat("я", 33);
                s.keyboard = telegram(vec![vec![tg("a", None, None), tg("b", None, Some(&long))]]);
            }),
            fields!["keyboard.telegram.rows[0].buttons[1].callback_data"],
        ),
        (
            "a telegram button has url or callback data, not both",
            send_with(|s| {
                s.keyboard = telegram(vec![vec![tg("a", Some("https://example.com"), Some("x"))]])
            }),
            fields!["keyboard.telegram.rows[0].buttons[0].callback_data"],
        ),
        (
            "a max keyboard has rows",
            send_with(|s| s.keyboard = max(fields![])),
            fields!["keyboard.max.rows"],
        ),
        (
            "a max row is not empty",
            send_with(|s| s.keyboard = max(vec![vec![]])),
            fields!["keyboard.max.rows[0].buttons"],
        ),
        (
            "a max button has a type",
            send_with(|s| s.keyboard = max(vec![vec![mx(None, "a", None, None)]])),
            fields![format!("{M}.type")],
        ),
        (
            "a max button has a label",
            send_with(|s| s.keyboard = max(vec![vec![mx(message, " ", None, None)]])),
            fields![format!("{M}.text")],
        ),
        (
            "a max callback button has a payload",
            send_with(|s| s.keyboard = max(vec![vec![mx(callback, "a", None, None)]])),
            fields![format!("{M}.payload")],
        ),
        (
            "a max callback button has no url",
            send_with(|s| {
                s.keyboard = max(vec![vec![mx(
                    callback,
                    "a",
                    Some("p"),
                    Some("https://a.b"),
                )]])
            }),
            fields![format!("{M}.url")],
        ),
        (
            "a max link button has a url",
            send_with(|s| s.keyboard = max(vec![vec![mx(link, "a", None, None)]])),
            fields![format!("{M}.url")],
        ),
        (
            "a max link url is http or https",
            send_with(|s| s.keyboard = max(vec![vec![mx(link, "a", None, Some("tg://x"))]])),
            fields![format!("{M}.url")],
        ),
        (
            "a max link button has no payload",
            send_with(|s| {
                s.keyboard = max(vec![vec![mx(link, "a", Some("p"), Some("https://a.b"))]])
            }),
            fields![format!("{M}.payload")],
        ),
        (
            "a max message button has neither payload nor url",
            send_with(|s| {
                s.keyboard = max(vec![vec![mx(message, "a", Some("p"), Some("https://a.b"))]])
            }),
            fields![format!("{M}.payload"), format!("{M}.url")],
        ),
        (
            "a quoted message id is not blank",
            send_with(|s| s.quoted_message_id = some("  ")),
            fields!["quoted_message_id"],
        ),
        (
            "an idempotency key is at most 255 characters",
            send_with(|s| s.idempotency_key = Some(repeat("ключ", 64))),
            fields!["idempotency_key"],
        ),
        (
            "an idempotency key has no control characters",
            send_with(|s| s.idempotency_key = some("order-1\n")),
            fields!["idempotency_key"],
        ),
        (
            "an empty optional string counts as unset",
            send_with(|s| {
                s.quoted_message_id = some("");
                s.idempotency_key = some("");
                s.recipient.username = some("");
                s.recipient.phone = some("");
            }),
            fields![],
        ),
    ]
}

#[test]
fn every_channel_free_rule_reports_exactly_its_fields_in_order() {
    for (rule, send, expected) in channel_free_rules() {
        assert_eq!(send_paths(&send), expected, "{rule}");
    }
}

#[test]
fn every_description_is_lowercase_and_says_what_is_wrong_and_what_is_accepted() {
    for (rule, send, _) in channel_free_rules() {
        let mut violations = Violations::new();
        check_send(&send, &mut violations);
        for transport in Transport::ALL {
            check_send_for_channel(&send, &channel(transport), &mut violations);
        }
        for violation in violations.as_slice() {
            let description = &violation.description;
            let first = description.chars().next().unwrap_or_default();
            assert!(first.is_lowercase(), "{rule}: {description}");
            assert!(description.contains("; "), "{rule}: {description}");
        }
    }
}

#[test]
fn descriptions_name_the_numbers_and_the_transport() {
    let table = [
        (
            text_send(&repeat("a", 10_001)),
            Transport::Whatsapp,
            "text: is 10001 characters; at most 10000 are allowed",
        ),
        (
            text_send(&repeat("a", 1_025)),
            Transport::Waba,
            "text: is 1025 characters; at most 1024 are allowed for waba channels",
        ),
        (
            send_with(|s| to(s, ChatType::Vk, Some("42"))),
            Transport::Waba,
            "recipient.chat_type: is vk, which waba channels cannot write to; accepted: whatsapp",
        ),
        (
            send_with(|s| s.keyboard = telegram(vec![vec![tg("a", None, None)]])),
            Transport::Waba,
            "keyboard: is a telegram keyboard, accepted only on telegram bot channels; \
             this is a waba channel",
        ),
        (
            send_with(|s| s.recipient.chat_id = some("7901")),
            Transport::Whatsapp,
            "recipient.chat_id: has 4 digits; whatsapp chat ids are phone numbers: 9 to 16 digits \
             with the country code and no + are accepted",
        ),
    ];
    for (send, transport, expected) in table {
        let found: Vec<String> = all_violations(&send, transport)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(found, [expected]);
    }
}

#[test]
fn valid_requests_of_every_content_kind_and_keyboard_shape_pass() {
    let callback = Some(MaxButtonType::Callback);
    let link = Some(MaxButtonType::Link);
    let message = Some(MaxButtonType::Message);
    let table = [
        ("text", text_send("Hello World"), Transport::Whatsapp),
        (
            "attachment",
            send_with(|s| {
                s.content = Some(Content::Attachment(attachment(
                    "https://example.com/uc?export=download&id=1",
                )));
            }),
            Transport::Whatsapp,
        ),
        (
            "attachment with only a url",
            send_with(|s| {
                to(s, ChatType::Instagram, Some("shop"));
                let bare = Attachment {
                    url: String::from("http://example.com/a.png"),
                    ..Attachment::default()
                };
                s.content = Some(Content::Attachment(bare));
            }),
            Transport::Instagram,
        ),
        (
            "template",
            send_with(|s| s.content = Some(template(&["Anna", "42"], &[Some("yes"), Some("no")]))),
            Transport::Waba,
        ),
        (
            "waba keyboard",
            send_with(|s| s.keyboard = waba(&["Thank you!", "I need more!", &repeat("é", 20)])),
            Transport::Waba,
        ),
        (
            "telegram inline keyboard",
            send_with(|s| {
                to(s, ChatType::Telegram, Some("123456"));
                s.keyboard = telegram(vec![
                    vec![
                        tg("Site", Some("https://example.com"), None),
                        tg("Yes", None, Some("answer:yes")),
                    ],
                    vec![tg(&repeat("ж", 64), None, Some(&repeat("я", 32)))],
                ]);
            }),
            Transport::TelegramBot,
        ),
        (
            "telegram reply keyboard",
            send_with(|s| {
                to(s, ChatType::Telegroup, Some("-100123"));
                s.keyboard = Some(Keyboard::Telegram(TelegramKeyboard {
                    markup: Some(TelegramMarkup::Reply),
                    rows: vec![vec![tg("Yes", None, None), tg("No", None, None)]],
                    one_time: true,
                    resize: true,
                    selective: false,
                    remove: false,
                }));
            }),
            Transport::TelegramBot,
        ),
        (
            "telegram keyboard removal",
            send_with(|s| {
                to(s, ChatType::Telegram, None);
                s.recipient.username = some("john_doe");
                s.keyboard = Some(Keyboard::Telegram(TelegramKeyboard {
                    markup: None,
                    rows: vec![],
                    one_time: false,
                    resize: false,
                    selective: false,
                    remove: true,
                }));
            }),
            Transport::TelegramBot,
        ),
        (
            "max keyboard",
            send_with(|s| {
                to(s, ChatType::Max, None);
                s.recipient.phone = some("79011112233");
                s.keyboard = max(vec![
                    vec![
                        mx(callback, "Yes", Some("yes"), None),
                        mx(link, "Site", None, Some("https://max.ru")),
                    ],
                    vec![mx(message, "Hello", None, None)],
                ]);
            }),
            Transport::MaxBot,
        ),
        (
            "every optional field",
            send_with(|s| {
                s.quoted_message_id = some("f66c53a6-957a-46b2-b41b-5a2ef4844bcb");
                s.idempotency_key = Some(repeat("k", 255));
                s.crm_user_id = some("crm-123");
                s.reset_unanswered = Some(false);
                s.recipient.contact_name = some("Anna");
            }),
            Transport::Whatsapp,
        ),
    ];
    for (kind, send, transport) in table {
        assert_eq!(validate_send(&send), Ok(()), "{kind}");
        assert_eq!(
            validate_send_for_channel(&send, &channel(transport)),
            Ok(()),
            "{kind}"
        );
    }
}

#[test]
fn a_request_with_three_problems_reports_all_three() {
    let send = send_with(|s| {
        s.channel_id = String::new();
        s.recipient.chat_id = some("7901-111");
        s.quoted_message_id = some(" ");
    });

    let Err(ValidationError(violations)) = validate_send(&send) else {
        panic!("an invalid request passed");
    };

    let found: Vec<&str> = violations
        .iter()
        .map(|violation| violation.field.as_str())
        .collect();
    assert_eq!(
        found,
        ["channel_id", "recipient.chat_id", "quoted_message_id"]
    );
}

#[test]
fn waba_button_labels_of_20_characters_pass_and_21_fail() {
    let table = [
        (repeat("a", 20), fields![]),
        (repeat("ё", 20), fields![]),
        (repeat("a", 21), fields!["keyboard.waba.buttons[0].text"]),
        (repeat("ё", 21), fields!["keyboard.waba.buttons[0].text"]),
    ];
    for (label, expected) in table {
        let send = send_with(|s| s.keyboard = waba(&[&label]));
        assert_eq!(send_paths(&send), expected, "{label}");
    }
}

#[test]
fn telegram_callback_data_counts_bytes_not_characters() {
    let field = "keyboard.telegram.rows[0].buttons[0].callback_data";
    let table = [
        (repeat("a", 64), fields![]),
        (repeat("я", 32), fields![]),
        (repeat("🙂", 16), fields![]),
        (repeat("a", 65), fields![field]),
        (format!("{}a", repeat("я", 32)), fields![field]),
        (repeat("🙂", 17), fields![field]),
        (String::from("x"), fields![]),
    ];
    for (data, expected) in table {
        let send = send_with(|s| s.keyboard = telegram(vec![vec![tg("a", None, Some(&data))]]));
        assert_eq!(send_paths(&send), expected, "{} bytes", data.len());
    }
}

#[test]
fn phone_numbers_of_9_and_16_digits_pass_and_8_and_17_fail() {
    for (digits, accepted) in [(8, false), (9, true), (16, true), (17, false)] {
        let number = repeat("7", digits);
        for chat_type in [ChatType::Whatsapp, ChatType::Viber] {
            let send = send_with(|s| to(s, chat_type, Some(&number)));
            let expected = if accepted {
                fields![]
            } else {
                fields!["recipient.chat_id"]
            };
            assert_eq!(
                send_paths(&send),
                expected,
                "{chat_type} chat id of {digits} digits"
            );
        }
        for chat_type in [ChatType::Telegram, ChatType::Max] {
            let send = send_with(|s| {
                to(s, chat_type, None);
                s.recipient.phone = Some(number.clone());
            });
            let expected = if accepted {
                fields![]
            } else {
                fields!["recipient.phone"]
            };
            assert_eq!(
                send_paths(&send),
                expected,
                "{chat_type} phone of {digits} digits"
            );
        }
    }
}

#[test]
fn text_of_exactly_the_transport_limit_passes_and_one_more_fails() {
    for transport in Transport::ALL {
        let limit = max_text_chars(transport);
        let chat_type = transport
            .chat_types()
            .first()
            .copied()
            .unwrap_or(ChatType::Whatsapp);
        let fits = send_with(|s| {
            to(s, chat_type, Some("79011112233"));
            s.content = Some(Content::Text(repeat("ё", limit)));
        });
        let too_long = send_with(|s| {
            to(s, chat_type, Some("79011112233"));
            s.content = Some(Content::Text(repeat("ё", limit + 1)));
        });

        assert_eq!(all_violations(&fits, transport), [], "{transport:?}");
        let fields: Vec<String> = all_violations(&too_long, transport)
            .into_iter()
            .map(|violation| violation.field)
            .collect();
        assert_eq!(fields, ["text"], "{transport:?}");
    }
}

#[test]
fn template_values_of_550_characters_in_all_pass_and_551_fail() {
    let values = |first: usize, second: usize| {
        send_with(|s| s.content = Some(template(&[&repeat("ж", first), &repeat("ё", second)], &[])))
    };
    assert_eq!(send_paths(&values(275, 275)), Vec::<String>::new());
    assert_eq!(send_paths(&values(275, 276)), ["template.values"]);
    let mut violations = Violations::new();
    check_send(&values(500, 51), &mut violations);
    assert_eq!(
        violations.as_slice()[0].description,
        "are 551 characters in all; a waba template message, its values included, is at most 550 \
         characters"
    );
}

#[test]
fn an_edited_text_meets_the_limit_of_the_channel_it_was_sent_from() {
    let edit = |text: String| EditMessage {
        message_id: String::from("m-1"),
        channel_id: some("2ffb1f09-2a4c-4c47-a8a3-1e4d3a5f6b7c"),
        content: Some(EditContent::Text(text)),
        crm_user_id: None,
    };
    let edit_paths = |edit: &EditMessage, transport: Transport| -> Vec<String> {
        let mut violations = Violations::new();
        check_edit(edit, &mut violations);
        check_edit_for_channel(edit, &channel(transport), &mut violations);
        paths(&violations).into_iter().map(String::from).collect()
    };
    for transport in Transport::ALL {
        let limit = max_text_chars(transport);
        assert_eq!(
            edit_paths(&edit(repeat("ё", limit)), transport),
            Vec::<String>::new(),
            "{transport:?}"
        );
        assert_eq!(
            edit_paths(&edit(repeat("ё", limit + 1)), transport),
            ["text"],
            "{transport:?}"
        );
    }
    let mut violations = Violations::new();
    check_edit_for_channel(
        &edit(repeat("a", 1_001)),
        &channel(Transport::Instagram),
        &mut violations,
    );
    assert_eq!(
        violations.as_slice()[0].description,
        "is 1001 characters; at most 1000 are allowed for instagram channels"
    );
    let file_edit = EditMessage {
        content: Some(EditContent::Attachment(attachment(
            "https://example.com/a.png",
        ))),
        ..edit(String::new())
    };
    assert_eq!(
        edit_paths(&file_edit, Transport::Instagram),
        Vec::<String>::new()
    );
}

#[test]
fn channel_rules_report_exactly_their_fields() {
    let table = [
        (
            "waba writes only to whatsapp chats",
            send_with(|s| to(s, ChatType::Vk, Some("1"))),
            Transport::Waba,
            fields!["recipient.chat_type"],
        ),
        (
            "waba cannot write to whatsapp groups",
            send_with(|s| to(s, ChatType::Whatsgroup, Some("1"))),
            Transport::Waba,
            fields!["recipient.chat_type"],
        ),
        (
            "an unknown chat type is reported without the channel, not again",
            send_with(|s| to(s, ChatType::Other, Some("1"))),
            Transport::Vk,
            fields![],
        ),
        (
            "telegram bots write to groups",
            send_with(|s| to(s, ChatType::Telegroup, Some("1"))),
            Transport::TelegramBot,
            fields![],
        ),
        (
            "unknown transports are left to the upstream",
            send_with(|s| to(s, ChatType::Avito, Some("1"))),
            Transport::Other,
            fields![],
        ),
        (
            "vk texts are at most 1000 characters",
            send_with(|s| {
                to(s, ChatType::Vk, Some("1"));
                s.content = Some(Content::Text(repeat("a", 1_001)));
            }),
            Transport::Vk,
            fields!["text"],
        ),
        (
            "whatsapp texts may be 10000 characters",
            text_send(&repeat("a", 10_000)),
            Transport::Whatsapp,
            fields![],
        ),
        (
            "templates go out of waba channels only",
            send_with(|s| s.content = Some(template(&["a"], &[]))),
            Transport::Whatsapp,
            fields!["template"],
        ),
        (
            "templates go out of waba channels",
            send_with(|s| s.content = Some(template(&["a"], &[]))),
            Transport::Waba,
            fields![],
        ),
        (
            "waba keyboards need a waba channel",
            send_with(|s| s.keyboard = waba(&["a"])),
            Transport::Whatsapp,
            fields!["keyboard"],
        ),
        (
            "telegram keyboards need a telegram bot",
            send_with(|s| {
                to(s, ChatType::Telegram, Some("1"));
                s.keyboard = telegram(vec![vec![tg("a", None, None)]]);
            }),
            Transport::TelegramPersonal,
            fields!["keyboard"],
        ),
        (
            "max keyboards need a max bot",
            send_with(|s| {
                to(s, ChatType::Max, Some("1"));
                s.keyboard = max(vec![vec![mx(
                    Some(MaxButtonType::Message),
                    "a",
                    None,
                    None,
                )]]);
            }),
            Transport::Max,
            fields!["keyboard"],
        ),
        (
            "every channel rule is collected",
            send_with(|s| {
                to(s, ChatType::Instagram, Some("shop"));
                s.content = Some(template(&["a"], &[]));
                s.keyboard = waba(&["a"]);
            }),
            Transport::TelegramBot,
            fields!["recipient.chat_type", "template", "keyboard"],
        ),
        (
            "channel-free problems are not channel rules",
            send_with(|s| s.recipient.chat_type = None),
            Transport::Waba,
            fields![],
        ),
    ];
    for (rule, send, transport, expected) in table {
        assert_eq!(channel_paths(&send, transport), expected, "{rule}");
    }
}

#[test]
fn channel_rules_never_repeat_a_channel_free_violation() {
    let mut requests: Vec<SendMessage> = channel_free_rules()
        .into_iter()
        .map(|(_, send, _)| send)
        .collect();
    requests.push(text_send(&repeat("a", MAX_TEXT_CHARS_ANY_TRANSPORT + 1)));
    requests.push(text_send(&repeat(" ", 5_000)));
    for send in &requests {
        let free = send_paths(send);
        for transport in Transport::ALL {
            let bound = channel_paths(send, transport);
            let all = all_violations(send, transport);
            let mut unique = all.clone();
            unique.dedup();
            assert_eq!(unique, all, "{transport:?}");
            let shared: Vec<&String> = bound.iter().filter(|field| free.contains(field)).collect();
            if !shared.is_empty() {
                // The only field both may name is a text that is blank (channel-free) and too
                // long for the transport (channel rule): two different problems, never a length
                // reported twice.
                assert_eq!(shared, ["text"], "{transport:?}: {free:?} vs {bound:?}");
                let texts: Vec<&str> = all
                    .iter()
                    .filter(|violation| violation.field == "text")
                    .map(|violation| violation.description.as_str())
                    .collect();
                assert_eq!(texts.len(), 2, "{transport:?}: {texts:?}");
                assert!(texts[0].starts_with("is blank"), "{transport:?}: {texts:?}");
                assert!(texts[1].ends_with(" channels"), "{transport:?}: {texts:?}");
            }
        }
    }
}

#[test]
fn edit_and_delete_rules_report_exactly_their_fields() {
    let edit = |message_id: &str, content: Option<EditContent>| EditMessage {
        message_id: String::from(message_id),
        channel_id: None,
        content,
        crm_user_id: None,
    };
    let text = |value: &str| Some(EditContent::Text(String::from(value)));
    let file = |url: &str| Some(EditContent::Attachment(attachment(url)));
    let table = [
        ("a text edit passes", edit("m-1", text("fixed")), fields![]),
        (
            "a file edit passes",
            edit("m-1", file("https://example.com/a.pdf")),
            fields![],
        ),
        (
            "the message id is required",
            edit(" ", text("fixed")),
            fields!["message_id"],
        ),
        (
            "new content is required",
            edit("m-1", None),
            fields!["text"],
        ),
        (
            "new text is not blank",
            edit("m-1", text("  ")),
            fields!["text"],
        ),
        (
            "new text fits any transport",
            edit("m-1", text(&repeat("a", 10_001))),
            fields!["text"],
        ),
        (
            "a new file has an http url",
            edit("m-1", file("file:///etc/passwd")),
            fields!["attachment.url"],
        ),
        (
            "the message id is one URL path segment",
            edit("..", text("fixed")),
            fields!["message_id"],
        ),
        (
            "every edit problem is collected",
            edit("", None),
            fields!["message_id", "text"],
        ),
    ];
    for (rule, request, expected) in table {
        let mut violations = Violations::new();
        check_edit(&request, &mut violations);
        assert_eq!(paths(&violations), expected, "{rule}");
        assert_eq!(
            validate_edit(&request).is_ok(),
            expected.is_empty(),
            "{rule}"
        );
    }

    for (message_id, expected) in [
        ("m-1", fields![]),
        ("", fields!["message_id"]),
        (" ", fields!["message_id"]),
        (".", fields!["message_id"]),
        ("..", fields!["message_id"]),
        ("a/b", fields!["message_id"]),
        ("a?b", fields!["message_id"]),
        ("a#b", fields!["message_id"]),
        ("%2e", fields!["message_id"]),
        ("...", fields![]),
    ] {
        let request = DeleteMessage {
            message_id: String::from(message_id),
        };
        let mut violations = Violations::new();
        check_delete(&request, &mut violations);
        assert_eq!(paths(&violations), expected, "{message_id:?}");
        assert_eq!(
            validate_delete(&request).is_ok(),
            expected.is_empty(),
            "{message_id:?}"
        );
    }
}

#[test]
fn validating_for_a_channel_runs_both_rule_sets_once() {
    let send = send_with(|s| {
        s.channel_id = String::new();
        to(s, ChatType::Vk, Some("1"));
    });

    let Err(ValidationError(violations)) =
        validate_send_for_channel(&send, &channel(Transport::Waba))
    else {
        panic!("an invalid request passed");
    };

    let found: Vec<&str> = violations
        .iter()
        .map(|violation| violation.field.as_str())
        .collect();
    assert_eq!(found, ["channel_id", "recipient.chat_type"]);
}

#[test]
fn ids_and_names_of_255_characters_pass_and_256_fail() {
    type Change = fn(&mut SendMessage, String);
    let sends: [(&str, Change); 8] = [
        ("channel_id", |s, value| s.channel_id = value),
        ("recipient.chat_id", |s, value| {
            to(s, ChatType::Telegram, Some(&value));
        }),
        ("recipient.username", |s, value| {
            to(s, ChatType::Telegram, Some("12345"));
            s.recipient.username = Some(value);
        }),
        ("recipient.contact_name", |s, value| {
            s.recipient.contact_name = Some(value);
        }),
        ("quoted_message_id", |s, value| {
            s.quoted_message_id = Some(value);
        }),
        ("crm_user_id", |s, value| s.crm_user_id = Some(value)),
        ("template.template_id", |s, value| {
            s.content = Some(template(&[], &[]));
            if let Some(Content::Template(template)) = &mut s.content {
                template.template_id = value;
            }
        }),
        ("attachment.name", |s, value| {
            let mut file = attachment("https://example.com/a.pdf");
            file.name = Some(value);
            s.content = Some(Content::Attachment(file));
        }),
    ];
    for (field, change) in sends {
        // Multi-byte characters: the bound counts characters, not bytes.
        let at_limit = send_with(|s| change(s, "я".repeat(255)));
        let over_limit = send_with(|s| change(s, "я".repeat(256)));
        assert_eq!(send_paths(&at_limit), Vec::<String>::new(), "{field}");
        assert_eq!(send_paths(&over_limit), [field], "{field}");
    }
    let edit = |message_id: String, crm_user_id: Option<String>| EditMessage {
        channel_id: crm_user_id.clone(),
        message_id,
        content: Some(EditContent::Text(String::from("fixed"))),
        crm_user_id,
    };
    let edit_paths = |edit: EditMessage| -> Vec<String> {
        let mut violations = Violations::new();
        check_edit(&edit, &mut violations);
        violations
            .as_slice()
            .iter()
            .map(|v| v.field.clone())
            .collect()
    };
    assert!(edit_paths(edit("m".repeat(255), Some("c".repeat(255)))).is_empty());
    assert_eq!(
        edit_paths(edit("m".repeat(256), Some("c".repeat(256)))),
        ["message_id", "channel_id", "crm_user_id"]
    );
    let delete = |message_id: String| {
        let mut violations = Violations::new();
        check_delete(&DeleteMessage { message_id }, &mut violations);
        violations.as_slice().len()
    };
    assert_eq!((delete("m".repeat(255)), delete("m".repeat(256))), (0, 1));
}
