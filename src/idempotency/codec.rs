//! The stored form of a [`Record`]: versioned JSON, shared by every backend so a record can move
//! between them. Unknown fields are ignored, so a newer gateway may add some.
//!
//! Version 1 gained the `pending` outcome (a reservation) without changing the other outcomes,
//! so records written before it are read as they always were; later the reservation gained an
//! optional `reservedBy` (the reserving process), absent in older records.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::failure::ErrorClass;
use crate::model::{FieldViolation, SentMessage};

use super::{Fingerprint, Outcome, Record, RecordedFailure};

/// Version of the record layout written by this build.
const RECORD_VERSION: u32 = 1;

/// Why stored bytes are not a record this build can read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CodecError {
    /// Not the expected JSON.
    #[error("the record is not valid JSON of the expected shape")]
    Json(#[source] serde_json::Error),
    /// A field has a value this build does not know.
    #[error("the record has an unknown {field} {value:?}")]
    UnknownValue {
        /// Which field.
        field: &'static str,
        /// Its value.
        value: String,
    },
}

/// Returns the stored form of `record`.
pub(crate) fn encode(record: &Record) -> Vec<u8> {
    let stored = StoredRecord {
        version: RECORD_VERSION,
        fingerprint: record.fingerprint.to_hex(),
        expires_at_ms: unix_millis(record.expires_at),
        outcome: match &record.outcome {
            Outcome::Pending {
                reserved_at,
                reserved_by,
            } => StoredOutcome::Pending {
                reserved_at_ms: unix_millis(*reserved_at),
                reserved_by: reserved_by.clone(),
            },
            Outcome::Sent(sent) => StoredOutcome::Sent {
                message_id: sent.message_id.clone(),
                chat_id: sent.chat_id.clone(),
                request_id: sent.request_id.clone(),
            },
            Outcome::Failed(failure) => StoredOutcome::Failed(failure_to_stored(failure)),
        },
    };
    serde_json::to_vec(&stored).unwrap_or_else(|_| unreachable!("plain strings and numbers"))
}

/// Reads a record back.
///
/// # Errors
///
/// Fails when `bytes` are not a record of a layout this build knows.
pub(crate) fn decode(bytes: &[u8]) -> Result<Record, CodecError> {
    let stored: StoredRecord = serde_json::from_slice(bytes).map_err(CodecError::Json)?;
    if stored.version != RECORD_VERSION {
        return Err(CodecError::UnknownValue {
            field: "version",
            value: stored.version.to_string(),
        });
    }
    let fingerprint =
        Fingerprint::from_hex(&stored.fingerprint).ok_or_else(|| CodecError::UnknownValue {
            field: "fingerprint",
            value: stored.fingerprint.clone(),
        })?;
    let outcome = match stored.outcome {
        StoredOutcome::Pending {
            reserved_at_ms,
            reserved_by,
        } => Outcome::Pending {
            reserved_at: from_unix_millis(reserved_at_ms),
            reserved_by,
        },
        StoredOutcome::Sent {
            message_id,
            chat_id,
            request_id,
        } => Outcome::Sent(SentMessage {
            message_id,
            chat_id,
            request_id,
        }),
        StoredOutcome::Failed(failure) => Outcome::Failed(failure_from_stored(failure)?),
    };
    Ok(Record {
        fingerprint,
        outcome,
        expires_at: from_unix_millis(stored.expires_at_ms),
    })
}

/// Milliseconds since the Unix epoch (0 for earlier instants).
pub(crate) fn unix_millis(instant: SystemTime) -> u64 {
    let since_epoch = instant.duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
}

