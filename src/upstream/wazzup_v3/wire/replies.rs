//! The v3 replies, decoded tolerantly: every field defaulted, scalars of varying type accepted,
//! unknown enum strings kept raw beside the mapped value.

use serde::Deserialize;
use serde_json::Value;

use crate::model::lenient;
use crate::model::{
    Channel, ChannelState, Template, TemplateButtonSpec, TemplateComponent, TemplateStatus,
    Transport, WebhookSettings,
};

/// One channel of `GET /v3/channels`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ChannelReply {
    /// Channel id (uuid).
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub channel_id: String,
    /// Transport string, kept raw.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub transport: String,
    /// Phone, user name or messenger id.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub plain_id: String,
    /// State string, kept raw.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub state: String,
}

impl ChannelReply {
    /// Converts into the domain channel of `account`.
    pub(crate) fn into_channel(self, account: &str) -> Channel {
        Channel {
            account: account.to_owned(),
            transport: Transport::from_upstream(&self.transport),
            state: ChannelState::from_upstream(&self.state),
            channel_id: self.channel_id,
            transport_raw: self.transport,
            plain_id: self.plain_id,
            state_raw: self.state,
            provider: crate::model::Dialect::WazzupV3.as_str().to_owned(),
        }
    }
}

/// Answer of a send (`201`), an edit or a delete; both ids optional in the latter two.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MessageReply {
    /// Wazzup message id.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub message_id: String,
    /// Chat id (assigned by the upstream for Telegram/MAX sends by user name or phone).
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub chat_id: String,
}

/// A template of `GET /v3/templates/whatsapp`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TemplateReply {
    /// Template id, used as `templateId` when sending.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub template_guid: String,
    /// Name inside Wazzup.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub title: String,
    /// Name registered with Meta.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub name: String,
    /// WABA account.
    #[serde(default)]
    pub waba: WabaReply,
    /// Attached channels (ids, or objects with an id).
    #[serde(default)]
    pub channels: Value,
    /// Category.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub category: String,
    /// Language.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub language: String,
    /// Moderation status, kept raw.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub status: String,
    /// Rejection reason in camel case, should it arrive so.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub rejected_reason: String,
    /// Rejection reason as documented (`rejected_reason`, snake case).
    #[serde(
        default,
        rename = "rejected_reason",
        deserialize_with = "lenient::string_or_empty"
    )]
    pub rejected_reason_snake: String,
    /// Facebook namespace.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub namespace: String,
    /// Header, body, footer, buttons.
    #[serde(default)]
    pub components: Vec<ComponentReply>,
}

/// `waba` of a template.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WabaReply {
    /// WABA account id.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub waba_id: String,
    /// WABA account name.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub waba_name: String,
}

/// One component of a template.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ComponentReply {
    /// `HEADER`, `BODY`, `FOOTER`, `BUTTONS`.
    #[serde(
        default,
        rename = "type",
        deserialize_with = "lenient::string_or_empty"
    )]
    pub component_type: String,
    /// Header format.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub format: String,
    /// Text with placeholders.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub text: String,
    /// Example values (strings, possibly nested).
    #[serde(default)]
    pub example: Value,
    /// Buttons of a `BUTTONS` component.
    #[serde(default)]
    pub buttons: Vec<ComponentButtonReply>,
}

/// One declared template button.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ComponentButtonReply {
    /// Button type.
    #[serde(
        default,
        rename = "type",
        deserialize_with = "lenient::string_or_empty"
    )]
    pub button_type: String,
    /// Label.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub text: String,
    /// Link of URL buttons.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub url: String,
}

impl TemplateReply {
    /// Converts into the domain template.
    pub(crate) fn into_template(self) -> Template {
        let rejected_reason = if self.rejected_reason.is_empty() {
            self.rejected_reason_snake
        } else {
            self.rejected_reason
        };
        Template {
            template_id: self.template_guid,
            title: self.title,
            name: self.name,
            category: self.category,
            language: self.language,
            status: TemplateStatus::from_upstream(&self.status),
            status_raw: self.status,
            rejected_reason,
            channel_ids: lenient::ids(&self.channels, &["channelId", "id", "guid"]),
            waba_id: self.waba.waba_id,
            waba_name: self.waba.waba_name,
            namespace: self.namespace,
            components: self
                .components
                .into_iter()
                .map(ComponentReply::into_component)
                .collect(),
        }
    }
}

impl ComponentReply {
    /// Converts into the domain component (the tech v2 dialect shares this shape: its keys are
    /// single words).
    pub(crate) fn into_component(self) -> TemplateComponent {
        TemplateComponent {
            component_type: self.component_type,
            format: self.format,
            text: self.text,
            examples: lenient::flat_texts(&self.example),
            buttons: self
                .buttons
                .into_iter()
                .map(|button| TemplateButtonSpec {
                    button_type: button.button_type,
                    text: button.text,
                    url: button.url,
                })
                .collect(),
        }
    }
}

/// Answer of `GET /v3/webhooks`; flags may be booleans or `"true"` strings (§4.2, §19).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WebhooksReply {
    /// Receiver URL.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub webhooks_uri: String,
    /// Which webhooks are sent.
    #[serde(default)]
    pub subscriptions: SubscriptionsReply,
}

/// `subscriptions` of `GET /v3/webhooks`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SubscriptionsReply {
    /// `messages` and `statuses`.
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub messages_and_statuses: bool,
    /// `createContact` / `createDeal`.
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub contacts_and_deals_creation: bool,
    /// `channelsUpdates`.
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub channels_updates: bool,
    /// `templateStatus`, as documented.
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub template_status: bool,
    /// The same flag as a live account spells it in `GET` answers (§19).
    #[serde(default, deserialize_with = "lenient::boolean")]
    pub waba_templates_status: bool,
}

impl WebhooksReply {
    /// Converts into the domain settings.
    pub(crate) fn into_settings(self) -> WebhookSettings {
        let flags = self.subscriptions;
        WebhookSettings {
            uri: self.webhooks_uri,
            messages_and_statuses: flags.messages_and_statuses,
            contacts_and_deals_creation: flags.contacts_and_deals_creation,
            channels_updates: flags.channels_updates,
            template_status: flags.template_status || flags.waba_templates_status,
            events: Vec::new(),
        }
    }
}
