//! Rules for the three keyboard shapes: WABA interactive buttons, Telegram bot keyboards and MAX
//! bot keyboards (§3.4; tech v2 `keyboard`).

use super::Violations;
use super::shape::{char_count, given, is_blank, is_filled, is_http_url, too_many_chars};
use crate::model::limits::{
    TELEGRAM_BUTTON_TEXT_MAX_CHARS, TELEGRAM_CALLBACK_DATA_BYTES, TELEGRAM_MAX_BUTTONS,
    WABA_BUTTON_TEXT_MAX_CHARS, WABA_MAX_BUTTONS,
};
use crate::model::{
    Keyboard, MaxButton, MaxButtonType, MaxKeyboard, TelegramButton, TelegramKeyboard, WabaButton,
};

/// Checks a keyboard against the rules that need no channel; `with_template` tells whether the
/// message is a template, whose buttons are set in `template.buttons` instead.
pub(super) fn check_keyboard(
    keyboard: &Keyboard,
    with_template: bool,
    violations: &mut Violations,
) {
    match keyboard {
        Keyboard::Waba(buttons) => {
            if with_template {
                violations.add(
                    "keyboard.waba",
                    "cannot be sent with a template; set the template's button payloads in \
                     template.buttons instead",
                );
            }
            check_waba(buttons, violations);
        }
        Keyboard::Telegram(telegram) => check_telegram(telegram, violations),
        Keyboard::Max(max) => check_max(max, violations),
    }
}

/// Checks a button label: not blank, at most `max` characters.
fn check_label(text: &str, field: String, max: usize, violations: &mut Violations) {
    if is_blank(text) {
        violations.add(
            field,
            format!("is missing or blank; a label of 1 to {max} characters is required"),
        );
        return;
    }
    let length = char_count(text);
    if length > max {
        violations.add(field, too_many_chars(length, max, ""));
    }
}

/// Checks WABA interactive buttons: 1 to [`WABA_MAX_BUTTONS`], each with a short label.
fn check_waba(buttons: &[WabaButton], violations: &mut Violations) {
    let count = buttons.len();
    if count == 0 {
        violations.add(
            "keyboard.waba.buttons",
            format!("is empty; 1 to {WABA_MAX_BUTTONS} buttons are accepted"),
        );
    } else if count > WABA_MAX_BUTTONS {
        violations.add(
            "keyboard.waba.buttons",
            format!("has {count} buttons; at most {WABA_MAX_BUTTONS} are allowed"),
        );
    }
    for (index, button) in buttons.iter().enumerate() {
        let field = format!("keyboard.waba.buttons[{index}].text");
        check_label(&button.text, field, WABA_BUTTON_TEXT_MAX_CHARS, violations);
    }
}

/// Checks a Telegram bot keyboard: rows unless it removes the keyboard, at most
/// [`TELEGRAM_MAX_BUTTONS`] in all rows, no empty row, and well-formed buttons.
fn check_telegram(keyboard: &TelegramKeyboard, violations: &mut Violations) {
    if keyboard.remove && !keyboard.rows.is_empty() {
        violations.add(
            "keyboard.telegram.remove",
            "is set together with rows; either remove the keyboard (without rows) or send rows",
        );
    }
    if !keyboard.remove && keyboard.rows.is_empty() {
        violations.add(
            "keyboard.telegram.rows",
            format!(
                "is empty; 1 to {TELEGRAM_MAX_BUTTONS} buttons are required unless remove is set"
            ),
        );
    }
    let total: usize = keyboard.rows.iter().map(Vec::len).sum();
    if total > TELEGRAM_MAX_BUTTONS {
        violations.add(
            "keyboard.telegram.rows",
            format!("has {total} buttons in all rows; at most {TELEGRAM_MAX_BUTTONS} are allowed"),
        );
    }
    for (row_index, row) in keyboard.rows.iter().enumerate() {
        let row_path = format!("keyboard.telegram.rows[{row_index}].buttons");
        if row.is_empty() {
            violations.add(
                row_path.clone(),
                "is empty; every row needs at least one button",
            );
        }
        for (button_index, button) in row.iter().enumerate() {
            check_telegram_button(button, &format!("{row_path}[{button_index}]"), violations);
        }
    }
}

