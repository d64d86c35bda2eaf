//! Devino's error vocabulary, one table each (whatsapp-notify-api.md §4.1, §5 and the seed's
//! error-code tables): the reason keys of a refused message and the class a caller acts on, the
//! parameter references translated into the caller's field paths, and the numeric `errorCode` of
//! a status callback with its reason and the document's description.
//!
//! Reason keys are reported as Devino spells them (`length.too.long`), in the ErrorInfo domain
//! `api.devino.online`.

use crate::failure::ErrorClass;
use crate::model::FieldViolation;
use crate::upstream::UpstreamError;
use crate::upstream::error::{ErrorBody, Rejection};

use super::DEVINO_UPSTREAM_DOMAIN;
use super::wire::{Reason, WholeRequestError};

/// Returns the class of a reason key and the gateway's words for it.
///
/// A `REJECTED` message was not accepted, so nothing went out: repeating it cannot duplicate a
/// message. `unknown` is therefore `UNAVAILABLE` (a repeat may succeed), while the caller's own
/// mistakes are `INVALID_ARGUMENT` and the account's state (`billing.error`, a sender not enabled,
/// a chunk larger than Devino takes) is `FAILED_PRECONDITION`, which an operator fixes.
pub(super) fn reason_class(key: &str) -> (ErrorClass, &'static str) {
    match key.trim().to_ascii_lowercase().as_str() {
        "invalid" => (ErrorClass::InvalidArgument, "a parameter has a wrong value"),
        "length.too.long" => (ErrorClass::InvalidArgument, "a parameter is too long"),
        "length.too.short" => (ErrorClass::InvalidArgument, "a parameter is too short"),
        "must.be.not.null" => (
            ErrorClass::InvalidArgument,
            "a required parameter is missing",
        ),
        "not.available" => (
            ErrorClass::FailedPrecondition,
            "the sender name is not enabled for this Devino account",
        ),
        "billing.error" => (ErrorClass::FailedPrecondition, "payment is required"),
        "forbidden" => (ErrorClass::PermissionDenied, "sending is prohibited"),
        "too.many.messages" => (
            ErrorClass::FailedPrecondition,
            "the request holds more messages than Devino accepts; lower the account's \
             devino.batch_chunk_size",
        ),
        "unknown" => (ErrorClass::Unavailable, "Devino reported an unknown error"),
        _ => (ErrorClass::InvalidArgument, "Devino refused the message"),
    }
}

/// Translates a reference such as `messages[3].to` into the message's position in the request
/// and the caller's field (`recipient.chat_id`). `None` for references to the whole request
/// (`messages`) or to a parameter the caller does not set (`callbackUrl`).
pub(super) fn referenced_field(reference: &str) -> Option<(usize, &'static str)> {
    let rest = reference.trim().strip_prefix("messages[")?;
    let (index, parameter) = rest.split_once(']')?;
    let index = index.parse().ok()?;
    let parameter = parameter.strip_prefix('.').unwrap_or(parameter);
    let field = match parameter {
        "" => "content",
        "to" => "recipient.chat_id",
        "from" => "channel_id",
        "text" => "text",
        "validity" => "notify.validity",
        "contentUrl" => "attachment.url",
        "contentName" => "attachment.name",
        "contentType" => "attachment.mime_type",
        "callbackData" => "notify.callback_data",
        "templateId" => "template.template_id",
        "templateParams" | "templateParameters" => "template.values",
        "languageCode" => "notify.language_code",
        _ => return None,
    };
    Some((index, field))
}

/// Builds the typed refusal of one `REJECTED` message: the first reason's key and class, a
/// violation per reason that names a caller field, the keys and references as metadata.
pub(super) fn rejection(reasons: &[Reason], description: Option<&str>) -> Rejection {
    let key = reasons
        .first()
        .map_or("unknown", |reason| reason.key.as_str())
        .trim()
        .to_owned();
    let (class, gateway_words) = reason_class(&key);
    let description = description
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .unwrap_or(gateway_words)
        .chars()
        .take(200)
        .collect::<String>();
    let fields = reasons
        .iter()
        .filter_map(|reason| {
            let (_, field) = referenced_field(&reason.reference)?;
            Some(FieldViolation {
                field: field.to_owned(),
                description: format!("refused by Devino: {} ({})", reason.key, reason.reference),
            })
        })
        .collect();
    let mut metadata = vec![("upstreamCode".to_owned(), key.clone())];
    let references: Vec<&str> = reasons
        .iter()
        .map(|reason| reason.reference.as_str())
        .filter(|reference| !reference.is_empty())
        .collect();
    if !references.is_empty() {
        metadata.push(("upstreamRef".to_owned(), references.join(",")));
    }
    Rejection {
        class,
        code: key,
        description,
        domain: DEVINO_UPSTREAM_DOMAIN,
        metadata,
        fields,
        retry_after: None,
    }
}

