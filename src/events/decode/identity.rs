//! What makes an event's id and time: a content hash that never changes across builds, and the
//! clock the gateway stamps receipt with.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::model::lenient::millis;

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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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
