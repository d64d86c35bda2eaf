//! WABA templates and the page tokens of `ListTemplates`.

use crate::model::{Template, TemplateComponent, TemplateStatus, ValidationError, Violations};
use crate::proto::pb;
use crate::service::PageRequest;

/// Page size when the caller sets none (the upstream's own default).
pub(crate) const DEFAULT_PAGE_SIZE: u32 = 100;
/// Largest page the upstream serves.
pub(crate) const MAX_PAGE_SIZE: u32 = 100;
/// Prefix of page tokens; versioned so their format can change without confusing old clients.
const PAGE_TOKEN_PREFIX: &str = "o1.";

/// Reads the page a `ListTemplates` request asks for.
///
/// # Errors
///
/// Fails with violations on `page_size` (negative) and `page_token` (not one this gateway issued).
pub(crate) fn page_request(
    request: &pb::ListTemplatesRequest,
) -> Result<PageRequest, ValidationError> {
    let mut violations = Violations::new();
    let limit = match u32::try_from(request.page_size) {
        Ok(0) => DEFAULT_PAGE_SIZE,
        Ok(size) => size.min(MAX_PAGE_SIZE),
        Err(_) => {
            violations.add("page_size", "must not be negative");
            DEFAULT_PAGE_SIZE
        }
    };
    let offset = if request.page_token.is_empty() {
        0
    } else {
        parse_page_token(&request.page_token).unwrap_or_else(|| {
            violations.add(
                "page_token",
                "is not a page token returned by ListTemplates",
            );
            0
        })
    };
    violations.finish()?;
    Ok(PageRequest { limit, offset })
}

/// Returns the page token for the page starting at `offset`.
pub(crate) fn page_token(offset: u32) -> String {
    format!("{PAGE_TOKEN_PREFIX}{offset}")
}

/// Reads a page token back into an offset.
fn parse_page_token(token: &str) -> Option<u32> {
    token.strip_prefix(PAGE_TOKEN_PREFIX)?.parse().ok()
}

impl From<TemplateStatus> for pb::TemplateStatus {
    fn from(status: TemplateStatus) -> Self {
        match status {
            TemplateStatus::Approved => Self::Approved,
            TemplateStatus::Pending => Self::Pending,
            TemplateStatus::Rejected => Self::Rejected,
            TemplateStatus::Paused => Self::Paused,
            TemplateStatus::Disabled => Self::Disabled,
            TemplateStatus::Archived => Self::Archived,
            TemplateStatus::Other => Self::Other,
        }
    }
}

impl From<TemplateComponent> for pb::TemplateComponent {
    fn from(component: TemplateComponent) -> Self {
        Self {
            r#type: component.component_type,
            format: component.format,
            text: component.text,
            examples: component.examples,
            buttons: component
                .buttons
                .into_iter()
                .map(|button| pb::TemplateComponentButton {
                    r#type: button.button_type,
                    text: button.text,
                    url: button.url,
                })
                .collect(),
        }
    }
}

impl From<Template> for pb::Template {
    fn from(template: Template) -> Self {
        Self {
            template_id: template.template_id,
            title: template.title,
            name: template.name,
            category: template.category,
            language: template.language,
            status: pb::TemplateStatus::from(template.status).into(),
            status_raw: template.status_raw,
            rejected_reason: template.rejected_reason,
            channel_ids: template.channel_ids,
            components: template.components.into_iter().map(Into::into).collect(),
            waba_id: template.waba_id,
            waba_name: template.waba_name,
            namespace: template.namespace,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(page_size: i32, page_token: &str) -> pb::ListTemplatesRequest {
        pb::ListTemplatesRequest {
            page_size,
            page_token: page_token.to_owned(),
            ..Default::default()
        }
    }

    #[test]
    fn page_requests_default_clamp_and_resume_from_tokens() {
        assert_eq!(
            page_request(&request(0, "")),
            Ok(PageRequest {
                limit: 100,
                offset: 0
            })
        );
        assert_eq!(
            page_request(&request(500, "")),
            Ok(PageRequest {
                limit: 100,
                offset: 0
            })
        );
        assert_eq!(
            page_request(&request(2, &page_token(4))),
            Ok(PageRequest {
                limit: 2,
                offset: 4
            })
        );
    }

    #[test]
    fn bad_page_sizes_and_tokens_name_their_fields() {
        let error = page_request(&request(-1, "garbage")).unwrap_err();
        let fields: Vec<_> = error
            .0
            .iter()
            .map(|violation| violation.field.as_str())
            .collect();
        assert_eq!(fields, ["page_size", "page_token"]);
    }
}
