//! Rules for what a message carries: text, an attachment or a WABA template (§3.1, §3.2; tech v2
//! `attachment` and `template`).

use super::Violations;
use super::ids::{check_optional_id, check_optional_name};
use super::shape::{
    char_count, given, is_blank, is_filled, is_http_url, is_mime_type, is_sha1_hex, too_many_chars,
};
use crate::model::limits::{
    MAX_ATTACHMENT_BYTES, MAX_TEXT_CHARS_ANY_TRANSPORT, SHA1_HEX_CHARS, TEMPLATE_MAX_BUTTONS,
    TEMPLATE_MAX_VALUES, WABA_TEMPLATE_TEXT_MAX_CHARS,
};
use crate::model::{Attachment, Content, TemplateButton, TemplateMessage};

/// Checks the content of a send against the rules that need no channel.
pub(super) fn check_send_content(content: Option<&Content>, violations: &mut Violations) {
    match content {
        None => violations.add(
            "text",
            "is missing; one of text, attachment or template is required",
        ),
        Some(Content::Text(text)) => check_text(text, violations),
        Some(Content::Attachment(attachment)) => check_attachment(attachment, violations),
        Some(Content::Template(template)) => check_template(template, violations),
    }
}

/// Checks a message text: not blank, and no longer than any transport accepts.
pub(super) fn check_text(text: &str, violations: &mut Violations) {
    if is_blank(text) {
        violations.add(
            "text",
            "is blank; a text with at least one non-whitespace character is required",
        );
    }
    let length = char_count(text);
    if length > MAX_TEXT_CHARS_ANY_TRANSPORT {
        violations.add(
            "text",
            too_many_chars(length, MAX_TEXT_CHARS_ANY_TRANSPORT, ""),
        );
    }
}

/// Checks an attachment: an absolute http(s) URL, and a size, hash and MIME type of the right
/// shape when they are given.
pub(super) fn check_attachment(attachment: &Attachment, violations: &mut Violations) {
    if is_blank(&attachment.url) {
        violations.add(
            "attachment.url",
            "is missing or blank; a public http or https url of the file is required",
        );
    } else if !is_http_url(&attachment.url) {
        violations.add(
            "attachment.url",
            "is not an absolute http or https url; a public url such as \
             https://example.com/file.pdf is accepted",
        );
    }
    if let Some(size) = attachment.size_bytes
        && size > MAX_ATTACHMENT_BYTES
    {
        violations.add(
            "attachment.size_bytes",
            format!("is {size} bytes; at most {MAX_ATTACHMENT_BYTES} bytes (10 MB) are allowed"),
        );
    }
    if let Some(sha1) = given(attachment.sha1.as_deref())
        && !is_sha1_hex(sha1)
    {
        violations.add(
            "attachment.sha1",
            format!("is not a sha-1 hash; {SHA1_HEX_CHARS} hexadecimal characters are accepted"),
        );
    }
    check_optional_name("attachment.name", attachment.name.as_deref(), violations);
    if let Some(mime_type) = given(attachment.mime_type.as_deref())
        && !is_mime_type(mime_type)
    {
        violations.add(
            "attachment.mime_type",
            "is not a mime type; a type/subtype such as application/pdf is accepted",
        );
    }
}

/// Checks a WABA template: an id, non-blank values within the template text limit, and a payload
/// for every button.
fn check_template(template: &TemplateMessage, violations: &mut Violations) {
    if is_blank(&template.template_id) {
        violations.add(
            "template.template_id",
            "is missing or blank; the id of an approved waba template is required",
        );
    } else {
        check_optional_id(
            "template.template_id",
            Some(&template.template_id),
            violations,
        );
    }
    check_template_values(&template.values, violations);
    check_template_buttons(&template.buttons, violations);
}

/// Checks the values of a template's variables: each non-blank, and all of them together within
/// the limit of the whole template message.
///
/// The 550 characters bound the message the customer receives (§3.2), the template's own text
/// with the values in place, not each value. The gateway sees only the values, which are part of
/// that message, so more than 550 characters of values in all is refused here; the template's
/// fixed text adds to them and is judged by the upstream (`MESSAGES_TOO_LONG_WABA_TEMPLATE`).
fn check_template_values(values: &[String], violations: &mut Violations) {
    let value_count = values.len();
    if value_count > TEMPLATE_MAX_VALUES {
        violations.add(
            "template.values",
            format!("has {value_count} values; at most {TEMPLATE_MAX_VALUES} are allowed"),
        );
    }
    for (index, value) in values.iter().enumerate() {
        if is_blank(value) {
            violations.add(
                format!("template.values[{index}]"),
                "is blank; every template variable needs a non-blank value",
            );
        }
    }
    let total_chars: usize = values.iter().map(|value| char_count(value)).sum();
    if total_chars > WABA_TEMPLATE_TEXT_MAX_CHARS {
        violations.add(
            "template.values",
            format!(
                "are {total_chars} characters in all; a waba template message, its values \
                 included, is at most {WABA_TEMPLATE_TEXT_MAX_CHARS} characters"
            ),
        );
    }
}

/// Checks the payloads of a template's buttons.
fn check_template_buttons(buttons: &[TemplateButton], violations: &mut Violations) {
    let button_count = buttons.len();
    if button_count > TEMPLATE_MAX_BUTTONS {
        violations.add(
            "template.buttons",
            format!("has {button_count} buttons; at most {TEMPLATE_MAX_BUTTONS} are allowed"),
        );
    }
    for (index, button) in buttons.iter().enumerate() {
        if !is_filled(button.payload.as_deref()) {
            violations.add(
                format!("template.buttons[{index}].payload"),
                "is missing or blank; a template button is given only to attach a payload",
            );
        }
    }
}
