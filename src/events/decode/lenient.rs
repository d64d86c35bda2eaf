//! Tolerant readers for upstream JSON values (ARCHITECTURE.md "Tolerant decoding"): strings that
//! arrive as numbers (phones), booleans that arrive as strings, times as ISO text or epoch
//! numbers. A value of an unusable type reads as absent instead of failing the whole item, so a
//! changed field never makes a known event undecodable. Also the stable content hash used in
//! event ids.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

/// Reads `true`, `"true"`, `"1"` and `1` as true; everything else as false.
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
fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Returns the current time in milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, millis)
}

/// Returns a stable 128-bit FNV-1a hash of the value's JSON text, as 32 hex digits.
///
/// Stable across processes and Rust versions (unlike `DefaultHasher`), so a redelivered webhook
/// hashes the same after a restart or an upgrade. Object keys are serialised in sorted order
/// (serde_json's default map), so key order in the body does not matter.
pub(crate) fn stable_hash(value: &Value) -> String {
    const OFFSET_BASIS: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    let hash = bytes.iter().fold(OFFSET_BASIS, |hash, byte| {
        (hash ^ u128::from(*byte)).wrapping_mul(PRIME)
    });
    format!("{hash:032x}")
}

// === serde adaptors (`#[serde(deserialize_with = "...")]`) ===

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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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

    #[test]
    fn the_stable_hash_ignores_key_order_and_tells_contents_apart() {
        let first: Value = serde_json::from_str(r#"{"a":1,"b":"x"}"#).unwrap();
        let reordered: Value = serde_json::from_str(r#"{"b":"x","a":1}"#).unwrap();
        assert_eq!(stable_hash(&first), stable_hash(&reordered));
        assert_ne!(stable_hash(&first), stable_hash(&json!({"a": 2, "b": "x"})));
        assert_eq!(stable_hash(&first).len(), 32);
        // Pinned: ids derived from it are stored, so the function must never change.
        assert_eq!(stable_hash(&json!({})), "0880955dd2ab1be95aa0733055c655b5");
    }
}
