//! What can go wrong when an account operation runs: local validation against the upstream's
//! rules, the upstream HTTP stack's own failures (unreachable, timeout, rate limited, undecodable
//! answer), and the upstream's refusals, each with the class the gRPC edge maps to a status.
//!
//! Upstream answers are classified by **one table**, [`classify`]: the HTTP status and the
//! upstream error code (wazzup-api.md §1.2, §1.3, §3.6; compared case- and
//! underscore-insensitively, so `repeatedCrmMessageId` is `REPEATED_CRM_MESSAGE_ID`) give the
//! [`ErrorClass`] and, where the gateway has a meaning of its own, the reason. Nothing here keeps
//! an upstream body or the API key: only the code, the short description, the request id and the
//! scalar debugging data the upstream sent, each with the account's secrets cut out first
//! ([`redact`]).

mod body;
pub(crate) mod redact;

use std::sync::Arc;
use std::time::Duration;

use crate::failure::{ERROR_DOMAIN, ErrorClass};
use crate::model::{Channel, ChatType, Dialect, Transport};
use crate::model::{FieldViolation, ValidationError};

#[cfg(test)]
use body::code_key;
pub(crate) use body::{ErrorBody, Rejection, upper_snake};

/// The ErrorInfo domain of the v3 API's own error codes.
pub(crate) const UPSTREAM_DOMAIN: &str = "api.wazzup24.com";
/// The ErrorInfo domain of the partner (tech) API v2's own error codes.
pub(crate) const TECH_UPSTREAM_DOMAIN: &str = "tech.wazzup24.com";

/// Returns the ErrorInfo domain of the error codes of `dialect`'s upstream.
pub(crate) fn upstream_domain(dialect: Dialect) -> &'static str {
    super::registry::spec(dialect).error_domain()
}

/// Reason of an upstream 401: the gateway's configured key was refused.
pub(crate) const UPSTREAM_CREDENTIALS_REJECTED: &str = "UPSTREAM_CREDENTIALS_REJECTED";
/// Reason of an upstream 403 other than `CHAT_NO_ACCESS`: the key may not use the route.
pub(crate) const UPSTREAM_KEY_NOT_ALLOWED: &str = "UPSTREAM_KEY_NOT_ALLOWED";
/// Reason of an upstream 429 and of the gateway's own limiter.
pub(crate) const UPSTREAM_RATE_LIMITED: &str = "UPSTREAM_RATE_LIMITED";
/// Reason of an unreachable upstream and of a 5xx without a code.
pub(crate) const UPSTREAM_UNAVAILABLE: &str = "UPSTREAM_UNAVAILABLE";
/// Reason of a timeout, ours or the upstream's (408, 504) without a code.
pub(crate) const UPSTREAM_TIMEOUT: &str = "UPSTREAM_TIMEOUT";
/// Reason of any other error status without a code.
pub(crate) const UPSTREAM_REJECTED: &str = "UPSTREAM_REJECTED";
/// Reason of a message to edit, delete or quote that does not exist, whichever account answered
/// (the sandbox, v3 `MESSAGES_NOT_FOUND` / `REFERENCE_MESSAGE_NOT_FOUND`, a message route's 404).
pub(crate) const MESSAGE_NOT_FOUND: &str = "MESSAGE_NOT_FOUND";
/// Reason of a recipient chat type (or keyboard) that does not fit the channel's transport,
/// whether the gateway or the upstream (v3 `WRONG_TRANSPORT`) found it.
pub(crate) const CHAT_TYPE_MISMATCH: &str = "CHAT_TYPE_MISMATCH";

