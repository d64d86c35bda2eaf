//! Export CSV records into [`ExportRow`]s: the header names the columns, the known ones
//! (`direction`, `transport`, `chat_type`, `chat_id`, `user_name`, `user_username`, `user_phone`,
//! `datetime`; matched case-insensitively, surrounding spaces ignored) fill fields, the others go
//! to `other_columns`. [`export_rows`] streams rows from an async byte stream.

use futures::{Stream, StreamExt as _};
use serde_json::Value;

use crate::model::ExportRow;
use crate::model::lenient::time_ms;

use super::csv::{CsvError, CsvParser, Record};

/// A column the row has a field for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Known {
    Direction,
    Transport,
    ChatType,
    ChatId,
    UserName,
    UserUsername,
    UserPhone,
    Datetime,
}

impl Known {
    /// Returns the known column a header cell names.
    fn parse(header: &str) -> Option<Self> {
        Some(match header.trim().to_ascii_lowercase().as_str() {
            "direction" => Self::Direction,
            "transport" => Self::Transport,
            "chat_type" => Self::ChatType,
            "chat_id" => Self::ChatId,
            "user_name" => Self::UserName,
            "user_username" => Self::UserUsername,
            "user_phone" => Self::UserPhone,
            "datetime" => Self::Datetime,
            _ => return None,
        })
    }
}

/// What one header cell maps to.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Column {
    /// A row field.
    Known(Known),
    /// An `other_columns` key.
    Other(String),
}

/// Turns pushed CSV chunks into rows; the first record is the header.
#[derive(Debug)]
pub(crate) struct RowReader {
    /// The record parser.
    parser: CsvParser,
    /// The header's columns, once read.
    columns: Option<Vec<Column>>,
}

impl RowReader {
    /// Creates a reader that refuses records longer than `max_record_bytes`.
    pub(crate) fn new(max_record_bytes: usize) -> Self {
        Self {
            parser: CsvParser::new(max_record_bytes),
            columns: None,
        }
    }

    /// Hands over the next chunk; call once [`next_row`](Self::next_row) answered `None`.
    ///
    /// # Errors
    ///
    /// As [`CsvParser::push`].
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Result<(), CsvError> {
        self.parser.push(chunk)
    }

    /// Tells the reader that no more chunks follow.
    ///
    /// # Errors
    ///
    /// As [`CsvParser::finish`].
    pub(crate) fn finish(&mut self) -> Result<(), CsvError> {
        self.parser.finish()
    }

    /// Tells whether every row has been returned.
    pub(crate) fn is_done(&self) -> bool {
        self.parser.is_done()
    }

    /// Returns the bytes the reader holds allocated (see [`CsvParser::buffered_bytes`]).
    #[cfg(test)]
    pub(crate) fn buffered_bytes(&self) -> usize {
        self.parser.buffered_bytes()
    }

    /// Returns the next row, or `None` when more input is needed or the file is done.
    ///
    /// # Errors
    ///
    /// Fails on a record the parser refuses, a row whose field count differs from the header's,
    /// or (once done) a file without a header.
    pub(crate) fn next_row(&mut self) -> Result<Option<ExportRow>, CsvError> {
        loop {
            let Some(record) = self.parser.next_record()? else {
                if self.parser.is_done() && self.columns.is_none() {
                    return Err(CsvError::Empty);
                }
                return Ok(None);
            };
            match &self.columns {
                None => self.columns = Some(columns(&record)),
                Some(columns) => return row(columns, record).map(Some),
            }
        }
    }
}

/// Reads the header's cells.
fn columns(header: &Record) -> Vec<Column> {
    header
        .fields
        .iter()
        .map(|cell| match Known::parse(cell) {
            Some(known) => Column::Known(known),
            None => Column::Other(cell.trim().to_owned()),
        })
        .collect()
}

