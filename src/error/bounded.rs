//! The one truncation rule for everything an error echoes: a `grpc-message`, the strings inside
//! `google.rpc` details, the number of field violations, and what is logged about a request.
//!
//! Callers control ids, names and whole lists; an error must not grow with them. A string over
//! its bound is cut on a character boundary and ends with a visible `…`, so a reader sees that
//! something was left out.

use std::borrow::Cow;
use std::fmt;

/// Longest `grpc-message` the gateway sends, in bytes.
pub(crate) const MAX_STATUS_MESSAGE_BYTES: usize = 512;

/// Longest string inside an error detail (a metadata value, a field path, a description, a
/// reason) and longest request value in a log field, in bytes.
pub(crate) const MAX_DETAIL_BYTES: usize = 128;

/// Most field violations one `BadRequest` carries; `ErrorInfo.metadata["violationCount"]` gives
/// how many there were in all.
pub(crate) const MAX_FIELD_VIOLATIONS: usize = 8;

/// Longest error report in one log line (the error and its causes), in bytes.
pub(crate) const MAX_LOGGED_ERROR_BYTES: usize = 2 * MAX_STATUS_MESSAGE_BYTES;

/// Marks where a string was cut.
const ELLIPSIS: &str = "…";

/// Returns `text` when it has at most `max_bytes` bytes, else its longest prefix that ends on a
/// character boundary and, with `…` appended, fits in `max_bytes`.
pub(crate) fn truncated(text: &str, max_bytes: usize) -> Cow<'_, str> {
    if text.len() <= max_bytes {
        return Cow::Borrowed(text);
    }
    let mut end = max_bytes.saturating_sub(ELLIPSIS.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}{ELLIPSIS}", &text[..end]))
}

/// A request value shown in logs and spans, cut to [`MAX_DETAIL_BYTES`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bounded<'a>(&'a str);

/// Wraps a request value for a log or span field, so that a huge value cannot make a huge line.
pub(crate) fn bounded(text: &str) -> Bounded<'_> {
    Bounded(text)
}

impl fmt::Display for Bounded<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&truncated(self.0, MAX_DETAIL_BYTES))
    }
}

/// Describes `error` and its causes (`error: cause: cause`) for a log line: each level cut to
/// [`MAX_STATUS_MESSAGE_BYTES`], the whole to [`MAX_LOGGED_ERROR_BYTES`].
pub(crate) fn report(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = truncated(&error.to_string(), MAX_STATUS_MESSAGE_BYTES).into_owned();
    let mut source = error.source();
    while let Some(cause) = source {
        if text.len() > MAX_LOGGED_ERROR_BYTES {
            break;
        }
        text.push_str(": ");
        text.push_str(&truncated(&cause.to_string(), MAX_STATUS_MESSAGE_BYTES));
        source = cause.source();
    }
    truncated(&text, MAX_LOGGED_ERROR_BYTES).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_over_the_bound_are_cut_on_a_char_boundary_with_an_ellipsis() {
        let table = [
            ("short", 8, "short"),
            ("exactly8", 8, "exactly8"),
            ("nine char", 8, "nine …"),
            ("ééééé", 8, "éé…"),
            ("日本語テキスト", 10, "日本…"),
            ("abc", 0, "…"),
        ];
        for (text, max_bytes, expected) in table {
            let cut = truncated(text, max_bytes);
            assert_eq!(cut, expected, "{text} / {max_bytes}");
            assert!(cut.len() <= max_bytes.max(ELLIPSIS.len()), "{text}");
        }
    }

    #[test]
    fn bounded_log_values_stay_within_the_detail_bound() {
        let huge = "x".repeat(1 << 20);
        let shown = bounded(&huge).to_string();
        assert_eq!(shown.len(), MAX_DETAIL_BYTES);
        assert!(shown.ends_with(ELLIPSIS));
        assert_eq!(bounded("main").to_string(), "main");
    }

    #[test]
    fn reports_walk_the_causes_and_stay_bounded() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer {0}")]
        struct Outer(String, #[source] Inner);
        #[derive(Debug, thiserror::Error)]
        #[error("inner cause")]
        struct Inner;

        assert_eq!(
            report(&Outer("call".to_owned(), Inner)),
            "outer call: inner cause"
        );
        let long = report(&Outer("y".repeat(1 << 20), Inner));
        assert!(long.len() <= MAX_LOGGED_ERROR_BYTES, "{}", long.len());
        assert!(long.ends_with(": inner cause"));
    }
}
