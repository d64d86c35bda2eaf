//! WABA message templates.

/// Moderation status of a WABA template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TemplateStatus {
    /// Approved by Meta; can be sent.
    Approved,
    /// Waiting for moderation.
    Pending,
    /// Rejected by Meta.
    Rejected,
    /// Paused after complaints.
    Paused,
    /// Blocked.
    Disabled,
    /// Archived (seen live, not documented).
    Archived,
    /// A status the gateway does not know yet.
    Other,
}

impl TemplateStatus {
    /// Parses the upstream status string case-insensitively; unknown → `Other`.
    pub fn from_upstream(raw: &str) -> Self {
        match raw.to_ascii_lowercase().as_str() {
            "approved" => Self::Approved,
            "pending" => Self::Pending,
            "rejected" => Self::Rejected,
            "paused" => Self::Paused,
            "disabled" => Self::Disabled,
            "archived" => Self::Archived,
            _ => Self::Other,
        }
    }
}

/// One button declared in a template.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TemplateButtonSpec {
    /// Button type (e.g. `QUICK_REPLY`, `URL`).
    pub button_type: String,
    /// Button label.
    pub text: String,
    /// Link of URL buttons.
    pub url: String,
}

/// One component (header, body, footer, buttons) of a template.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TemplateComponent {
    /// `HEADER`, `BODY`, `FOOTER` or `BUTTONS`.
    pub component_type: String,
    /// Header format: `TEXT`, `IMAGE`, `DOCUMENT`, `VIDEO`.
    pub format: String,
    /// Text with `{{n}}` placeholders.
    pub text: String,
    /// Example values.
    pub examples: Vec<String>,
    /// Buttons of a `BUTTONS` component.
    pub buttons: Vec<TemplateButtonSpec>,
}

/// A WABA template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    /// The template id (`templateGuid`), used when sending.
    pub template_id: String,
    /// Name inside Wazzup.
    pub title: String,
    /// Name registered with Meta.
    pub name: String,
    /// Category (`MARKETING`, `UTILITY`, …).
    pub category: String,
    /// Language code.
    pub language: String,
    /// Moderation status.
    pub status: TemplateStatus,
    /// The status exactly as the upstream spelled it.
    pub status_raw: String,
    /// Why Meta rejected it, when it did.
    pub rejected_reason: String,
    /// Channels the template is attached to.
    pub channel_ids: Vec<String>,
    /// The WABA account id the template belongs to.
    pub waba_id: String,
    /// The WABA account name.
    pub waba_name: String,
    /// The Facebook namespace.
    pub namespace: String,
    /// Header, body, footer and buttons.
    pub components: Vec<TemplateComponent>,
}

/// One page of templates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TemplatePage {
    /// The templates on this page.
    pub templates: Vec<Template>,
    /// Offset of the next page, when there is one.
    pub next_offset: Option<u32>,
}
