//! The only place that turns gateway errors into gRPC statuses (AIP-193: a canonical code, exactly
//! one `ErrorInfo`, and `BadRequest` / `RetryInfo` where they apply), every string in them
//! bounded by the one truncation rule of [`bounded`].

mod bounded;

use std::collections::HashMap;
use std::time::Duration;

use prost::Message as _;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::events::fanout::FanoutError;
use crate::events::log::EventLogError;
use crate::failure::{ERROR_DOMAIN, ErrorClass};
use crate::idempotency::IdempotencyError;
use crate::model::{FieldViolation, ValidationError};
use crate::service::{AccountError, SendError};
use crate::upstream::UpstreamError;

pub(crate) use self::bounded::{
    MAX_DETAIL_BYTES, MAX_FIELD_VIOLATIONS, MAX_STATUS_MESSAGE_BYTES, bounded, report, truncated,
};

/// Adds the gRPC code to [`ErrorClass`], which lives below tonic in [`crate::failure`].
trait GrpcCode {
    /// Returns the canonical gRPC code for this class.
    fn grpc_code(self) -> Code;
}

impl GrpcCode for ErrorClass {
    fn grpc_code(self) -> Code {
        match self {
            Self::InvalidArgument => Code::InvalidArgument,
            Self::NotFound => Code::NotFound,
            Self::AlreadyExists => Code::AlreadyExists,
            Self::FailedPrecondition => Code::FailedPrecondition,
            Self::OutOfRange => Code::OutOfRange,
            Self::Unauthenticated => Code::Unauthenticated,
            Self::PermissionDenied => Code::PermissionDenied,
            Self::RateLimited => Code::ResourceExhausted,
            Self::Unimplemented => Code::Unimplemented,
            Self::Aborted => Code::Aborted,
            Self::Unavailable => Code::Unavailable,
            Self::Timeout => Code::DeadlineExceeded,
            Self::Unknown => Code::Unknown,
            Self::Internal => Code::Internal,
        }
    }
}

