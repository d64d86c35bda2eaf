//! The bounds every stored event meets, so that whatever the log accepts it can also read back
//! and deliver to an ordinary gRPC client (issue 14, defects 2 and 7).
//!
//! Both are checked by the webhook ingress before anything is stored:
//! - **Nesting depth** of the body, at most [`MAX_JSON_DEPTH`] levels of arrays and objects. The
//!   stored form wraps `raw` one level deeper, serde_json refuses to read more than 128 levels,
//!   and every JSON level is two message levels once `raw` is a protobuf `Struct` (Python's
//!   protobuf stops at 100), so a deep body would be stored but never readable or deliverable.
//! - **Size as delivered**: `raw` as the protobuf `Struct` of `Event.raw`
//!   ([`delivered_raw_len`]), at most `webhooks.max_event_bytes`. A JSON array of small numbers
//!   grows about five times in that encoding, so the body limit alone does not keep an event
//!   under gRPC's 4 MiB default receive limit.

use serde_json::Value;

/// Deepest nesting of JSON arrays and objects accepted in a webhook body. Upstream webhooks nest
/// five or six levels; the bound leaves room for CRM payloads while staying far from serde_json's
/// 128 and from the 100 message levels protobuf decoders accept (two per JSON level).
pub(crate) const MAX_JSON_DEPTH: usize = 24;

/// Tells whether `body` nests arrays and objects deeper than `limit`.
///
/// Scans the bytes without parsing (brackets inside strings do not count), so it costs nothing
/// for a body that is not JSON, and a body too deep for serde_json is still measured.
pub(crate) fn nests_deeper_than(body: &[u8], limit: usize) -> bool {
    let mut depth = 0_usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in body {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Returns the bytes `raw` takes as the protobuf `Struct` delivered in `Event.raw`: the object
/// itself, or `{"value": raw}` for anything else (how the read side carries it).
pub(crate) fn delivered_raw_len(raw: &Value) -> usize {
    match raw {
        Value::Object(fields) => struct_len(fields),
        other => map_entry_len("value", other),
    }
}

/// Encoded length of a `google.protobuf.Struct` holding `fields`.
fn struct_len(fields: &serde_json::Map<String, Value>) -> usize {
    fields
        .iter()
        .map(|(key, value)| map_entry_len(key, value))
        .sum()
}

/// Encoded length of one `Struct.fields` entry, tag and length prefix included. prost leaves an
/// empty key out of the entry, as protobuf does for default values.
fn map_entry_len(key: &str, value: &Value) -> usize {
    let key_len = if key.is_empty() {
        0
    } else {
        length_delimited(key.len())
    };
    length_delimited(key_len + length_delimited(value_len(value)))
}

/// Encoded length of a `google.protobuf.Value` (its `kind` always set).
fn value_len(value: &Value) -> usize {
    match value {
        // Field tag and a one-byte varint.
        Value::Null | Value::Bool(_) => 2,
        // Field tag and a fixed 64-bit double.
        Value::Number(_) => 9,
        Value::String(text) => length_delimited(text.len()),
        Value::Array(items) => {
            let list: usize = items
                .iter()
                .map(|item| length_delimited(value_len(item)))
                .sum();
            length_delimited(list)
        }
        Value::Object(fields) => length_delimited(struct_len(fields)),
    }
}

/// Length of a length-delimited field of `len` bytes: one tag byte, the varint length, the bytes
/// (every field number involved is below 16, so its tag is one byte).
fn length_delimited(len: usize) -> usize {
    1 + varint_len(len) + len
}

/// Bytes of `value` as a protobuf varint.
fn varint_len(value: usize) -> usize {
    let bits = usize::BITS - (value | 1).leading_zeros();
    bits.div_ceil(7) as usize
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn depth_counts_arrays_and_objects_but_not_brackets_in_strings() {
        assert!(!nests_deeper_than(b"{}", 1));
        assert!(nests_deeper_than(b"{\"a\":[]}", 1));
        assert!(!nests_deeper_than(b"{\"a\":[]}", 2));
        assert!(!nests_deeper_than(br#"{"a":"[[[[\"[[["}"#, 1));
        assert!(
            !nests_deeper_than(b"[1],[2],[3]", 1),
            "siblings are not nested"
        );
        assert!(!nests_deeper_than(b"not json at all", 0));
        let deep = format!("{}{}", "[".repeat(127), "]".repeat(127));
        assert!(nests_deeper_than(deep.as_bytes(), MAX_JSON_DEPTH));
        let at_limit = format!(
            "{}{}",
            "[".repeat(MAX_JSON_DEPTH),
            "]".repeat(MAX_JSON_DEPTH)
        );
        assert!(!nests_deeper_than(at_limit.as_bytes(), MAX_JSON_DEPTH));
    }

    #[test]
    fn varints_take_seven_bits_a_byte() {
        let cases = [(0, 1), (127, 1), (128, 2), (16_383, 2), (16_384, 3)];
        for (value, bytes) in cases {
            assert_eq!(varint_len(value), bytes, "{value}");
        }
    }

    #[test]
    fn small_numbers_grow_about_five_times_as_delivered() {
        let numbers = Value::Array(vec![json!(1); 100_000]);
        let body_len = serde_json::to_vec(&numbers).unwrap().len();
        let delivered = delivered_raw_len(&numbers);
        assert!(delivered > 5 * body_len, "{delivered} vs {body_len}");
    }
}