/// Reads the body of a whole-request failure (a non-2xx answer) into the shared error shape: its
/// first reason key as the code, its description; a body of another shape is read as the other
/// dialects' error body.
pub(super) fn error_body(body: &[u8]) -> ErrorBody {
    let whole = WholeRequestError::read(body);
    match whole.key {
        Some(key) => ErrorBody {
            error: Some(key),
            description: whole.description,
            ..ErrorBody::default()
        },
        None => ErrorBody::parse(body),
    }
}

/// Reports a whole-request refusal that names a Devino reason key like a refused message: the
/// key, as Devino spells it, is the reason, and a 4xx takes the key's class. Refusals the gateway
/// names itself (401, 403, 429, a 5xx without a key) are kept as they are.
pub(super) fn refine(error: UpstreamError) -> UpstreamError {
    let UpstreamError::Rejected(mut rejection) = error else {
        return error;
    };
    if rejection.domain != DEVINO_UPSTREAM_DOMAIN {
        return UpstreamError::Rejected(rejection);
    }
    let value_of = |name: &str| {
        rejection
            .metadata
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    };
    let status: u16 = value_of("httpStatus")
        .and_then(|status| status.parse().ok())
        .unwrap_or_default();
    if let Some(key) = value_of("upstreamCode") {
        if (400..500).contains(&status) {
            rejection.class = reason_class(&key).0;
        }
        rejection.code = key;
    }
    UpstreamError::Rejected(rejection)
}