/// Everything an RPC handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request failed validation before anything was looked up.
    #[error(transparent)]
    InvalidRequest(#[from] ValidationError),
    /// The request bytes are not a valid protobuf message (see `proto::codec`).
    #[error("the request is not valid protobuf: {description}")]
    Malformed {
        /// Where decoding stopped, as a field path in proto names, when known.
        field: Option<String>,
        /// What is wrong with the bytes.
        description: String,
    },
    /// The request named an account that cannot be used.
    #[error(transparent)]
    Account(#[from] AccountError),
    /// The account operation failed.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// An idempotent send was refused, or its recorded failure is reported again.
    #[error(transparent)]
    Idempotency(#[from] IdempotencyError),
    /// An event stream or consumer operation failed.
    #[error(transparent)]
    Events(#[from] FanoutError),
    /// The event log failed.
    #[error(transparent)]
    EventLog(#[from] EventLogError),
    /// `Respond` named an event that is not a CRM entity request of the account.
    #[error("no CRM entity request {event_id} of this account is in the event log")]
    EventNotFound {
        /// The event id asked for.
        event_id: String,
    },
    /// The request message is over the server's decoding limit.
    #[error("the request message is larger than the {limit_bytes} bytes the server accepts")]
    RequestTooLarge {
        /// The limit, in bytes.
        limit_bytes: usize,
    },
    /// The caller sent no bearer token, or an unknown one.
    #[error("a valid bearer token is required in the authorization metadata")]
    Unauthenticated,
    /// The caller's token does not cover the service or account.
    #[error("caller {caller} may not use {target}")]
    PermissionDenied {
        /// The name of the caller's token.
        caller: String,
        /// The service or account that was refused.
        target: String,
    },
    /// The call arrived after the gateway started draining.
    #[error("the gateway is shutting down; retry, another replica will answer")]
    ShuttingDown,
    /// The caller made more calls than its token's rate allows.
    #[error("caller {caller} is over its limit of {requests_per_second} calls per second")]
    CallerRateLimited {
        /// The name of the caller's token.
        caller: String,
        /// The token's rate.
        requests_per_second: u32,
        /// When the caller's bucket next has a call to spend.
        retry_after: Duration,
    },
    /// The caller already holds as many server streams as its token allows.
    #[error("caller {caller} already holds its {max_streams} open streams; end one first")]
    CallerStreamsExhausted {
        /// The name of the caller's token.
        caller: String,
        /// The token's stream limit.
        max_streams: u32,
    },
}

impl From<SendError> for ApiError {
    fn from(error: SendError) -> Self {
        match error {
            SendError::Upstream(error) => Self::Upstream(error),
            SendError::Idempotency(error) => Self::Idempotency(error),
            SendError::EventLog(error) => Self::EventLog(error),
        }
    }
}

impl ApiError {
    /// Returns the failure class.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::InvalidRequest(_) | Self::Malformed { .. } | Self::Account(_) => {
                ErrorClass::InvalidArgument
            }
            Self::Upstream(error) => error.class(),
            Self::Idempotency(error) => error.class(),
            Self::Events(error) => error.class(),
            Self::EventLog(error) => error.class(),
            Self::EventNotFound { .. } => ErrorClass::NotFound,
            Self::RequestTooLarge { .. }
            | Self::CallerRateLimited { .. }
            | Self::CallerStreamsExhausted { .. } => ErrorClass::RateLimited,
            Self::Unauthenticated => ErrorClass::Unauthenticated,
            Self::PermissionDenied { .. } => ErrorClass::PermissionDenied,
            Self::ShuttingDown => ErrorClass::Unavailable,
        }
    }

    /// Returns the `ErrorInfo.reason` (a value of `error_reason.proto`, or an upstream code).
    pub fn reason(&self) -> &str {
        match self {
            Self::InvalidRequest(_) | Self::Malformed { .. } => "INVALID_REQUEST",
            Self::Account(AccountError::Unknown { .. }) => "UNKNOWN_ACCOUNT",
            Self::Account(AccountError::Required) => "ACCOUNT_REQUIRED",
            Self::Upstream(error) => error.reason(),
            Self::Idempotency(error) => error.reason(),
            Self::Events(error) => error.reason(),
            Self::EventLog(error) => error.reason(),
            Self::EventNotFound { .. } => "EVENT_NOT_FOUND",
            Self::RequestTooLarge { .. } => "REQUEST_TOO_LARGE",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::PermissionDenied { .. } => "PERMISSION_DENIED",
            Self::ShuttingDown => "SHUTTING_DOWN",
            Self::CallerRateLimited { .. } => "CALLER_RATE_LIMITED",
            Self::CallerStreamsExhausted { .. } => "CALLER_STREAMS_EXHAUSTED",
        }
    }

    /// Returns the `ErrorInfo.domain`.
    fn domain(&self) -> &str {
        match self {
            Self::Upstream(error) => error.domain(),
            Self::Idempotency(error) => error.domain(),
            _ => ERROR_DOMAIN,
        }
    }

    /// Returns the `ErrorInfo.metadata`, lowerCamelCase keys.
    fn metadata(&self) -> HashMap<String, String> {
        let pairs = match self {
            Self::Account(AccountError::Unknown { account }) => {
                vec![("account".to_owned(), account.clone())]
            }
            Self::Upstream(error) => error.metadata(),
            Self::Idempotency(error) => error.metadata(),
            Self::Events(error) => events_metadata(error),
            Self::EventNotFound { event_id } => vec![("eventId".to_owned(), event_id.clone())],
            Self::RequestTooLarge { limit_bytes } => {
                vec![("limitBytes".to_owned(), limit_bytes.to_string())]
            }
            Self::PermissionDenied { caller, target } => vec![
                ("caller".to_owned(), caller.clone()),
                ("target".to_owned(), target.clone()),
            ],
            Self::CallerRateLimited {
                caller,
                requests_per_second,
                retry_after,
            } => vec![
                ("caller".to_owned(), caller.clone()),
                (
                    "requestsPerSecond".to_owned(),
                    requests_per_second.to_string(),
                ),
                (
                    "retryAfterMs".to_owned(),
                    retry_after.as_millis().to_string(),
                ),
            ],
            Self::CallerStreamsExhausted {
                caller,
                max_streams,
            } => vec![
                ("caller".to_owned(), caller.clone()),
                ("maxStreams".to_owned(), max_streams.to_string()),
            ],
            _ => Vec::new(),
        };
        pairs.into_iter().collect()
    }

    /// Returns the invalid fields, for a `BadRequest` detail.
    fn field_violations(&self) -> Vec<FieldViolation> {
        match self {
            Self::InvalidRequest(error) => error.0.clone(),
            Self::Malformed {
                field: Some(field),
                description,
            } => vec![FieldViolation {
                field: field.clone(),
                description: format!("is not valid protobuf: {description}"),
            }],
            Self::Account(error) => vec![FieldViolation {
                field: "account".to_owned(),
                description: error.to_string(),
            }],
            Self::Upstream(error) => error.field_violations().to_vec(),
            Self::Idempotency(error) => error.field_violations().to_vec(),
            Self::Events(error @ FanoutError::CursorAhead { .. }) => vec![FieldViolation {
                field: "after_cursor".to_owned(),
                description: error.to_string(),
            }],
            _ => Vec::new(),
        }
    }

    /// Returns how long the caller should wait before retrying, when known.
    fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Upstream(error) => error.retry_after(),
            Self::Idempotency(error) => error.retry_after(),
            Self::CallerRateLimited { retry_after, .. } => Some(*retry_after),
            _ if self.class() == ErrorClass::Unavailable => Some(EVENTS_RETRY_AFTER),
            Self::Events(FanoutError::TooManyStreams { .. }) => Some(EVENTS_RETRY_AFTER),
            _ => None,
        }
    }

    /// Logs the error once, where it is classified: defects and outages loudly, caller mistakes
    /// quietly; the report is bounded like the status ([`report`]).
    fn log(&self, class: ErrorClass) {
        let error = report(self);
        let reason = truncated(self.reason(), MAX_DETAIL_BYTES);
        match class {
            ErrorClass::Internal
            | ErrorClass::Unavailable
            | ErrorClass::Timeout
            | ErrorClass::Unknown => {
                tracing::warn!(%error, %reason, "request failed");
            }
            _ => tracing::debug!(%error, %reason, "request refused"),
        }
    }
}

