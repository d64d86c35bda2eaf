//! Rules for webhook settings sent upstream (wazzup-api.md §4.1: `webhooksUri` ≤ 200 characters).

use super::Violations;
use super::shape::{char_count, is_blank, is_http_url, too_many_chars};
use crate::model::WebhookSettings;
use crate::model::limits::WEBHOOK_URI_MAX_CHARS;

/// Checks the receiver URI (present, an http(s) URL, at most 200 characters) and that no tech v2
/// event name is blank.
pub(crate) fn check_webhook_settings(settings: &WebhookSettings, violations: &mut Violations) {
    for (index, event) in settings.events.iter().enumerate() {
        if is_blank(event) {
            violations.add(
                format!("settings.events[{index}]"),
                "is blank; an event name such as message.add is required",
            );
        }
    }
    let uri = settings.uri.trim();
    if is_blank(uri) {
        violations.add(
            "settings.uri",
            "is missing or blank; the http(s) URL the upstream should deliver webhooks to is required",
        );
        return;
    }
    let length = char_count(uri);
    if length > WEBHOOK_URI_MAX_CHARS {
        violations.add(
            "settings.uri",
            too_many_chars(length, WEBHOOK_URI_MAX_CHARS, ""),
        );
    }
    if !is_http_url(uri) {
        violations.add("settings.uri", "is not an absolute http or https URL");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_event_names_are_refused() {
        let settings = WebhookSettings {
            uri: "https://gw.example.com/hook".to_owned(),
            events: vec!["message.add".to_owned(), " ".to_owned()],
            ..WebhookSettings::default()
        };
        let mut violations = Violations::new();
        check_webhook_settings(&settings, &mut violations);
        let fields: Vec<&str> = violations
            .as_slice()
            .iter()
            .map(|violation| violation.field.as_str())
            .collect();
        assert_eq!(fields, ["settings.events[1]"]);
    }
}
