//! An incremental CSV record parser with bounded memory, driven by `csv-core`: bytes are pushed in
//! whatever chunks the network delivers and whole records are pulled out, so a file of any size
//! is read with the chunk buffer plus one record's worth of memory.
//!
//! What it handles on top of `csv-core`: a UTF-8 BOM, the delimiter (`,` or `;`, whichever the
//! header line uses more often outside quotes), 1-based line numbers of the line each record
//! starts on (quoted fields may span lines), UTF-8 decoding, and bounds on the record size and
//! the number of fields.

use csv_core::{ReadRecordResult, Reader, ReaderBuilder};

/// The UTF-8 byte order mark some exporters put at the start of a file.
const UTF8_BOM: &[u8] = b"\xef\xbb\xbf";
/// First size of the record buffer; it doubles up to the record limit.
const INITIAL_RECORD_BYTES: usize = 4 * 1024;
/// First number of field slots; doubles up to [`MAX_FIELDS`].
const INITIAL_FIELDS: usize = 32;
/// Most fields in one record.
pub(crate) const MAX_FIELDS: usize = 4 * 1024;
/// Default bound on one record (and on the header line), in bytes.
pub(crate) const DEFAULT_MAX_RECORD_BYTES: usize = 1024 * 1024;

/// Why a CSV file cannot be read; every variant says where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CsvError {
    /// A record is longer than the bound.
    #[error("line {line}: record longer than {limit} bytes")]
    RecordTooLarge {
        /// Line the record starts on.
        line: u64,
        /// The bound.
        limit: usize,
    },
    /// A record has more fields than [`MAX_FIELDS`].
    #[error("line {line}: more than {limit} fields")]
    TooManyFields {
        /// Line the record starts on.
        line: u64,
        /// The bound.
        limit: usize,
    },
    /// The header line is longer than the record bound.
    #[error("line 1: header line longer than {limit} bytes")]
    HeaderTooLarge {
        /// The bound.
        limit: usize,
    },
    /// A field is not valid UTF-8.
    #[error("line {line}: field {field} is not valid UTF-8")]
    NotUtf8 {
        /// Line the record starts on.
        line: u64,
        /// 1-based position of the field.
        field: usize,
    },
    /// A row does not have as many fields as the header.
    #[error("line {line}: {found} fields where the header has {expected}")]
    FieldCount {
        /// Line the row starts on.
        line: u64,
        /// Fields in the row.
        found: usize,
        /// Fields in the header.
        expected: usize,
    },
    /// The file has no header line.
    #[error("the file is empty: no header line")]
    Empty,
    /// The bytes could not be fetched.
    #[error("reading the file failed: {0}")]
    Source(String),
}

/// One record: its fields and the line it starts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Record {
    /// 1-based line the record starts on.
    pub line: u64,
    /// Its fields, unquoted.
    pub fields: Vec<String>,
}

/// Parses records out of pushed chunks. Use: [`push`](Self::push) a chunk, call
/// [`next_record`](Self::next_record) until it answers `None`, push the next chunk; after the
/// last chunk call [`finish`](Self::finish) and drain the remaining records.
#[derive(Debug)]
pub(crate) struct CsvParser {
    /// The parser, once the header line told the delimiter.
    core: Option<Reader>,
    /// The file's first bytes, held until the header line is complete (then parsed from `input`).
    head: Vec<u8>,
    /// The chunk being parsed.
    input: Vec<u8>,
    /// How much of `input` is parsed.
    position: usize,
    /// The current record's field bytes.
    record: Vec<u8>,
    /// How much of `record` is filled.
    record_len: usize,
    /// Field end offsets in `record`.
    ends: Vec<usize>,
    /// How many of `ends` are filled.
    ends_len: usize,
    /// Whether the last chunk was pushed.
    finished: bool,
    /// Whether the parser reported the end.
    done: bool,
    /// Bound on one record, in bytes.
    max_record_bytes: usize,
}

impl CsvParser {
    /// Creates a parser that refuses records longer than `max_record_bytes`.
    pub(crate) fn new(max_record_bytes: usize) -> Self {
        Self {
            core: None,
            head: Vec::new(),
            input: Vec::new(),
            position: 0,
            record: vec![0; INITIAL_RECORD_BYTES.min(max_record_bytes.max(1))],
            record_len: 0,
            ends: vec![0; INITIAL_FIELDS],
            ends_len: 0,
            finished: false,
            done: false,
            max_record_bytes,
        }
    }

