//! The exact v3 JSON (wazzup-api.md §2–§4, §7): request bodies built from the domain, fields the
//! caller did not set omitted (never `""` or `null`), and replies decoded tolerantly (unknown
//! fields ignored, unknown enum strings kept raw, scalars of varying type accepted).
//!
//! `buttonsObject` has three shapes (§3.4): WABA interactive buttons as a flat list of
//! `{text, type: "text", payload?}`; WABA template button payloads as `[{payload}]`; and bot
//! keyboards as rows, Telegram `{text, url?, callbackData?}` with `replyMarkup`,
//! `removeKeyboard`, `oneTimeKeyboard`, MAX `{type?, text, payload?, url?, intent?}`. What has no
//! v3 field (Telegram's `resize` and `selective`; an attachment's name, MIME type and SHA-1) is
//! refused by the dialect's send and edit rules (`expressible`) before a body is built.

mod replies;

use serde::Serialize;

use crate::model::{
    Content, EditContent, EditMessage, Keyboard, MaxKeyboard, SendMessage, TelegramKeyboard,
    TelegramMarkup, TemplateMessage, WabaButton, WebhookSettings,
};

pub(crate) use replies::{
    ChannelReply, ComponentReply, MessageReply, TemplateReply, WebhooksReply,
};

// === requests ===

/// Body of `POST /v3/message`.
#[derive(Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SendMessageBody<'a> {
    /// Channel to send from.
    pub channel_id: &'a str,
    /// Kind of chat.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_type: Option<&'a str>,
    /// Chat id in the messenger.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<&'a str>,
    /// Text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<&'a str>,
    /// URL of the file to send.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_uri: Option<&'a str>,
    /// Message to quote.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ref_message_id: Option<&'a str>,
    /// CRM user shown as the sender.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crm_user_id: Option<&'a str>,
    /// Idempotency key, deduplicated upstream for 60 s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crm_message_id: Option<&'a str>,
    /// Telegram user name, when the chat id is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<&'a str>,
    /// Telegram / MAX phone, when the chat id is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<&'a str>,
    /// Whether the message resets the unanswered counter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clear_unanswered: Option<bool>,
    /// WABA template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_id: Option<&'a str>,
    /// WABA template variable values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_values: Option<&'a [String]>,
    /// Buttons.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buttons_object: Option<ButtonsObject<'a>>,
}

/// `buttonsObject`.
#[derive(Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ButtonsObject<'a> {
    /// Flat (WABA) or rows (bots); omitted when a Telegram keyboard only removes itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buttons: Option<Buttons<'a>>,
    /// Telegram: `inline` or `reply`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_markup: Option<&'static str>,
    /// Telegram: remove the custom keyboard.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remove_keyboard: Option<bool>,
    /// Telegram: hide the reply keyboard after one press.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub one_time_keyboard: Option<bool>,
}

/// The two layouts of `buttonsObject.buttons`.
#[derive(Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub(crate) enum Buttons<'a> {
    /// WABA interactive buttons or template payloads.
    Flat(Vec<Button<'a>>),
    /// Telegram / MAX bot rows.
    Rows(Vec<Vec<Button<'a>>>),
}

/// One button; each shape sets only its own fields.
#[derive(Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Button<'a> {
    /// WABA `text` (the only documented type) or MAX `callback` / `link` / `message`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub button_type: Option<&'a str>,
    /// Label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<&'a str>,
    /// Payload returned when pressed (WABA, templates, MAX callback).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<&'a str>,
    /// Link (Telegram, MAX link).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<&'a str>,
    /// Telegram callback data.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_data: Option<&'a str>,
    /// MAX colouring intent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intent: Option<&'static str>,
}

impl<'a> SendMessageBody<'a> {
    /// Builds the body of a validated send.
    pub(crate) fn new(send: &'a SendMessage) -> Self {
        let recipient = &send.recipient;
        let mut body = Self {
            channel_id: &send.channel_id,
            chat_type: recipient.chat_type.map(|chat_type| chat_type.as_upstream()),
            chat_id: given(&recipient.chat_id),
            text: None,
            content_uri: None,
            ref_message_id: given(&send.quoted_message_id),
            crm_user_id: given(&send.crm_user_id),
            crm_message_id: given(&send.idempotency_key),
            username: given(&recipient.username),
            phone: given(&recipient.phone),
            clear_unanswered: send.reset_unanswered,
            template_id: None,
            template_values: None,
            buttons_object: send.keyboard.as_ref().map(ButtonsObject::from_keyboard),
        };
        match &send.content {
            Some(Content::Text(text)) => body.text = Some(text.as_str()),
            Some(Content::Attachment(attachment)) => {
                body.content_uri = Some(attachment.url.as_str());
            }
            Some(Content::Template(template)) => body.set_template(template),
            None => {}
        }
        body
    }