/// A failed account operation.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The request breaks the upstream's rules; nothing was sent.
    #[error(transparent)]
    InvalidRequest(#[from] ValidationError),
    /// The account's dialect has no such operation.
    #[error("{dialect} accounts do not support {operation}")]
    Unsupported {
        /// The account's dialect.
        dialect: Dialect,
        /// What was asked for, in words.
        operation: &'static str,
    },
    /// The channel is not one of the account's channels.
    #[error("channel {channel_id} was not found")]
    ChannelNotFound {
        /// The channel asked for.
        channel_id: String,
    },
    /// The channel exists but is not in a state that allows sending.
    #[error("channel {channel_id} is {state_raw}; only active channels can send")]
    ChannelNotActive {
        /// The channel asked for.
        channel_id: String,
        /// Its state as the upstream spelled it.
        state_raw: String,
    },
    /// The recipient's chat type, or the keyboard, does not fit the transport of the channel the
    /// send goes out of; nothing was sent. Holds every violation of the channel's rules.
    #[error("the send does not fit channel {channel_id}, a {} channel", .transport.as_upstream())]
    ChatTypeMismatch {
        /// The channel.
        channel_id: String,
        /// Its transport.
        transport: Transport,
        /// The recipient's chat type, when given.
        chat_type: Option<ChatType>,
        /// Every violation of the channel's rules, the mismatch among them.
        #[source]
        invalid: ValidationError,
    },
    /// The message is unknown (or no longer exists) upstream.
    #[error("message {message_id} was not found")]
    MessageNotFound {
        /// The message asked for.
        message_id: String,
    },
    /// The template is unknown upstream.
    #[error("template {template_id} was not found")]
    TemplateNotFound {
        /// The template asked for.
        template_id: String,
    },
    /// The upstream refused the request with an HTTP error status (and maybe a code of its own).
    #[error("upstream refused the request with {}: {}", .0.code, .0.description)]
    Rejected(Box<Rejection>),
    /// No answer: the connection failed (`connect`: before anything was sent) or broke.
    #[error("{}", unreachable_message(*.connect))]
    Unreachable {
        /// Whether the failure happened while connecting, so the upstream saw nothing.
        connect: bool,
        /// The HTTP client's error.
        #[source]
        source: Option<reqwest::Error>,
    },
    /// The upstream did not answer in time; the outcome is unknown.
    #[error("the upstream did not answer within {} ms; the outcome is unknown", .timeout.as_millis())]
    Timeout {
        /// How long the attempt waited.
        timeout: Duration,
    },
    /// The gateway's own limiter for the account would make the call wait past its deadline.
    #[error("the account's upstream rate limit is used up; retry in {} ms", .retry_after.as_millis())]
    RateLimitedLocally {
        /// When a request will be allowed again.
        retry_after: Duration,
    },
    /// The upstream answered success with a body the gateway cannot decode: its API changed.
    #[error(
        "the upstream answered {operation} with HTTP {http_status} and a body this gateway cannot decode"
    )]
    ContractChanged {
        /// The operation, e.g. `ListChannels`.
        operation: &'static str,
        /// The success status it answered with.
        http_status: u16,
        /// What did not decode (positions and types only, never the body).
        #[source]
        source: serde_json::Error,
    },
    /// A retried send was answered `REPEATED_CRM_MESSAGE_ID`: an earlier attempt went through,
    /// but its answer (and so the message id) was lost.
    #[error(
        "an earlier attempt of this send (crmMessageId {crm_message_id}) was accepted upstream; its message id is unknown"
    )]
    AlreadySent {
        /// The send's `crmMessageId` (the caller's idempotency key).
        crm_message_id: String,
        /// The upstream's request id of the refusing answer.
        upstream_request_id: Option<String>,
    },
    /// `RegisterWebhooks` needs something the configuration does not have.
    #[error("webhooks cannot be registered: {missing} is not configured")]
    WebhookNotConfigured {
        /// The ErrorInfo reason.
        reason: &'static str,
        /// The setting to configure.
        missing: String,
    },
    /// The webhook URI this gateway would register is longer than the upstream accepts.
    #[error("the webhook URI would be {length} characters; the upstream accepts at most {limit}")]
    WebhookUriTooLong {
        /// Its length in characters.
        length: usize,
        /// The upstream's limit.
        limit: usize,
    },
    /// The failure of one request that carried several sends (a native batch chunk), reported
    /// for each of them.
    #[error(transparent)]
    Shared(Arc<UpstreamError>),
    /// No export job has that id.
    #[error("message export {export_id} was not found")]
    ExportNotFound {
        /// The id asked for.
        export_id: String,
    },
    /// The export's CSV is not ready yet.
    #[error("message export {export_id} is {state_raw}; its file can be read once it is done")]
    ExportNotFinished {
        /// The export.
        export_id: String,
        /// Its state, as the upstream spelled it.
        state_raw: String,
    },
    /// The export's CSV could not be downloaded (its link answered an error, or the transfer
    /// broke).
    #[error("the file of message export {export_id} could not be downloaded: {detail}")]
    ExportDownloadFailed {
        /// The export.
        export_id: String,
        /// What failed (an HTTP status or a transfer error; never the link, which is a credential).
        detail: String,
    },
    /// The export's CSV is not a CSV the gateway can read.
    #[error("the file of message export {export_id} cannot be read: {detail}")]
    ExportFileMalformed {
        /// The export.
        export_id: String,
        /// What is wrong, with the line.
        detail: String,
    },
}

