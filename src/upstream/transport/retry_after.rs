//! The upstream's `Retry-After` header, in both of its forms.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderValue;

/// Reads `Retry-After` in either of its forms: delay seconds, or an HTTP-date (a date already
/// past means no wait). The date is read against the answer's own `Date` (RFC 9110 §10.2.3), so
/// a clock difference between the upstream and the gateway does not change the wait; `now`, the
/// current wall-clock time, stands in when the answer has no readable `Date`.
pub(super) fn retry_after(
    value: Option<&HeaderValue>,
    date: Option<&HeaderValue>,
    now: SystemTime,
) -> Option<Duration> {
    let text = value?.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let retry_at = httpdate::parse_http_date(text).ok()?;
    let answered_at = date
        .and_then(|date| date.to_str().ok())
        .and_then(|date| httpdate::parse_http_date(date.trim()).ok())
        .unwrap_or(now);
    Some(
        retry_at
            .duration_since(answered_at)
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        let upstream_date = "Wed, 21 Oct 2015 09:00:00 GMT";
        let cases = [
            (Some("7"), None, Some(Duration::from_secs(7))),
            (Some(" 0 "), None, Some(Duration::ZERO)),
            (
                Some("Wed, 21 Oct 2015 07:28:30 GMT"),
                None,
                Some(Duration::from_secs(30)),
            ),
            (
                Some("Wed, 21 Oct 2015 07:27:00 GMT"),
                None,
                Some(Duration::ZERO),
            ),
            // The upstream's clock is 92 minutes ahead of ours: the wait counts from its Date.
            (
                Some("Wed, 21 Oct 2015 09:00:30 GMT"),
                Some(upstream_date),
                Some(Duration::from_secs(30)),
            ),
            // ... and 30 minutes behind.
            (
                Some("Wed, 21 Oct 2015 06:58:45 GMT"),
                Some("Wed, 21 Oct 2015 06:58:00 GMT"),
                Some(Duration::from_secs(45)),
            ),
            (
                Some("Wed, 21 Oct 2015 08:59:00 GMT"),
                Some(upstream_date),
                Some(Duration::ZERO),
            ),
            // An unreadable Date falls back to our clock.
            (
                Some("Wed, 21 Oct 2015 07:28:10 GMT"),
                Some("yesterday"),
                Some(Duration::from_secs(10)),
            ),
            (Some("7"), Some(upstream_date), Some(Duration::from_secs(7))),
            (Some("soon"), None, None),
            (Some("-5"), None, None),
            (None, Some(upstream_date), None),
        ];
        for (text, date, expected) in cases {
            let header = text.map(|text| HeaderValue::from_str(text).unwrap());
            let date_header = date.map(|date| HeaderValue::from_str(date).unwrap());
            assert_eq!(
                retry_after(header.as_ref(), date_header.as_ref(), now),
                expected,
                "{text:?} with Date {date:?}"
            );
        }
    }
}
