//! Streaming one export CSV into the table: a blocking thread parses and
//! validates rows ([`parse`]) and hands valid ones to the writer in chunks
//! through a bounded channel (memory does not grow with the file); each row
//! is one conditional write ([`tally::apply_one`]), up to the write
//! concurrency in flight; rejected rows go to a temporary file
//! ([`crate::rejects`]).

mod parse;
mod tally;

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::io::Read;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use psc_bridge::domain::{ContactRecord, Timestamp};
use psc_bridge::export_csv::{ExportReader, Position};
use psc_bridge::model::Counts;
use psc_bridge::ports::ContactStore;
use psc_bridge::resumable::Stop;
use psc_bridge::retry::{AdaptiveLimit, Patience};
use tokio::sync::mpsc;

pub use self::parse::Input;
use self::parse::{Parsed, parse_rows};
use self::tally::{Tally, apply_one};
use crate::config::{THROTTLING, Writes};
use crate::error::ApplyError;

/// Valid rows handed from the parser to the writers at once.
const CHUNK_ROWS: usize = 256;
/// Chunks parsed ahead of the writers: with the one being written and the
/// one being filled, at most `(CHUNK_DEPTH + 2) * CHUNK_ROWS` rows are held.
const CHUNK_DEPTH: usize = 2;

/// Result of streaming one CSV (or a segment of it) into the table.
#[derive(Debug)]
pub struct ApplyReport {
    pub counts: Counts,
    /// Writes that failed for good (a permanent error).
    pub failed_writes: u64,
    /// Writes still failing transiently when the segment's time ran out
    /// ([`Stop::writes_until`]): the segment is not applied in full, and
    /// starts again from its beginning in the next invocation.
    pub unfinished_writes: u64,
    /// How many times a transient fault halved the writes in flight.
    pub concurrency_halvings: u64,
    /// Rows sent again after the table throttled them or a concurrent
    /// transaction held their item.
    pub throttled_retries: u64,
    /// The rejects report (CSV), when rows were rejected.
    pub rejects: Option<tempfile::NamedTempFile>,
}

/// One segment of an export, applied in full before it returns: every row
/// before `position` is written (or given up on) and counted.
pub struct AppliedSegment<R: Read> {
    pub report: ApplyReport,
    /// Where the next row starts.
    pub position: Position,
    /// The export's header (what a checkpoint needs to resume).
    pub header: Vec<String>,
    /// The reader, to go on with; `None` at the end of the file.
    pub reader: Option<ExportReader<R>>,
}

/// Reads, validates and applies one export CSV with the default throttling
/// rounds (see [`apply_export_with`]).
pub async fn apply_export<S: ContactStore, R: Read + Send + 'static>(
    store: &S,
    input: R,
    request_id: &str,
    watermark: Timestamp,
    write_concurrency: usize,
) -> Result<ApplyReport, ApplyError> {
    let writes = Writes { concurrency: write_concurrency, throttling: THROTTLING };
    apply_export_with(store, input, request_id, watermark, writes).await
}

/// Reads, validates and applies one export CSV.
///
/// Rows at or before `watermark` are skipped as stale without a write; every
/// other row is a conditional write that only lands if newer than the table.
/// A write that fails for good is counted in `failed_writes`, one still
/// failing transiently after the rounds of [`Writes::throttling`] in
/// `unfinished_writes`; the other rows still apply.
pub async fn apply_export_with<S: ContactStore, R: Read + Send + 'static>(
    store: &S,
    input: R,
    request_id: &str,
    watermark: Timestamp,
    writes: Writes,
) -> Result<ApplyReport, ApplyError> {
    let segment = apply_segment(store, Input::Start(input), request_id, watermark, writes, Stop::NEVER).await?;
    Ok(segment.report)
}

