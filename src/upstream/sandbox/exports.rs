//! The sandbox's message exports, shaped like tech v2 `messages_dump`: a job is `pending` for
//! [`PENDING_FOR`], `processing` until [`DONE_AFTER`], then `done` with a link to a real CSV the
//! gateway serves itself ([`super::files`]); at that moment the sandbox stores the
//! `messages_dump.status_update` event the upstream would send. The CSV holds the messages sent
//! through the sandbox and injected into it within the job's period (and channel), oldest first,
//! then as many generated rows as `server.sandbox_export_rows` asks for (a load-test knob).

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use futures::Stream;
use tokio::time::Instant;

use crate::model::{ChatType, ExportRequest, ExportState, MessageExport, Transport};

/// How long a new job stays `pending`.
pub(crate) const PENDING_FOR: Duration = Duration::from_millis(300);
/// When a job is `done`, counted from its creation.
pub(crate) const DONE_AFTER: Duration = Duration::from_millis(1500);
/// Most messages the sandbox remembers for exports; older ones are forgotten first.
const HISTORY_LIMIT: usize = 10_000;
/// Rows per chunk of a served CSV.
const ROWS_PER_CHUNK: usize = 256;
/// The CSV header the sandbox writes (the columns clients rely on, then its own).
const HEADER: &str = "direction,transport,chat_type,chat_id,user_name,user_username,user_phone,\
                      datetime,message_id,channel_id,text\r\n";

/// One message the sandbox saw, as an export row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HistoryEntry {
    /// When it was sent or received.
    pub(crate) at: SystemTime,
    /// `inbound` or `outbound`.
    pub(crate) direction: &'static str,
    /// Transport of its channel.
    pub(crate) transport: Transport,
    /// Kind of chat.
    pub(crate) chat_type: ChatType,
    /// The chat.
    pub(crate) chat_id: String,
    /// Its channel.
    pub(crate) channel_id: String,
    /// Its id.
    pub(crate) message_id: String,
    /// The contact's name, when known.
    pub(crate) user_name: String,
    /// Its text (empty for files and templates).
    pub(crate) text: String,
}

/// A job: what it covers and when it started.
#[derive(Clone, Debug)]
struct Job {
    /// The period and channel.
    request: ExportRequest,
    /// When it was created.
    created: Instant,
}

/// The sandbox's message history and export jobs.
#[derive(Debug, Default)]
pub(crate) struct SandboxExports {
    /// Messages, oldest first, at most [`HISTORY_LIMIT`].
    history: VecDeque<HistoryEntry>,
    /// Jobs by id.
    jobs: HashMap<String, Job>,
    /// Generated rows appended to every CSV.
    synthetic_rows: u64,
}

/// What one export's CSV holds: the matching history, then generated rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ExportFile {
    /// The messages of the period, oldest first.
    pub(crate) rows: Vec<HistoryEntry>,
    /// How many generated rows follow.
    pub(crate) synthetic_rows: u64,
    /// The time written into generated rows (the period's start).
    pub(crate) synthetic_at: SystemTime,
}

impl SandboxExports {
    /// Makes every CSV end with `rows` generated rows.
    pub(crate) fn set_synthetic_rows(&mut self, rows: u64) {
        self.synthetic_rows = rows;
    }

    /// Remembers a message for later exports.
    pub(crate) fn record(&mut self, entry: HistoryEntry) {
        if self.history.len() == HISTORY_LIMIT {
            self.history.pop_front();
        }
        self.history.push_back(entry);
    }

    /// Starts a job and returns its id.
    pub(crate) fn create(&mut self, request: &ExportRequest) -> String {
        let export_id = uuid::Uuid::new_v4().to_string();
        let job = Job {
            request: request.clone(),
            created: Instant::now(),
        };
        self.jobs.insert(export_id.clone(), job);
        export_id
    }

    /// Returns a job's state now, its CSV at `file_url` once done; `None` for an unknown id.
    pub(crate) fn get(&self, export_id: &str, file_url: &str) -> Option<MessageExport> {
        let job = self.jobs.get(export_id)?;
        Some(job_state(export_id, job.created.elapsed(), file_url))
    }

    /// Returns what a job's CSV holds; `None` for an unknown or unfinished job.
    pub(crate) fn file(&self, export_id: &str) -> Option<ExportFile> {
        let job = self.jobs.get(export_id)?;
        if job.created.elapsed() < DONE_AFTER {
            return None;
        }
        let request = &job.request;
        let rows = self
            .history
            .iter()
            .filter(|entry| entry.at >= request.start_at && entry.at <= request.end_at)
            .filter(|entry| {
                request
                    .channel_id
                    .as_ref()
                    .is_none_or(|channel_id| *channel_id == entry.channel_id)
            })
            .cloned()
            .collect();
        Some(ExportFile {
            rows,
            synthetic_rows: self.synthetic_rows,
            synthetic_at: request.start_at,
        })
    }
}

/// Returns the state of a job `elapsed` after its creation.
pub(crate) fn job_state(export_id: &str, elapsed: Duration, file_url: &str) -> MessageExport {
    let (state, state_raw, url) = if elapsed < PENDING_FOR {
        (ExportState::Pending, "pending", "")
    } else if elapsed < DONE_AFTER {
        (ExportState::Processing, "processing", "")
    } else {
        (ExportState::Done, "done", file_url)
    };
    MessageExport {
        export_id: export_id.to_owned(),
        state,
        state_raw: state_raw.to_owned(),
        url: url.to_owned(),
    }
}