impl UpstreamError {
    /// Returns the failure class the gRPC edge maps to a status code.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::InvalidRequest(_) | Self::ChatTypeMismatch { .. } => ErrorClass::InvalidArgument,
            Self::Unsupported { .. } => ErrorClass::Unimplemented,
            Self::ChannelNotFound { .. }
            | Self::MessageNotFound { .. }
            | Self::TemplateNotFound { .. } => ErrorClass::NotFound,
            Self::ChannelNotActive { .. }
            | Self::WebhookNotConfigured { .. }
            | Self::WebhookUriTooLong { .. }
            | Self::ExportNotFinished { .. } => ErrorClass::FailedPrecondition,
            Self::ExportNotFound { .. } => ErrorClass::NotFound,
            Self::ExportDownloadFailed { .. } => ErrorClass::Unavailable,
            Self::ExportFileMalformed { .. } => ErrorClass::Internal,
            Self::Rejected(rejection) => rejection.class,
            Self::Unreachable { .. } => ErrorClass::Unavailable,
            Self::Timeout { .. } => ErrorClass::Timeout,
            Self::RateLimitedLocally { .. } => ErrorClass::RateLimited,
            Self::ContractChanged { .. } => ErrorClass::Internal,
            Self::AlreadySent { .. } => ErrorClass::AlreadyExists,
            Self::Shared(error) => error.class(),
        }
    }

    /// Returns the `ErrorInfo.reason` (see `error_reason.proto`, or the upstream's own code).
    pub fn reason(&self) -> &str {
        match self {
            Self::InvalidRequest(_) => "INVALID_REQUEST",
            Self::Unsupported { .. } => "NOT_IMPLEMENTED",
            Self::ChannelNotFound { .. } => "CHANNEL_NOT_FOUND",
            Self::ChannelNotActive { .. } => "CHANNEL_NOT_ACTIVE",
            Self::ChatTypeMismatch { .. } => CHAT_TYPE_MISMATCH,
            Self::MessageNotFound { .. } => MESSAGE_NOT_FOUND,
            Self::TemplateNotFound { .. } => "TEMPLATE_NOT_FOUND",
            Self::Rejected(rejection) => &rejection.code,
            Self::Unreachable { .. } => UPSTREAM_UNAVAILABLE,
            Self::Timeout { .. } => UPSTREAM_TIMEOUT,
            Self::RateLimitedLocally { .. } => UPSTREAM_RATE_LIMITED,
            Self::ContractChanged { .. } => "UPSTREAM_CONTRACT_CHANGED",
            Self::AlreadySent { .. } => "REPEATED_CRM_MESSAGE_ID",
            Self::Shared(error) => error.reason(),
            Self::WebhookNotConfigured { reason, .. } => reason,
            Self::WebhookUriTooLong { .. } => "WEBHOOK_URI_TOO_LONG",
            Self::ExportNotFound { .. } => "EXPORT_NOT_FOUND",
            Self::ExportNotFinished { .. } => "EXPORT_NOT_READY",
            Self::ExportDownloadFailed { .. } => "EXPORT_DOWNLOAD_FAILED",
            Self::ExportFileMalformed { .. } => "EXPORT_FILE_MALFORMED",
        }
    }

    /// Returns the `ErrorInfo.domain`.
    pub fn domain(&self) -> &'static str {
        match self {
            Self::Rejected(rejection) => rejection.domain,
            Self::Shared(error) => error.domain(),
            _ => ERROR_DOMAIN,
        }
    }

    /// Returns the `ErrorInfo.metadata`: every variable of the message, lowerCamelCase keys.
    pub fn metadata(&self) -> Vec<(String, String)> {
        let pairs: Vec<(&str, String)> = match self {
            Self::Rejected(rejection) => return rejection.metadata.clone(),
            Self::Shared(error) => return error.metadata(),
            Self::Unsupported { dialect, operation } => vec![
                ("dialect", dialect.to_string()),
                ("operation", (*operation).to_owned()),
            ],
            Self::ChannelNotFound { channel_id } => vec![("channelId", channel_id.clone())],
            Self::ChannelNotActive {
                channel_id,
                state_raw,
            } => vec![
                ("channelId", channel_id.clone()),
                ("state", state_raw.clone()),
            ],
            Self::ChatTypeMismatch {
                channel_id,
                transport,
                chat_type,
                ..
            } => {
                let mut pairs = vec![
                    ("channelId", channel_id.clone()),
                    ("transport", transport.as_upstream().to_owned()),
                ];
                if let Some(chat_type) = chat_type {
                    pairs.push(("chatType", chat_type.as_upstream().to_owned()));
                }
                pairs
            }
            Self::MessageNotFound { message_id } => vec![("messageId", message_id.clone())],
            Self::TemplateNotFound { template_id } => vec![("templateId", template_id.clone())],
            Self::ExportNotFound { export_id }
            | Self::ExportDownloadFailed { export_id, .. }
            | Self::ExportFileMalformed { export_id, .. } => {
                vec![("exportId", export_id.clone())]
            }
            Self::ExportNotFinished {
                export_id,
                state_raw,
            } => vec![
                ("exportId", export_id.clone()),
                ("state", state_raw.clone()),
            ],
            _ => self.stack_metadata(),
        };
        pairs
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect()
    }

    /// Returns the metadata of the HTTP stack's and the registration's failures.
    fn stack_metadata(&self) -> Vec<(&'static str, String)> {
        match self {
            Self::Timeout { timeout } => vec![("timeoutMs", timeout.as_millis().to_string())],
            Self::RateLimitedLocally { retry_after } => {
                vec![("retryAfterMs", retry_after.as_millis().to_string())]
            }
            Self::ContractChanged {
                operation,
                http_status,
                ..
            } => vec![
                ("operation", (*operation).to_owned()),
                ("httpStatus", http_status.to_string()),
            ],
            Self::AlreadySent {
                crm_message_id,
                upstream_request_id,
            } => already_sent_metadata(crm_message_id, upstream_request_id.as_deref()),
            Self::WebhookNotConfigured { missing, .. } => vec![("setting", missing.clone())],
            Self::WebhookUriTooLong { length, limit } => {
                vec![("length", length.to_string()), ("limit", limit.to_string())]
            }
            _ => Vec::new(),
        }
    }

    /// Returns the invalid fields, for a `BadRequest` detail.
    pub fn field_violations(&self) -> &[FieldViolation] {
        match self {
            Self::InvalidRequest(error) | Self::ChatTypeMismatch { invalid: error, .. } => &error.0,
            Self::Rejected(rejection) => &rejection.fields,
            Self::Shared(error) => error.field_violations(),
            _ => &[],
        }
    }

    /// Returns how long the caller should wait before retrying, when known.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Rejected(rejection) => rejection.retry_after,
            Self::RateLimitedLocally { retry_after } => Some(*retry_after),
            Self::Shared(error) => error.retry_after(),
            _ => None,
        }
    }

    /// Tells whether the failure happened before anything reached the upstream.
    pub fn is_connect_error(&self) -> bool {
        match self {
            Self::Shared(error) => error.is_connect_error(),
            _ => matches!(self, Self::Unreachable { connect: true, .. }),
        }
    }

    /// Returns the failure of a send that breaks the rules of its `channel`: a
    /// [`ChatTypeMismatch`](Self::ChatTypeMismatch) when the recipient's chat type or the
    /// keyboard is among the violations, as the upstream's `WRONG_TRANSPORT` would be, else an
    /// [`InvalidRequest`](Self::InvalidRequest).
    pub fn for_channel(
        invalid: ValidationError,
        channel: &Channel,
        chat_type: Option<ChatType>,
    ) -> Self {
        let mismatch = invalid.0.iter().any(|violation| {
            violation.field == "recipient.chat_type" || violation.field == "keyboard"
        });
        if !mismatch {
            return Self::InvalidRequest(invalid);
        }
        Self::ChatTypeMismatch {
            channel_id: channel.channel_id.clone(),
            transport: channel.transport,
            chat_type,
            invalid,
        }
    }

    /// Names the message of an edit or delete in the upstream's refusal to find it, so that it
    /// reads as the sandbox's [`MessageNotFound`](Self::MessageNotFound) does: reason
    /// `MESSAGE_NOT_FOUND`, the gateway's domain and `messageId` (the upstream code stays in
    /// `upstreamCode`). A 404 without a code on a message route means the same.
    pub fn about_message(self, message_id: &str) -> Self {
        let Self::Rejected(mut rejection) = self else {
            return self;
        };
        let unnamed_not_found =
            rejection.class == ErrorClass::NotFound && rejection.code == UPSTREAM_REJECTED;
        if rejection.code == MESSAGE_NOT_FOUND || unnamed_not_found {
            rejection.code = MESSAGE_NOT_FOUND.to_owned();
            rejection.domain = ERROR_DOMAIN;
            rejection
                .metadata
                .push(("messageId".to_owned(), message_id.to_owned()));
        }
        Self::Rejected(rejection)
    }
}

