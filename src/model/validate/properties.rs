//! Property tests of request validation: arbitrary sends, edits and deletes (short, blank,
//! multi-byte, over-limit and huge strings; any content, keyboard and transport) never panic,
//! and are either valid or refused with violations that each name a real field of the
//! protobuf request (checked against the descriptor set the gateway serves).
//!
//! The case count is fixed (256 per property), so the run time does not depend on the machine.

use std::time::Duration;

use proptest::prelude::*;
use prost::Message as _;
use prost_types::{DescriptorProto, FileDescriptorSet};

use super::*;
use crate::model::Dialect;
use crate::model::{
    Attachment, ChatType, Keyboard, MaxButton, MaxButtonType, MaxIntent, MaxKeyboard,
    NotifyOptions, Recipient, TelegramButton, TelegramKeyboard, TelegramMarkup, TemplateButton,
    TemplateMessage, Transport, WabaButton,
};
use crate::proto::pb;
use crate::upstream::registry;

/// Cases per property.
const CASES: u32 = 256;

/// Strings that hit the rules: empty, blank, ids, phone-like digits, any printable text,
/// multi-byte text, and strings around and far over the length bounds.
fn any_text() -> BoxedStrategy<String> {
    prop_oneof![
        Just(String::new()),
        Just(" \t".to_owned()),
        "[a-z0-9@+_.-]{1,24}",
        "[0-9]{0,20}",
        "https?://[a-z]{1,10}\\.com/[a-z]{0,8}",
        "\\PC{0,40}",
        (250usize..=260).prop_map(|length| "я".repeat(length)),
        (0usize..=3).prop_map(|extra| "x".repeat(10_000 + extra)),
        Just("z".repeat(1 << 16)),
    ]
    .boxed()
}

fn any_option_text() -> BoxedStrategy<Option<String>> {
    proptest::option::of(any_text()).boxed()
}

fn any_chat_type() -> BoxedStrategy<Option<ChatType>> {
    proptest::option::of(proptest::sample::select(vec![
        ChatType::Whatsapp,
        ChatType::Whatsgroup,
        ChatType::Viber,
        ChatType::Instagram,
        ChatType::Telegram,
        ChatType::Telegroup,
        ChatType::Vk,
        ChatType::Avito,
        ChatType::Max,
        ChatType::Maxgroup,
        ChatType::Other,
    ]))
    .boxed()
}

fn any_transport() -> BoxedStrategy<Transport> {
    proptest::sample::select(Transport::ALL.to_vec()).boxed()
}

fn any_recipient() -> BoxedStrategy<Recipient> {
    (
        any_chat_type(),
        any_option_text(),
        any_option_text(),
        any_option_text(),
        any_option_text(),
    )
        .prop_map(
            |(chat_type, chat_id, username, phone, contact_name)| Recipient {
                chat_type,
                chat_id,
                username,
                phone,
                contact_name,
            },
        )
        .boxed()
}

fn any_attachment() -> BoxedStrategy<Attachment> {
    (
        any_text(),
        any_option_text(),
        any_option_text(),
        proptest::option::of(any::<u64>()),
        any_option_text(),
    )
        .prop_map(|(url, name, mime_type, size_bytes, sha1)| Attachment {
            url,
            name,
            mime_type,
            size_bytes,
            sha1,
        })
        .boxed()
}

fn any_content() -> BoxedStrategy<Option<Content>> {
    let template = (
        any_text(),
        proptest::collection::vec(any_text(), 0..60),
        proptest::collection::vec(
            (any_option_text(), any_option_text(), any_option_text()),
            0..12,
        ),
    )
        .prop_map(|(template_id, values, buttons)| {
            Content::Template(TemplateMessage {
                template_id,
                values,
                buttons: buttons
                    .into_iter()
                    .map(|(text, button_type, payload)| TemplateButton {
                        text,
                        button_type,
                        payload,
                    })
                    .collect(),
            })
        });
    proptest::option::of(prop_oneof![
        any_text().prop_map(Content::Text),
        any_attachment().prop_map(Content::Attachment),
        template,
    ])
    .boxed()
}

fn any_keyboard() -> BoxedStrategy<Option<Keyboard>> {
    let waba =
        proptest::collection::vec((any_text(), any_option_text()), 0..14).prop_map(|buttons| {
            Keyboard::Waba(
                buttons
                    .into_iter()
                    .map(|(text, payload)| WabaButton { text, payload })
                    .collect(),
            )
        });
    let telegram_button = (any_text(), any_option_text(), any_option_text()).prop_map(
        |(text, url, callback_data)| TelegramButton {
            text,
            url,
            callback_data,
        },
    );
    let telegram = (
        proptest::option::of(prop_oneof![
            Just(TelegramMarkup::Inline),
            Just(TelegramMarkup::Reply)
        ]),
        proptest::collection::vec(proptest::collection::vec(telegram_button, 0..5), 0..5),
        any::<[bool; 4]>(),
    )
        .prop_map(|(markup, rows, [one_time, resize, selective, remove])| {
            Keyboard::Telegram(TelegramKeyboard {
                markup,
                rows,
                one_time,
                resize,
                selective,
                remove,
            })
        });
    let max_button = (
        proptest::option::of(proptest::sample::select(vec![
            MaxButtonType::Callback,
            MaxButtonType::Link,
            MaxButtonType::Message,
        ])),
        any_text(),
        any_option_text(),
        any_option_text(),
        proptest::option::of(proptest::sample::select(vec![
            MaxIntent::Default,
            MaxIntent::Positive,
            MaxIntent::Negative,
        ])),
    )
        .prop_map(|(button_type, text, payload, url, intent)| MaxButton {
            button_type,
            text,
            payload,
            url,
            intent,
        });
    let max = proptest::collection::vec(proptest::collection::vec(max_button, 0..5), 0..5)
        .prop_map(|rows| Keyboard::Max(MaxKeyboard { rows }));
    proptest::option::of(prop_oneof![waba, telegram, max]).boxed()
}

