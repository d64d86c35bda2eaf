//! Property tests of [`CsvParser`] (bounded case counts): arbitrary bytes in arbitrary chunks
//! never panic and give records or a typed error naming the line, whatever the chunking; rows
//! written the way exporters quote them read back identically, with the line each starts on.

use proptest::collection::vec;
use proptest::prelude::*;

use super::{CsvError, CsvParser, Record};

/// Cases per property: enough to explore quoting and chunk boundaries, small enough for CI.
const CASES: u32 = 512;
/// The record bound used with arbitrary bytes: small, so the bounds are reached too.
const SMALL_RECORD_BYTES: usize = 48;

/// Parses `bytes` pushed in chunks of `chunk` bytes, as the export reader does.
pub(super) fn parse(
    bytes: &[u8],
    chunk: usize,
    max_record_bytes: usize,
) -> Result<Vec<Record>, CsvError> {
    let mut parser = CsvParser::new(max_record_bytes);
    let mut records = Vec::new();
    for piece in bytes.chunks(chunk.max(1)) {
        parser.push(piece)?;
        while let Some(record) = parser.next_record()? {
            records.push(record);
        }
    }
    parser.finish()?;
    while let Some(record) = parser.next_record()? {
        records.push(record);
    }
    assert!(
        parser.is_done(),
        "the parser ended without reporting the end"
    );
    Ok(records)
}

/// Bytes that look like CSV more often than uniform bytes would.
fn csv_like_bytes() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        4 => prop::sample::select(b"ab,;\"\n\r ".to_vec()),
        1 => any::<u8>(),
    ];
    prop_oneof![vec(byte, 0..160), vec(any::<u8>(), 0..160)]
}

/// One field: text with the characters that need quoting.
fn field() -> impl Strategy<Value = String> {
    let character = prop::sample::select(vec![
        'a', 'b', 'Z', '1', ' ', ',', ';', '"', '\n', '\r', 'я', '\u{feff}', '\t',
    ]);
    vec(character, 0..8).prop_map(|characters| characters.into_iter().collect())
}

/// A file: a header and rows of the same width.
fn table() -> impl Strategy<Value = Vec<Vec<String>>> {
    (1_usize..5, 1_usize..6)
        .prop_flat_map(|(width, rows)| vec(vec(field(), width..=width), rows..=rows))
}

/// How a file is written: the delimiter, the line ending, a BOM, whether every field is quoted
/// and whether the last line ends with a line break.
#[derive(Clone, Debug)]
struct Style {
    delimiter: char,
    line_ending: &'static str,
    bom: bool,
    quote_all: bool,
    final_newline: bool,
}

fn style() -> impl Strategy<Value = Style> {
    (
        prop::sample::select(vec![',', ';']),
        prop::sample::select(vec!["\n", "\r\n"]),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(delimiter, line_ending, bom, quote_all, final_newline)| Style {
                delimiter,
                line_ending,
                bom,
                quote_all,
                final_newline,
            },
        )
}

/// Writes one field, quoted when it must be (or always): it holds a delimiter of either kind, a
/// quote, a line break or a BOM, or it is the only field of its row and empty (an empty line is
/// no record).
fn write_field(field: &str, alone: bool, quote_all: bool) -> String {
    let needs_quotes =
        field.contains([',', ';', '"', '\n', '\r', '\u{feff}']) || (alone && field.is_empty());
    if quote_all || needs_quotes {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

/// Writes `rows` in `style`; returns the file and the line each row starts on.
fn write(rows: &[Vec<String>], style: &Style) -> (String, Vec<u64>) {
    let mut file = String::new();
    if style.bom {
        file.push('\u{feff}');
    }
    let mut starts = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        starts.push(1 + file.matches('\n').count() as u64);
        let fields: Vec<String> = row
            .iter()
            .map(|field| write_field(field, row.len() == 1, style.quote_all))
            .collect();
        file.push_str(&fields.join(&style.delimiter.to_string()));
        if index + 1 < rows.len() || style.final_newline {
            file.push_str(style.line_ending);
        }
    }
    (file, starts)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn arbitrary_bytes_give_records_or_an_error_naming_the_line(
        bytes in csv_like_bytes(),
        chunk in 1_usize..40,
    ) {
        let outcome = parse(&bytes, chunk, SMALL_RECORD_BYTES);
        let whole = parse(&bytes, bytes.len(), SMALL_RECORD_BYTES);
        prop_assert_eq!(&outcome, &whole, "the chunking changed the outcome");
        match outcome {
            Ok(records) => {
                let lines = 1 + bytes.iter().filter(|byte| **byte == b'\n').count() as u64;
                // Lines are counted at `\n`; a bare `\r` ends a record on the same line.
                let mut previous = 1;
                for record in &records {
                    prop_assert!(record.line >= previous && record.line <= lines, "{:?}", record);
                    previous = record.line;
                }
            }
            Err(error) => {
                prop_assert!(error.to_string().starts_with("line "), "{}", error);
            }
        }
    }

    #[test]
    fn quoted_rows_read_back_identically_with_their_lines(
        rows in table(),
        style in style(),
        chunk in 1_usize..64,
    ) {
        let (file, starts) = write(&rows, &style);

        let records = parse(file.as_bytes(), chunk, 64 * 1024);

        let records = records.map_err(|error| TestCaseError::fail(error.to_string()))?;
        let read: Vec<(u64, Vec<String>)> = records
            .into_iter()
            .map(|record| (record.line, record.fields))
            .collect();
        let written: Vec<(u64, Vec<String>)> = starts.into_iter().zip(rows).collect();
        prop_assert_eq!(read, written, "file {:?}", file);
    }
}