/// Returns the metadata of a retried send refused as already sent.
fn already_sent_metadata(
    crm_message_id: &str,
    upstream_request_id: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mut pairs = vec![
        ("crmMessageId", crm_message_id.to_owned()),
        ("earlierAttemptAccepted", "true".to_owned()),
    ];
    if let Some(request_id) = upstream_request_id {
        pairs.push(("upstreamRequestId", request_id.to_owned()));
    }
    pairs
}

/// Describes an unreachable upstream: nothing was sent, or the outcome is unknown.
fn unreachable_message(connect: bool) -> &'static str {
    if connect {
        "the upstream could not be reached"
    } else {
        "the connection to the upstream broke before it answered; the outcome is unknown"
    }
}

/// Classifies an upstream error answer: the HTTP status and the upstream code (as
/// [`code_key`]: upper case, no underscores) give the class, and the gateway's reason when the
/// status alone decides or the gateway names the situation itself (`None`: the upstream code is
/// the reason).
///
/// The rows follow wazzup-api.md §1.2 and §3.6 and STYLE §8.5: the gateway's own key rejected
/// (401) is an operator problem, not the caller's; a route closed to the key (403) is one too,
/// except for a chat the account cannot reach; a repeated `crmMessageId` means the send already
/// happened; a chat type the channel cannot write to and a missing message get the reasons the
/// gateway's own checks and the sandbox give (`CHAT_TYPE_MISMATCH`, `MESSAGE_NOT_FOUND`), so a
/// caller sees one reason per situation whatever the account; validation and limit codes are the
/// caller's to fix; channel and balance codes are states of the account; unknown codes fall back
/// to the status.
pub(crate) fn classify(status: u16, code: Option<&str>) -> (ErrorClass, Option<&'static str>) {
    use ErrorClass::{
        AlreadyExists, FailedPrecondition, Internal, InvalidArgument, NotFound, PermissionDenied,
        RateLimited, Timeout, Unavailable, Unknown,
    };
    let listed = |list: &[&str]| code.is_some_and(|code| list.contains(&code));
    let prefixed = |prefixes: &[&str]| {
        code.is_some_and(|code| prefixes.iter().any(|prefix| code.starts_with(prefix)))
    };
    match (status, code) {
        (401, _) => (Internal, Some(UPSTREAM_CREDENTIALS_REJECTED)),
        (429, _) => (RateLimited, Some(UPSTREAM_RATE_LIMITED)),
        (_, Some("REPEATEDCRMMESSAGEID")) => (AlreadyExists, None),
        // One reason per situation, whichever account answers: the gateway's own names.
        (_, Some("WRONGTRANSPORT")) => (InvalidArgument, Some(CHAT_TYPE_MISMATCH)),
        (_, Some(code)) if MESSAGE_NOT_FOUND_CODES.contains(&code) => {
            (NotFound, Some(MESSAGE_NOT_FOUND))
        }
        (_, Some("CHATNOACCESS")) => (PermissionDenied, None),
        (403, _) => (FailedPrecondition, Some(UPSTREAM_KEY_NOT_ALLOWED)),
        _ if listed(CALLER_CODES) || prefixed(CALLER_CODE_PREFIXES) => (InvalidArgument, None),
        (_, Some(code)) if code.ends_with("NOTFOUND") => (NotFound, None),
        _ if listed(STATE_CODES) || prefixed(&["CHANNEL"]) => (FailedPrecondition, None),
        _ if listed(UPSTREAM_FAULT_CODES) => (Internal, None),
        _ if listed(UNEXPLAINED_CODES) => (Unknown, None),
        (400 | 413 | 422, _) => (InvalidArgument, None),
        (404, _) => (NotFound, None),
        (408 | 504, None) => (Timeout, Some(UPSTREAM_TIMEOUT)),
        (408 | 504, Some(_)) => (Timeout, None),
        (500..=599, None) => (Unavailable, Some(UPSTREAM_UNAVAILABLE)),
        (500..=599, Some(_)) => (Unavailable, None),
        (400..=499, _) => (FailedPrecondition, None),
        _ => (Internal, None),
    }
}

