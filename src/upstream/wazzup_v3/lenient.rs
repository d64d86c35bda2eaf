//! Decoders for the places where the v3 API is known to vary (wazzup-api.md §2, §4.2, §8, §19):
//! strings that arrive as numbers, booleans that arrive as strings, lists that arrive bare or
//! wrapped in `{count, data}`.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Accepts a string, a number or a boolean as text; `null` and anything else as `""`.
///
/// # Errors
///
/// Fails only on malformed JSON.
pub fn string<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(text(&Value::deserialize(deserializer)?).unwrap_or_default())
}

/// Accepts `true`/`false`, `"true"`/`"false"` (any case), `1`/`0` and `"1"`/`"0"`; anything else
/// (including `null`) is `false`.
///
/// # Errors
///
/// Fails only on malformed JSON.
pub fn boolean<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Bool(flag) => flag,
        Value::Number(number) => number.as_f64().is_some_and(|value| value != 0.0),
        Value::String(text) => matches!(
            text.trim().to_ascii_lowercase().as_str(),
            "true" | "1" | "yes"
        ),
        _ => false,
    })
}

/// Accepts a non-negative number or a numeric string (`{"count": "1"}`); anything else is `None`.
///
/// # Errors
///
/// Fails only on malformed JSON.
pub fn count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    })
}

/// Accepts an array whose items are strings, numbers, or objects with an id under one of
/// `id_keys`; other items are skipped. `null` or a non-array is empty.
pub fn ids(value: &Value, id_keys: &[&str]) -> Vec<String> {
    let Value::Array(items) = value else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| match item {
            Value::Object(object) => id_keys
                .iter()
                .find_map(|key| object.get(*key).and_then(text)),
            other => text(other),
        })
        .collect()
}

/// Flattens strings and numbers out of nested arrays (template `example` values).
pub fn flat_texts(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items.iter().flat_map(flat_texts).collect(),
        other => text(other).into_iter().collect(),
    }
}

/// Returns a scalar as text.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// A list answered as a bare array or as `{count, data}` (§8: both shapes exist).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum ListReply<T> {
    /// `[ … ]`
    Bare(Vec<T>),
    /// `{ "count": n, "data": [ … ] }`
    Wrapped {
        /// The items of this page.
        data: Vec<T>,
        /// The total number of items, when given.
        #[serde(default, deserialize_with = "count")]
        count: Option<u64>,
    },
}

impl<T> ListReply<T> {
    /// Returns the items and the total count, when the upstream gave one.
    pub fn into_parts(self) -> (Vec<T>, Option<u64>) {
        match self {
            Self::Bare(items) => (items, None),
            Self::Wrapped { data, count } => (data, count),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize)]
    struct Probe {
        #[serde(default, deserialize_with = "string")]
        text: String,
        #[serde(default, deserialize_with = "boolean")]
        flag: bool,
        #[serde(default, deserialize_with = "count")]
        count: Option<u64>,
    }

    fn probe(value: Value) -> Probe {
        serde_json::from_value(value).expect("probe")
    }

    #[test]
    fn scalars_decode_whatever_type_they_arrive_as() {
        let table = [
            (
                json!({"text": "a", "flag": true, "count": 3}),
                ("a", true, Some(3)),
            ),
            (
                json!({"text": 79_001, "flag": "true", "count": "7"}),
                ("79001", true, Some(7)),
            ),
            (
                json!({"text": null, "flag": "FALSE", "count": "x"}),
                ("", false, None),
            ),
            (json!({"flag": 1}), ("", true, None)),
            (json!({"flag": "0"}), ("", false, None)),
            (json!({"flag": null}), ("", false, None)),
        ];
        for (value, (text, flag, count)) in table {
            let decoded = probe(value.clone());
            assert_eq!(
                (decoded.text.as_str(), decoded.flag, decoded.count),
                (text, flag, count),
                "{value}"
            );
        }
    }

    #[test]
    fn lists_decode_bare_or_wrapped() {
        let bare: ListReply<u8> = serde_json::from_value(json!([1, 2])).expect("bare");
        let wrapped: ListReply<u8> =
            serde_json::from_value(json!({"count": "5", "data": [1]})).expect("wrapped");
        assert_eq!(bare.into_parts(), (vec![1, 2], None));
        assert_eq!(wrapped.into_parts(), (vec![1], Some(5)));
    }

    #[test]
    fn ids_and_examples_flatten_mixed_shapes() {
        let channels = json!(["a", {"channelId": "b"}, {"id": 3}, {"other": 1}, null]);
        assert_eq!(ids(&channels, &["channelId", "id"]), ["a", "b", "3"]);
        assert_eq!(
            flat_texts(&json!([["x", "y"], "z", 4])),
            ["x", "y", "z", "4"]
        );
    }
}
