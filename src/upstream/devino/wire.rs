//! Serde mirrors of `POST /whatsapp/messages` (whatsapp-notify-api.md §3, §4): the request with
//! exactly the documented names, unset fields left out; the answer read tolerantly, because the
//! notes record three shapes of it (`result` as an array, as one object, or no `result` wrapper at
//! all) and two of `reasons` (an array of `{key, ref}` or an object).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::model::lenient;

/// The request body: `{"messages": [...]}`.
#[derive(Debug, Serialize)]
pub(super) struct SendMessagesBody<'a> {
    /// The messages, in the caller's order.
    pub(super) messages: Vec<MessageBody<'a>>,
}

/// One message of the request (§3.1).
#[derive(Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MessageBody<'a> {
    /// The sender name.
    pub(super) from: &'a str,
    /// The recipient's phone number, digits only.
    pub(super) to: &'a str,
    /// Message text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) text: Option<&'a str>,
    /// Lifetime in seconds (template messages).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) validity: Option<u64>,
    /// Media URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) content_url: Option<&'a str>,
    /// Media file name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) content_name: Option<&'a str>,
    /// Media MIME type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) content_type: Option<&'a str>,
    /// Where status callbacks go: this gateway's webhook route of the account.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) callback_url: Option<&'a str>,
    /// Echoed back in status callbacks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) callback_data: Option<&'a str>,
    /// Template id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) template_id: Option<&'a str>,
    /// Template values keyed by position, `"1"`, `"2"`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) template_params: Option<BTreeMap<String, &'a str>>,
    /// Template language.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) language_code: Option<&'a str>,
}

/// What one message's result says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum ResultCode {
    /// `OK`: accepted.
    Ok,
    /// `REJECTED`: refused; see the reasons.
    Rejected,
    /// Anything else, as sent.
    Other(String),
}

/// One `{key, ref}` of a rejected message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Reason {
    /// The reason key, e.g. `length.too.long`.
    pub(super) key: String,
    /// The parameter it refers to, e.g. `messages[3].to`; empty when not given.
    pub(super) reference: String,
}

/// One entry of `result` (§4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct MessageResult {
    /// `OK`, `REJECTED` or another code.
    pub(super) code: ResultCode,
    /// The message id of an accepted message, as text (19 digits: never a float).
    pub(super) message_id: Option<String>,
    /// Why a message was rejected.
    pub(super) reasons: Vec<Reason>,
    /// The human-readable error text of a rejected message.
    pub(super) description: Option<String>,
}

/// Reads the answer's results in order: `{"result": [...]}`, `{"result": {...}}`, or the body as
/// one result. `None` when the body holds none of these.
pub(super) fn read_results(body: &Value) -> Option<Vec<MessageResult>> {
    let results = match body.get("result") {
        Some(Value::Array(items)) => items.iter().map(read_result).collect::<Option<_>>()?,
        Some(single @ Value::Object(_)) => vec![read_result(single)?],
        Some(_) => return None,
        None => vec![read_result(body)?],
    };
    Some(results)
}

/// Reads one result object; `None` when it has no code.
fn read_result(value: &Value) -> Option<MessageResult> {
    let object = value.as_object()?;
    let code_text = object.get("code").and_then(lenient::text)?;
    let code = match code_text.trim().to_ascii_uppercase().as_str() {
        "OK" => ResultCode::Ok,
        "REJECTED" => ResultCode::Rejected,
        _ => ResultCode::Other(code_text),
    };
    Some(MessageResult {
        code,
        message_id: object
            .get("messageId")
            .and_then(lenient::text)
            .filter(|id| !id.is_empty()),
        reasons: object.get("reasons").map(read_reasons).unwrap_or_default(),
        description: object
            .get("description")
            .and_then(lenient::text)
            .filter(|text| !text.trim().is_empty()),
    })
}

/// Reads `reasons`: an array of `{key, ref}`, one such object, or an object mapping keys to refs
/// (the SMS page's `object[string,string]`).
pub(super) fn read_reasons(value: &Value) -> Vec<Reason> {
    match value {
        Value::Array(items) => items.iter().filter_map(read_reason).collect(),
        Value::Object(object) if object.contains_key("key") => {
            read_reason(value).into_iter().collect()
        }
        Value::Object(object) => object
            .iter()
            .map(|(key, reference)| Reason {
                key: key.clone(),
                reference: lenient::text(reference).unwrap_or_default(),
            })
            .collect(),
        Value::String(key) => vec![Reason {
            key: key.clone(),
            reference: String::new(),
        }],
        _ => Vec::new(),
    }
}

