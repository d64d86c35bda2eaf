//! The fingerprint of a send: SHA-256 over a canonical encoding of the whole normalised
//! [`SendMessage`] except its idempotency key, so that a repeat can be told from a different
//! request under the same key.
//!
//! The encoding is ours, written field by field, so it stays the same across Rust and crate
//! releases (records outlive the process: `DefaultHasher` would not do). Every item is a tag and a
//! value, both length-prefixed; every nested struct and list element starts with a tag of its own,
//! so two different requests never encode alike. Unset optional fields write nothing, so adding an
//! optional field to the model later leaves the fingerprints of existing records unchanged.

use std::fmt;
use std::time::Duration;

use sha2::{Digest as _, Sha256};

use crate::model::{
    Attachment, Content, Keyboard, MaxButton, NotifyOptions, Recipient, SendMessage,
    TelegramButton, TelegramKeyboard, TelegramMarkup, TemplateMessage,
};

/// Names the encoding; changing the encoding means a new version here.
const ENCODING_VERSION: &str = "wazzup-gateway/send-fingerprint/v1";

/// SHA-256 of a send's canonical encoding.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// Returns the fingerprint of `send`, ignoring its idempotency key.
    pub(crate) fn of_send(send: &SendMessage) -> Self {
        let mut encoder = Encoder::new();
        encoder.text("channel_id", &send.channel_id);
        encode_recipient(&mut encoder, &send.recipient);
        if let Some(content) = &send.content {
            encode_content(&mut encoder, content);
        }
        if let Some(keyboard) = &send.keyboard {
            encode_keyboard(&mut encoder, keyboard);
        }
        encoder.optional_text("quoted_message_id", send.quoted_message_id.as_deref());
        encoder.optional_text("crm_user_id", send.crm_user_id.as_deref());
        if let Some(reset) = send.reset_unanswered {
            encoder.flag("reset_unanswered", reset);
        }
        if let Some(notify) = &send.notify {
            encode_notify(&mut encoder, notify);
        }
        Self(encoder.finish())
    }

    /// Returns the fingerprint as lowercase hex.
    pub(crate) fn to_hex(self) -> String {
        self.0.iter().map(|byte| format!("{byte:02x}")).collect()
    }

    /// Parses 64 hex digits.
    pub(crate) fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != 64 || !hex.is_ascii() {
            return None;
        }
        let mut bytes = [0_u8; 32];
        for (index, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[index * 2..index * 2 + 2], 16).ok()?;
        }
        Some(Self(bytes))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Fingerprint({})", self.to_hex())
    }
}

/// Feeds tagged, length-prefixed items into SHA-256.
struct Encoder {
    /// The running hash.
    hasher: Sha256,
}

impl Encoder {
    /// Starts an encoding, tagged with [`ENCODING_VERSION`].
    fn new() -> Self {
        let mut encoder = Self {
            hasher: Sha256::new(),
        };
        encoder.bytes(ENCODING_VERSION.as_bytes());
        encoder
    }

    /// Writes one length-prefixed byte string.
    fn bytes(&mut self, value: &[u8]) {
        self.hasher.update((value.len() as u64).to_le_bytes());
        self.hasher.update(value);
    }

    /// Writes a tagged item.
    fn item(&mut self, tag: &str, value: &[u8]) {
        self.bytes(tag.as_bytes());
        self.bytes(value);
    }

    /// Writes a text field.
    fn text(&mut self, tag: &str, value: &str) {
        self.item(tag, value.as_bytes());
    }

    /// Writes a text field when it is set.
    fn optional_text(&mut self, tag: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.text(tag, value);
        }
    }

    /// Writes a boolean.
    fn flag(&mut self, tag: &str, value: bool) {
        self.item(tag, &[u8::from(value)]);
    }

    /// Writes a number.
    fn number(&mut self, tag: &str, value: u128) {
        self.item(tag, &value.to_le_bytes());
    }

    /// Opens a nested struct or a list of `count` elements.
    fn open(&mut self, tag: &str, count: usize) {
        self.number(tag, count as u128);
    }

    /// Returns the digest.
    fn finish(self) -> [u8; 32] {
        self.hasher.finalize().into()
    }
}