    /// Sets the template id, its values and its button payloads.
    fn set_template(&mut self, template: &'a TemplateMessage) {
        self.template_id = Some(template.template_id.as_str());
        self.template_values = (!template.values.is_empty()).then_some(template.values.as_slice());
        if !template.buttons.is_empty() {
            let payloads = template
                .buttons
                .iter()
                .map(|button| Button {
                    payload: given(&button.payload),
                    ..Button::default()
                })
                .collect();
            self.buttons_object = Some(ButtonsObject::flat(payloads));
        }
    }
}

impl<'a> ButtonsObject<'a> {
    /// Wraps a flat button list.
    fn flat(buttons: Vec<Button<'a>>) -> Self {
        Self {
            buttons: Some(Buttons::Flat(buttons)),
            reply_markup: None,
            remove_keyboard: None,
            one_time_keyboard: None,
        }
    }

    /// Builds the shape of a keyboard.
    fn from_keyboard(keyboard: &'a Keyboard) -> Self {
        match keyboard {
            Keyboard::Waba(buttons) => Self::flat(buttons.iter().map(waba_button).collect()),
            Keyboard::Telegram(telegram) => telegram_object(telegram),
            Keyboard::Max(max) => max_object(max),
        }
    }
}

/// A WABA interactive button: `{text, type: "text", payload?}`.
fn waba_button(button: &WabaButton) -> Button<'_> {
    Button {
        button_type: Some("text"),
        text: Some(button.text.as_str()),
        payload: given(&button.payload),
        ..Button::default()
    }
}

/// A Telegram bot keyboard; flags only when set.
fn telegram_object(keyboard: &TelegramKeyboard) -> ButtonsObject<'_> {
    let rows: Vec<Vec<Button<'_>>> = keyboard
        .rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|button| Button {
                    text: Some(button.text.as_str()),
                    url: given(&button.url),
                    callback_data: given(&button.callback_data),
                    ..Button::default()
                })
                .collect()
        })
        .collect();
    ButtonsObject {
        buttons: (!rows.is_empty()).then_some(Buttons::Rows(rows)),
        reply_markup: keyboard.markup.map(|markup| match markup {
            TelegramMarkup::Inline => "inline",
            TelegramMarkup::Reply => "reply",
        }),
        remove_keyboard: keyboard.remove.then_some(true),
        one_time_keyboard: keyboard.one_time.then_some(true),
    }
}

/// A MAX bot keyboard.
fn max_object(keyboard: &MaxKeyboard) -> ButtonsObject<'_> {
    let rows = keyboard
        .rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|button| Button {
                    button_type: button.button_type.map(|kind| kind.as_upstream()),
                    text: Some(button.text.as_str()),
                    payload: given(&button.payload),
                    url: given(&button.url),
                    intent: button.intent.map(|intent| intent.as_upstream()),
                    ..Button::default()
                })
                .collect()
        })
        .collect();
    ButtonsObject {
        buttons: Some(Buttons::Rows(rows)),
        reply_markup: None,
        remove_keyboard: None,
        one_time_keyboard: None,
    }
}

/// Body of `PATCH /v3/message/:messageId`: `text` xor `contentUri`, and `crmUserId`.
#[derive(Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EditMessageBody<'a> {
    /// New text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<&'a str>,
    /// New file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_uri: Option<&'a str>,
    /// CRM user shown as the editor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crm_user_id: Option<&'a str>,
}

impl<'a> EditMessageBody<'a> {
    /// Builds the body of a validated edit.
    pub(crate) fn new(edit: &'a EditMessage) -> Self {
        let (text, content_uri) = match &edit.content {
            Some(EditContent::Text(text)) => (Some(text.as_str()), None),
            Some(EditContent::Attachment(attachment)) => (None, Some(attachment.url.as_str())),
            None => (None, None),
        };
        Self {
            text,
            content_uri,
            crm_user_id: given(&edit.crm_user_id),
        }
    }
}

/// Body of `PATCH /v3/webhooks`: every subscription flag explicit, since the settings replace the
/// old ones entirely.
#[derive(Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WebhooksBody<'a> {
    /// Receiver URL.
    pub webhooks_uri: &'a str,
    /// Which webhooks to send.
    pub subscriptions: Subscriptions,
}

/// `subscriptions` of `PATCH /v3/webhooks`.
#[derive(Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Subscriptions {
    /// `messages` and `statuses`.
    pub messages_and_statuses: bool,
    /// `createContact` / `createDeal`.
    pub contacts_and_deals_creation: bool,
    /// `channelsUpdates`.
    pub channels_updates: bool,
    /// `templateStatus`.
    pub template_status: bool,
}

impl<'a> WebhooksBody<'a> {
    /// Builds the body from settings.
    pub(crate) fn new(settings: &'a WebhookSettings) -> Self {
        Self {
            webhooks_uri: &settings.uri,
            subscriptions: Subscriptions {
                messages_and_statuses: settings.messages_and_statuses,
                contacts_and_deals_creation: settings.contacts_and_deals_creation,
                channels_updates: settings.channels_updates,
                template_status: settings.template_status,
            },
        }
    }
}

/// Returns a set, non-empty string (proto3 cannot tell unset from empty).
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|text| !text.is_empty())
}

#[cfg(test)]
mod tests;
