//! Message history exports (tech v2 `messages_dump`): the job, its state and the range it covers.

use std::collections::BTreeMap;
use std::time::SystemTime;

/// State of an export job, as the upstream reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportState {
    /// Queued (`pending`).
    Pending,
    /// In progress (`processing`).
    Processing,
    /// Ready, with a CSV link (`done`). Terminal.
    Done,
    /// Ready, but the upstream could not deliver its completion webhook; the link still works
    /// (`webhook_failed`). Terminal.
    WebhookFailed,
    /// A state this version does not know; kept in `MessageExport::state_raw`. Not terminal.
    Other,
}

impl ExportState {
    /// Reads an upstream status string, case-insensitively; unknown strings are [`Self::Other`].
    pub fn from_upstream(raw: &str) -> Self {
        match raw.to_ascii_lowercase().as_str() {
            "pending" => Self::Pending,
            "processing" => Self::Processing,
            "done" => Self::Done,
            "webhook_failed" => Self::WebhookFailed,
            _ => Self::Other,
        }
    }

    /// Tells whether the job will not change any more (its CSV can be read).
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Done | Self::WebhookFailed)
    }
}

/// An export job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageExport {
    /// Upstream job id.
    pub export_id: String,
    /// Its state.
    pub state: ExportState,
    /// The state as the upstream spelled it.
    pub state_raw: String,
    /// Link to the CSV file, once the state is terminal; empty before.
    pub url: String,
}

/// What an export covers: a time range and optionally one channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportRequest {
    /// Start of the period (inclusive).
    pub start_at: SystemTime,
    /// End of the period (inclusive); after `start_at`.
    pub end_at: SystemTime,
    /// Only this channel's chats; `None` means all channels.
    pub channel_id: Option<String>,
}

/// One row of an export's CSV. The upstream does not document the columns (wazzup-api.md §16.8):
/// the ones clients rely on are read into fields, every other column is kept by its header name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExportRow {
    /// 1-based line the row starts on (the header is line 1).
    pub line_number: u64,
    /// Column `direction` (`inbound` / `outbound`), as written.
    pub direction_raw: String,
    /// Column `transport`, as written.
    pub transport_raw: String,
    /// Column `chat_type`, as written.
    pub chat_type_raw: String,
    /// Column `chat_id`.
    pub chat_id: String,
    /// Column `user_name`.
    pub user_name: String,
    /// Column `user_username`.
    pub user_username: String,
    /// Column `user_phone`.
    pub user_phone: String,
    /// Column `datetime` read as UTC, in ms since the Unix epoch; `None` when empty or
    /// unreadable (an unreadable value is kept in `other_columns` under `datetime`).
    pub sent_at_ms: Option<i64>,
    /// Every other column, by header name.
    pub other_columns: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_states_are_read_case_insensitively_and_unknown_ones_are_other() {
        let cases = [
            ("pending", ExportState::Pending, false),
            ("PROCESSING", ExportState::Processing, false),
            ("done", ExportState::Done, true),
            ("webhook_failed", ExportState::WebhookFailed, true),
            ("archived", ExportState::Other, false),
            ("", ExportState::Other, false),
        ];
        for (raw, state, terminal) in cases {
            assert_eq!(ExportState::from_upstream(raw), state, "{raw}");
            assert_eq!(state.is_terminal(), terminal, "{raw}");
        }
    }
}
