//! The upstream's error body (wazzup-api.md §1.3) and what of it callers may see: the typed
//! [`Rejection`] the edge reports.

use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::redact::Redactor;
use super::{UPSTREAM_REJECTED, classify};
use crate::failure::{ERROR_DOMAIN, ErrorClass};
use crate::model::FieldViolation;

/// Longest upstream description kept, in characters.
const MAX_DESCRIPTION_CHARS: usize = 200;
/// Most scalar `data` entries copied into ErrorInfo metadata.
const MAX_DATA_ENTRIES: usize = 8;
/// Longest `data` value copied into ErrorInfo metadata, in characters.
const MAX_DATA_VALUE_CHARS: usize = 200;
/// Longest ErrorInfo reason (AIP-193).
const MAX_REASON_CHARS: usize = 63;
/// Error texts that come without a code, and the code the classification table knows them by:
/// tech v2 refuses a send with more than one content kind with this sentence only (its error
/// envelope is not documented, so it is looked for anywhere in the body).
const CODELESS_ERRORS: &[(&str, &str)] = &[(
    "cannot provide more than one of text, attachment or template",
    "MESSAGES_ONLY_TEXT_OR_CONTENT",
)];

/// An upstream error body: `{error, description, data}` on every route, plus `status` and
/// `requestId` on the message routes. Every field is optional; an empty or non-JSON body decodes
/// as the default.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// The upstream error code, in whatever spelling it used.
    #[serde(default, deserialize_with = "text_or_none")]
    pub error: Option<String>,
    /// Short English text.
    #[serde(default, deserialize_with = "text_or_none")]
    pub description: Option<String>,
    /// The upstream's request id, for its support.
    #[serde(default, deserialize_with = "text_or_none")]
    pub request_id: Option<String>,
    /// Debugging data; `fields` names invalid request fields.
    #[serde(default)]
    pub data: Option<Value>,
}

impl ErrorBody {
    /// Decodes a body leniently: anything that is not the documented shape gives the default.
    /// A body that carries one of the known code-less error texts (in any field, or as plain
    /// text) gets that text's code, and the text as its description when it has none.
    pub fn parse(bytes: &[u8]) -> Self {
        let mut body: Self = serde_json::from_slice(bytes).unwrap_or_default();
        let text = String::from_utf8_lossy(bytes).to_lowercase();
        if let Some((phrase, code)) = CODELESS_ERRORS
            .iter()
            .find(|(phrase, _)| text.contains(phrase))
        {
            let has_code = body
                .code()
                .is_some_and(|code| !code.to_lowercase().contains(phrase));
            if !has_code {
                body.error = Some((*code).to_owned());
            }
            if body.short_description().is_none() {
                body.description = Some(sentence(phrase));
            }
        }
        body
    }

    /// Returns the body with every secret of `redactor` cut out of its texts (the keys of `data`
    /// too), before anything of it is shortened or shown.
    pub fn redacted(mut self, redactor: &Redactor) -> Self {
        for text in [&mut self.error, &mut self.description, &mut self.request_id]
            .into_iter()
            .flatten()
        {
            *text = redactor.redact(text);
        }
        if let Some(data) = &mut self.data {
            redact_value(data, redactor);
        }
        self
    }

    /// Returns the error code when there is a non-blank one.
    pub fn code(&self) -> Option<&str> {
        self.error
            .as_deref()
            .map(str::trim)
            .filter(|code| !code.is_empty())
    }

    /// Returns the description, shortened, when there is a non-blank one.
    pub fn short_description(&self) -> Option<String> {
        let description = self.description.as_deref()?.trim();
        if description.is_empty() {
            return None;
        }
        Some(truncated(description, MAX_DESCRIPTION_CHARS))
    }

    /// Returns ErrorInfo metadata: `httpStatus`, `upstreamCode`, `upstreamRequestId` and up to
    /// eight scalar entries of `data` (not `fields`), under their own (camelCase) keys.
    pub fn metadata(&self, status: u16) -> Vec<(String, String)> {
        let mut metadata = vec![("httpStatus".to_owned(), status.to_string())];
        if let Some(code) = self.code() {
            metadata.push(("upstreamCode".to_owned(), truncated(code, MAX_REASON_CHARS)));
        }
        if let Some(request_id) = self.request_id.as_deref().filter(|id| !id.is_empty()) {
            metadata.push(("upstreamRequestId".to_owned(), truncated(request_id, 100)));
        }
        let Some(Value::Object(data)) = &self.data else {
            return metadata;
        };
        let scalars = data
            .iter()
            .filter(|(key, _)| key.as_str() != "fields" && is_metadata_key(key))
            .filter_map(|(key, value)| Some((key.clone(), scalar_text(value)?)))
            .take(MAX_DATA_ENTRIES);
        metadata.extend(scalars);
        metadata
    }

    /// Returns one violation per field in `data.fields`, named by the gateway's request field
    /// path.
    pub fn field_violations(&self, description: &str) -> Vec<FieldViolation> {
        let Some(Value::Object(data)) = &self.data else {
            return Vec::new();
        };
        let Some(Value::Array(fields)) = data.get("fields") else {
            return Vec::new();
        };
        fields
            .iter()
            .filter_map(Value::as_str)
            .map(|field| FieldViolation {
                field: request_field_path(field).to_owned(),
                description: format!("refused by the upstream: {description}"),
            })
            .collect()
    }
}

