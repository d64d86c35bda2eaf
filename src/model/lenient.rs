//! The one set of tolerant readers for upstream JSON, used by every dialect's replies and webhooks
//! (ARCHITECTURE.md "Tolerant decoding"): strings that arrive as numbers (phones, ids), booleans
//! that arrive as strings, counts that arrive as text, times as ISO text or epoch numbers, lists
//! that arrive bare or wrapped in `{count, data}`. A value of an unusable type reads as absent (or
//! its default) instead of failing the whole item, so a changed field never makes a known reply or
//! event undecodable.
//!
//! # The rules, once
//!
//! - **Flags** are true for `true`, `"true"` (any case), `1` and `"1"`, and false for everything
//!   else. The upstream notes document real booleans and booleans spelled as strings (`"true"`,
//!   wazzup-api.md §4.2, §13 "string/bool flags", §19 "returns real booleans (not `"true"`
//!   strings)"), and `1`/`0` is the usual integer spelling of a boolean. Nothing documents
//!   `"yes"`, `"on"` or numbers other than 0 and 1, so they are not read as true: guessing a flag
//!   on (an echo, an edit, a deletion, a subscription) from an undocumented value would invent
//!   facts, while reading it as false is the documented default.
//! - **Text** accepts a string, a number or a boolean (phones arrive as numbers, §13).
//! - **Counts** accept a non-negative integer or the same as text (`{"count": "1"}`, §8).
//! - **Times** accept ISO 8601 text (with `Z`, an offset, or neither, read as UTC) or an epoch
//!   number, or numeric text, in seconds or milliseconds (the notes show both: `meta.timestamp`
//!   in seconds, webhook `timestamp`s in ms and as ISO text).

use std::time::{Duration, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Epoch numbers below this are seconds, above it milliseconds (1e11 ms is March 1973, 1e11 s is
/// the year 5138), so both spellings of a time read the same.
const SECONDS_EPOCH_BELOW: f64 = 1e11;

/// Reads a string, a number or a boolean as text; anything else (null, objects, arrays) as
/// absent.
pub(crate) fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// Reads `true`, `"true"` (any case, spaces around ignored), `1` and `"1"` as true; everything
/// else as false (see the module documentation for why `"yes"`, `"on"` and `2` are false).
pub(crate) fn flag(value: &Value) -> bool {
    match value {
        Value::Bool(flag) => *flag,
        Value::String(text) => {
            let text = text.trim();
            text.eq_ignore_ascii_case("true") || text == "1"
        }
        Value::Number(number) => number.as_f64() == Some(1.0),
        _ => false,
    }
}

/// Reads a non-negative integer or the same as text (`{"count": "1"}`); anything else (negative,
/// fractional, null, other text) as absent.
pub(crate) fn count_of(value: &Value) -> Option<u64> {
    match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// First millisecond `google.protobuf.Timestamp` can hold: 0001-01-01T00:00:00Z.
const EARLIEST_TIMESTAMP_MS: i64 = -62_135_596_800_000;
/// Last millisecond `google.protobuf.Timestamp` can hold: 9999-12-31T23:59:59.999Z.
const LATEST_TIMESTAMP_MS: i64 = 253_402_300_799_999;

/// Reads a time as milliseconds since the Unix epoch: ISO 8601 / RFC 3339 text (with `Z`, an
/// offset, or neither, read as UTC), or an epoch number (or numeric text) in ms or seconds.
///
/// A time outside `google.protobuf.Timestamp`'s range (years 1 to 9999) reads as absent: it
/// would become an invalid `occurred_at` that clients refuse.
pub(crate) fn time_ms(value: &Value) -> Option<i64> {
    any_time_ms(value).filter(|ms| (EARLIEST_TIMESTAMP_MS..=LATEST_TIMESTAMP_MS).contains(ms))
}

/// Reads a time as [`time_ms`] does, whatever its range.
fn any_time_ms(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_f64().and_then(epoch_ms),
        Value::String(text) => {
            let text = text.trim();
            match text.parse::<f64>() {
                Ok(number) => epoch_ms(number),
                Err(_) => iso_ms(text),
            }
        }
        _ => None,
    }
}

/// Converts an epoch number in seconds or milliseconds into milliseconds.
fn epoch_ms(number: f64) -> Option<i64> {
    if !number.is_finite() {
        return None;
    }
    let ms = if number.abs() < SECONDS_EPOCH_BELOW {
        number * 1000.0
    } else {
        number
    };
    Some(ms.round() as i64)
}

/// Parses ISO 8601 text; a trailing `±HH:MM` / `±HHMM` offset is applied, no offset means UTC.
fn iso_ms(text: &str) -> Option<i64> {
    let (local, offset_minutes) = split_offset(text)?;
    let time = humantime::parse_rfc3339_weak(local).ok()?;
    let ms = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => millis(after),
        Err(before) => -millis(before.duration()),
    };
    Some(ms - offset_minutes * 60_000)
}

/// Splits a trailing numeric UTC offset off the time (after the seconds, so the date's dashes are
/// not mistaken for one); `None` when the offset is malformed.
fn split_offset(text: &str) -> Option<(&str, i64)> {
    const TIME_PART_STARTS: usize = 19; // "yyyy-mm-ddThh:mm:ss"
    let Some(tail) = text.get(TIME_PART_STARTS..) else {
        return Some((text, 0));
    };
    let Some(position) = tail.find(['+', '-']) else {
        return Some((text, 0));
    };
    let (local, offset) = text.split_at(TIME_PART_STARTS + position);
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let digits: String = offset[1..].chars().filter(|ch| *ch != ':').collect();
    if digits.len() != 4 || !digits.chars().all(|ch| ch.is_ascii_digit()) {
        return None;
    }
    let hours: i64 = digits[..2].parse().ok()?;
    let minutes: i64 = digits[2..].parse().ok()?;
    Some((local, sign * (hours * 60 + minutes)))
}

/// Returns whole milliseconds, saturating.
pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

// === serde adaptors (`#[serde(deserialize_with = "...")]`) ===

/// A tolerant string field that reads as `""` when absent or unusable (see [`text`]), for reply
/// fields the gateway always fills in.
///
/// # Errors
///
/// Fails only on malformed JSON.
pub(crate) fn string_or_empty<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<String, D::Error> {
    Value::deserialize(deserializer).map(|value| text(&value).unwrap_or_default())
}

/// A tolerant optional string field (see [`text`]).
pub(crate) fn string<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Value::deserialize(deserializer).map(|value| text(&value))
}