    /// Hands the parser the next chunk of the file. Call only once
    /// [`next_record`](Self::next_record) answered `None`.
    ///
    /// # Errors
    ///
    /// Fails with [`CsvError::HeaderTooLarge`] when the header line exceeds the record bound.
    pub(crate) fn push(&mut self, chunk: &[u8]) -> Result<(), CsvError> {
        debug_assert!(
            self.position == self.input.len(),
            "previous chunk not parsed"
        );
        if self.core.is_some() {
            self.input.clear();
            self.input.extend_from_slice(chunk);
            self.position = 0;
            return Ok(());
        }
        self.head.extend_from_slice(chunk);
        let line_end = header_line_end(&self.head);
        self.check_header(line_end.unwrap_or(self.head.len()))?;
        if line_end.is_some() {
            self.start();
        }
        Ok(())
    }

    /// Tells the parser that no more chunks follow.
    ///
    /// # Errors
    ///
    /// Fails with [`CsvError::HeaderTooLarge`] when the file is one header line longer than the
    /// record bound.
    pub(crate) fn finish(&mut self) -> Result<(), CsvError> {
        self.finished = true;
        if self.core.is_none() {
            self.check_header(self.head.len())?;
            self.start();
        }
        Ok(())
    }

    /// Refuses a header line of `length` bytes (BOM included) when it exceeds the record bound:
    /// the same bound whatever the chunks, so the outcome does not depend on them.
    fn check_header(&self, length: usize) -> Result<(), CsvError> {
        if length > self.max_record_bytes {
            return Err(CsvError::HeaderTooLarge {
                limit: self.max_record_bytes,
            });
        }
        Ok(())
    }

    /// Tells whether every record has been returned.
    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// Returns the bytes the parser holds allocated (chunk, header, record and field buffers),
    /// to check that memory stays bounded.
    #[cfg(test)]
    pub(crate) fn buffered_bytes(&self) -> usize {
        self.input.capacity()
            + self.head.capacity()
            + self.record.capacity()
            + self.ends.capacity() * size_of::<usize>()
    }

    /// Returns the next complete record, or `None` when more input is needed (or, after
    /// [`finish`](Self::finish), when the file is done; see [`is_done`](Self::is_done)).
    ///
    /// # Errors
    ///
    /// Fails when a record exceeds a bound or is not UTF-8.
    pub(crate) fn next_record(&mut self) -> Result<Option<Record>, CsvError> {
        let Some(core) = self.core.as_mut() else {
            return Ok(None);
        };
        loop {
            let input = &self.input[self.position..];
            if input.is_empty() && !self.finished {
                return Ok(None);
            }
            let (result, read, written, ended) = core.read_record(
                input,
                &mut self.record[self.record_len..],
                &mut self.ends[self.ends_len..],
            );
            self.position += read;
            self.record_len += written;
            self.ends_len += ended;
            match result {
                ReadRecordResult::InputEmpty => {}
                ReadRecordResult::OutputFull => {
                    let line = core.line();
                    grow(&mut self.record, self.max_record_bytes).ok_or(
                        CsvError::RecordTooLarge {
                            line,
                            limit: self.max_record_bytes,
                        },
                    )?;
                }
                ReadRecordResult::OutputEndsFull => {
                    let line = core.line();
                    grow(&mut self.ends, MAX_FIELDS).ok_or(CsvError::TooManyFields {
                        line,
                        limit: MAX_FIELDS,
                    })?;
                }
                ReadRecordResult::Record => {
                    let ended_by_newline = read > 0 && self.input[self.position - 1] == b'\n';
                    let record = self.take_record(ended_by_newline)?;
                    return Ok(Some(record));
                }
                ReadRecordResult::End => {
                    self.done = true;
                    return Ok(None);
                }
            }
        }
    }

    /// Builds the parser for the delimiter the header line uses and queues the held bytes.
    fn start(&mut self) {
        if self.head.starts_with(UTF8_BOM) {
            self.head.drain(..UTF8_BOM.len());
        }
        let delimiter = detect_delimiter(&self.head);
        self.core = Some(ReaderBuilder::new().delimiter(delimiter).build());
        self.input = std::mem::take(&mut self.head);
        self.position = 0;
    }

