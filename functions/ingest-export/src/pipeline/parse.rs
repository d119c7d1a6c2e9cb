//! The parser's side of a segment: rows read and validated on a blocking
//! thread, valid ones handed to the writers, rejected ones to a file.

use std::io::Read;

use psc_bridge::domain::{ContactRecord, Timestamp};
use psc_bridge::export_csv::{ExportReader, HeaderError, Position, Row};
use psc_bridge::model::Counts;
use psc_bridge::resumable::Stop;
use psc_bridge::sync;

use crate::error::ApplyError;
use crate::rejects::RejectsFile;

/// Where the rows of a segment come from: the start of the object, a
/// ranged read from a checkpoint, or the reader of the segment before.
/// (One per segment, moved into the parser's thread: its size is no cost.)
#[allow(clippy::large_enum_variant)]
pub enum Input<R: Read> {
    Start(R),
    Resume { input: R, header: Vec<String>, from: Position },
    Reader(ExportReader<R>),
}

impl<R: Read> Input<R> {
    fn open(self) -> Result<ExportReader<R>, HeaderError> {
        match self {
            Input::Start(input) => ExportReader::new(input),
            Input::Resume { input, header, from } => ExportReader::resume(input, &header, from),
            Input::Reader(r) => Ok(r),
        }
    }
}

/// What the parser of a segment did.
pub(crate) struct Parsed<R: Read> {
    pub counts: Counts,
    pub rejects: Option<tempfile::NamedTempFile>,
    /// The reader, to go on with; `None` at the end of the file.
    pub reader: Option<ExportReader<R>>,
    /// Where the next row starts.
    pub position: Position,
    pub header: Vec<String>,
}

/// Reads and validates rows until `stop`, handing every valid row newer
/// than the watermark to `send` (which returns false when the writers are
/// gone).
pub(crate) fn parse_rows<R: Read>(
    input: Input<R>,
    watermark: Timestamp,
    stop: Stop,
    mut send: impl FnMut(ContactRecord) -> bool,
) -> Result<Parsed<R>, ApplyError> {
    let mut reader = input.open()?;
    let mut counts = Counts::default();
    let mut rejects = RejectsFile::default();
    let mut rows = 0u64;
    let mut ended = false;
    loop {
        if stop.reached(rows) {
            break;
        }
        let Some(row) = reader.next_row() else {
            ended = true;
            break;
        };
        rows += 1;
        match row? {
            Row::Valid(rec) if sync::is_stale(rec.operation_time, watermark) => counts.skipped_stale += 1,
            Row::Valid(rec) => {
                if !send(rec) {
                    break; // the writers are gone: the caller reports why
                }
            }
            Row::Rejected(r) => {
                counts.rejected += 1;
                rejects.add(&r)?;
            }
        }
    }
    let (position, header) = (reader.position(), reader.header().to_vec());
    Ok(Parsed { counts, rejects: rejects.finish()?, reader: (!ended).then_some(reader), position, header })
}