/// A tolerant boolean field (see [`flag`]).
pub(crate) fn boolean<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Value::deserialize(deserializer).map(|value| flag(&value))
}

/// A tolerant time field (see [`time_ms`]).
pub(crate) fn time<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    Value::deserialize(deserializer).map(|value| time_ms(&value))
}

/// A field kept as JSON when it is an object; anything else reads as absent.
pub(crate) fn object<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(|value| value.is_object().then_some(value))
}

/// A list field of objects kept as JSON; other elements (and a non-list) are left out.
pub(crate) fn objects<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Value>, D::Error> {
    let value = Value::deserialize(deserializer)?;
    Ok(match value {
        Value::Array(items) => items.into_iter().filter(Value::is_object).collect(),
        _ => Vec::new(),
    })
}

/// A nested structure read tolerantly; a value of the wrong shape reads as absent.
pub(crate) fn nested<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    let value = Value::deserialize(deserializer)?;
    if !value.is_object() {
        return Ok(None);
    }
    Ok(T::deserialize(&value).ok())
}

/// A tolerant count field (see [`count_of`]).
///
/// # Errors
///
/// Fails only on malformed JSON.
pub(crate) fn count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    Value::deserialize(deserializer).map(|value| count_of(&value))
}

/// Accepts an array whose items are strings, numbers, or objects with an id under one of
/// `id_keys`; other items are skipped. `null` or a non-array is empty.
pub(crate) fn ids(value: &Value, id_keys: &[&str]) -> Vec<String> {
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
pub(crate) fn flat_texts(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items.iter().flat_map(flat_texts).collect(),
        other => text(other).into_iter().collect(),
    }
}

