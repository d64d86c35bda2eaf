//! Conversions between the generated protobuf types and the domain model. Requests convert
//! permissively (validation lives in `model::validate`); only what the domain cannot represent at
//! all, such as a negative size or an enum number this build does not know, is reported here.

pub(crate) mod channels;
pub(crate) mod events;
pub(crate) mod exports;
pub(crate) mod keyboards;
pub(crate) mod messages;
pub(crate) mod shared_events;
pub(crate) mod subscriptions;
pub(crate) mod templates;
pub(crate) mod webhooks;

/// Nanoseconds in a second: the bound of `google.protobuf.Duration.nanos`.
const NANOS_PER_SECOND: i32 = 1_000_000_000;

/// Converts a `google.protobuf.Duration` that is valid as its specification writes it and not
/// negative; `None` otherwise. Valid means `nanos` within ±999 999 999 and, when both are set,
/// of the sign of `seconds`: `{seconds: 5, nanos: -1}` is not "5 s − 1 ns" but malformed, and is
/// refused rather than normalized, so a bound is never met by a value that only looks like it.
pub(crate) fn duration_from_pb(value: prost_types::Duration) -> Option<std::time::Duration> {
    let nanos_in_range = value.nanos.abs() < NANOS_PER_SECOND;
    let signs_agree =
        value.seconds == 0 || value.nanos == 0 || (value.seconds > 0) == (value.nanos > 0);
    if !nanos_in_range || !signs_agree {
        return None;
    }
    std::time::Duration::try_from(value).ok()
}

/// Returns `Some(value)` unless it is empty (proto3 strings have no "unset").
pub(crate) fn non_empty(value: String) -> Option<String> {
    if value.is_empty() { None } else { Some(value) }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn pb_duration(seconds: i64, nanos: i32) -> prost_types::Duration {
        prost_types::Duration { seconds, nanos }
    }

    #[test]
    fn only_well_formed_non_negative_durations_convert() {
        let table = [
            (pb_duration(5, 0), Some(Duration::from_secs(5))),
            (
                pb_duration(4, 999_999_999),
                Some(Duration::new(4, 999_999_999)),
            ),
            (pb_duration(0, 1), Some(Duration::from_nanos(1))),
            (pb_duration(0, 0), Some(Duration::ZERO)),
            // Malformed: nanos of the other sign, or a whole second or more of them.
            (pb_duration(5, -1), None),
            (pb_duration(4, 1_000_000_000), None),
            (pb_duration(0, -1_000_000_000), None),
            (pb_duration(-1, 5), None),
            // Negative.
            (pb_duration(-5, 0), None),
            (pb_duration(0, -1), None),
            (pb_duration(-1, -1), None),
        ];
        for (value, expected) in table {
            assert_eq!(duration_from_pb(value), expected, "{value:?}");
        }
    }
}
