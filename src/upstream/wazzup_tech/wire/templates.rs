//! WABA templates as the tech v2 API may answer them. **Unconfirmed**: only
//! `POST /v2/templates/waba` is documented (wazzup-api.md §16.10); the read routes and their
//! answers are not. The decoding follows the documented creation body (`title`, `waba{waba_id,
//! waba_name}`, `channels`, `category`, `language`, `components[]`) and accepts the id under
//! `id`, `template_id` or `template_guid`.

use serde::Deserialize;
use serde_json::Value;

use crate::model::lenient;
use crate::model::{Template, TemplateStatus};
use crate::upstream::wazzup_v3::wire::ComponentReply;

/// One WABA template.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct TemplateReply {
    /// Template id (`id`).
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub id: String,
    /// Template id (`template_id`).
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub template_id: String,
    /// Template id (`template_guid`).
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
    /// Rejection reason.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub rejected_reason: String,
    /// Facebook namespace.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub namespace: String,
    /// Header, body, footer, buttons.
    #[serde(default)]
    pub components: Vec<ComponentReply>,
}

/// `waba` of a template.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct WabaReply {
    /// WABA account id.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub waba_id: String,
    /// WABA account name.
    #[serde(default, deserialize_with = "lenient::string_or_empty")]
    pub waba_name: String,
}

impl TemplateReply {
    /// Converts into the domain template.
    pub(crate) fn into_template(self) -> Template {
        let template_id = [self.id, self.template_id, self.template_guid]
            .into_iter()
            .find(|id| !id.is_empty())
            .unwrap_or_default();
        Template {
            template_id,
            title: self.title,
            name: self.name,
            category: self.category,
            language: self.language,
            status: TemplateStatus::from_upstream(&self.status),
            status_raw: self.status,
            rejected_reason: self.rejected_reason,
            channel_ids: lenient::ids(&self.channels, &["channel_id", "id"]),
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