/// A list answered as a bare array or as `{count, data}` (§8: both shapes exist).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum ListReply<T> {
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
    pub(crate) fn into_parts(self) -> (Vec<T>, Option<u64>) {
        match self {
            Self::Bare(items) => (items, None),
            Self::Wrapped { data, count } => (data, count),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    /// Settles every spelling once: what each reader makes of each value.
    #[test]
    fn every_spelling_reads_the_same_for_every_dialect() {
        // (value, flag, text, count)
        let table: [(Value, bool, Option<&str>, Option<u64>); 18] = [
            (json!(true), true, Some("true"), None),
            (json!(false), false, Some("false"), None),
            (json!("true"), true, Some("true"), None),
            (json!(" TRUE "), true, Some(" TRUE "), None),
            (json!("yes"), false, Some("yes"), None),
            (json!("on"), false, Some("on"), None),
            (json!(1), true, Some("1"), Some(1)),
            (json!("1"), true, Some("1"), Some(1)),
            (json!(0), false, Some("0"), Some(0)),
            (json!("0"), false, Some("0"), Some(0)),
            (json!("no"), false, Some("no"), None),
            (json!("off"), false, Some("off"), None),
            (json!(""), false, Some(""), None),
            (json!(2), false, Some("2"), Some(2)),
            (json!("42"), false, Some("42"), Some(42)),
            (json!(-3), false, Some("-3"), None),
            (json!(null), false, None, None),
            (json!({"a": 1}), false, None, None),
        ];
        for (value, expected_flag, expected_text, expected_count) in table {
            assert_eq!(flag(&value), expected_flag, "flag of {value}");
            assert_eq!(text(&value).as_deref(), expected_text, "text of {value}");
            assert_eq!(count_of(&value), expected_count, "count of {value}");
        }
        // Times: seconds, milliseconds, numeric text and ISO text all read as the same instant.
        let instant = 1_738_735_267_000;
        for value in [
            json!(1_738_735_267),
            json!(1_738_735_267_000_i64),
            json!("1738735267"),
            json!("1738735267000"),
            json!("2025-02-05T06:01:07Z"),
            json!("2025-02-05T09:01:07+03:00"),
        ] {
            assert_eq!(time_ms(&value), Some(instant), "time of {value}");
        }
        for value in [json!("yes"), json!(true), json!(null), json!("")] {
            assert_eq!(time_ms(&value), None, "time of {value}");
        }
    }

    #[test]
    fn text_reads_strings_numbers_and_booleans() {
        assert_eq!(text(&json!("79011112233")), Some("79011112233".to_owned()));
        assert_eq!(
            text(&json!(79011112233_u64)),
            Some("79011112233".to_owned())
        );
        assert_eq!(text(&json!(true)), Some("true".to_owned()));
        assert_eq!(text(&json!(null)), None);
        assert_eq!(text(&json!({"a": 1})), None);
    }

    #[test]
    fn flags_accept_booleans_strings_and_numbers() {
        for truthy in [
            json!(true),
            json!("true"),
            json!("TRUE"),
            json!("1"),
            json!(1),
        ] {
            assert!(flag(&truthy), "{truthy}");
        }
        for falsy in [
            json!(false),
            json!("false"),
            json!("0"),
            json!(0),
            json!(null),
            json!("yes"),
        ] {
            assert!(!flag(&falsy), "{falsy}");
        }
    }

    #[test]
    fn times_read_iso_text_and_epoch_numbers_in_ms_or_seconds() {
        let expected = 1_738_735_267_499;
        let cases = [
            json!("2025-02-05T06:01:07.499Z"),
            json!("2025-02-05T06:01:07.499"),
            json!("2025-02-05T09:01:07.499+03:00"),
            json!("2025-02-05T05:01:07.499-0100"),
            json!(1_738_735_267_499_i64),
            json!("1738735267499"),
            json!(1_738_735_267.499),
        ];
        for case in cases {
            assert_eq!(time_ms(&case), Some(expected), "{case}");
        }
        assert_eq!(
            time_ms(&json!(1_603_977_171_000_i64)),
            Some(1_603_977_171_000)
        );
        assert_eq!(time_ms(&json!("yesterday")), None);
        assert_eq!(time_ms(&json!("2025-02-05T06:01:07+3")), None);
        assert_eq!(time_ms(&json!(null)), None);
    }

    #[test]
    fn times_outside_the_protobuf_timestamp_range_read_as_absent() {
        for out_of_range in [
            json!(1e308),
            json!(-1e20),
            json!("1e308"),
            json!(i64::MAX),
            json!(LATEST_TIMESTAMP_MS + 1),
            json!(EARLIEST_TIMESTAMP_MS - 1),
        ] {
            assert_eq!(time_ms(&out_of_range), None, "{out_of_range}");
        }
        assert_eq!(
            time_ms(&json!("9999-12-31T23:59:59.999Z")),
            Some(LATEST_TIMESTAMP_MS)
        );
        assert_eq!(
            time_ms(&json!(EARLIEST_TIMESTAMP_MS)),
            Some(EARLIEST_TIMESTAMP_MS)
        );
    }

    #[derive(Debug, Deserialize)]
    struct Probe {
        #[serde(default, deserialize_with = "string_or_empty")]
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
