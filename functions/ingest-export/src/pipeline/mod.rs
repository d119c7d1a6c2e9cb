//! Streaming one export CSV into the table: a blocking thread parses and
//! validates rows ([`parse`]) and hands valid ones to the writers through
//! bounded channels (memory does not grow with the file); rows are written
//! one at a time ([`tally::apply_one`]) or in groups per lane ([`lanes`]);
//! rejected rows go to a temporary file ([`crate::rejects`]).

mod lanes;
mod parse;
mod tally;

use std::io::Read;

use futures::StreamExt;
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
use crate::config::{THROTTLING, WriteMode, Writes};
use crate::error::ApplyError;

/// Valid rows parsed ahead of the writers (row mode).
const CHANNEL_DEPTH: usize = 1024;
/// Groups parsed ahead of each lane (batch mode): with the group the lane is
/// writing and the one the parser is filling, at most
/// `(LANE_DEPTH + 2) * MAX_BATCH` rows per lane are held.
const LANE_DEPTH: usize = 1;

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

/// Reads, validates and applies one export CSV in batch mode, with the
/// default throttling rounds (see [`apply_export_with`]).
pub async fn apply_export<S: ContactStore, R: Read + Send + 'static>(
    store: &S,
    input: R,
    request_id: &str,
    watermark: Timestamp,
    write_concurrency: usize,
) -> Result<ApplyReport, ApplyError> {
    let writes = Writes { mode: WriteMode::Batch, concurrency: write_concurrency, throttling: THROTTLING };
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
    let (tally, parser) = match writes.mode {
        WriteMode::Row => write_rows(store, input, request_id, watermark, writes, stop, patience).await,
        WriteMode::Batch => write_groups(store, input, request_id, watermark, writes, stop, patience).await,
    };
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

/// Row mode: one conditional write per row, at most `concurrency` in
/// flight (fewer while `patience`'s limit is lowered).
async fn write_rows<S: ContactStore, R: Read + Send + 'static>(
    store: &S,
    input: Input<R>,
    request_id: &str,
    watermark: Timestamp,
    writes: Writes,
    stop: Stop,
    patience: Patience<'_>,
) -> (Tally, Parser<R>) {
    let (tx, mut rx) = mpsc::channel::<ContactRecord>(CHANNEL_DEPTH);
    let parser =
        tokio::task::spawn_blocking(move || parse_rows(input, watermark, stop, |rec| tx.blocking_send(rec).is_ok()));
    let tally = futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
        .enumerate()
        .map(|(i, rec)| async move {
            let (result, waited) = apply_one(store, &rec, request_id, patience, i as u64).await;
            (rec, result, waited)
        })
        .buffer_unordered(writes.concurrency.max(1))
        .fold(Tally::default(), |mut t, (rec, result, waited)| async move {
            t.waits += u64::from(waited);
            t.add(&rec, result);
            t
        })
        .await;
    (tally, parser)
}

/// Batch mode: `concurrency` lanes, each writing one group at a time (and
/// fewer groups in flight while `patience`'s limit is lowered).
async fn write_groups<S: ContactStore, R: Read + Send + 'static>(
    store: &S,
    input: Input<R>,
    request_id: &str,
    watermark: Timestamp,
    writes: Writes,
    stop: Stop,
    patience: Patience<'_>,
) -> (Tally, Parser<R>) {
    let (senders, receivers): (Vec<_>, Vec<_>) =
        (0..writes.concurrency.max(1)).map(|_| mpsc::channel::<Vec<ContactRecord>>(LANE_DEPTH)).unzip();
    let parser = tokio::task::spawn_blocking(move || {
        let mut lanes = lanes::Lanes::new(senders);
        let parsed = parse_rows(input, watermark, stop, |rec| lanes.push(rec));
        lanes.flush();
        parsed
    });
    let tally = receivers
        .into_iter()
        .enumerate()
        .map(|(lane, rx)| lanes::write_lane(store, lane, rx, request_id, patience))
        .collect::<futures::stream::FuturesUnordered<_>>()
        .fold(Tally::default(), |all, lane| async move { all.merge(lane) })
        .await;
    (tally, parser)
}
