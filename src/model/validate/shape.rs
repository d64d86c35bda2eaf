//! Small shape checks shared by the rules: set and blank strings, phone digits, URLs, MIME types,
//! hashes, and the wording of length violations.

use crate::model::http_url;
use crate::model::limits::{PHONE_DIGITS, SHA1_HEX_CHARS};

/// Returns the value of an optional string when it is set.
///
/// proto3 cannot tell an empty string from an unset one, so an empty string counts as unset
/// everywhere; a string of only whitespace is set (and usually blank, which rules reject).
pub(super) fn given(value: Option<&str>) -> Option<&str> {
    value.filter(|text| !text.is_empty())
}

/// Tells whether `value` holds nothing but whitespace.
pub(super) fn is_blank(value: &str) -> bool {
    value.trim().is_empty()
}

/// Tells whether an optional string is set to something other than whitespace.
pub(crate) fn is_filled(value: Option<&str>) -> bool {
    match value {
        Some(text) => !is_blank(text),
        None => false,
    }
}

/// Returns the number of characters (Unicode scalar values) of `value`.
pub(super) fn char_count(value: &str) -> usize {
    value.chars().count()
}

/// Describes a string that is longer than `max` characters, e.g. "is 21 characters; at most 20
/// are allowed"; `scope` (such as " for whatsapp channels") is appended as is.
pub(super) fn too_many_chars(actual: usize, max: usize, scope: &str) -> String {
    format!("is {actual} characters; at most {max} are allowed{scope}")
}

/// Returns what is wrong with a phone number (digits only, [`PHONE_DIGITS`] of them), or `None`
/// when it is well formed.
pub(super) fn phone_problem(value: &str) -> Option<String> {
    if !value.chars().all(|character| character.is_ascii_digit()) {
        return Some(String::from("contains characters other than digits"));
    }
    let digits = value.len();
    if PHONE_DIGITS.contains(&digits) {
        None
    } else {
        Some(format!("has {digits} digits"))
    }
}

/// Describes the phone numbers that are accepted, for the second half of a violation.
pub(super) fn accepted_phone() -> String {
    let (min, max) = (PHONE_DIGITS.start(), PHONE_DIGITS.end());
    format!("{min} to {max} digits with the country code and no + are accepted")
}

/// Tells whether `url` is an absolute http(s) URL with a host ([`crate::model::http_url`]).
///
/// The upstream fetches the URL itself; the gateway only refuses what can never work (relative
/// paths, other schemes, spaces, a missing host).
pub(super) fn is_http_url(url: &str) -> bool {
    http_url::parse(url).is_some()
}

/// Tells whether `value` is shaped like a MIME type: `type/subtype`, optionally followed by
/// `;` parameters (RFC 6838 restricted names).
pub(super) fn is_mime_type(value: &str) -> bool {
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    is_mime_name(kind) && is_mime_name(subtype)
}

/// Tells whether `name` is a non-empty RFC 6838 restricted name.
fn is_mime_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&byte))
}

/// Tells whether `value` is a SHA-1 written as [`SHA1_HEX_CHARS`] hexadecimal characters (either
/// case).
pub(super) fn is_sha1_hex(value: &str) -> bool {
    value.len() == SHA1_HEX_CHARS && value.bytes().all(|byte| byte.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_urls_need_an_http_scheme_and_a_host() {
        let table = [
            ("https://example.com/file.pdf", true),
            ("HTTP://example.com", true),
            ("https://user:secret@cdn.example.com:8443/a?b=c#d", true),
            ("https://[::1]:8080/file", true),
            ("https://example.com?x=1", true),
            ("ftp://example.com/file", false),
            ("example.com/file.pdf", false),
            ("/relative/file.pdf", false),
            ("https://", false),
            ("https:///file.pdf", false),
            ("https://:443/file.pdf", false),
            ("https://[]/file", false),
            ("https://exa mple.com/file", false),
            ("https://example.com/\u{7}", false),
            ("httpsé://example.com", false),
        ];
        for (url, expected) in table {
            assert_eq!(is_http_url(url), expected, "{url}");
        }
    }

    #[test]
    fn mime_types_need_a_type_and_a_subtype() {
        let table = [
            ("application/pdf", true),
            ("image/svg+xml", true),
            ("text/plain; charset=utf-8", true),
            ("application/vnd.ms-excel", true),
            ("pdf", false),
            ("application/", false),
            ("/pdf", false),
            ("application/pdf/extra", false),
            ("appli cation/pdf", false),
        ];
        for (mime_type, expected) in table {
            assert_eq!(is_mime_type(mime_type), expected, "{mime_type}");
        }
    }

    #[test]
    fn phone_numbers_are_nine_to_sixteen_digits() {
        let table = [
            ("123456789", None),
            ("1234567890123456", None),
            ("12345678", Some("has 8 digits")),
            ("12345678901234567", Some("has 17 digits")),
            (
                "+79011112233",
                Some("contains characters other than digits"),
            ),
            (
                "7 901 111 22 33",
                Some("contains characters other than digits"),
            ),
            ("٧٩٠١١١١٢٢٣٣", Some("contains characters other than digits")),
        ];
        for (phone, expected) in table {
            assert_eq!(phone_problem(phone).as_deref(), expected, "{phone}");
        }
    }

    #[test]
    fn sha1_is_forty_hex_characters() {
        assert!(is_sha1_hex("153e030466873745ce4a66da02d0610a7ee6ce4f"));
        assert!(is_sha1_hex("153E030466873745CE4A66DA02D0610A7EE6CE4F"));
        assert!(!is_sha1_hex("153e030466873745ce4a66da02d0610a7ee6ce4"));
        assert!(!is_sha1_hex("153e030466873745ce4a66da02d0610a7ee6ce4g"));
    }
}