/// Codes the caller fixes by changing the request (validation and limits, §3.2, §3.6, the older
/// send page's `CHAT_*` codes, §1.2 `TOO_MANY_ENTITIES`, §4.1 `uriNotValid`, and tech v2's
/// "Cannot provide more than one of text, attachment or template", which [`ErrorBody::parse`]
/// reads as `MESSAGES_ONLY_TEXT_OR_CONTENT`), as [`code_key`]s.
const CALLER_CODES: &[&str] = &[
    "INVALIDMESSAGEDATA",
    "VALIDATIONERROR",
    "MESSAGEWRONGCONTENTTYPE",
    "MESSAGEONLYTEXTORCONTENT",
    "MESSAGESONLYTEXTORCONTENT",
    "MESSAGENOTHINGTOSEND",
    "MESSAGETEXTTOOLONG",
    "MESSAGESUNSUPPORTEDCONTENTTYPEINSTAPI",
    "MESSAGESCONTENTCANNOTBEBLANK",
    "MESSAGECONTENTCANNOTBEBLANK",
    "MESSAGESTEXTCANNOTBEBLANK",
    "MESSAGETEXTCANNOTBEBLANK",
    "MESSAGECONTENTSIZEEXCEEDED",
    "MESSAGEDOWNLOADCONTENTERROR",
    "MESSAGESABNORMALSEND",
    "MESSAGESINVALIDCONTACTTYPE",
    "CHATWRONGCHATTYPE",
    "CHATMISSINGCHATTYPE",
    "CHATMISSINGCHATID",
    "TOOMANYENTITIES",
    "URINOTVALID",
];

