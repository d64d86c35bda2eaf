//! Keyboards: WABA buttons, Telegram bot keyboards, MAX bot keyboards.

use crate::model::{
    Keyboard, MaxButton, MaxButtonType, MaxIntent, MaxKeyboard, TelegramButton, TelegramKeyboard,
    TelegramMarkup, Violations, WabaButton,
};
use crate::proto::pb;

use super::messages::known_enum;
use super::non_empty;

/// Converts a request keyboard; `None` when no kind is set.
pub(crate) fn keyboard_from_pb(
    keyboard: pb::Keyboard,
    violations: &mut Violations,
) -> Option<Keyboard> {
    match keyboard.kind? {
        pb::keyboard::Kind::Waba(waba) => Some(Keyboard::Waba(
            waba.buttons
                .into_iter()
                .map(|button| WabaButton {
                    text: button.text,
                    payload: non_empty(button.payload),
                })
                .collect(),
        )),
        pb::keyboard::Kind::Telegram(telegram) => {
            Some(Keyboard::Telegram(telegram_from_pb(telegram, violations)))
        }
        pb::keyboard::Kind::Max(max) => Some(Keyboard::Max(max_from_pb(max, violations))),
    }
}

/// Converts a Telegram keyboard.
fn telegram_from_pb(
    telegram: pb::TelegramKeyboard,
    violations: &mut Violations,
) -> TelegramKeyboard {
    let markup =
        known_enum::<pb::TelegramMarkup>(telegram.markup, "keyboard.telegram.markup", violations)
            .and_then(|markup| match markup {
                pb::TelegramMarkup::Unspecified => None,
                pb::TelegramMarkup::Inline => Some(TelegramMarkup::Inline),
                pb::TelegramMarkup::Reply => Some(TelegramMarkup::Reply),
            });
    let rows = telegram
        .rows
        .into_iter()
        .map(|row| {
            row.buttons
                .into_iter()
                .map(|button| TelegramButton {
                    text: button.text,
                    url: non_empty(button.url),
                    callback_data: non_empty(button.callback_data),
                })
                .collect()
        })
        .collect();
    TelegramKeyboard {
        markup,
        rows,
        one_time: telegram.one_time,
        resize: telegram.resize,
        selective: telegram.selective,
        remove: telegram.remove,
    }
}

/// Converts a MAX keyboard.
fn max_from_pb(max: pb::MaxKeyboard, violations: &mut Violations) -> MaxKeyboard {
    let mut rows = Vec::with_capacity(max.rows.len());
    for (row_index, row) in max.rows.into_iter().enumerate() {
        let mut buttons = Vec::with_capacity(row.buttons.len());
        for (button_index, button) in row.buttons.into_iter().enumerate() {
            let path = format!("keyboard.max.rows[{row_index}].buttons[{button_index}]");
            buttons.push(max_button_from_pb(button, &path, violations));
        }
        rows.push(buttons);
    }
    MaxKeyboard { rows }
}

/// Converts one MAX button; `path` locates it for violations.
fn max_button_from_pb(button: pb::MaxButton, path: &str, violations: &mut Violations) -> MaxButton {
    let button_type =
        known_enum::<pb::MaxButtonType>(button.r#type, &format!("{path}.type"), violations)
            .and_then(|button_type| match button_type {
                pb::MaxButtonType::Unspecified => None,
                pb::MaxButtonType::Callback => Some(MaxButtonType::Callback),
                pb::MaxButtonType::Link => Some(MaxButtonType::Link),
                pb::MaxButtonType::Message => Some(MaxButtonType::Message),
            });
    let intent = known_enum::<pb::MaxIntent>(button.intent, &format!("{path}.intent"), violations)
        .and_then(|intent| match intent {
            pb::MaxIntent::Unspecified => None,
            pb::MaxIntent::Default => Some(MaxIntent::Default),
            pb::MaxIntent::Positive => Some(MaxIntent::Positive),
            pb::MaxIntent::Negative => Some(MaxIntent::Negative),
        });
    MaxButton {
        button_type,
        text: button.text,
        payload: non_empty(button.payload),
        url: non_empty(button.url),
        intent,
    }
}
