//! What every streaming CSV reader of psc-bridge shares (the PSC export
//! reader, [`crate::export_csv`], and the data-feeds reader,
//! [`crate::feeds`]): the csv reader's settings, where a row starts, and a
//! broken stream's error, whose text never quotes the file's bytes.

use std::io::Read;

use csv::{ByteRecord, ReaderBuilder};

/// Where the next row of a file starts: what a checkpoint records, and
/// where a reader's `resume` goes on from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// Byte offset in the object.
    pub byte: u64,
    /// 1-based line of the file (the header is line 1).
    pub line: u64,
}

/// Reading stopped part-way (the stream broke): not a row's fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("reading the CSV failed after line {line}: {message}")]
pub struct ReadError {
    pub line: u64,
    pub message: String,
}

/// Why a file has no header to read: each reader turns it into its own
/// `HeaderError`.
pub(crate) enum NoHeader {
    Empty,
    Unreadable(String),
}

/// A reader of `input` from its start, with the header row read: the
/// reader, the header, and the position its lines and bytes count from.
pub(crate) fn open<R: Read>(input: R) -> Result<(csv::Reader<R>, ByteRecord, Position), NoHeader> {
    let mut rdr = csv_reader(input);
    let mut header = ByteRecord::new();
    match rdr.read_byte_record(&mut header) {
        Ok(true) => Ok((rdr, header, Position::default())),
        Ok(false) => Err(NoHeader::Empty),
        Err(e) => Err(NoHeader::Unreadable(csv_error_text(&e))),
    }
}

/// A reader of a file part-way: `input` starts at `from` (a [`Position`] a
/// reader reported) and `header` is the file's header. Lines and positions
/// count from the start of the file, as they would in one pass.
pub(crate) fn reopen<R: Read>(
    input: R,
    header: &[String],
    from: Position,
) -> Result<(csv::Reader<R>, ByteRecord, Position), NoHeader> {
    let header: ByteRecord = header.iter().map(String::as_bytes).collect();
    if header.is_empty() {
        return Err(NoHeader::Empty);
    }
    // csv counts lines from 1 at the start of its input.
    let base = Position { byte: from.byte, line: from.line.saturating_sub(1) };
    Ok((csv_reader(input), header, base))
}

/// The csv reader of a file, header included. Records end at '\n' only:
/// csv's CRLF mode reports the line of a record after a CRLF one too low. The
/// '\r' then left at the end of the last field is trimmed with the other
/// surrounding blanks.
fn csv_reader<R: Read>(input: R) -> csv::Reader<R> {
    ReaderBuilder::new().has_headers(false).flexible(true).terminator(csv::Terminator::Any(b'\n')).from_reader(input)
}

/// csv's error text can quote field bytes in some variants (UTF-8 errors);
/// keep only the kind of error so no data leaks into logs.
pub(crate) fn csv_error_text(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Io(io) => format!("I/O error: {}", io.kind()),
        csv::ErrorKind::Utf8 { .. } => "invalid UTF-8".to_owned(),
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("row has {len} fields, expected {expected_len}")
        }
        _ => "malformed CSV".to_owned(),
    }
}
