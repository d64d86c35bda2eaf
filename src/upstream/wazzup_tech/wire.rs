//! The exact tech v2 request JSON (seed page "Messages", wazzup-api.md §16): snake_case bodies
//! built from the domain, fields the caller did not set omitted (never `""` or `null`).
//!
//! `keyboard` has three shapes: WABA interactive buttons as a flat list of
//! `{text, type: "text", payload?}`; a Telegram bot keyboard as rows of `{text, url?,
//! callback_data?}` with `reply_markup`, `one_time_keyboard`, `resize_keyboard`, `selective` and
//! `remove_keyboard`; a MAX bot keyboard as rows of `{type?, text, payload?, url?, intent?}`.

mod replies;
mod templates;

use serde::Serialize;

use crate::model::{
    Attachment, Content, EditContent, EditMessage, ExportRequest, Keyboard, MaxKeyboard, Recipient,
    SendMessage, TelegramKeyboard, TelegramMarkup, TemplateMessage, WabaButton,
};

pub(crate) use replies::{
    ChannelReply, ExportReply, MessageReply, SendReply, TokenReply, WebhookReply, unwrap_data,
    unwrap_list,
};
pub(crate) use templates::TemplateReply;

/// Body of `POST /v2/messages`.
#[derive(Debug, PartialEq, Serialize)]
pub(crate) struct SendMessageBody<'a> {
    /// Channel to send from.
    pub channel_id: &'a str,
    /// Who the message goes to.
    pub recipient: RecipientBody<'a>,
    /// Text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<&'a str>,
    /// File.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment: Option<AttachmentBody<'a>>,
    /// WABA template.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<TemplateBody<'a>>,
    /// Buttons.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyboard: Option<KeyboardBody<'a>>,
    /// Message to quote.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quoted_message_id: Option<&'a str>,
    /// CRM user shown as the sender.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crm_user_id: Option<&'a str>,
    /// Whether the message resets the unanswered counter.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reset_unanswered: Option<bool>,
}

/// `recipient` of a send.
#[derive(Debug, PartialEq, Serialize)]
pub(crate) struct RecipientBody<'a> {
    /// Kind of chat.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_type: Option<&'static str>,
    /// Chat id in the messenger.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chat_id: Option<&'a str>,
    /// Telegram user name, when the chat id is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<&'a str>,
    /// Telegram / MAX phone, when the chat id is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<&'a str>,
    /// Contact name in the CRM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crm_contact_name: Option<&'a str>,
}

/// `attachment` of a send or an edit.
#[derive(Debug, PartialEq, Serialize)]
pub(crate) struct AttachmentBody<'a> {
    /// Direct link to the file.
    pub url: &'a str,
    /// File name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    /// MIME type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mimetype: Option<&'a str>,
    /// Size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// SHA-1 of the content, hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha1: Option<&'a str>,
}

/// `template` of a send.
#[derive(Debug, PartialEq, Serialize)]
pub(crate) struct TemplateBody<'a> {
    /// WABA template id.
    pub id: &'a str,
    /// Values of the template variables.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<&'a [String]>,
    /// Payloads of the template's buttons.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buttons: Option<Vec<Button<'a>>>,
}

/// `keyboard` of a send.
#[derive(Debug, PartialEq, Serialize)]
pub(crate) struct KeyboardBody<'a> {
    /// Flat (WABA) or rows (bots).
    pub buttons: Buttons<'a>,
    /// Telegram: `inline` or `reply`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_markup: Option<&'static str>,
    /// Telegram: hide the reply keyboard after one press.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub one_time_keyboard: Option<bool>,
    /// Telegram: fit the keyboard to its buttons.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resize_keyboard: Option<bool>,
    /// Telegram: show the keyboard to selected users only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selective: Option<bool>,
    /// Telegram: remove the custom keyboard.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remove_keyboard: Option<bool>,
}