/// Reads, validates and applies the rows of `input` until `stop` (see
/// [`apply_export_with`] for the rules).
pub async fn apply_segment<S: ContactStore, R: Read + Send + 'static>(
    store: &S,
    input: Input<R>,
    request_id: &str,
    watermark: Timestamp,
    writes: Writes,
    stop: Stop,
) -> Result<AppliedSegment<R>, ApplyError> {
    // Fewer writes in flight while the table fails or times out.
    let limit = AdaptiveLimit::new(writes.concurrency);
    let patience = Patience { rounds: writes.throttling, until: stop.writes_until, cut_off: true, limit: Some(&limit) };
    let (tally, parser) = write_rows(store, input, request_id, watermark, writes, stop, patience).await;
    let parsed = parser.await.expect("the CSV parser thread panicked")?;
    // The writers count the written rows, the parser the stale (by the
    // watermark) and the rejected ones.
    let counts = tally.counts.plus(&parsed.counts);
    Ok(AppliedSegment {
        report: ApplyReport {
            counts,
            failed_writes: tally.failed,
            unfinished_writes: tally.unfinished,
            concurrency_halvings: limit.halvings(),
            throttled_retries: tally.waits,
            rejects: parsed.rejects,
        },
        position: parsed.position,
        header: parsed.header,
        reader: parsed.reader,
    })
}

type Parser<R> = tokio::task::JoinHandle<Result<Parsed<R>, ApplyError>>;

/// One conditional write per row, at most `concurrency` in flight (fewer
/// while `patience`'s limit is lowered), never two of one contact at once.
///
/// The parser thread hands rows over in chunks of [`CHUNK_ROWS`] (one
/// channel message and one wake-up per chunk, not per row). The writes are
/// futures of this task, polled together: on the function's current-thread
/// runtime nothing is handed between threads per row. Rows start in file
/// order; a row whose contact has a write in flight waits (and the rows
/// after it with it) until that write is done, so a contact's rows land in
/// file order, one after the other (R3).
async fn write_rows<S: ContactStore, R: Read + Send + 'static>(
    store: &S,
    input: Input<R>,
    request_id: &str,
    watermark: Timestamp,
    writes: Writes,
    stop: Stop,
    patience: Patience<'_>,
) -> (Tally, Parser<R>) {
    let (tx, mut rx) = mpsc::channel::<Vec<ContactRecord>>(CHUNK_DEPTH);
    let parser = tokio::task::spawn_blocking(move || {
        let mut chunk = Vec::with_capacity(CHUNK_ROWS);
        let parsed = parse_rows(input, watermark, stop, |rec| {
            chunk.push(rec);
            chunk.len() < CHUNK_ROWS
                || tx.blocking_send(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_ROWS))).is_ok()
        });
        if !chunk.is_empty() {
            let _ = tx.blocking_send(chunk);
        }
        parsed
    });
    let concurrency = writes.concurrency.max(1);
    let write = |rec: ContactRecord, contact: u64, seed: u64| async move {
        let (result, waited) = apply_one(store, &rec, request_id, patience, seed).await;
        (rec, contact, result, waited)
    };
    let mut tally = Tally::default();
    let mut in_flight = FuturesUnordered::new();
    // The contacts with a write in flight, by a hash of their Customer Guid
    // (two contacts with one hash only wait for each other).
    let mut busy = HashSet::with_capacity(concurrency);
    let mut queue = Vec::new().into_iter();
    let mut held: Option<(ContactRecord, u64)> = None;
    let mut seed = 0u64;
    let mut input_done = false;
    loop {
        while in_flight.len() < concurrency {
            let Some((rec, contact)) = held.take().or_else(|| {
                queue.next().map(|rec| {
                    let contact = contact_hash(&rec);
                    (rec, contact)
                })
            }) else {
                break;
            };
            if !busy.insert(contact) {
                held = Some((rec, contact));
                break;
            }
            in_flight.push(write(rec, contact, seed));
            seed += 1;
        }
        let want_rows = held.is_none() && queue.len() == 0 && !input_done && in_flight.len() < concurrency;
        tokio::select! {
            biased;
            Some((rec, contact, result, waited)) = in_flight.next(), if !in_flight.is_empty() => {
                busy.remove(&contact);
                tally.waits += u64::from(waited);
                tally.add(&rec, result);
            }
            chunk = rx.recv(), if want_rows => match chunk {
                Some(rows) => queue = rows.into_iter(),
                None => input_done = true,
            },
            else => break,
        }
    }
    (tally, parser)
}

/// Which contact a row is of, for [`write_rows`]' one-write-per-contact rule.
fn contact_hash(rec: &ContactRecord) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    rec.key.customer_guid.hash(&mut h);
    h.finish()
}
