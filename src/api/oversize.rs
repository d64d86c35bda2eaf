//! Requests over the decoding limit answer `RESOURCE_EXHAUSTED` (gRPC's convention for a message
//! larger than the receiver accepts), with the gateway's `ErrorInfo`.
//!
//! tonic's decoder refuses such a message itself, before any adapter runs, and answers
//! `OUT_OF_RANGE` with a bare message. This response mapping recognizes that answer (a
//! trailers-only response: the status is in the headers, and the gateway's own statuses always
//! carry details) and replaces it with [`ApiError::RequestTooLarge`] through the one mapping in
//! [`crate::error`].

use http::HeaderMap;
use tonic::{Code, Status};

use crate::error::ApiError;

/// Largest request message the generated servers decode: tonic's default, 4 MiB.
pub(crate) const MAX_REQUEST_MESSAGE_BYTES: usize = 4 * 1024 * 1024;

/// How tonic's decoder starts the message of a refused oversize request.
const TONIC_TOO_LARGE_PREFIX: &str = "Error, decoded message length too large";

/// Replaces tonic's `OUT_OF_RANGE` answer to an oversize request with `RESOURCE_EXHAUSTED`;
/// passes every other response unchanged.
pub(crate) fn refuse_oversize<B: Default>(response: http::Response<B>) -> http::Response<B> {
    if !is_tonic_oversize_refusal(response.headers()) {
        return response;
    }
    Status::from(ApiError::RequestTooLarge {
        limit_bytes: MAX_REQUEST_MESSAGE_BYTES,
    })
    .into_http()
}

/// Tells whether `headers` are tonic's own refusal of an oversize message.
fn is_tonic_oversize_refusal(headers: &HeaderMap) -> bool {
    Status::from_header_map(headers).is_some_and(|status| {
        status.code() == Code::OutOfRange
            && status.details().is_empty()
            && status.message().starts_with(TONIC_TOO_LARGE_PREFIX)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: Status) -> http::Response<tonic::body::Body> {
        refuse_oversize(status.into_http())
    }

    fn code_of(response: &http::Response<tonic::body::Body>) -> Code {
        Status::from_header_map(response.headers())
            .expect("a status")
            .code()
    }

    #[test]
    fn only_the_decoders_oversize_refusal_becomes_resource_exhausted() {
        let too_large = Status::out_of_range(
            "Error, decoded message length too large: found 5000000 bytes, the limit is: 4194304 bytes",
        );
        let cursor = Status::from(ApiError::Events(
            crate::events::fanout::FanoutError::OutOfRange {
                requested: 1,
                oldest: 5,
            },
        ));
        let table = [
            (too_large, Code::ResourceExhausted),
            (cursor, Code::OutOfRange),
            (Status::out_of_range("something else"), Code::OutOfRange),
            (Status::internal("boom"), Code::Internal),
        ];
        for (status, expected) in table {
            let message = status.message().to_owned();
            assert_eq!(code_of(&answer(status)), expected, "{message}");
        }
    }

    #[test]
    fn the_replacement_carries_the_gateway_error_info() {
        let response = answer(Status::out_of_range(
            "Error, decoded message length too large: found 5 bytes, the limit is: 4 bytes",
        ));
        let status = Status::from_header_map(response.headers()).unwrap();
        let details = tonic_types::StatusExt::get_error_details(&status);
        let info = details.error_info().expect("error info");
        assert_eq!(info.reason, "REQUEST_TOO_LARGE");
        assert_eq!(info.metadata["limitBytes"], "4194304");
    }
}