/// The two layouts of `keyboard.buttons`.
#[derive(Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub(crate) enum Buttons<'a> {
    /// WABA interactive buttons.
    Flat(Vec<Button<'a>>),
    /// Telegram / MAX bot rows.
    Rows(Vec<Vec<Button<'a>>>),
}

/// One button; each shape sets only its own fields.
#[derive(Debug, Default, PartialEq, Serialize)]
pub(crate) struct Button<'a> {
    /// WABA `text`, a template button's type, or MAX `callback` / `link` / `message`.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub button_type: Option<&'a str>,
    /// Label.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<&'a str>,
    /// Payload returned when pressed (WABA, templates, MAX callback).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<&'a str>,
    /// Link (Telegram inline, MAX link).
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
        let mut body = Self {
            channel_id: &send.channel_id,
            recipient: RecipientBody::new(&send.recipient),
            text: None,
            attachment: None,
            template: None,
            keyboard: send.keyboard.as_ref().map(KeyboardBody::new),
            quoted_message_id: given(&send.quoted_message_id),
            crm_user_id: given(&send.crm_user_id),
            reset_unanswered: send.reset_unanswered,
        };
        match &send.content {
            Some(Content::Text(text)) => body.text = Some(text),
            Some(Content::Attachment(attachment)) => {
                body.attachment = Some(AttachmentBody::new(attachment));
            }
            Some(Content::Template(template)) => body.template = Some(TemplateBody::new(template)),
            None => {}
        }
        body
    }
}

impl<'a> RecipientBody<'a> {
    /// Builds the recipient of a send.
    fn new(recipient: &'a Recipient) -> Self {
        Self {
            chat_type: recipient.chat_type.map(|chat_type| chat_type.as_upstream()),
            chat_id: given(&recipient.chat_id),
            username: given(&recipient.username),
            phone: given(&recipient.phone),
            crm_contact_name: given(&recipient.contact_name),
        }
    }
}

impl<'a> AttachmentBody<'a> {
    /// Builds an attachment with every field the caller set.
    fn new(attachment: &'a Attachment) -> Self {
        Self {
            url: &attachment.url,
            name: given(&attachment.name),
            mimetype: given(&attachment.mime_type),
            size: attachment.size_bytes,
            sha1: given(&attachment.sha1),
        }
    }
}

impl<'a> TemplateBody<'a> {
    /// Builds a template with its values and button payloads.
    fn new(template: &'a TemplateMessage) -> Self {
        let buttons: Vec<Button<'a>> = template
            .buttons
            .iter()
            .map(|button| Button {
                button_type: given(&button.button_type),
                text: given(&button.text),
                payload: given(&button.payload),
                ..Button::default()
            })
            .collect();
        Self {
            id: &template.template_id,
            values: (!template.values.is_empty()).then_some(template.values.as_slice()),
            buttons: (!buttons.is_empty()).then_some(buttons),
        }
    }
}

impl<'a> KeyboardBody<'a> {
    /// Builds the shape of a keyboard.
    fn new(keyboard: &'a Keyboard) -> Self {
        match keyboard {
            Keyboard::Waba(buttons) => {
                Self::plain(Buttons::Flat(buttons.iter().map(waba_button).collect()))
            }
            Keyboard::Telegram(telegram) => telegram_keyboard(telegram),
            Keyboard::Max(max) => max_keyboard(max),
        }
    }

    /// A keyboard with buttons and no Telegram flags.
    fn plain(buttons: Buttons<'a>) -> Self {
        Self {
            buttons,
            reply_markup: None,
            one_time_keyboard: None,
            resize_keyboard: None,
            selective: None,
            remove_keyboard: None,
        }
    }
}

/// A WABA interactive button: `{text, type: "text", payload?}`.
fn waba_button(button: &WabaButton) -> Button<'_> {
    Button {
        button_type: Some("text"),
        text: Some(&button.text),
        payload: given(&button.payload),
        ..Button::default()
    }
}

/// A Telegram bot keyboard; flags only when set. `buttons` is always sent (the docs mark it
/// required), empty when the keyboard only removes itself.
fn telegram_keyboard(keyboard: &TelegramKeyboard) -> KeyboardBody<'_> {
    let rows = keyboard
        .rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|button| Button {
                    text: Some(&button.text),
                    url: given(&button.url),
                    callback_data: given(&button.callback_data),
                    ..Button::default()
                })
                .collect()
        })
        .collect();
    KeyboardBody {
        buttons: Buttons::Rows(rows),
        reply_markup: keyboard.markup.map(|markup| match markup {
            TelegramMarkup::Inline => "inline",
            TelegramMarkup::Reply => "reply",
        }),
        one_time_keyboard: keyboard.one_time.then_some(true),
        resize_keyboard: keyboard.resize.then_some(true),
        selective: keyboard.selective.then_some(true),
        remove_keyboard: keyboard.remove.then_some(true),
    }
}