fn encode_recipient(encoder: &mut Encoder, recipient: &Recipient) {
    encoder.open("recipient", 1);
    if let Some(chat_type) = recipient.chat_type {
        encoder.text("chat_type", chat_type.as_upstream());
    }
    encoder.optional_text("chat_id", recipient.chat_id.as_deref());
    encoder.optional_text("username", recipient.username.as_deref());
    encoder.optional_text("phone", recipient.phone.as_deref());
    encoder.optional_text("contact_name", recipient.contact_name.as_deref());
}

fn encode_content(encoder: &mut Encoder, content: &Content) {
    match content {
        Content::Text(text) => encoder.text("text", text),
        Content::Attachment(attachment) => encode_attachment(encoder, attachment),
        Content::Template(template) => encode_template(encoder, template),
    }
}

fn encode_attachment(encoder: &mut Encoder, attachment: &Attachment) {
    encoder.open("attachment", 1);
    encoder.text("url", &attachment.url);
    encoder.optional_text("name", attachment.name.as_deref());
    encoder.optional_text("mime_type", attachment.mime_type.as_deref());
    if let Some(size) = attachment.size_bytes {
        encoder.number("size_bytes", u128::from(size));
    }
    encoder.optional_text("sha1", attachment.sha1.as_deref());
}

fn encode_template(encoder: &mut Encoder, template: &TemplateMessage) {
    encoder.open("template", 1);
    encoder.text("template_id", &template.template_id);
    encoder.open("values", template.values.len());
    for value in &template.values {
        encoder.text("value", value);
    }
    encoder.open("buttons", template.buttons.len());
    for button in &template.buttons {
        encoder.open("button", 1);
        encoder.optional_text("text", button.text.as_deref());
        encoder.optional_text("type", button.button_type.as_deref());
        encoder.optional_text("payload", button.payload.as_deref());
    }
}

fn encode_keyboard(encoder: &mut Encoder, keyboard: &Keyboard) {
    match keyboard {
        Keyboard::Waba(buttons) => {
            encoder.open("waba_keyboard", buttons.len());
            for button in buttons {
                encoder.open("button", 1);
                encoder.text("text", &button.text);
                encoder.optional_text("payload", button.payload.as_deref());
            }
        }
        Keyboard::Telegram(telegram) => encode_telegram(encoder, telegram),
        Keyboard::Max(max) => {
            encoder.open("max_keyboard", max.rows.len());
            for row in &max.rows {
                encoder.open("row", row.len());
                row.iter()
                    .for_each(|button| encode_max_button(encoder, button));
            }
        }
    }
}

fn encode_telegram(encoder: &mut Encoder, telegram: &TelegramKeyboard) {
    encoder.open("telegram_keyboard", telegram.rows.len());
    if let Some(markup) = telegram.markup {
        let markup = match markup {
            TelegramMarkup::Inline => "inline",
            TelegramMarkup::Reply => "reply",
        };
        encoder.text("markup", markup);
    }
    encoder.flag("one_time", telegram.one_time);
    encoder.flag("resize", telegram.resize);
    encoder.flag("selective", telegram.selective);
    encoder.flag("remove", telegram.remove);
    for row in &telegram.rows {
        encoder.open("row", row.len());
        row.iter()
            .for_each(|button| encode_telegram_button(encoder, button));
    }
}

fn encode_telegram_button(encoder: &mut Encoder, button: &TelegramButton) {
    encoder.open("button", 1);
    encoder.text("text", &button.text);
    encoder.optional_text("url", button.url.as_deref());
    encoder.optional_text("callback_data", button.callback_data.as_deref());
}

fn encode_max_button(encoder: &mut Encoder, button: &MaxButton) {
    encoder.open("button", 1);
    if let Some(button_type) = button.button_type {
        encoder.text("type", button_type.as_upstream());
    }
    encoder.text("text", &button.text);
    encoder.optional_text("payload", button.payload.as_deref());
    encoder.optional_text("url", button.url.as_deref());
    if let Some(intent) = button.intent {
        encoder.text("intent", intent.as_upstream());
    }
}

fn encode_notify(encoder: &mut Encoder, notify: &NotifyOptions) {
    encoder.open("notify", 1);
    encoder.optional_text("callback_data", notify.callback_data.as_deref());
    if let Some(validity) = notify.validity {
        encoder.number("validity_nanos", Duration::as_nanos(&validity));
    }
    encoder.optional_text("language_code", notify.language_code.as_deref());
}

#[cfg(test)]
mod tests;