/// An upstream's refusal, kept typed so the edge can report its code, fields and hints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// How the caller should treat it.
    pub class: ErrorClass,
    /// The ErrorInfo reason: the upstream's error code in UPPER_SNAKE (e.g.
    /// `MESSAGES_CONTAIN_BUTTONS`), or the gateway's reason when the status alone decides (e.g.
    /// `UPSTREAM_CREDENTIALS_REJECTED`).
    pub code: String,
    /// The upstream's short English explanation, or the gateway's.
    pub description: String,
    /// The ErrorInfo domain: the upstream host for its codes, `wazzup-gateway` for the gateway's
    /// reasons, `sandbox.wazzup-gateway` for the built-in sandbox.
    pub domain: &'static str,
    /// Extra ErrorInfo metadata, lowerCamelCase keys (e.g. `upstreamRequestId`, `httpStatus`).
    pub metadata: Vec<(String, String)>,
    /// Fields the upstream named as invalid.
    pub fields: Vec<FieldViolation>,
    /// When the caller may retry, if known.
    pub retry_after: Option<Duration>,
}

impl Rejection {
    /// Classifies an upstream error answer with [`classify`] and keeps what callers may see: the
    /// code, the short description, the request id, scalar debugging data and the named fields.
    /// `upstream_domain` is the ErrorInfo domain of the upstream's own codes.
    pub fn from_answer(
        status: u16,
        body: &ErrorBody,
        retry_after: Option<Duration>,
        upstream_domain: &'static str,
    ) -> Self {
        let code_opt = body.code();
        let (class, gateway_reason_opt) = classify(status, code_opt.map(code_key).as_deref());
        let (code, domain) = match (gateway_reason_opt, code_opt) {
            (Some(reason), _) => (reason.to_owned(), ERROR_DOMAIN),
            (None, Some(code)) => (upper_snake(code), upstream_domain),
            (None, None) => (UPSTREAM_REJECTED.to_owned(), ERROR_DOMAIN),
        };
        let description = body
            .short_description()
            .unwrap_or_else(|| status_description(status).to_owned());
        Self {
            class,
            metadata: body.metadata(status),
            fields: body.field_violations(&description),
            retry_after: if status == 429 { retry_after } else { None },
            code,
            description,
            domain,
        }
    }
}

/// Returns the comparison key of an upstream code: ASCII letters and digits only, upper case, so
/// `repeatedCrmMessageId` and `REPEATED_CRM_MESSAGE_ID` compare equal.
pub(crate) fn code_key(code: &str) -> String {
    code.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|ch| ch.to_ascii_uppercase())
        .collect()
}

/// Returns an upstream code in UPPER_SNAKE (`uriNotValid` → `URI_NOT_VALID`), at most 63
/// characters of `[A-Z0-9_]`.
pub(crate) fn upper_snake(code: &str) -> String {
    let mut snake = String::with_capacity(code.len() + 4);
    let mut previous_is_lower_or_digit = false;
    for ch in code.trim().chars() {
        if ch.is_ascii_uppercase() && previous_is_lower_or_digit {
            snake.push('_');
        }
        previous_is_lower_or_digit = ch.is_ascii_lowercase() || ch.is_ascii_digit();
        snake.push(if ch.is_ascii_alphanumeric() {
            ch.to_ascii_uppercase()
        } else {
            '_'
        });
    }
    snake.chars().take(MAX_REASON_CHARS).collect()
}

/// Returns the gateway's words for an error status the upstream did not explain.
fn status_description(status: u16) -> &'static str {
    match status {
        401 => {
            "the upstream rejected the API key configured for this account; an operator must fix it"
        }
        403 => "the API key configured for this account may not use this upstream route",
        429 => "the upstream rate limit was hit",
        408 | 504 => "the upstream timed out; the outcome is unknown",
        500..=599 => "the upstream failed",
        _ => "the upstream refused the request",
    }
}

/// Maps a v3 request field (`data.fields`) to the gRPC request's field path.
fn request_field_path(upstream_field: &str) -> &str {
    match upstream_field {
        "channelId" => "channel_id",
        "chatType" => "recipient.chat_type",
        "chatId" => "recipient.chat_id",
        "username" => "recipient.username",
        "phone" => "recipient.phone",
        "contentUri" => "attachment.url",
        "refMessageId" => "quoted_message_id",
        "crmUserId" => "crm_user_id",
        "crmMessageId" => "idempotency_key",
        "clearUnanswered" => "reset_unanswered",
        "templateId" => "template.template_id",
        "templateValues" => "template.values",
        "buttonsObject" => "keyboard",
        "webhooksUri" => "settings.uri",
        other => other,
    }
}

/// Tells whether a `data` key can be a metadata key (short, alphanumeric).
fn is_metadata_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= 40 && key.chars().all(|ch| ch.is_ascii_alphanumeric())
}

/// Returns a scalar JSON value as text; `None` for objects, arrays and null.
fn scalar_text(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Bool(flag) => flag.to_string(),
        _ => return None,
    };
    Some(truncated(&text, MAX_DATA_VALUE_CHARS))
}

/// Cuts the secrets of `redactor` out of every string and key in `value`.
fn redact_value(value: &mut Value, redactor: &Redactor) {
    match value {
        Value::String(text) => *text = redactor.redact(text),
        Value::Array(items) => {
            for item in items {
                redact_value(item, redactor);
            }
        }
        Value::Object(entries) => {
            *entries = std::mem::take(entries)
                .into_iter()
                .map(|(key, mut item)| {
                    redact_value(&mut item, redactor);
                    (redactor.redact(&key), item)
                })
                .collect();
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Returns a lower-case phrase with its first letter upper-cased.
fn sentence(phrase: &str) -> String {
    let mut chars = phrase.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Returns at most `limit` characters of `text`.
fn truncated(text: &str, limit: usize) -> String {
    text.chars().take(limit).collect()
}

/// Accepts a string, a number (as text) or anything else (as `None`).
fn text_or_none<'de, D>(deserializer: D) -> Result<Option<String>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Ok(match Value::deserialize(deserializer)? {
        Value::String(text) => Some(text),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    })
}