/// Codes of a message that does not exist (§3.6: `MESSAGES_NOT_FOUND` for edits and deletes,
/// `REFERENCE_MESSAGE_NOT_FOUND` for a quote, and the singular spelling), as [`code_key`]s.
const MESSAGE_NOT_FOUND_CODES: &[&str] = &[
    "MESSAGESNOTFOUND",
    "MESSAGENOTFOUND",
    "REFERENCEMESSAGENOTFOUND",
];

/// Families of caller codes: `MESSAGES_TOO_LONG_{INSTAGRAM,TELEGRAM,WABA,WABA_HEADER,
/// WABA_TEMPLATE,VIBER,VK,AVITO}` and `MESSAGES_CONTENT_SIZE_EXCEEDED[_WABA|_TELEGRAM]`.
const CALLER_CODE_PREFIXES: &[&str] = &["MESSAGESTOOLONG", "MESSAGESCONTENTSIZEEXCEEDED"];

/// Codes that describe the state of the account, channel, chat or message (§3.5, §3.6, §4.1);
/// `CHANNEL_*` codes other than `CHANNEL_NOT_FOUND` belong here too.
const STATE_CODES: &[&str] = &[
    "BALANCEISEMPTY",
    "MESSAGECHANNELUNAVAILABLE",
    "MESSAGESNOTTEXTFIRST",
    "MESSAGESISSPAM",
    "MESSAGESEDITINGTIMEEXPIRED",
    "MESSAGESDELETIONTIMEEXPIRED",
    "MESSAGESCONTAINBUTTONS",
    "TEMPLATEREJECTED",
    "BADCONTACT",
    "TESTPOSTNOTPASSED",
];

/// The upstream's own faults that leave nothing sent (§3.6 `MESSAGES_CAN_NOT_ADD`: "The message
/// has not been sent. An unexpected server error occurred."): INTERNAL, not UNAVAILABLE.
/// UNAVAILABLE tells callers (and gRPC retry policies) that repeating is the fix, and for a send
/// without an idempotency key a repeat after an error the upstream calls unexpected risks a
/// duplicate; nothing in the docs says the fault is transient either. The caller learns that the
/// upstream broke and that, by its word, nothing went out, and decides whether to resend (with an
/// `idempotency_key` a resend is safe).
const UPSTREAM_FAULT_CODES: &[&str] = &["MESSAGESCANNOTADD"];

/// Codes that explain nothing (§3.6 `UNKNOWN_ERROR`, "Unknown error. Contact support.", and
/// `UNKNOWN_ERROR_WITH_TRACE_ID`): UNKNOWN, the gRPC code for an error from another system that
/// carries too little to classify. Neither whether the message went out nor whether a repeat
/// helps is known, so UNAVAILABLE (retry, it is transient) would claim too much and invite
/// duplicate sends; the docs point to support, and the trace id stays in the metadata for it.
const UNEXPLAINED_CODES: &[&str] = &["UNKNOWNERROR", "UNKNOWNERRORWITHTRACEID"];

#[cfg(test)]
mod tests;
