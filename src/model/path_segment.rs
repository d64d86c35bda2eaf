//! The one rule for ids that become a segment of an upstream URL path (message and export ids),
//! shared by request validation (which names the field) and the upstream transport (which never
//! sends a request whose path would not be the one its route describes).
//!
//! A URL parser drops a segment that is `.` or `..` (or removes the one before it), splits at
//! `/` and `\`, ends the path at `?` and `#`, decodes `%2e` as a dot and strips tabs and line
//! breaks, so an id holding any of them would send the request to another route, e.g.
//! `DELETE /v3/message/..` to `DELETE /v3/message`. Such an id is refused, never repaired.

/// Characters an id may not hold: they separate, end or escape URL path segments.
const SEPARATORS: &[char] = &['/', '\\', '?', '#', '%'];

/// Returns what keeps `id` from being exactly one URL path segment, or `None` when it can be
/// one. An empty id is refused too (it would leave the segment out).
pub(crate) fn problem(id: &str) -> Option<&'static str> {
    if id.is_empty() {
        return Some("is empty; it is one segment of the upstream URL path");
    }
    if id == "." || id == ".." {
        return Some("is `.` or `..`, which a URL path drops; an id is one URL path segment");
    }
    if id.contains(SEPARATORS) {
        return Some(
            "contains `/`, `\\`, `?`, `#` or `%`; an id is one URL path segment without them",
        );
    }
    if id.contains(char::is_control) {
        return Some("contains control characters; an id is one URL path segment without them");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_single_path_segments_pass() {
        let table = [
            ("f66c53a6-957a-46b2-b41b-5a2ef4844bcb", true),
            ("12345", true),
            ("wamid.HBgLNzk5OTExMTIyMzMVAgARGBI=", true),
            ("...", true),
            ("a b", true),
            ("сообщение", true),
            ("", false),
            (".", false),
            ("..", false),
            ("a/b", false),
            ("/", false),
            ("a\\b", false),
            ("a?b", false),
            ("a#b", false),
            ("%2e%2e", false),
            ("%2F", false),
            (".\t.", false),
            ("a\nb", false),
            ("\u{7f}", false),
        ];
        for (id, passes) in table {
            assert_eq!(problem(id).is_none(), passes, "{id:?}");
        }
    }
}
