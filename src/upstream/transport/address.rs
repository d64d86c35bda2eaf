//! The URL of an upstream request: the account's base URL, the route's segments each
//! percent-encoded as one path segment, and the query. A segment that cannot be exactly one path
//! segment ([`path_segment::problem`]) is refused rather than sent, so no id can turn a request
//! into one for another route (`DELETE /v3/message/..` into `DELETE /v3/message`).

use reqwest::Url;

use super::UpstreamRequest;
use crate::model::{FieldViolation, ValidationError, path_segment};
use crate::upstream::UpstreamError;
use crate::upstream::error::upper_snake;

/// Returns the full URL of `request` under `base_url`.
///
/// # Errors
///
/// Fails with [`UpstreamError::InvalidRequest`] naming the route parameter (in snake case, e.g.
/// `message_id`) when a segment is not exactly one path segment; nothing is sent then.
pub(super) fn request_url(base_url: &Url, request: &UpstreamRequest) -> Result<Url, UpstreamError> {
    for (index, segment) in request.segments.iter().enumerate() {
        if let Some(problem) = path_segment::problem(segment) {
            return Err(UpstreamError::InvalidRequest(ValidationError(vec![
                FieldViolation {
                    field: route_parameter(request.route, index),
                    description: problem.to_owned(),
                },
            ])));
        }
    }
    let mut url = base_url.clone();
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty().extend(&request.segments);
    }
    if !request.query.is_empty() {
        url.query_pairs_mut().extend_pairs(&request.query);
    }
    Ok(url)
}

/// Returns the name of the `index`th segment of `route` (`/v3/message/:messageId`, 2 →
/// `message_id`).
fn route_parameter(route: &str, index: usize) -> String {
    let part = route
        .split('/')
        .filter(|part| !part.is_empty())
        .nth(index)
        .unwrap_or("path");
    upper_snake(part.trim_start_matches(':')).to_lowercase()
}

#[cfg(test)]
mod tests {
    use reqwest::Method;

    use super::*;
    use crate::upstream::retry::Idempotency;

    fn delete(message_id: &str) -> UpstreamRequest {
        UpstreamRequest::new(
            Method::DELETE,
            "/v3/message/:messageId",
            &["v3", "message", message_id],
            "DeleteMessage",
            Idempotency::Safe,
        )
    }

    fn base() -> Url {
        Url::parse("https://api.example.com/").unwrap()
    }

    #[test]
    fn every_accepted_id_is_exactly_the_last_segment() {
        for id in [
            "m-1",
            "...",
            "a b",
            "wamid.HBg=",
            "сообщение",
            "a+b;c=d",
            "~x@y:z",
        ] {
            let url = request_url(&base(), &delete(id)).unwrap();

            let segments: Vec<&str> = url.path_segments().unwrap().collect();
            assert_eq!(segments.len(), 3, "{id:?} → {url}");
            let decoded = percent_decode(segments[2]);
            assert_eq!(decoded, id, "{url}");
        }
    }

    #[test]
    fn an_id_that_is_not_one_segment_is_refused_naming_the_parameter() {
        for id in ["", ".", "..", "%2e%2e", "a/b", "a\\b", "a?b", "a#b", ".\n."] {
            let Err(UpstreamError::InvalidRequest(ValidationError(violations))) =
                request_url(&base(), &delete(id))
            else {
                panic!("{id:?} was accepted");
            };
            assert_eq!(violations[0].field, "message_id", "{id:?}");
        }
    }

    #[test]
    fn a_base_url_path_and_the_query_are_kept() {
        let base = Url::parse("https://example.com/proxy/").unwrap();
        let mut request = delete("m-1");
        request.query = vec![("limit", "a&b".to_owned())];

        let url = request_url(&base, &request).unwrap();

        assert_eq!(
            url.as_str(),
            "https://example.com/proxy/v3/message/m-1?limit=a%26b"
        );
    }

    /// Decodes `%XX` escapes (the test's own decoder, so it does not trust the encoder's crate).
    fn percent_decode(segment: &str) -> String {
        let bytes = segment.as_bytes();
        let mut decoded = Vec::new();
        let mut index = 0;
        while index < bytes.len() {
            if bytes[index] == b'%' {
                let hex = std::str::from_utf8(&bytes[index + 1..index + 3]).unwrap();
                decoded.push(u8::from_str_radix(hex, 16).unwrap());
                index += 3;
            } else {
                decoded.push(bytes[index]);
                index += 1;
            }
        }
        String::from_utf8(decoded).unwrap()
    }
}