/// How long a caller refused by the event service (draining, log down, too many streams) should
/// wait before trying again.
const EVENTS_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Returns the `ErrorInfo.metadata` pairs of an event stream or consumer error.
fn events_metadata(error: &FanoutError) -> Vec<(String, String)> {
    let consumer = |key: &crate::events::consumers::ConsumerKey| {
        vec![
            ("account".to_owned(), key.account.clone()),
            ("consumer".to_owned(), key.name.clone()),
        ]
    };
    match error {
        FanoutError::ConsumerNotFound(key)
        | FanoutError::OutOfScope(key)
        | FanoutError::FiltersMismatch(key)
        | FanoutError::ConsumerDeleted(key) => consumer(key),
        FanoutError::OutOfRange { requested, oldest } => vec![
            ("requestedCursor".to_owned(), requested.to_string()),
            ("oldestCursor".to_owned(), oldest.to_string()),
        ],
        FanoutError::CursorAhead { requested, latest } => vec![
            ("requestedCursor".to_owned(), requested.to_string()),
            ("latestCursor".to_owned(), latest.to_string()),
        ],
        FanoutError::TooManyStreams { limit } => vec![("limit".to_owned(), limit.to_string())],
        _ => Vec::new(),
    }
}

impl From<ApiError> for Status {
    fn from(error: ApiError) -> Self {
        status_with_field_prefix(error, "")
    }
}

