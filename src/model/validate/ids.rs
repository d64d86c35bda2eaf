//! Rules for the ids and names a caller passes on: present where required, and no longer than the
//! gateway's bounds ([`MAX_ID_CHARS`], [`MAX_NAME_CHARS`]), so that a huge value is refused before
//! it reaches an upstream, a log or an error.

use super::Violations;
use super::shape::{char_count, given, is_blank, too_many_chars};
use crate::model::limits::{MAX_ID_CHARS, MAX_NAME_CHARS};

/// Checks an id the request cannot do without: set, not blank, at most [`MAX_ID_CHARS`].
pub(crate) fn check_required_id(field: &str, value: &str, violations: &mut Violations) {
    if is_blank(value) {
        violations.add(
            field,
            "is missing or blank; the id of an existing object is required",
        );
        return;
    }
    check_max_chars(field, value, MAX_ID_CHARS, violations);
}

/// Checks an optional id, when set: at most [`MAX_ID_CHARS`].
pub(super) fn check_optional_id(field: &str, value: Option<&str>, violations: &mut Violations) {
    if let Some(value) = given(value) {
        check_max_chars(field, value, MAX_ID_CHARS, violations);
    }
}

/// Checks an optional display name, when set: at most [`MAX_NAME_CHARS`].
pub(crate) fn check_optional_name(field: &str, value: Option<&str>, violations: &mut Violations) {
    if let Some(value) = given(value) {
        check_max_chars(field, value, MAX_NAME_CHARS, violations);
    }
}

/// Reports `field` when `value` has more than `max` characters.
pub(super) fn check_max_chars(field: &str, value: &str, max: usize, violations: &mut Violations) {
    // A string has at least as many bytes as characters, so short ones need no count.
    if value.len() <= max {
        return;
    }
    let length = char_count(value);
    if length > max {
        violations.add(field, too_many_chars(length, max, ""));
    }
}