/// Checks one Telegram button at `path`: its label and its callback data.
fn check_telegram_button(button: &TelegramButton, path: &str, violations: &mut Violations) {
    check_label(
        &button.text,
        format!("{path}.text"),
        TELEGRAM_BUTTON_TEXT_MAX_CHARS,
        violations,
    );
    let Some(callback_data) = given(button.callback_data.as_deref()) else {
        return;
    };
    let bytes = callback_data.len();
    if !TELEGRAM_CALLBACK_DATA_BYTES.contains(&bytes) {
        let (min, max) = (
            TELEGRAM_CALLBACK_DATA_BYTES.start(),
            TELEGRAM_CALLBACK_DATA_BYTES.end(),
        );
        violations.add(
            format!("{path}.callback_data"),
            format!("is {bytes} bytes; {min} to {max} bytes are accepted"),
        );
    }
    if given(button.url.as_deref()).is_some() {
        violations.add(
            format!("{path}.callback_data"),
            "is set together with url; a button either opens a url or sends callback data, \
             not both",
        );
    }
}

/// Checks a MAX bot keyboard: at least one row, no empty row, and well-formed buttons.
fn check_max(keyboard: &MaxKeyboard, violations: &mut Violations) {
    if keyboard.rows.is_empty() {
        violations.add(
            "keyboard.max.rows",
            "is empty; at least one row with a button is required",
        );
    }
    for (row_index, row) in keyboard.rows.iter().enumerate() {
        let row_path = format!("keyboard.max.rows[{row_index}].buttons");
        if row.is_empty() {
            violations.add(
                row_path.clone(),
                "is empty; every row needs at least one button",
            );
        }
        for (button_index, button) in row.iter().enumerate() {
            check_max_button(button, &format!("{row_path}[{button_index}]"), violations);
        }
    }
}

/// Checks one MAX button at `path`: a type, a label, and the payload or URL its type needs.
fn check_max_button(button: &MaxButton, path: &str, violations: &mut Violations) {
    if button.button_type.is_none() {
        violations.add(
            format!("{path}.type"),
            "is missing; callback, link or message is required",
        );
    }
    if is_blank(&button.text) {
        violations.add(
            format!("{path}.text"),
            "is missing or blank; every max button needs a label",
        );
    }
    if let Some(button_type) = button.button_type {
        check_max_payload(button_type, button.payload.as_deref(), path, violations);
        check_max_url(button_type, button.url.as_deref(), path, violations);
    }
}

/// Checks a MAX button's payload: required on callback buttons, refused on the others.
fn check_max_payload(
    button_type: MaxButtonType,
    payload: Option<&str>,
    path: &str,
    violations: &mut Violations,
) {
    let field = format!("{path}.payload");
    if button_type == MaxButtonType::Callback {
        if !is_filled(payload) {
            violations.add(
                field,
                "is missing or blank; callback buttons need a payload",
            );
        }
    } else if given(payload).is_some() {
        let kind = button_type.as_upstream();
        violations.add(
            field,
            format!("is set on a {kind} button; payload is accepted only on callback buttons"),
        );
    }
}

/// Checks a MAX button's URL: a required http(s) URL on link buttons, refused on the others.
fn check_max_url(
    button_type: MaxButtonType,
    url: Option<&str>,
    path: &str,
    violations: &mut Violations,
) {
    let field = format!("{path}.url");
    let url = given(url);
    if button_type != MaxButtonType::Link {
        if url.is_some() {
            let kind = button_type.as_upstream();
            violations.add(
                field,
                format!("is set on a {kind} button; url is accepted only on link buttons"),
            );
        }
        return;
    }
    match url {
        None => violations.add(field, "is missing; link buttons need an http or https url"),
        Some(url) if !is_http_url(url) => violations.add(
            field,
            "is not an absolute http or https url; a url such as https://example.com is accepted",
        ),
        Some(_) => {}
    }
}
