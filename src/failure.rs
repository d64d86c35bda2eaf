//! How the gateway classifies a failure, below any transport: the classes callers can act on and
//! the `ErrorInfo` domain of the gateway's own errors. Lower layers (events, idempotency,
//! upstream) classify their errors here; [`crate::error`] maps the classes to gRPC codes.

/// The ErrorInfo domain of every error the gateway itself reports.
pub(crate) const ERROR_DOMAIN: &str = "wazzup-gateway";

/// The failure classes callers can act on. Each maps to one gRPC code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// The request is malformed; the caller must change it.
    InvalidArgument,
    /// The named resource does not exist.
    NotFound,
    /// The same client message id was already used.
    AlreadyExists,
    /// The system is not in a state that allows the operation (channel down, no balance).
    FailedPrecondition,
    /// A cursor or page token points outside what is retained.
    OutOfRange,
    /// Caller credentials are missing or wrong.
    Unauthenticated,
    /// The caller's credentials do not allow this operation.
    PermissionDenied,
    /// A quota or rate limit was hit, and retrying later may succeed; or a size limit was hit,
    /// and the request must shrink (both RESOURCE_EXHAUSTED).
    RateLimited,
    /// The operation does not exist for this account's dialect, or is not built yet.
    Unimplemented,
    /// The operation was cut short by a concurrent change (a consumer deleted under a stream).
    Aborted,
    /// A dependency is down or overloaded, or the gateway is draining; retrying may succeed.
    Unavailable,
    /// The deadline passed before an answer arrived; the outcome is unknown.
    Timeout,
    /// A dependency failed without saying why: whether the operation took effect is unknown, and
    /// nothing says a repeat would succeed (gRPC UNKNOWN, which clients do not retry on their
    /// own).
    Unknown,
    /// A defect or a broken contract; retrying will not help.
    Internal,
}