/// Maps one record onto the header's columns.
fn row(columns: &[Column], record: Record) -> Result<ExportRow, CsvError> {
    if record.fields.len() != columns.len() {
        return Err(CsvError::FieldCount {
            line: record.line,
            found: record.fields.len(),
            expected: columns.len(),
        });
    }
    let mut row = ExportRow {
        line_number: record.line,
        ..ExportRow::default()
    };
    for (column, value) in columns.iter().zip(record.fields) {
        let known = match column {
            Column::Other(name) => {
                row.other_columns.insert(name.clone(), value);
                continue;
            }
            Column::Known(known) => known,
        };
        match known {
            Known::Direction => row.direction_raw = value,
            Known::Transport => row.transport_raw = value,
            Known::ChatType => row.chat_type_raw = value,
            Known::ChatId => row.chat_id = value,
            Known::UserName => row.user_name = value,
            Known::UserUsername => row.user_username = value,
            Known::UserPhone => row.user_phone = value,
            Known::Datetime if value.trim().is_empty() => {}
            Known::Datetime => match time_ms(&Value::String(value.clone())) {
                Some(ms) => row.sent_at_ms = Some(ms),
                None => {
                    row.other_columns.insert("datetime".to_owned(), value);
                }
            },
        }
    }
    Ok(row)
}