/// Writes a file as a CSV (header first, CRLF line ends), a few rows per chunk, so a large file
/// is produced as it is sent.
pub(crate) fn csv_chunks(file: ExportFile) -> impl Stream<Item = Result<String, Infallible>> {
    let header = std::iter::once(Ok(HEADER.to_owned()));
    let at = file.synthetic_at;
    let synthetic = (0..file.synthetic_rows).map(move |index| synthetic_row(index, at));
    let mut rows = file.rows.into_iter().chain(synthetic).peekable();
    let body = std::iter::from_fn(move || {
        rows.peek()?;
        let mut chunk = String::new();
        for row in rows.by_ref().take(ROWS_PER_CHUNK) {
            write_row(&row, &mut chunk);
        }
        Some(Ok(chunk))
    });
    futures::stream::iter(header.chain(body))
}

/// Builds generated row `index`: a plausible inbound WhatsApp message.
fn synthetic_row(index: u64, at: SystemTime) -> HistoryEntry {
    HistoryEntry {
        at,
        direction: "inbound",
        transport: Transport::Whatsapp,
        chat_type: ChatType::Whatsapp,
        chat_id: format!("7900{:07}", index % 10_000_000),
        channel_id: super::catalogue::WHATSAPP_CHANNEL_ID.to_owned(),
        message_id: format!("synthetic-{index}"),
        user_name: format!("Customer {index}"),
        text: "Hello, is my order ready? It was placed yesterday, \"express\".".to_owned(),
    }
}

/// Appends one CSV line.
fn write_row(row: &HistoryEntry, out: &mut String) {
    let datetime = humantime::format_rfc3339_seconds(row.at).to_string();
    let cells = [
        row.direction,
        row.transport.as_upstream(),
        row.chat_type.as_upstream(),
        &row.chat_id,
        &row.user_name,
        "",
        "",
        &datetime,
        &row.message_id,
        &row.channel_id,
        &row.text,
    ];
    for (index, cell) in cells.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        write_cell(cell, out);
    }
    out.push_str("\r\n");
}

/// Appends one cell, quoted when it holds a delimiter, a quote or a line break.
fn write_cell(cell: &str, out: &mut String) {
    if cell.contains([',', ';', '"', '\n', '\r']) {
        let _ = write!(out, "\"{}\"", cell.replace('"', "\"\""));
    } else {
        out.push_str(cell);
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt as _;

    use super::*;
    use crate::exports::csv::DEFAULT_MAX_RECORD_BYTES;
    use crate::exports::export_rows;

    fn entry(at_s: u64, channel_id: &str, text: &str) -> HistoryEntry {
        HistoryEntry {
            at: SystemTime::UNIX_EPOCH + Duration::from_secs(at_s),
            direction: "outbound",
            transport: Transport::TelegramBot,
            chat_type: ChatType::Telegram,
            chat_id: "42".to_owned(),
            channel_id: channel_id.to_owned(),
            message_id: format!("m{at_s}"),
            user_name: String::new(),
            text: text.to_owned(),
        }
    }

    #[test]
    fn jobs_go_pending_processing_done() {
        let states: Vec<ExportState> = [0, 299, 300, 1499, 1500, 60_000]
            .into_iter()
            .map(|ms| job_state("e", Duration::from_millis(ms), "http://x/e.csv").state)
            .collect();
        use ExportState::{Done, Pending, Processing};
        assert_eq!(
            states,
            [Pending, Pending, Processing, Processing, Done, Done]
        );
        assert_eq!(job_state("e", DONE_AFTER, "u").url, "u");
        assert_eq!(job_state("e", PENDING_FOR, "u").url, "");
    }

    #[tokio::test(start_paused = true)]
    async fn a_done_job_serves_the_period_and_channel_as_a_csv_the_reader_reads_back() {
        let mut exports = SandboxExports::default();
        exports.record(entry(10, "a", "too early"));
        exports.record(entry(20, "a", "hello, \"world\"\nbye"));
        exports.record(entry(25, "b", "other channel"));
        exports.record(entry(30, "a", "last"));
        let request = ExportRequest {
            start_at: SystemTime::UNIX_EPOCH + Duration::from_secs(15),
            end_at: SystemTime::UNIX_EPOCH + Duration::from_secs(30),
            channel_id: Some("a".to_owned()),
        };
        let export_id = exports.create(&request);
        assert_eq!(exports.file(&export_id), None, "not done yet");
        tokio::time::advance(DONE_AFTER).await;
        exports.set_synthetic_rows(1000);
        let file = exports.file(&export_id).unwrap();
        let chunks = csv_chunks(file).map(|chunk| chunk.map(String::into_bytes));
        let read: Vec<_> = export_rows(chunks, DEFAULT_MAX_RECORD_BYTES)
            .map(Result::unwrap)
            .collect()
            .await;
        assert_eq!(read.len(), 2 + 1000);
        assert_eq!(read[1001].other_columns["message_id"], "synthetic-999");
        assert_eq!(read[1001].sent_at_ms, Some(15_000));
        assert_eq!(read[0].other_columns["text"], "hello, \"world\"\nbye");
        assert_eq!(read[0].sent_at_ms, Some(20_000));
        assert_eq!(read[0].transport_raw, "telegram");
        assert_eq!(read[1].line_number, 4);
        assert_eq!(read[1].other_columns["message_id"], "m30");
    }
}
