//! Why subscriptions and consumer operations fail, and why running streams end.

use crate::events::Cursor;
use crate::events::consumers::ConsumerKey;
use crate::events::log::EventLogError;
use crate::failure::ErrorClass;

/// Why a running stream ends (sent by a dispatcher to its members).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StreamEnd {
    /// The gateway is draining.
    ShuttingDown,
    /// The consumer was deleted.
    ConsumerDeleted,
    /// Retention dropped events the consumer had not acknowledged.
    OutOfRange {
        /// The consumer's acked cursor.
        requested: Cursor,
        /// The oldest readable cursor.
        oldest: Cursor,
    },
    /// The log failed.
    LogFailed,
}

/// Why a subscription or a consumer operation failed.
#[derive(Debug, thiserror::Error)]
pub enum FanoutError {
    /// No consumer has this name in this account.
    #[error("consumer {} of account {} does not exist", .0.name, .0.account)]
    ConsumerNotFound(ConsumerKey),
    /// The consumer reads an account the caller may not read.
    #[error("consumer {} of account {} reads accounts outside the caller's scope", .0.name, .0.account)]
    OutOfScope(ConsumerKey),
    /// The subscription's filters differ from the consumer's.
    #[error("the filters differ from those of consumer {}", .0.name)]
    FiltersMismatch(ConsumerKey),
    /// The start cursor is after the newest event.
    #[error("cursor {requested} is after the newest cursor {latest}")]
    CursorAhead {
        /// The requested cursor.
        requested: Cursor,
        /// The newest cursor.
        latest: Cursor,
    },
    /// Events between the start and the oldest retained event were dropped by retention.
    #[error("cursor {requested} is older than the oldest retained event {oldest}")]
    OutOfRange {
        /// The requested (or acked) cursor.
        requested: Cursor,
        /// The oldest readable cursor.
        oldest: Cursor,
    },
    /// Too many streams are open.
    #[error("too many open event streams (at most {limit})")]
    TooManyStreams {
        /// The configured bound.
        limit: usize,
    },
    /// The consumer was deleted while the stream was open.
    #[error("consumer {} was deleted", .0.name)]
    ConsumerDeleted(ConsumerKey),
    /// The gateway is shutting down.
    #[error("the gateway is shutting down")]
    ShuttingDown,
    /// The log failed while a stream was reading it.
    #[error("the event log failed")]
    LogFailed,
    /// The log failed.
    #[error(transparent)]
    Log(#[from] EventLogError),
}

impl FanoutError {
    /// Returns the failure class.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::ConsumerNotFound(_) => ErrorClass::NotFound,
            Self::OutOfScope(_) => ErrorClass::PermissionDenied,
            Self::FiltersMismatch(_) => ErrorClass::FailedPrecondition,
            Self::CursorAhead { .. } => ErrorClass::InvalidArgument,
            Self::OutOfRange { .. } => ErrorClass::OutOfRange,
            Self::TooManyStreams { .. } => ErrorClass::RateLimited,
            Self::ConsumerDeleted(_) => ErrorClass::Aborted,
            Self::ShuttingDown | Self::LogFailed => ErrorClass::Unavailable,
            Self::Log(error) => error.class(),
        }
    }

    /// Returns the `ErrorInfo.reason`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::ConsumerNotFound(_) => "CONSUMER_NOT_FOUND",
            Self::OutOfScope(_) => "PERMISSION_DENIED",
            Self::FiltersMismatch(_) => "CONSUMER_FILTERS_MISMATCH",
            Self::CursorAhead { .. } => "INVALID_REQUEST",
            Self::OutOfRange { .. } => "CURSOR_OUT_OF_RANGE",
            Self::TooManyStreams { .. } => "TOO_MANY_STREAMS",
            Self::ConsumerDeleted(_) => "CONSUMER_DELETED",
            Self::ShuttingDown => "SHUTTING_DOWN",
            Self::LogFailed => "EVENT_LOG_UNAVAILABLE",
            Self::Log(error) => error.reason(),
        }
    }
}

impl StreamEnd {
    /// Returns the error that ends a stream of consumer `key`.
    pub(super) fn into_error(self, key: &ConsumerKey) -> FanoutError {
        match self {
            Self::ShuttingDown => FanoutError::ShuttingDown,
            Self::ConsumerDeleted => FanoutError::ConsumerDeleted(key.clone()),
            Self::OutOfRange { requested, oldest } => FanoutError::OutOfRange { requested, oldest },
            Self::LogFailed => FanoutError::LogFailed,
        }
    }
}