/// Builds the status of `error`, its `BadRequest` field paths prefixed with `field_prefix` (e.g.
/// `requests[3].` for one item of a batch).
fn status_with_field_prefix(error: ApiError, field_prefix: &str) -> Status {
    let class = error.class();
    error.log(class);
    let violations = error.field_violations();
    let mut metadata: HashMap<String, String> = error
        .metadata()
        .into_iter()
        .map(|(key, value)| (bounded_detail(&key), bounded_detail(&value)))
        .collect();
    if !violations.is_empty() {
        metadata.insert("violationCount".to_owned(), violations.len().to_string());
    }
    let mut details = ErrorDetails::new();
    details.set_error_info(
        bounded_detail(error.reason()),
        bounded_detail(error.domain()),
        metadata,
    );
    for violation in violations.iter().take(MAX_FIELD_VIOLATIONS) {
        details.add_bad_request_violation(
            bounded_detail(&format!("{field_prefix}{}", violation.field)),
            bounded_detail(&violation.description),
        );
    }
    if let Some(delay) = error.retry_after() {
        details.set_retry_info(Some(delay));
    }
    let message = truncated(&error.to_string(), MAX_STATUS_MESSAGE_BYTES).into_owned();
    Status::with_error_details(class.grpc_code(), message, details)
}

/// A string for an error detail, cut to [`MAX_DETAIL_BYTES`].
fn bounded_detail(text: &str) -> String {
    truncated(text, MAX_DETAIL_BYTES).into_owned()
}

