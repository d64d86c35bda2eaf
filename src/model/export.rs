//! Message history exports (tech v2 `messages_dump`): the job, its state and the range it covers.

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
    /// A state this version does not know; kept in [`MessageExport::state_raw`]. Not terminal.
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
