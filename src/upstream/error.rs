//! What can go wrong when an account operation runs: local validation against the upstream's
//! rules, and the upstream's own refusals, each with the class the gRPC edge maps to a status.

use std::time::Duration;

use crate::config::Dialect;
use crate::error::{ERROR_DOMAIN, ErrorClass};
use crate::model::{FieldViolation, ValidationError};

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
    /// The upstream refused the request with an error code of its own.
    #[error("upstream refused the request with {}: {}", .0.code, .0.description)]
    Rejected(Box<Rejection>),
}

/// An upstream's refusal, kept typed so the edge can report its code, fields and hints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// How the caller should treat it.
    pub class: ErrorClass,
    /// The upstream's error code in UPPER_SNAKE (e.g. `MESSAGES_CONTAIN_BUTTONS`).
    pub code: String,
    /// The upstream's short English explanation.
    pub description: String,
    /// The ErrorInfo domain: the upstream host, or `sandbox` for the built-in sandbox.
    pub domain: &'static str,
    /// Extra ErrorInfo metadata, lowerCamelCase keys (e.g. `upstreamRequestId`, `httpStatus`).
    pub metadata: Vec<(String, String)>,
    /// Fields the upstream named as invalid.
    pub fields: Vec<FieldViolation>,
    /// When the caller may retry, if the upstream said so.
    pub retry_after: Option<Duration>,
}

impl UpstreamError {
    /// Returns the failure class the gRPC edge maps to a status code.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::InvalidRequest(_) => ErrorClass::InvalidArgument,
            Self::Unsupported { .. } => ErrorClass::Unimplemented,
            Self::ChannelNotFound { .. }
            | Self::MessageNotFound { .. }
            | Self::TemplateNotFound { .. } => ErrorClass::NotFound,
            Self::ChannelNotActive { .. } => ErrorClass::FailedPrecondition,
            Self::Rejected(rejection) => rejection.class,
        }
    }

    /// Returns the `ErrorInfo.reason` (see `error_reason.proto`, or the upstream's own code).
    pub fn reason(&self) -> &str {
        match self {
            Self::InvalidRequest(_) => "INVALID_REQUEST",
            Self::Unsupported { .. } => "NOT_IMPLEMENTED",
            Self::ChannelNotFound { .. } => "CHANNEL_NOT_FOUND",
            Self::ChannelNotActive { .. } => "CHANNEL_NOT_ACTIVE",
            Self::MessageNotFound { .. } => "MESSAGE_NOT_FOUND",
            Self::TemplateNotFound { .. } => "TEMPLATE_NOT_FOUND",
            Self::Rejected(rejection) => &rejection.code,
        }
    }

    /// Returns the `ErrorInfo.domain`.
    pub fn domain(&self) -> &'static str {
        match self {
            Self::Rejected(rejection) => rejection.domain,
            _ => ERROR_DOMAIN,
        }
    }

    /// Returns the `ErrorInfo.metadata`: every variable of the message, lowerCamelCase keys.
    pub fn metadata(&self) -> Vec<(String, String)> {
        let pair = |key: &str, value: &str| (key.to_owned(), value.to_owned());
        match self {
            Self::InvalidRequest(_) => Vec::new(),
            Self::Unsupported { dialect, operation } => {
                vec![
                    pair("dialect", &dialect.to_string()),
                    pair("operation", operation),
                ]
            }
            Self::ChannelNotFound { channel_id } => vec![pair("channelId", channel_id)],
            Self::ChannelNotActive {
                channel_id,
                state_raw,
            } => {
                vec![pair("channelId", channel_id), pair("state", state_raw)]
            }
            Self::MessageNotFound { message_id } => vec![pair("messageId", message_id)],
            Self::TemplateNotFound { template_id } => vec![pair("templateId", template_id)],
            Self::Rejected(rejection) => rejection.metadata.clone(),
        }
    }

    /// Returns the invalid fields, for a `BadRequest` detail.
    pub fn field_violations(&self) -> &[FieldViolation] {
        match self {
            Self::InvalidRequest(error) => &error.0,
            Self::Rejected(rejection) => &rejection.fields,
            _ => &[],
        }
    }

    /// Returns how long the caller should wait before retrying, when known.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Rejected(rejection) => rejection.retry_after,
            _ => None,
        }
    }
}