fn any_notify() -> BoxedStrategy<Option<NotifyOptions>> {
    proptest::option::of(
        (
            any_option_text(),
            proptest::option::of(any::<u32>().prop_map(|ms| Duration::from_millis(ms.into()))),
            any_option_text(),
        )
            .prop_map(|(callback_data, validity, language_code)| NotifyOptions {
                callback_data,
                validity,
                language_code,
            }),
    )
    .boxed()
}

fn any_send() -> BoxedStrategy<SendMessage> {
    (
        any_text(),
        any_recipient(),
        any_content(),
        any_keyboard(),
        (any_option_text(), any_option_text(), any_option_text()),
        proptest::option::of(any::<bool>()),
        any_notify(),
    )
        .prop_map(
            |(
                channel_id,
                recipient,
                content,
                keyboard,
                (quoted_message_id, crm_user_id, idempotency_key),
                reset_unanswered,
                notify,
            )| SendMessage {
                channel_id,
                recipient,
                content,
                keyboard,
                quoted_message_id,
                crm_user_id,
                reset_unanswered,
                idempotency_key,
                notify,
            },
        )
        .boxed()
}

fn any_edit() -> BoxedStrategy<EditMessage> {
    let content = proptest::option::of(prop_oneof![
        any_text().prop_map(EditContent::Text),
        any_attachment().prop_map(EditContent::Attachment),
    ]);
    (any_text(), any_option_text(), content, any_option_text())
        .prop_map(
            |(message_id, channel_id, content, crm_user_id)| EditMessage {
                message_id,
                channel_id,
                content,
                crm_user_id,
            },
        )
        .boxed()
}

/// The message types of the gateway's protos, by full name (`.wazzup_gateway.v1.Recipient`).
fn message_types() -> Vec<(String, DescriptorProto)> {
    let set = FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET).expect("descriptor set");
    set.file
        .into_iter()
        .flat_map(|file| {
            let package = file.package().to_owned();
            file.message_type
                .into_iter()
                .map(move |message| (format!(".{package}.{}", message.name()), message))
        })
        .collect()
}

/// Tells whether `path` (`keyboard.telegram.rows[0].buttons[2].text`) names a field of the
/// message `root` (`.wazzup_gateway.v1.SendMessageRequest`).
fn is_real_field(types: &[(String, DescriptorProto)], root: &str, path: &str) -> bool {
    let mut current = root.to_owned();
    for segment in path.split('.') {
        let name = segment.split('[').next().unwrap_or_default();
        let Some((_, message)) = types.iter().find(|(full_name, _)| *full_name == current) else {
            return false;
        };
        let Some(field) = message.field.iter().find(|field| field.name() == name) else {
            return false;
        };
        current = field.type_name().to_owned();
    }
    true
}

/// Checks that a result is valid or names only real fields of `root`.
fn assert_names_real_fields(
    types: &[(String, DescriptorProto)],
    root: &str,
    result: Result<(), ValidationError>,
) -> Result<(), TestCaseError> {
    if let Err(error) = result {
        prop_assert!(!error.0.is_empty(), "a refusal names at least one field");
        for violation in &error.0 {
            prop_assert!(
                is_real_field(types, root, &violation.field),
                "{} is not a field of {root}",
                violation.field
            );
            prop_assert!(!violation.description.is_empty());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn sends_are_valid_or_refused_naming_real_fields(
        send in any_send(),
        transport in any_transport(),
    ) {
        let types = message_types();
        let root = ".wazzup_gateway.v1.SendMessageRequest";
        assert_names_real_fields(&types, root, validate_send(&send))?;
        let for_channel = validate_send_for_channel(&send, &super::tests::channel(transport));
        assert_names_real_fields(&types, root, for_channel)?;
        for dialect in Dialect::ALL {
            let mut own_rules = Violations::new();
            registry::spec(dialect).check_send(&send, &mut own_rules);
            assert_names_real_fields(&types, root, own_rules.finish())?;
        }
    }

    #[test]
    fn edits_and_deletes_are_valid_or_refused_naming_real_fields(
        edit in any_edit(),
        message_id in any_text(),
    ) {
        let types = message_types();
        let edited = validate_edit(&edit);
        assert_names_real_fields(&types, ".wazzup_gateway.v1.EditMessageRequest", edited)?;
        let deleted = validate_delete(&DeleteMessage { message_id });
        assert_names_real_fields(&types, ".wazzup_gateway.v1.DeleteMessageRequest", deleted)?;
    }
}

#[test]
fn field_paths_are_checked_against_the_descriptors() {
    let types = message_types();
    let root = ".wazzup_gateway.v1.SendMessageRequest";
    assert!(is_real_field(&types, root, "recipient.chat_id"));
    assert!(is_real_field(
        &types,
        root,
        "keyboard.telegram.rows[0].buttons[2].callback_data"
    ));
    assert!(is_real_field(&types, root, "template.values[3]"));
    assert!(!is_real_field(&types, root, "recipient.nickname"));
    assert!(!is_real_field(&types, root, "text.length"));
}