/// Streams the rows of a CSV arriving as `chunks`; source errors end the stream with
/// [`CsvError::Source`]. Memory: one chunk plus one record (at most `max_record_bytes`).
pub(crate) fn export_rows<S, B, E>(
    chunks: S,
    max_record_bytes: usize,
) -> impl Stream<Item = Result<ExportRow, CsvError>> + Send
where
    S: Stream<Item = Result<B, E>> + Send + Unpin,
    B: AsRef<[u8]>,
    E: std::fmt::Display,
{
    let state = Some((chunks, RowReader::new(max_record_bytes)));
    futures::stream::unfold(state, |state| async move {
        let (mut chunks, mut reader) = state?;
        loop {
            match reader.next_row() {
                Ok(Some(row)) => return Some((Ok(row), Some((chunks, reader)))),
                Ok(None) if reader.is_done() => return None,
                Ok(None) => {}
                Err(error) => return Some((Err(error), None)),
            }
            let pushed = match chunks.next().await {
                Some(Ok(chunk)) => reader.push(chunk.as_ref()),
                Some(Err(error)) => Err(CsvError::Source(error.to_string())),
                None => reader.finish(),
            };
            if let Err(error) = pushed {
                return Some((Err(error), None));
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use futures::TryStreamExt as _;

    use super::*;

    /// Reads `text` streamed in chunks of `chunk` bytes.
    async fn read(text: &str, chunk: usize) -> Result<Vec<ExportRow>, CsvError> {
        let chunks: Vec<Result<Vec<u8>, Infallible>> = text
            .as_bytes()
            .chunks(chunk)
            .map(|piece| Ok(piece.to_vec()))
            .collect();
        export_rows(futures::stream::iter(chunks), 1024)
            .try_collect()
            .await
    }

    #[tokio::test]
    async fn known_columns_fill_fields_and_unknown_ones_are_kept() {
        let text = "\u{feff}Direction;transport;chat_type;chat_id;user_name;user_username;\
                    user_phone;datetime;text;message_id\r\n\
                    inbound;telegram;telegram;221601332;Ann;ann_tg;79111234567;\
                    2025-11-05 10:23:42;\"hello;\nworld\";m-1\r\n\
                    outbound;wapi;whatsapp;77001112233;;;;2025-11-05T10:24:00Z;ok;m-2\r\n";
        let rows = read(text, 5).await.unwrap();
        assert_eq!(rows.len(), 2);
        let first = &rows[0];
        assert_eq!(first.line_number, 2);
        assert_eq!(first.direction_raw, "inbound");
        assert_eq!(first.transport_raw, "telegram");
        assert_eq!(first.chat_type_raw, "telegram");
        assert_eq!(first.chat_id, "221601332");
        assert_eq!(first.user_name, "Ann");
        assert_eq!(first.user_username, "ann_tg");
        assert_eq!(first.user_phone, "79111234567");
        assert_eq!(first.sent_at_ms, Some(1_762_338_222_000));
        assert_eq!(first.other_columns["text"], "hello;\nworld");
        assert_eq!(first.other_columns["message_id"], "m-1");
        assert_eq!(rows[1].line_number, 4);
        assert_eq!(rows[1].sent_at_ms, Some(1_762_338_240_000));
        assert_eq!(rows[1].user_name, "");
    }

    #[tokio::test]
    async fn an_unreadable_time_is_kept_raw_and_malformed_files_fail_clearly() {
        let rows = read("chat_id,datetime\n1,yesterday\n", 3).await.unwrap();
        assert_eq!(rows[0].sent_at_ms, None);
        assert_eq!(rows[0].other_columns["datetime"], "yesterday");

        let error = read("a,b\n1,2\n1,2,3\n", 4).await.unwrap_err();
        assert_eq!(
            error,
            CsvError::FieldCount {
                line: 3,
                found: 3,
                expected: 2
            }
        );
        assert_eq!(error.to_string(), "line 3: 3 fields where the header has 2");
        assert_eq!(read("", 4).await.unwrap_err(), CsvError::Empty);
        assert!(read("h\n", 4).await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_failing_source_ends_the_stream_with_its_error() {
        let chunks: Vec<Result<&[u8], &str>> = vec![Ok(b"a\n1\n"), Err("connection reset")];
        let mut rows = std::pin::pin!(export_rows(futures::stream::iter(chunks), 1024));
        assert_eq!(rows.next().await.unwrap().unwrap().line_number, 2);
        let error = rows.next().await.unwrap().unwrap_err();
        assert_eq!(
            error.to_string(),
            "reading the file failed: connection reset"
        );
        assert!(rows.next().await.is_none());
    }

    /// One generated line of the large file.
    fn generated_line(index: u64, out: &mut Vec<u8>) {
        use std::io::Write as _;
        let _ = write!(
            out,
            "inbound,telegram,telegram,{index},\"Name {index}\nsecond line\",u{index},7900{index:07},\
             2025-01-01 00:00:00,\"text, \"\"quoted\"\"\"\n"
        );
    }

    #[test]
    fn a_million_rows_stream_through_a_bounded_buffer() {
        const ROWS: u64 = 1_000_000;
        const CHUNK: usize = 16 * 1024;
        let mut reader = RowReader::new(64 * 1024);
        let mut pending = b"direction,transport,chat_type,chat_id,user_name,user_username,\
                            user_phone,datetime,text\n"
            .to_vec();
        let (mut generated, mut rows, mut peak) = (0_u64, 0_u64, 0_usize);
        let check = |row: ExportRow, rows: &mut u64| {
            *rows += 1;
            // Each row spans two lines (a quoted newline) after the header.
            assert_eq!(row.line_number, 2 * *rows);
            assert_eq!(row.chat_id, (*rows - 1).to_string());
        };
        loop {
            while pending.len() < CHUNK && generated < ROWS {
                generated_line(generated, &mut pending);
                generated += 1;
            }
            if pending.is_empty() {
                break;
            }
            let take = pending.len().min(CHUNK);
            reader.push(&pending[..take]).unwrap();
            pending.drain(..take);
            while let Some(row) = reader.next_row().unwrap() {
                check(row, &mut rows);
            }
            peak = peak.max(reader.buffered_bytes());
        }
        reader.finish().unwrap();
        while let Some(row) = reader.next_row().unwrap() {
            check(row, &mut rows);
        }
        assert_eq!(rows, ROWS);
        // The chunk, the header line and one small record: flat however long the file is.
        assert!(peak <= 2 * CHUNK, "peak buffer {peak} bytes");
    }
}
