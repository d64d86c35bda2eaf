//! Rules for message export requests: the period must run forward and stay within
//! [`EXPORT_MAX_SPAN`]. (That both ends are given is checked when the request is read, since the
//! domain type cannot hold a missing time.)

use super::Violations;
use super::shape::is_blank;
use crate::model::limits::EXPORT_MAX_SPAN;
use crate::model::{ExportRequest, path_segment};

/// Seconds in a day, to word the span limit in days.
const SECONDS_PER_DAY: u64 = 24 * 60 * 60;

/// Checks the period of an export: `end_time` after `start_time`, at most
/// [`EXPORT_MAX_SPAN`] apart; a given `channel_id` must not be blank.
pub(crate) fn check_export(request: &ExportRequest, violations: &mut Violations) {
    match request.end_at.duration_since(request.start_at) {
        Ok(span) if span.is_zero() => {
            violations.add("end_time", "must be after start_time; it is equal to it");
        }
        Err(_) => violations.add("end_time", "must be after start_time; it is before it"),
        Ok(span) if span > EXPORT_MAX_SPAN => violations.add(
            "end_time",
            format!(
                "is {} days after start_time; one export covers at most {} days",
                span.as_secs().div_ceil(SECONDS_PER_DAY),
                EXPORT_MAX_SPAN.as_secs() / SECONDS_PER_DAY
            ),
        ),
        Ok(_) => {}
    }
    if request.channel_id.as_deref().is_some_and(is_blank) {
        violations.add("channel_id", "is blank; leave it empty for every channel");
    }
}

/// Checks an export id: present, and one URL path segment.
pub(crate) fn check_export_id(export_id: &str, violations: &mut Violations) {
    if is_blank(export_id) {
        violations.add(
            "export_id",
            "is missing; the id CreateMessageExport returned is required",
        );
    } else if let Some(problem) = path_segment::problem(export_id) {
        violations.add("export_id", problem);
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    fn request(start_s: u64, end_s: u64) -> ExportRequest {
        let epoch = SystemTime::UNIX_EPOCH;
        ExportRequest {
            start_at: epoch + Duration::from_secs(start_s),
            end_at: epoch + Duration::from_secs(end_s),
            channel_id: None,
        }
    }

    fn check(request: &ExportRequest) -> Vec<String> {
        let mut violations = Violations::new();
        check_export(request, &mut violations);
        violations
            .as_slice()
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn the_period_must_run_forward_and_stay_within_the_span() {
        let day = SECONDS_PER_DAY;
        assert!(check(&request(0, 366 * day)).is_empty());
        assert_eq!(
            check(&request(0, 366 * day + 1)),
            ["end_time: is 367 days after start_time; one export covers at most 366 days"]
        );
        assert_eq!(
            check(&request(10, 10)),
            ["end_time: must be after start_time; it is equal to it"]
        );
        assert_eq!(
            check(&request(10, 5)),
            ["end_time: must be after start_time; it is before it"]
        );
        for (export_id, violations) in [("e-1", 0), (" ", 1), ("..", 1), ("a/b", 1)] {
            let mut found = Violations::new();
            check_export_id(export_id, &mut found);
            assert_eq!(found.as_slice().len(), violations, "{export_id:?}");
        }
        let mut blank_channel = request(0, 1);
        blank_channel.channel_id = Some(" ".to_owned());
        assert_eq!(
            check(&blank_channel),
            ["channel_id: is blank; leave it empty for every channel"]
        );
    }
}