    /// Turns the filled buffers into a record and resets them.
    fn take_record(&mut self, ended_by_newline: bool) -> Result<Record, CsvError> {
        let bytes = &self.record[..self.record_len];
        let embedded_newlines = bytes.iter().filter(|byte| **byte == b'\n').count() as u64;
        let line_now = self.core.as_ref().map_or(1, Reader::line);
        let line = line_now - embedded_newlines - u64::from(ended_by_newline);
        let mut fields = Vec::with_capacity(self.ends_len);
        let mut start = 0;
        for (index, end) in self.ends[..self.ends_len].iter().enumerate() {
            let field =
                std::str::from_utf8(&bytes[start..*end]).map_err(|_| CsvError::NotUtf8 {
                    line,
                    field: index + 1,
                })?;
            fields.push(field.to_owned());
            start = *end;
        }
        self.record_len = 0;
        self.ends_len = 0;
        Ok(Record { line, fields })
    }
}

/// Doubles a buffer up to `limit` elements; `None` when it is already at the limit.
fn grow<T: Copy + Default>(buffer: &mut Vec<T>, limit: usize) -> Option<()> {
    if buffer.len() >= limit {
        return None;
    }
    let new_len = (buffer.len() * 2).clamp(1, limit);
    buffer.resize(new_len, T::default());
    Some(())
}

/// Returns the position of the newline that ends the header line (the first one outside
/// quotes), or `None` while the header line is incomplete.
fn header_line_end(head: &[u8]) -> Option<usize> {
    let mut quoted = false;
    for (position, byte) in head.iter().enumerate() {
        match byte {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => return Some(position),
            _ => {}
        }
    }
    None
}

/// Picks `;` when the first line has more semicolons than commas outside quotes, else `,`.
fn detect_delimiter(head: &[u8]) -> u8 {
    let (mut commas, mut semicolons, mut quoted) = (0_usize, 0_usize, false);
    for byte in head {
        match byte {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => break,
            b',' if !quoted => commas += 1,
            b';' if !quoted => semicolons += 1,
            _ => {}
        }
    }
    if semicolons > commas { b';' } else { b',' }
}

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests {
    use super::*;

    /// Parses `text` pushed in chunks of `chunk` bytes.
    fn parse(text: &[u8], chunk: usize) -> Result<Vec<Record>, CsvError> {
        super::properties::parse(text, chunk, 64)
    }

    fn fields(records: &[Record]) -> Vec<(u64, Vec<&str>)> {
        records
            .iter()
            .map(|record| {
                let fields = record.fields.iter().map(String::as_str).collect();
                (record.line, fields)
            })
            .collect()
    }

    #[test]
    fn commas_semicolons_bom_and_quoted_newlines_parse_in_any_chunking() {
        let text = "\u{feff}a;b\n\"x;1\";\"multi\nline \"\"q\"\"\"\r\nlast;2";
        for chunk in [1, 2, 3, 7, 1000] {
            let records = parse(text.as_bytes(), chunk).unwrap();
            assert_eq!(
                fields(&records),
                [
                    (1, vec!["a", "b"]),
                    (2, vec!["x;1", "multi\nline \"q\""]),
                    (4, vec!["last", "2"]),
                ],
                "chunk {chunk}"
            );
        }
        let commas = parse(b"a,b;c\n1,2;3\n", 4).unwrap();
        assert_eq!(
            fields(&commas),
            [(1, vec!["a", "b;c"]), (2, vec!["1", "2;3"])]
        );
    }

    #[test]
    fn a_header_without_newline_and_blank_lines_keep_line_numbers() {
        assert_eq!(fields(&parse(b"only", 2).unwrap()), [(1, vec!["only"])]);
        let records = parse(b"h\n\n\nrow\n", 3).unwrap();
        assert_eq!(fields(&records), [(1, vec!["h"]), (4, vec!["row"])]);
    }

    #[test]
    fn bounds_and_bad_bytes_give_errors_naming_the_line() {
        let long = format!("h\n{}\n", "x".repeat(100));
        assert_eq!(
            parse(long.as_bytes(), 8),
            Err(CsvError::RecordTooLarge { line: 2, limit: 64 })
        );
        let header = "h".repeat(100);
        assert_eq!(
            parse(header.as_bytes(), 8),
            Err(CsvError::HeaderTooLarge { limit: 64 })
        );
        assert_eq!(
            parse(b"a,b\nok,\xff\xfe\n", 8),
            Err(CsvError::NotUtf8 { line: 2, field: 2 })
        );
        let error = CsvError::NotUtf8 { line: 2, field: 2 }.to_string();
        assert_eq!(error, "line 2: field 2 is not valid UTF-8");
    }
}