/// Converts an error into the `google.rpc.Status` message carried inside responses (e.g. one
/// failed item of a batch), with the same code, message and details as the call would have had.
///
/// The `BadRequest` field paths are prefixed with `field_prefix`, which names the item in the
/// request (e.g. `requests[3].`); empty for the request itself.
pub(crate) fn rpc_status(error: ApiError, field_prefix: &str) -> tonic_types::pb::Status {
    let status = status_with_field_prefix(error, field_prefix);
    tonic_types::pb::Status::decode(status.details()).unwrap_or_else(|_| tonic_types::pb::Status {
        code: status.code() as i32,
        message: status.message().to_owned(),
        details: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_class_maps_to_its_canonical_code() {
        let table = [
            (ErrorClass::InvalidArgument, Code::InvalidArgument),
            (ErrorClass::NotFound, Code::NotFound),
            (ErrorClass::AlreadyExists, Code::AlreadyExists),
            (ErrorClass::FailedPrecondition, Code::FailedPrecondition),
            (ErrorClass::OutOfRange, Code::OutOfRange),
            (ErrorClass::Unauthenticated, Code::Unauthenticated),
            (ErrorClass::PermissionDenied, Code::PermissionDenied),
            (ErrorClass::RateLimited, Code::ResourceExhausted),
            (ErrorClass::Unimplemented, Code::Unimplemented),
            (ErrorClass::Aborted, Code::Aborted),
            (ErrorClass::Unavailable, Code::Unavailable),
            (ErrorClass::Timeout, Code::DeadlineExceeded),
            (ErrorClass::Unknown, Code::Unknown),
            (ErrorClass::Internal, Code::Internal),
        ];
        for (class, code) in table {
            assert_eq!(class.grpc_code(), code, "{class:?}");
        }
    }

    #[test]
    fn validation_errors_carry_one_error_info_and_every_violation() {
        let error = ApiError::InvalidRequest(ValidationError(vec![
            FieldViolation {
                field: "recipient.chat_id".to_owned(),
                description: "bad".to_owned(),
            },
            FieldViolation {
                field: "text".to_owned(),
                description: "too long".to_owned(),
            },
        ]));

        let status = Status::from(error);

        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let info = details.error_info().expect("error info");
        assert_eq!(
            (info.reason.as_str(), info.domain.as_str()),
            ("INVALID_REQUEST", ERROR_DOMAIN)
        );
        let fields: Vec<_> = details
            .bad_request()
            .expect("bad request")
            .field_violations
            .iter()
            .map(|violation| violation.field.as_str())
            .collect();
        assert_eq!(fields, ["recipient.chat_id", "text"]);
    }

    #[test]
    fn unknown_accounts_name_the_account_field_and_value() {
        let status = Status::from(ApiError::Account(AccountError::Unknown {
            account: "acme".to_owned(),
        }));

        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let info = details.error_info().expect("error info");
        assert_eq!(info.reason, "UNKNOWN_ACCOUNT");
        assert_eq!(
            info.metadata.get("account").map(String::as_str),
            Some("acme")
        );
        assert_eq!(
            details.bad_request().expect("bad request").field_violations[0].field,
            "account"
        );
    }

    #[test]
    fn idempotency_errors_map_to_their_codes_and_reasons() {
        #[derive(Debug, thiserror::Error)]
        #[error("disk on fire")]
        struct DiskError;
        let table = [
            (
                IdempotencyError::KeyReused {
                    idempotency_key: "order-1".to_owned(),
                },
                Code::FailedPrecondition,
                "IDEMPOTENCY_KEY_REUSED",
            ),
            (
                IdempotencyError::unavailable("embedded", "read", DiskError),
                Code::Unavailable,
                "IDEMPOTENCY_STORE_UNAVAILABLE",
            ),
            (
                IdempotencyError::OutcomeUnknown {
                    idempotency_key: "order-1".to_owned(),
                },
                Code::FailedPrecondition,
                "IDEMPOTENCY_OUTCOME_UNKNOWN",
            ),
            (
                IdempotencyError::InProgress {
                    idempotency_key: "order-1".to_owned(),
                },
                Code::DeadlineExceeded,
                "IDEMPOTENCY_KEY_IN_PROGRESS",
            ),
        ];
        for (error, code, reason) in table {
            let status = Status::from(ApiError::Idempotency(error));

            assert_eq!(status.code(), code, "{reason}");
            let details = status.get_error_details();
            let info = details.error_info().expect("error info");
            assert_eq!(
                (info.reason.as_str(), info.domain.as_str()),
                (reason, ERROR_DOMAIN)
            );
        }
    }

    #[test]
    fn a_replayed_upstream_failure_keeps_its_code_reason_and_domain() {
        let failure = crate::idempotency::RecordedFailure {
            class: ErrorClass::InvalidArgument,
            reason: "URI_NOT_VALID".to_owned(),
            domain: "api.wazzup24.com".to_owned(),
            message: "upstream refused the request".to_owned(),
            metadata: vec![("httpStatus".to_owned(), "400".to_owned())],
            fields: vec![FieldViolation {
                field: "attachment.url".to_owned(),
                description: "not reachable".to_owned(),
            }],
            retry_after: None,
        };

        let status = Status::from(ApiError::Idempotency(IdempotencyError::Repeated(Box::new(
            failure,
        ))));

        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let info = details.error_info().expect("error info");
        assert_eq!(
            (info.reason.as_str(), info.domain.as_str()),
            ("URI_NOT_VALID", "api.wazzup24.com")
        );
        assert_eq!(
            details.bad_request().expect("bad request").field_violations[0].field,
            "attachment.url"
        );
    }

    #[test]
    fn batch_items_carry_the_same_code_and_details_as_a_call() {
        let item = rpc_status(
            ApiError::EventNotFound {
                event_id: "sandbox:sandbox:contact:1".to_owned(),
            },
            "",
        );

        assert_eq!(item.code, Code::NotFound as i32);
        assert!(item.message.contains("sandbox:sandbox:contact:1"));
        assert_eq!(item.details.len(), 1);
    }

    #[test]
    fn a_batch_items_field_paths_name_the_item() {
        let error = ApiError::InvalidRequest(ValidationError(vec![FieldViolation {
            field: "recipient.chat_id".to_owned(),
            description: "bad".to_owned(),
        }]));
        let item = rpc_status(error, "requests[3].");
        let bad_request = item
            .details
            .iter()
            .find(|any| any.type_url.ends_with("google.rpc.BadRequest"))
            .expect("a BadRequest detail");
        let decoded = tonic_types::pb::BadRequest::decode(bad_request.value.as_slice()).unwrap();
        assert_eq!(
            decoded.field_violations[0].field,
            "requests[3].recipient.chat_id"
        );
    }
}