/// A MAX bot keyboard.
fn max_keyboard(keyboard: &MaxKeyboard) -> KeyboardBody<'_> {
    let rows = keyboard
        .rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|button| Button {
                    button_type: button.button_type.map(|kind| kind.as_upstream()),
                    text: Some(&button.text),
                    payload: given(&button.payload),
                    url: given(&button.url),
                    intent: button.intent.map(|intent| intent.as_upstream()),
                    ..Button::default()
                })
                .collect()
        })
        .collect();
    KeyboardBody::plain(Buttons::Rows(rows))
}

/// Body of `PATCH /v2/messages/{message_id}`: `text` xor `attachment`, and `crm_user_id`.
#[derive(Debug, PartialEq, Serialize)]
pub(crate) struct EditMessageBody<'a> {
    /// New text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<&'a str>,
    /// New file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attachment: Option<AttachmentBody<'a>>,
    /// CRM user shown as the editor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crm_user_id: Option<&'a str>,
}

impl<'a> EditMessageBody<'a> {
    /// Builds the body of a validated edit.
    pub(crate) fn new(edit: &'a EditMessage) -> Self {
        let (text, attachment) = match &edit.content {
            Some(EditContent::Text(text)) => (Some(text.as_str()), None),
            Some(EditContent::Attachment(attachment)) => {
                (None, Some(AttachmentBody::new(attachment)))
            }
            None => (None, None),
        };
        Self {
            text,
            attachment,
            crm_user_id: given(&edit.crm_user_id),
        }
    }
}

/// Body of `POST /v2/webhooks` (`data: [{url, event}]`) and `DELETE /v2/webhooks`
/// (`data: [{id}]`).
#[derive(Debug, PartialEq, Serialize)]
pub(crate) struct WebhooksBody<'a> {
    /// The subscriptions to create or delete.
    pub data: Vec<WebhookItem<'a>>,
}

/// One subscription of [`WebhooksBody`].
#[derive(Debug, PartialEq, Serialize)]
pub(crate) struct WebhookItem<'a> {
    /// Subscription id (deletes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    /// Receiver URL (creates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<&'a str>,
    /// Event name (creates).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<&'a str>,
}

/// Body of `POST /v2/messages/messages_dump`: ISO 8601 UTC with milliseconds.
#[derive(Debug, PartialEq, Serialize)]
pub(crate) struct ExportBody<'a> {
    /// Start of the period.
    pub start_at: String,
    /// End of the period.
    pub end_at: String,
    /// Only this channel's chats.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<&'a str>,
}

impl<'a> ExportBody<'a> {
    /// Builds the body of a validated export request.
    pub(crate) fn new(request: &'a ExportRequest) -> Self {
        Self {
            start_at: humantime::format_rfc3339_millis(request.start_at).to_string(),
            end_at: humantime::format_rfc3339_millis(request.end_at).to_string(),
            channel_id: given(&request.channel_id),
        }
    }
}

/// Body of the token refresh, `POST /v2/oauth/token`. The shape is unconfirmed (wazzup-api.md
/// §16.2 \[U\]); it follows the confirmed `authorize_code_data` / `client_credentials_data` pattern.
#[derive(Debug, PartialEq, Serialize)]
pub(crate) struct RefreshBody<'a> {
    /// Always `refresh_token`.
    pub grant_type: &'static str,
    /// The token and the client.
    pub refresh_token_data: RefreshTokenData<'a>,
}

/// `refresh_token_data` of [`RefreshBody`].
#[derive(Debug, PartialEq, Serialize)]
pub(crate) struct RefreshTokenData<'a> {
    /// The refresh token.
    pub refresh_token: &'a str,
    /// The partner's OAuth client id, when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<&'a str>,
}

/// Returns a set, non-empty string (proto3 cannot tell unset from empty).
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|text| !text.is_empty())
}
