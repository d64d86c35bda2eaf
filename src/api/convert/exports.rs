//! Message exports: the create request into the domain, jobs and CSV rows into protobuf.

use std::time::SystemTime;

use crate::model::{ChatType, ValidationError};
use crate::model::{ExportRequest, ExportRow, ExportState, MessageExport, Transport, Violations};
use crate::proto::pb;

use super::events::timestamp_from_ms;
use super::non_empty;

/// Reads a create request: both ends of the period are required (their order and span are model
/// rules, checked by the account).
///
/// # Errors
///
/// Fails naming `start_time` / `end_time` when one is missing or out of range.
pub(crate) fn export_request(
    request: &pb::CreateMessageExportRequest,
) -> Result<ExportRequest, ValidationError> {
    let mut violations = Violations::new();
    let start_at = time(request.start_time, "start_time", &mut violations);
    let end_at = time(request.end_time, "end_time", &mut violations);
    violations.finish()?;
    Ok(ExportRequest {
        start_at: start_at.unwrap_or(SystemTime::UNIX_EPOCH),
        end_at: end_at.unwrap_or(SystemTime::UNIX_EPOCH),
        channel_id: non_empty(request.channel_id.clone()),
    })
}

/// Reads a required timestamp field.
fn time(
    value: Option<prost_types::Timestamp>,
    field: &str,
    violations: &mut Violations,
) -> Option<SystemTime> {
    let Some(value) = value else {
        violations.add(field, "is required");
        return None;
    };
    match SystemTime::try_from(value) {
        Ok(time) => Some(time),
        Err(_) => {
            violations.add(field, "is not a valid timestamp");
            None
        }
    }
}

impl From<ExportState> for pb::ExportState {
    fn from(state: ExportState) -> Self {
        match state {
            ExportState::Pending => Self::Pending,
            ExportState::Processing => Self::Processing,
            ExportState::Done => Self::Done,
            ExportState::WebhookFailed => Self::WebhookFailed,
            ExportState::Other => Self::Other,
        }
    }
}

impl From<MessageExport> for pb::MessageExport {
    fn from(export: MessageExport) -> Self {
        Self {
            export_id: export.export_id,
            state: pb::ExportState::from(export.state).into(),
            state_raw: export.state_raw,
            url: export.url,
        }
    }
}

impl From<ExportRow> for pb::MessageExportRow {
    fn from(row: ExportRow) -> Self {
        let direction = match row.direction_raw.trim().to_ascii_lowercase().as_str() {
            "inbound" | "incoming" | "in" => pb::Direction::Inbound,
            "outbound" | "outgoing" | "out" => pb::Direction::Outbound,
            _ => pb::Direction::Unspecified,
        };
        Self {
            line_number: row.line_number,
            direction: direction.into(),
            direction_raw: row.direction_raw,
            transport: raw_enum(&row.transport_raw, |raw| {
                pb::Transport::from(Transport::from_upstream(raw)).into()
            }),
            transport_raw: row.transport_raw,
            chat_type: raw_enum(&row.chat_type_raw, |raw| {
                pb::ChatType::from(ChatType::from_upstream(raw)).into()
            }),
            chat_type_raw: row.chat_type_raw,
            chat_id: row.chat_id,
            user_name: row.user_name,
            user_username: row.user_username,
            user_phone: row.user_phone,
            sent_at: row.sent_at_ms.map(timestamp_from_ms),
            other_columns: row.other_columns.into_iter().collect(),
        }
    }
}

/// Maps a raw cell to an enum number; an empty cell is unspecified (0), not `OTHER`.
fn raw_enum(raw: &str, parse: impl FnOnce(&str) -> i32) -> i32 {
    let raw = raw.trim();
    if raw.is_empty() { 0 } else { parse(raw) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_times_are_named_and_rows_map_their_enums() {
        let error = export_request(&pb::CreateMessageExportRequest::default()).unwrap_err();
        let fields: Vec<&str> = error.0.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["start_time", "end_time"]);

        let row = pb::MessageExportRow::from(ExportRow {
            line_number: 2,
            direction_raw: "Outbound".to_owned(),
            transport_raw: "wapi".to_owned(),
            chat_type_raw: "whatsgroup".to_owned(),
            sent_at_ms: Some(1_500),
            ..ExportRow::default()
        });
        assert_eq!(row.direction(), pb::Direction::Outbound);
        assert_eq!(row.transport(), pb::Transport::Waba);
        assert_eq!(row.chat_type(), pb::ChatType::Whatsgroup);
        assert_eq!(row.sent_at.unwrap().seconds, 1);
        let empty = pb::MessageExportRow::from(ExportRow::default());
        assert_eq!(empty.transport(), pb::Transport::Unspecified);
    }
}