/// Reads one `{key, ref}`; a bare string is a key without a reference.
fn read_reason(value: &Value) -> Option<Reason> {
    if let Value::String(key) = value {
        return Some(Reason {
            key: key.clone(),
            reference: String::new(),
        });
    }
    let object = value.as_object()?;
    Some(Reason {
        key: object.get("key").and_then(lenient::text)?,
        reference: object
            .get("ref")
            .and_then(lenient::text)
            .unwrap_or_default(),
    })
}

/// The Devino error body of a whole-request failure, read like a result: its first reason key
/// and description.
#[derive(Debug, Default)]
pub(super) struct WholeRequestError {
    /// The first reason key, if any.
    pub(super) key: Option<String>,
    /// The description, if any.
    pub(super) description: Option<String>,
}

impl WholeRequestError {
    /// Reads an error answer's body: a result (in any of the accepted shapes) with reasons, or a
    /// top-level `reasons`; anything else gives nothing.
    pub(super) fn read(body: &[u8]) -> Self {
        let Ok(value) = serde_json::from_slice::<Value>(body) else {
            return Self::default();
        };
        let first = read_results(&value).and_then(|results| results.into_iter().next());
        let key = first
            .as_ref()
            .and_then(|result| result.reasons.first())
            .map(|reason| reason.key.clone())
            .or_else(|| {
                value
                    .get("reasons")
                    .map(read_reasons)
                    .and_then(|reasons| reasons.into_iter().next())
                    .map(|reason| reason.key)
            });
        let description = first
            .and_then(|result| result.description)
            .or_else(|| value.get("description").and_then(lenient::text));
        Self { key, description }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn reason(key: &str, reference: &str) -> Reason {
        Reason {
            key: key.to_owned(),
            reference: reference.to_owned(),
        }
    }

    #[test]
    fn unset_fields_are_left_out_and_template_params_are_keyed_by_position() {
        let body = SendMessagesBody {
            messages: vec![MessageBody {
                from: "MyCompany",
                to: "79034567890",
                template_id: Some("t-1"),
                template_params: Some(BTreeMap::from([
                    ("1".to_owned(), "John"),
                    ("2".to_owned(), "1234"),
                ])),
                ..MessageBody::default()
            }],
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"messages": [{
                "from": "MyCompany",
                "to": "79034567890",
                "templateId": "t-1",
                "templateParams": {"1": "John", "2": "1234"},
            }]})
        );
    }

    #[test]
    fn results_are_read_as_an_array_an_object_or_the_whole_body() {
        let ok = |id: &str| MessageResult {
            code: ResultCode::Ok,
            message_id: Some(id.to_owned()),
            reasons: Vec::new(),
            description: None,
        };
        let array = json!({"result": [{"code": "OK", "messageId": "3482512350952730368"}]});
        assert_eq!(read_results(&array), Some(vec![ok("3482512350952730368")]));
        // A number keeps all 19 digits.
        let object = json!({"result": {"code": "ok", "messageId": 3482512350952730368_u64}});
        assert_eq!(read_results(&object), Some(vec![ok("3482512350952730368")]));
        let bare = json!({"code": "OK", "messageId": "7"});
        assert_eq!(read_results(&bare), Some(vec![ok("7")]));
        assert_eq!(read_results(&json!({"result": "OK"})), None);
        assert_eq!(read_results(&json!({"hello": 1})), None);
    }

    #[test]
    fn reasons_are_read_as_an_array_one_object_or_a_key_to_ref_object() {
        let expected = vec![reason("invalid", "messages[0].to")];
        for reasons in [
            json!([{"key": "invalid", "ref": "messages[0].to"}]),
            json!({"key": "invalid", "ref": "messages[0].to"}),
            json!({"invalid": "messages[0].to"}),
        ] {
            assert_eq!(read_reasons(&reasons), expected, "{reasons}");
        }
        assert_eq!(
            read_reasons(&json!(["forbidden"])),
            vec![reason("forbidden", "")]
        );
        assert_eq!(read_reasons(&json!(null)), Vec::new());
    }

    #[test]
    fn a_whole_request_error_gives_its_first_reason_key_and_description() {
        let body = br#"{"result":[{"code":"REJECTED","reasons":[{"key":"too.many.messages","ref":"messages"}],"description":"too many"}]}"#;
        let error = WholeRequestError::read(body);
        assert_eq!(error.key.as_deref(), Some("too.many.messages"));
        assert_eq!(error.description.as_deref(), Some("too many"));
        let top = WholeRequestError::read(br#"{"reasons":{"forbidden":""},"description":"no"}"#);
        assert_eq!(top.key.as_deref(), Some("forbidden"));
        assert!(WholeRequestError::read(b"<html>").key.is_none());
    }
}