/// The instant `millis` after the Unix epoch.
pub(crate) fn from_unix_millis(millis: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(millis)
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredRecord {
    version: u32,
    fingerprint: String,
    expires_at_ms: u64,
    outcome: StoredOutcome,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum StoredOutcome {
    #[serde(rename_all = "camelCase")]
    Pending {
        reserved_at_ms: u64,
        /// Absent in records written before reservations named their process.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reserved_by: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    Sent {
        message_id: String,
        chat_id: String,
        request_id: String,
    },
    Failed(StoredFailure),
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredFailure {
    class: String,
    reason: String,
    domain: String,
    message: String,
    metadata: Vec<(String, String)>,
    fields: Vec<(String, String)>,
    retry_after_ms: Option<u64>,
}

fn failure_to_stored(failure: &RecordedFailure) -> StoredFailure {
    StoredFailure {
        class: class_name(failure.class).to_owned(),
        reason: failure.reason.clone(),
        domain: failure.domain.clone(),
        message: failure.message.clone(),
        metadata: failure.metadata.clone(),
        fields: failure
            .fields
            .iter()
            .map(|violation| (violation.field.clone(), violation.description.clone()))
            .collect(),
        retry_after_ms: failure
            .retry_after
            .map(|delay| u64::try_from(delay.as_millis()).unwrap_or(u64::MAX)),
    }
}

fn failure_from_stored(stored: StoredFailure) -> Result<RecordedFailure, CodecError> {
    let class = class_from_name(&stored.class).ok_or_else(|| CodecError::UnknownValue {
        field: "class",
        value: stored.class.clone(),
    })?;
    Ok(RecordedFailure {
        class,
        reason: stored.reason,
        domain: stored.domain,
        message: stored.message,
        metadata: stored.metadata,
        fields: stored
            .fields
            .into_iter()
            .map(|(field, description)| FieldViolation { field, description })
            .collect(),
        retry_after: stored.retry_after_ms.map(Duration::from_millis),
    })
}

/// Every class with its stored name; the names never change.
const CLASS_NAMES: [(ErrorClass, &str); 13] = [
    (ErrorClass::InvalidArgument, "invalid_argument"),
    (ErrorClass::NotFound, "not_found"),
    (ErrorClass::AlreadyExists, "already_exists"),
    (ErrorClass::FailedPrecondition, "failed_precondition"),
    (ErrorClass::OutOfRange, "out_of_range"),
    (ErrorClass::Unauthenticated, "unauthenticated"),
    (ErrorClass::PermissionDenied, "permission_denied"),
    (ErrorClass::RateLimited, "rate_limited"),
    (ErrorClass::Unimplemented, "unimplemented"),
    (ErrorClass::Unavailable, "unavailable"),
    (ErrorClass::Timeout, "timeout"),
    (ErrorClass::Unknown, "unknown"),
    (ErrorClass::Internal, "internal"),
];

fn class_name(class: ErrorClass) -> &'static str {
    CLASS_NAMES
        .iter()
        .find(|(known, _)| *known == class)
        .map_or("internal", |(_, name)| name)
}

fn class_from_name(name: &str) -> Option<ErrorClass> {
    CLASS_NAMES
        .iter()
        .find(|(_, known)| *known == name)
        .map(|(class, _)| *class)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idempotency::conformance::a_recorded_failure;

    fn failed_record() -> Record {
        Record {
            fingerprint: Fingerprint([7; 32]),
            outcome: Outcome::Failed(a_recorded_failure()),
            expires_at: from_unix_millis(1_800_000_000_123),
        }
    }

    #[test]
    fn records_round_trip_through_their_stored_form() {
        let sent = Record {
            outcome: Outcome::Sent(SentMessage {
                message_id: "m-1".to_owned(),
                chat_id: "79011112233".to_owned(),
                request_id: String::new(),
            }),
            ..failed_record()
        };
        for record in [sent, failed_record()] {
            assert_eq!(decode(&encode(&record)).expect("decodes"), record);
        }
    }

    #[test]
    fn reservations_round_trip_and_records_written_before_them_still_decode() {
        let pending = Record {
            outcome: Outcome::Pending {
                reserved_at: from_unix_millis(1_700_000_000_000),
                reserved_by: Some("replica-a".to_owned()),
            },
            ..failed_record()
        };
        // Bytes as the encoder wrote them before reservations existed.
        let written_before = br#"{"version":1,"fingerprint":"0707070707070707070707070707070707070707070707070707070707070707","expiresAtMs":1800000000123,"outcome":{"sent":{"messageId":"m-1","chatId":"79011112233","requestId":""}}}"#;

        assert_eq!(decode(&encode(&pending)).expect("decodes"), pending);
        assert!(
            String::from_utf8(encode(&pending))
                .expect("json")
                .contains(r#""reservedBy":"replica-a""#)
        );
        let old = decode(written_before).expect("an old record decodes");
        assert_eq!(old.fingerprint, Fingerprint([7; 32]));
        assert!(matches!(old.outcome, Outcome::Sent(sent) if sent.message_id == "m-1"));
    }

    #[test]
    fn records_of_every_outcome_written_by_the_earlier_build_decode() {
        // Bytes copied from what the encoder wrote before backends owned their rows.
        let fingerprint = "abababababababababababababababababababababababababababababababab";
        let pending = format!(
            r#"{{"version":1,"fingerprint":"{fingerprint}","expiresAtMs":1700086400000,"outcome":{{"pending":{{"reservedAtMs":1700000000000}}}}}}"#
        );
        let sent = format!(
            r#"{{"version":1,"fingerprint":"{fingerprint}","expiresAtMs":1700086400000,"outcome":{{"sent":{{"messageId":"m-1","chatId":"79990001122","requestId":"r-1"}}}}}}"#
        );
        let failed = format!(
            r#"{{"version":1,"fingerprint":"{fingerprint}","expiresAtMs":1700086400000,"outcome":{{"failed":{{"class":"invalid_argument","reason":"INVALID_ARGUMENT","domain":"api.wazzup24.com","message":"text too long","metadata":[["code","TEXT_TOO_LONG"]],"fields":[["text","too long"]],"retryAfterMs":1500}}}}}}"#
        );
        let record = |outcome| Record {
            fingerprint: Fingerprint([0xab; 32]),
            outcome,
            expires_at: from_unix_millis(1_700_086_400_000),
        };
        let expected = [
            record(Outcome::Pending {
                reserved_at: from_unix_millis(1_700_000_000_000),
                reserved_by: None,
            }),
            record(Outcome::Sent(SentMessage {
                message_id: "m-1".to_owned(),
                chat_id: "79990001122".to_owned(),
                request_id: "r-1".to_owned(),
            })),
            record(Outcome::Failed(RecordedFailure {
                class: ErrorClass::InvalidArgument,
                reason: "INVALID_ARGUMENT".to_owned(),
                domain: "api.wazzup24.com".to_owned(),
                message: "text too long".to_owned(),
                metadata: vec![("code".to_owned(), "TEXT_TOO_LONG".to_owned())],
                fields: vec![FieldViolation {
                    field: "text".to_owned(),
                    description: "too long".to_owned(),
                }],
                retry_after: Some(Duration::from_millis(1500)),
            })),
        ];

        for (bytes, expected) in [pending, sent, failed].into_iter().zip(expected) {
            assert_eq!(decode(bytes.as_bytes()).expect("decodes"), expected);
            assert_eq!(
                encode(&expected),
                bytes.as_bytes(),
                "the format is unchanged"
            );
        }
    }

    #[test]
    fn every_error_class_has_a_distinct_stored_name() {
        for (class, name) in CLASS_NAMES {
            assert_eq!(class_from_name(class_name(class)), Some(class), "{name}");
        }
    }

    #[test]
    fn records_of_an_unknown_version_or_class_are_refused() {
        let newer = String::from_utf8(encode(&failed_record()))
            .expect("json")
            .replace("\"version\":1", "\"version\":2");
        let odd_class = String::from_utf8(encode(&failed_record()))
            .expect("json")
            .replace("already_exists", "teapot");

        assert!(matches!(
            decode(newer.as_bytes()),
            Err(CodecError::UnknownValue {
                field: "version",
                ..
            })
        ));
        assert!(matches!(
            decode(odd_class.as_bytes()),
            Err(CodecError::UnknownValue { field: "class", .. })
        ));
        assert!(matches!(decode(b"{"), Err(CodecError::Json(_))));
    }
}