/// Returns the reason and the document's description of a status callback's `errorCode`
/// (2000–2313); `None` for other codes, which are kept as sent.
pub(super) fn status_error(code: u32) -> Option<(&'static str, &'static str)> {
    let entry = match code {
        2000 => (
            "OPERATOR_NOT_DEFINED",
            "The recipient operator is not defined",
        ),
        2001 | 2017 | 2302 => ("SPAM", "Rejected as spam"),
        2002..=2004 | 2006..=2008 | 2012 => ("BILLING_ERROR", "Billing error"),
        2005 => ("NOT_ENOUGH_MONEY", "Not enough money"),
        2009 => ("DUPLICATE", "Rejected as duplicate"),
        2010 | 2011 => ("EXPIRED", "Expired time of life"),
        2300 | 2304 => (
            "TEXT_TOO_LONG",
            "The text message length limit has been exceeded",
        ),
        2301 => (
            "TOO_MANY_MESSAGES",
            "Too many messages were sent in a short period of time. Retry the sending",
        ),
        2303 => (
            "UNSUPPORTED_CONTENT",
            "The specified MIME-Type is not supported or the image is too large (more than or \
             equal to 5MB)",
        ),
        2305 => (
            "NOT_ON_WHATSAPP",
            "User has not used or is no longer using WhatsApp",
        ),
        2307 => (
            "SENT_TO_OWN_NUMBER",
            "The message was sent to the phone number of the business account it is sent from",
        ),
        2308 => (
            "TEMPLATE_PARAMS_MISMATCH",
            "The number of specified template parameters does not match their expected number",
        ),
        2309 | 2310 => (
            "TEMPLATE_NOT_FOUND",
            "The template does not exist for the specified language or locale",
        ),
        2311 => (
            "TEMPLATE_PARAM_TOO_LONG",
            "Exceeding the length of the template parameter",
        ),
        2312 => (
            "OUTSIDE_DIALOGUE",
            "The message was sent out of the dialogue and without specifying a template",
        ),
        2313 => ("UNKNOWN_ERROR", "Unknown error"),
        _ => return None,
    };
    Some(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_key_has_its_class() {
        let table = [
            ("invalid", ErrorClass::InvalidArgument),
            ("length.too.long", ErrorClass::InvalidArgument),
            ("length.too.short", ErrorClass::InvalidArgument),
            ("must.be.not.null", ErrorClass::InvalidArgument),
            ("not.available", ErrorClass::FailedPrecondition),
            ("billing.error", ErrorClass::FailedPrecondition),
            ("forbidden", ErrorClass::PermissionDenied),
            ("too.many.messages", ErrorClass::FailedPrecondition),
            ("unknown", ErrorClass::Unavailable),
            ("Length.Too.Long", ErrorClass::InvalidArgument),
            ("something.new", ErrorClass::InvalidArgument),
        ];
        for (key, class) in table {
            assert_eq!(reason_class(key).0, class, "{key}");
        }
    }

    #[test]
    fn references_name_the_callers_fields() {
        let table = [
            ("messages[3].to", Some((3, "recipient.chat_id"))),
            ("messages[0].from", Some((0, "channel_id"))),
            ("messages[12].text", Some((12, "text"))),
            ("messages[1].validity", Some((1, "notify.validity"))),
            ("messages[1].contentUrl", Some((1, "attachment.url"))),
            ("messages[1].contentName", Some((1, "attachment.name"))),
            ("messages[1].contentType", Some((1, "attachment.mime_type"))),
            (
                "messages[1].languageCode",
                Some((1, "notify.language_code")),
            ),
            ("messages[1].templateParams", Some((1, "template.values"))),
            ("messages[2]", Some((2, "content"))),
            ("messages[1].callbackUrl", None),
            ("messages", None),
            ("messages[x].to", None),
        ];
        for (reference, expected) in table {
            assert_eq!(referenced_field(reference), expected, "{reference}");
        }
    }

    #[test]
    fn a_rejection_keeps_the_key_as_reason_and_names_the_fields() {
        let reasons = [
            Reason {
                key: "length.too.long".to_owned(),
                reference: "messages[3].text".to_owned(),
            },
            Reason {
                key: "invalid".to_owned(),
                reference: "messages[3].callbackUrl".to_owned(),
            },
        ];
        let rejection = rejection(&reasons, None);
        assert_eq!(rejection.code, "length.too.long");
        assert_eq!(rejection.domain, "api.devino.online");
        assert_eq!(rejection.class, ErrorClass::InvalidArgument);
        assert_eq!(rejection.description, "a parameter is too long");
        assert_eq!(rejection.fields.len(), 1);
        assert_eq!(rejection.fields[0].field, "text");
        assert!(rejection.metadata.contains(&(
            "upstreamRef".to_owned(),
            "messages[3].text,messages[3].callbackUrl".to_owned()
        )));
    }

    #[test]
    fn whole_request_refusals_keep_the_key_and_take_its_class() {
        let body = br#"{"result":[{"code":"REJECTED","reasons":[{"key":"too.many.messages","ref":"messages"}]}]}"#;
        let parsed = error_body(body);
        assert_eq!(parsed.error.as_deref(), Some("too.many.messages"));
        let table = [
            (400, "too.many.messages", ErrorClass::FailedPrecondition),
            (400, "forbidden", ErrorClass::PermissionDenied),
            (500, "unknown", ErrorClass::Unavailable),
        ];
        for (status, key, class) in table {
            let body = format!(r#"{{"reasons":[{{"key":"{key}"}}]}}"#);
            let rejection = Rejection::from_answer(
                status,
                &error_body(body.as_bytes()),
                None,
                DEVINO_UPSTREAM_DOMAIN,
            );
            let refined = refine(UpstreamError::Rejected(Box::new(rejection)));
            assert_eq!(refined.reason(), key, "{status} {key}");
            assert_eq!(refined.class(), class, "{status} {key}");
            assert_eq!(refined.domain(), DEVINO_UPSTREAM_DOMAIN);
        }
        let unauthorized =
            Rejection::from_answer(401, &error_body(b""), None, DEVINO_UPSTREAM_DOMAIN);
        let refined = refine(UpstreamError::Rejected(Box::new(unauthorized)));
        assert_eq!(refined.reason(), "UPSTREAM_CREDENTIALS_REJECTED");
    }

    #[test]
    fn status_error_codes_map_to_reasons_and_descriptions() {
        assert_eq!(status_error(2005).unwrap().0, "NOT_ENOUGH_MONEY");
        assert_eq!(status_error(2003).unwrap().0, "BILLING_ERROR");
        assert_eq!(status_error(2011).unwrap().0, "EXPIRED");
        assert_eq!(
            status_error(2305).unwrap().1,
            "User has not used or is no longer using WhatsApp"
        );
        assert_eq!(status_error(2313).unwrap().0, "UNKNOWN_ERROR");
        assert_eq!(status_error(2306), None);
        assert_eq!(status_error(0), None);
    }
}
