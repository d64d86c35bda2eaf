//! Rules for webhook settings sent upstream (wazzup-api.md §4.1: `webhooksUri` ≤ 200 characters).

use super::Violations;
use super::shape::{char_count, is_blank, is_http_url, too_many_chars};
use crate::model::WebhookSettings;
use crate::model::limits::WEBHOOK_URI_MAX_CHARS;

/// Checks the receiver URI: present, an http(s) URL, at most 200 characters.
pub fn check_webhook_settings(settings: &WebhookSettings, violations: &mut Violations) {
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
