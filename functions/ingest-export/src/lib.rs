//! ingest-export (R2, R3): CAS notification -> S3 -> DynamoDB.
//!
//! The handler ([`Ingest`]) and its rules, generic over the ports it uses: a
//! [`ContactStore`] + [`ExportLog`] (the table) and an [`ObjectStore`] (the
//! export bucket). `main.rs` builds the AWS adapters; the tests also run it
//! on the in-memory ones.
//!
//! The CSV is streamed: a blocking thread reads and validates rows from the
//! object and hands valid ones to the writers through bounded channels; memory
//! does not grow with the file. Rejected rows go to a temporary file that
//! becomes the rejects report in S3, beside the export.
//!
//! How rows are written is [`WriteMode`] (`WRITE_MODE`):
//!
//! * `batch` (the default): rows are dealt by Customer Guid to
//!   `write_concurrency` lanes; the parser hands a lane a whole group of up to
//!   [`MAX_BATCH`] rows of distinct contacts at a time (one channel message,
//!   one wake-up per group), and the lane writes it with one
//!   [`ContactStore::apply_batch`] (one `TransactWriteItems`, each `Put` with
//!   its own newer-than condition) before it takes the next. A contact always
//!   goes to the same lane, and a group never holds it twice (a second row of
//!   it starts the next group), so a contact's rows are written in file order,
//!   one after the other, as R3 needs.
//! * `row`: one conditional `PutItem` per row, `write_concurrency` in flight
//!   (the earlier path, kept as the benchmark's baseline).
//!
//! Either way a write the table turns away as older is counted stale, and one
//! the table is too busy for (throttling, a transaction conflict) waits and
//! is sent again ([`Throttling`]).

use std::hash::{Hash, Hasher};
use std::io::{BufWriter, Read, Write};
use std::time::Duration;

use aws_lambda_events::event::sns::SnsEvent;
use futures::StreamExt;
use lambda_runtime::Diagnostic;
use psc_bridge::aws::{AwsError, codes};
use psc_bridge::config::{ConfigError, DEFAULT_INITIAL_FROM_DATE, env_or, env_required, parse_var};
use psc_bridge::domain::{ContactRecord, OperationType, Timestamp};
use psc_bridge::export_csv::{ExportReader, HeaderError, Position, ReadError, Reject, Row};
use psc_bridge::metrics::Metrics;
use psc_bridge::model::{Checkpoint, Counts, ExportOutcome, ExportStatus, Lease, WriteOutcome};
use psc_bridge::notification::{Metadata, Notification, RequestId, S3Location, parse_metadata, parse_notification};
use psc_bridge::ports::{ContactStore, Continuation, ExportLog, MAX_BATCH, ObjectStore};
use psc_bridge::sync::{self, Coverage};
use serde::Serialize;
use tokio::sync::mpsc;
use tracing::{error, info, warn};

/// Rows between checkpoints by default: a few seconds of writing.
pub const DEFAULT_CHECKPOINT_ROWS: u64 = 20_000;
/// At most this long before its deadline an invocation stops.
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_secs(5);
/// Rows an invocation reads before it may stop, however close its deadline:
/// every invocation makes progress.
const MIN_ROWS: u64 = 1_000;
/// A lease without a deadline (no Lambda context): 15 minutes, Lambda's
/// longest invocation.
const UNBOUNDED_LEASE_SECONDS: i64 = 900;
/// A part of a rejects report is a segment's rejects: small.
const MAX_REJECTS_PART_BYTES: usize = 256 << 20;

/// The metadata file is small; anything bigger is not a metadata file.
const MAX_METADATA_BYTES: usize = 1 << 20;
/// Valid rows parsed ahead of the writers (row mode).
const CHANNEL_DEPTH: usize = 1024;
/// Groups parsed ahead of each lane (batch mode): with the group the lane is
/// writing and the one the parser is filling, at most
/// `(LANE_DEPTH + 2) * MAX_BATCH` rows per lane are held.
const LANE_DEPTH: usize = 1;

#[derive(Debug, Clone)]
pub struct Settings {
    pub initial_from_date: Timestamp,
    /// Row mode: conditional writes in flight; batch mode: transactions
    /// (lanes) in flight.
    pub write_concurrency: usize,
    /// How a write the table keeps throttling is retried.
    pub throttling: Throttling,
    pub write_mode: WriteMode,
    /// Rows between checkpoints of an export (a crash resumes from the last).
    pub checkpoint_rows: u64,
    /// How long before its deadline an invocation stops at a checkpoint, at
    /// most (half the time left when that is shorter).
    pub deadline_margin: Duration,
}

impl Default for Settings {
    /// The function's defaults (`docs/configuration.md`).
    fn default() -> Self {
        Self {
            initial_from_date: Timestamp::parse(DEFAULT_INITIAL_FROM_DATE).expect("a valid default"),
            write_concurrency: 32,
            throttling: Throttling::default(),
            write_mode: WriteMode::default(),
            checkpoint_rows: DEFAULT_CHECKPOINT_ROWS,
            deadline_margin: DEFAULT_DEADLINE_MARGIN,
        }
    }
}

impl Settings {
    /// How [`apply_export_with`] writes under these settings.
    pub fn writes(&self) -> Writes {
        Writes { mode: self.write_mode, concurrency: self.write_concurrency, throttling: self.throttling }
    }
}

/// How the rows of an export are written (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteMode {
    /// Groups of up to [`MAX_BATCH`] rows per `TransactWriteItems`.
    #[default]
    Batch,
    /// One conditional `PutItem` per row.
    Row,
}

impl WriteMode {
    pub fn parse(v: &str) -> Result<Self, &'static str> {
        match v {
            "batch" => Ok(Self::Batch),
            "row" => Ok(Self::Row),
            _ => Err("must be batch or row"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Batch => "batch",
            Self::Row => "row",
        }
    }
}

/// The write side of [`apply_export_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Writes {
    pub mode: WriteMode,
    /// Row mode: writes in flight; batch mode: lanes, each with at most one
    /// group in flight.
    pub concurrency: usize,
    pub throttling: Throttling,
}

/// Sustained throttling slows the ingest down instead of failing it: a write
/// still throttled after the SDK's own attempts, or turned away because
/// another transaction held the item (`TransactionConflict`), waits
/// (exponential backoff with jitter, capped) and is sent again, up to
/// `max_rounds` more times (with the defaults, 41 to 82 s of waiting in all).
/// While a writer (a row, or a lane in batch mode) waits it sends nothing, so
/// the load on the table falls with the throttling. Other errors (5xx,
/// timeouts) get the SDK's retries (with backoff) only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttling {
    pub max_rounds: u32,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for Throttling {
    /// Up to about 80 s of waiting for one write: well inside the function's
    /// timeout, long enough for on-demand capacity to scale.
    fn default() -> Self {
        Self { max_rounds: 12, initial_backoff: Duration::from_millis(200), max_backoff: Duration::from_secs(10) }
    }
}

impl Throttling {
    /// The wait before round `round` (1-based): "equal jitter", between half
    /// of the capped exponential and all of it, spread by `seed` (any
    /// per-write number) so that throttled writers do not return together.
    fn backoff(&self, round: u32, seed: u64) -> Duration {
        let cap = self.initial_backoff.saturating_mul(1u32 << round.min(16)).min(self.max_backoff);
        // A cheap hash of the seed and the round: no RNG crate for jitter.
        let mut x = seed ^ u64::from(round).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        let frac = (x % 1000) as u32;
        (cap / 2) + cap.mul_f64(f64::from(frac) / 2000.0)
    }
}

/// Everything `main` reads from the environment (`docs/configuration.md`).
#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    pub settings: Settings,
    pub metrics_namespace: String,
    /// `AWS_LAMBDA_FUNCTION_NAME` (set by Lambda): the function a
    /// continuation invokes, this one.
    pub function_name: Option<String>,
}

impl Config {
    /// Reads and checks every variable; the error names the first bad one.
    pub fn from_env() -> Result<Self, ConfigError> {
        let initial = env_or("INITIAL_FROM_DATE", DEFAULT_INITIAL_FROM_DATE);
        let concurrency = env_or("WRITE_CONCURRENCY", "32");
        let mode = env_or("WRITE_MODE", "batch");
        Ok(Self {
            table_name: env_required("TABLE_NAME")?,
            settings: Settings {
                initial_from_date: parse_var("INITIAL_FROM_DATE", &initial, Timestamp::parse)?,
                write_concurrency: parse_var("WRITE_CONCURRENCY", &concurrency, |v| match v.parse::<usize>() {
                    Ok(n) if (1..=512).contains(&n) => Ok(n),
                    _ => Err("must be a whole number from 1 to 512"),
                })?,
                throttling: Throttling::default(),
                write_mode: parse_var("WRITE_MODE", &mode, WriteMode::parse)?,
                ..Settings::default()
            },
            metrics_namespace: env_or("METRICS_NAMESPACE", "PscBridge"),
            function_name: std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok().filter(|v| !v.trim().is_empty()),
        })
    }
}

/// Why an invocation failed. Lambda retries a failed invocation, and every
/// step is safe to repeat.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("the SNS message is not a valid CAS notification: {0}")]
    BadNotification(String),
    /// A table read or write failed (after the SDK's retries).
    #[error(transparent)]
    Store(AwsError),
    #[error("{source} (object {uri})")]
    S3 { uri: String, source: AwsError },
    #[error("export {request_id}: reading the CSV failed: {source}")]
    Read { request_id: String, source: ReadError },
    #[error(
        "export {request_id}: {failed} write(s) failed after retries; the export is not applied and will be retried"
    )]
    WritesFailed { request_id: String, failed: u64 },
    #[error("export {request_id}: the rejects report could not be written: {detail}")]
    RejectsReport { request_id: String, detail: String },
    /// The continuation could not be invoked: this invocation fails, and
    /// Lambda's retry resumes from the checkpoint.
    #[error("the export could not go on in a new invocation: {}", .0.summary())]
    Continuation(AwsError),
}

impl IngestError {
    /// The error type Lambda reports (and logs filter on).
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::BadNotification(_) => "BadNotification",
            Self::Store(_) => "StoreError",
            Self::S3 { .. } => "S3Error",
            Self::Read { .. } => "ReadError",
            Self::WritesFailed { .. } => "WritesFailed",
            Self::RejectsReport { .. } => "RejectsReportFailed",
            Self::Continuation(_) => "ContinuationFailed",
        }
    }
}

/// The one place ingest-export's errors become Lambda's: a meaningful error
/// type, a message without contact data.
impl From<IngestError> for Diagnostic {
    fn from(e: IngestError) -> Self {
        Diagnostic { error_type: e.error_type().to_owned(), error_message: e.to_string() }
    }
}

/// What one notification led to.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportSummary {
    pub request_id: String,
    #[serde(serialize_with = "status_json")]
    pub status: ExportStatus,
    #[serde(serialize_with = "counts_json")]
    pub counts: Counts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watermark: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejects_report: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// True when this delivery repeated one already applied.
    pub duplicate: bool,
}

fn status_json<Z: serde::Serializer>(status: &ExportStatus, z: Z) -> Result<Z::Ok, Z::Error> {
    z.serialize_str(status.as_str())
}

fn counts_json<Z: serde::Serializer>(c: &Counts, z: Z) -> Result<Z::Ok, Z::Error> {
    serde_json::json!({
        "created": c.created,
        "updated": c.updated,
        "deleted": c.deleted,
        "skippedStale": c.skipped_stale,
        "rejected": c.rejected,
    })
    .serialize(z)
}

/// The handler: built once per Lambda instance.
pub struct Ingest<S, O, C = NoContinuation> {
    objects: O,
    store: S,
    settings: Settings,
    metrics: Metrics,
    continuation: C,
}

/// One invocation of the function: its request id (the lease's owner;
/// Lambda retries an invocation with the same one) and its deadline.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub id: String,
    /// `None`: no deadline (tests, the benchmark).
    pub deadline: Option<std::time::SystemTime>,
}

impl Invocation {
    /// An invocation without a deadline.
    pub fn unbounded(id: impl Into<String>) -> Self {
        Self { id: id.into(), deadline: None }
    }
}

/// No continuation: an ingest without a deadline never needs one.
pub struct NoContinuation;

impl Continuation for NoContinuation {
    async fn continue_later(&self, _payload: &serde_json::Value) -> Result<(), AwsError> {
        Err(AwsError::local(
            "Lambda",
            "Invoke",
            psc_bridge::aws::Failure::BadRequest,
            "no continuation is configured (AWS_LAMBDA_FUNCTION_NAME)".to_owned(),
        ))
    }
}

/// What a continuation invocation gets: the notification again (the same
/// handler applies it, from the export's checkpoint).
pub fn continuation_payload(message: &str, request_id: &str, from: Position) -> serde_json::Value {
    serde_json::json!({
        "continuation": {"message": message, "requestId": request_id, "fromLine": from.line, "fromByte": from.byte}
    })
}

/// Result of streaming one CSV into the table.
#[derive(Debug)]
pub struct ApplyReport {
    pub counts: Counts,
    /// Writes that failed after the SDK's retries.
    pub failed_writes: u64,
    /// Rows sent again after the table throttled them or a concurrent
    /// transaction held their item (see [`Throttling`]).
    pub throttled_retries: u64,
    /// The rejects report (CSV), when rows were rejected.
    pub rejects: Option<tempfile::NamedTempFile>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Header(#[from] HeaderError),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("the rejects report could not be written locally: {0}")]
    Rejects(String),
}

/// Header of the rejects report: line, reason and non-personal identifiers only.
pub const REJECTS_HEADER: [&str; 7] =
    ["line", "reason", "customerGuid", "subscriptionGuid", "productCode", "awsAccountId", "operationType"];

struct RejectsFile {
    writer: Option<csv::Writer<BufWriter<tempfile::NamedTempFile>>>,
}

impl RejectsFile {
    fn add(&mut self, r: &Reject) -> Result<(), ApplyError> {
        let io = |e: &dyn std::fmt::Display| ApplyError::Rejects(e.to_string());
        if self.writer.is_none() {
            let file = tempfile::NamedTempFile::new().map_err(|e| io(&e))?;
            let mut w = csv::Writer::from_writer(BufWriter::new(file));
            w.write_record(REJECTS_HEADER).map_err(|e| io(&e))?;
            self.writer = Some(w);
        }
        let w = self.writer.as_mut().expect("created above");
        let opt = |v: Option<&str>| v.unwrap_or("").to_owned();
        w.write_record([
            r.line.to_string(),
            r.reason.clone(),
            opt(r.customer_guid.as_ref().map(|g| g.as_str())),
            opt(r.subscription_guid.as_ref().map(|g| g.as_str())),
            opt(r.product_code.as_ref().map(|g| g.as_str())),
            opt(r.aws_account_id.as_ref().map(|g| g.as_str())),
            opt(r.operation_type.map(|o| o.as_str())),
        ])
        .map_err(|e| io(&e))
    }

    fn finish(self) -> Result<Option<tempfile::NamedTempFile>, ApplyError> {
        let Some(w) = self.writer else { return Ok(None) };
        let mut buf = w.into_inner().map_err(|e| ApplyError::Rejects(e.to_string()))?;
        buf.flush().map_err(|e| ApplyError::Rejects(e.to_string()))?;
        let file = buf.into_inner().map_err(|e| ApplyError::Rejects(e.to_string()))?;
        Ok(Some(file))
    }
}

/// Reads, validates and applies one export CSV in batch mode, with the
/// default [`Throttling`] (see [`apply_export_with`]).
pub async fn apply_export<S: ContactStore, R: Read + Send + 'static>(
    store: &S,
    input: R,
    request_id: &str,
    watermark: Timestamp,
    write_concurrency: usize,
) -> Result<ApplyReport, ApplyError> {
    let writes = Writes { mode: WriteMode::Batch, concurrency: write_concurrency, throttling: Throttling::default() };
    apply_export_with(store, input, request_id, watermark, writes).await
}

/// One conditional write; one the table is too busy for waits and is sent
/// again (see [`Throttling`]). Returns the outcome and how many times it
/// waited.
async fn apply_one<S: ContactStore>(
    store: &S,
    rec: &ContactRecord,
    request_id: &str,
    throttling: Throttling,
    seed: u64,
) -> (Result<WriteOutcome, AwsError>, u32) {
    let mut round = 0;
    loop {
        match store.apply(rec, request_id).await {
            Err(e) if e.is_contention() && round < throttling.max_rounds => {
                round += 1;
                tokio::time::sleep(throttling.backoff(round, seed)).await;
            }
            result => return (result, round),
        }
    }
}

/// What the writers did: the counts of written rows, the writes given up
/// on, and the rows sent again after waiting.
#[derive(Debug, Default)]
struct Tally {
    counts: Counts,
    failed: u64,
    waits: u64,
}

impl Tally {
    fn add(&mut self, rec: &ContactRecord, result: Result<WriteOutcome, AwsError>) {
        match result {
            Ok(WriteOutcome::Applied) => match rec.operation_type() {
                OperationType::Create => self.counts.created += 1,
                OperationType::Update => self.counts.updated += 1,
                OperationType::Delete => self.counts.deleted += 1,
            },
            Ok(WriteOutcome::Stale) => self.counts.skipped_stale += 1,
            Err(e) => {
                self.failed += 1;
                warn!(customer_guid = %rec.key.customer_guid, error = %e.summary(), "write failed after retries");
            }
        }
    }

    fn merge(mut self, other: Tally) -> Tally {
        self.counts = self.counts.plus(&other.counts);
        self.failed += other.failed;
        self.waits += other.waits;
        self
    }
}

/// One group of distinct contacts, with [`ContactStore::apply_batch`]; the
/// rows the table was too busy for wait and go again, together, until they
/// land or `max_rounds` is spent.
async fn apply_group<S: ContactStore>(
    store: &S,
    mut group: Vec<ContactRecord>,
    request_id: &str,
    throttling: Throttling,
    seed: u64,
    tally: &mut Tally,
) {
    let mut round = 0;
    loop {
        let results = store.apply_batch(&group, request_id).await;
        assert_eq!(results.len(), group.len(), "apply_batch answers once per record");
        let mut again = Vec::new();
        for (rec, result) in group.into_iter().zip(results) {
            match result {
                Err(e) if e.is_contention() && round < throttling.max_rounds => again.push(rec),
                result => tally.add(&rec, result),
            }
        }
        if again.is_empty() {
            return;
        }
        round += 1;
        tally.waits += again.len() as u64;
        tokio::time::sleep(throttling.backoff(round, seed)).await;
        group = again;
    }
}

/// Where a segment of an export stops: after `rows` rows, or once `at` has
/// passed, at a row boundary (the end of the file stops it too).
#[derive(Debug, Clone, Copy, Default)]
pub struct Stop {
    pub rows: Option<u64>,
    pub at: Option<std::time::Instant>,
    /// Rows read before `at` counts.
    pub min_rows: u64,
}

impl Stop {
    /// The whole file.
    pub const NEVER: Stop = Stop { rows: None, at: None, min_rows: 0 };

    fn reached(&self, rows: u64) -> bool {
        self.rows.is_some_and(|n| rows >= n)
            || (rows >= self.min_rows && self.at.is_some_and(|at| std::time::Instant::now() >= at))
    }
}

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
struct Parsed<R: Read> {
    counts: Counts,
    rejects: Option<tempfile::NamedTempFile>,
    /// The reader, to go on with; `None` at the end of the file.
    reader: Option<ExportReader<R>>,
    /// Where the next row starts.
    position: Position,
    header: Vec<String>,
}

/// Reads and validates rows until `stop`, handing every valid row newer
/// than the watermark to `send` (which returns false when the writers are
/// gone).
fn parse_rows<R: Read>(
    input: Input<R>,
    watermark: Timestamp,
    stop: Stop,
    mut send: impl FnMut(ContactRecord) -> bool,
) -> Result<Parsed<R>, ApplyError> {
    let mut reader = input.open()?;
    let mut counts = Counts::default();
    let mut rejects = RejectsFile { writer: None };
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

/// The parser's side of batch mode: the group each lane is being dealt.
struct Lanes {
    senders: Vec<mpsc::Sender<Vec<ContactRecord>>>,
    open: Vec<Vec<ContactRecord>>,
}

impl Lanes {
    fn lane_of(&self, rec: &ContactRecord) -> usize {
        let mut h = std::hash::DefaultHasher::new();
        rec.key.customer_guid.hash(&mut h);
        (h.finish() % self.senders.len() as u64) as usize
    }

    /// Adds a row to its lane's group; a full group, or one that already
    /// holds this contact, goes to the lane first. False when the writers
    /// are gone.
    fn push(&mut self, rec: ContactRecord) -> bool {
        let lane = self.lane_of(&rec);
        let guid = &rec.key.customer_guid;
        if self.open[lane].iter().any(|r| &r.key.customer_guid == guid) && !self.send(lane) {
            return false;
        }
        self.open[lane].push(rec);
        self.open[lane].len() < MAX_BATCH || self.send(lane)
    }

    fn send(&mut self, lane: usize) -> bool {
        let group = std::mem::replace(&mut self.open[lane], Vec::with_capacity(MAX_BATCH));
        self.senders[lane].blocking_send(group).is_ok()
    }

    /// The last, partly filled groups.
    fn flush(mut self) {
        for lane in 0..self.open.len() {
            if !self.open[lane].is_empty() && !self.send(lane) {
                return;
            }
        }
    }
}

/// Reads, validates and applies one export CSV.
///
/// Rows at or before `watermark` are skipped as stale without a write; every
/// other row is a conditional write that only lands if newer than the table.
/// A write that fails after retries is counted in `failed_writes`; the other
/// rows still apply.
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

/// One segment of an export, applied in full before it returns: every row
/// before `position` is written (or given up on) and counted.
pub struct Segment<R: Read> {
    pub report: ApplyReport,
    /// Where the next row starts.
    pub position: Position,
    /// The export's header (what a checkpoint needs to resume).
    pub header: Vec<String>,
    /// The reader, to go on with; `None` at the end of the file.
    pub reader: Option<ExportReader<R>>,
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
) -> Result<Segment<R>, ApplyError> {
    type Parse<R> = Result<Parsed<R>, ApplyError>;
    let (concurrency, throttling) = (writes.concurrency.max(1), writes.throttling);
    let (tally, parser) = match writes.mode {
        WriteMode::Row => {
            let (tx, rx) = mpsc::channel::<ContactRecord>(CHANNEL_DEPTH);
            let parser = tokio::task::spawn_blocking(move || -> Parse<R> {
                parse_rows(input, watermark, stop, |rec| tx.blocking_send(rec).is_ok())
            });
            let tally = tokio_stream_from(rx)
                .enumerate()
                .map(|(i, rec)| async move {
                    let (result, waited) = apply_one(store, &rec, request_id, throttling, i as u64).await;
                    (rec, result, waited)
                })
                .buffer_unordered(concurrency)
                .fold(Tally::default(), |mut t, (rec, result, waited)| async move {
                    t.waits += u64::from(waited);
                    t.add(&rec, result);
                    t
                })
                .await;
            (tally, parser)
        }
        WriteMode::Batch => {
            let (senders, receivers): (Vec<_>, Vec<_>) =
                (0..concurrency).map(|_| mpsc::channel::<Vec<ContactRecord>>(LANE_DEPTH)).unzip();
            let parser = tokio::task::spawn_blocking(move || -> Parse<R> {
                let open = senders.iter().map(|_| Vec::with_capacity(MAX_BATCH)).collect();
                let mut lanes = Lanes { senders, open };
                let parsed = parse_rows(input, watermark, stop, |rec| lanes.push(rec));
                lanes.flush();
                parsed
            });
            let tally = receivers
                .into_iter()
                .enumerate()
                .map(|(lane, mut rx)| async move {
                    let mut tally = Tally::default();
                    let mut n = 0u64;
                    while let Some(group) = rx.recv().await {
                        let seed = (lane as u64) << 32 | n;
                        apply_group(store, group, request_id, throttling, seed, &mut tally).await;
                        n += 1;
                    }
                    tally
                })
                .collect::<futures::stream::FuturesUnordered<_>>()
                .fold(Tally::default(), |all, lane| async move { all.merge(lane) })
                .await;
            (tally, parser)
        }
    };
    let parsed = parser.await.expect("the CSV parser thread panicked")?;
    // The writers count the written rows, the parser the stale (by the
    // watermark) and the rejected ones.
    let counts = tally.counts.plus(&parsed.counts);
    Ok(Segment {
        report: ApplyReport {
            counts,
            failed_writes: tally.failed,
            throttled_retries: tally.waits,
            rejects: parsed.rejects,
        },
        position: parsed.position,
        header: parsed.header,
        reader: parsed.reader,
    })
}

fn tokio_stream_from<T: Send + 'static>(mut rx: mpsc::Receiver<T>) -> impl futures::Stream<Item = T> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Why a step could not go on.
enum Fault {
    /// Retrying cannot fix it: the export is recorded as FAILED, not retried.
    Permanent(String),
    /// The invocation fails, and Lambda retries it.
    Retry(IngestError),
}

fn permanent(reason: String) -> Fault {
    Fault::Permanent(reason)
}

/// Table errors convert with `?`; object-store errors are mapped by hand to
/// [`IngestError::S3`], with the object's URI.
impl From<AwsError> for IngestError {
    fn from(e: AwsError) -> Self {
        Self::Store(e)
    }
}

impl<S: ContactStore + ExportLog, O: ObjectStore> Ingest<S, O> {
    pub fn new(objects: O, store: S, settings: Settings, metrics: Metrics) -> Self {
        Self { objects, store, settings, metrics, continuation: NoContinuation }
    }
}

impl<S: ContactStore + ExportLog, O: ObjectStore, C: Continuation> Ingest<S, O, C> {
    /// How an export that runs out of time goes on: usually an asynchronous
    /// invoke of this function ([`psc_bridge::aws::LambdaInvoker`]).
    pub fn with_continuation<C2: Continuation>(self, continuation: C2) -> Ingest<S, O, C2> {
        let Self { objects, store, settings, metrics, .. } = self;
        Ingest { objects, store, settings, metrics, continuation }
    }

    /// Where continuations go.
    pub fn continuation(&self) -> &C {
        &self.continuation
    }

    /// One invocation's payload: an SNS event, or a continuation
    /// (`{"continuation": {"message": ...}}`, [`continuation_payload`]).
    pub async fn handle(
        &self,
        payload: serde_json::Value,
        inv: &Invocation,
    ) -> Result<Vec<ExportSummary>, IngestError> {
        if let Some(message) = payload.pointer("/continuation/message").and_then(serde_json::Value::as_str) {
            return Ok(vec![self.handle_message_in(message, "continuation", inv).await?]);
        }
        let event: SnsEvent = serde_json::from_value(payload)
            .map_err(|e| IngestError::BadNotification(format!("neither an SNS event nor a continuation: {e}")))?;
        let mut out = Vec::with_capacity(event.records.len());
        for record in event.records {
            out.push(self.handle_message_in(&record.sns.message, &record.sns.message_id, inv).await?);
        }
        Ok(out)
    }

    /// The table it writes to.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The bucket it reads from.
    pub fn objects(&self) -> &O {
        &self.objects
    }

    /// Handles every record of an SNS event.
    pub async fn handle_event(&self, event: SnsEvent) -> Result<Vec<ExportSummary>, IngestError> {
        let mut out = Vec::with_capacity(event.records.len());
        for record in event.records {
            out.push(self.handle_message(&record.sns.message, &record.sns.message_id).await?);
        }
        Ok(out)
    }

    /// Handles one CAS notification (the SNS `Message`), without a deadline.
    pub async fn handle_message(&self, message: &str, sns_message_id: &str) -> Result<ExportSummary, IngestError> {
        self.handle_message_in(message, sns_message_id, &Invocation::unbounded(format!("sns-{sns_message_id}"))).await
    }

    /// Handles one CAS notification in invocation `inv`: stops before its
    /// deadline at a checkpoint and goes on in a continuation.
    pub async fn handle_message_in(
        &self,
        message: &str,
        sns_message_id: &str,
        inv: &Invocation,
    ) -> Result<ExportSummary, IngestError> {
        let notification = parse_notification(message).map_err(|e| {
            error!(sns_message_id, error = %e, "invalid CAS notification");
            IngestError::BadNotification(e.to_string())
        })?;
        match notification {
            Notification::Failed { request_id, message } => {
                let id = request_id.map_or_else(|| format!("unknown-{sns_message_id}"), |r| r.to_string());
                self.record_failure(&id, None, &message).await
            }
            Notification::Delivered { request_id, data_set, metadata } => {
                self.apply_delivered(&request_id, &data_set, &metadata, message, inv).await
            }
        }
    }

    async fn record_failure(
        &self,
        request_id: &str,
        coverage: Option<Coverage>,
        message: &str,
    ) -> Result<ExportSummary, IngestError> {
        error!(request_id, reason = message, "export failed");
        self.store.export_received(request_id, ExportStatus::Failed, coverage, Some(message)).await?;
        self.metrics.emit(&[("ExportFailed", 1.0), ("ExportPartial", 0.0)]);
        Ok(ExportSummary {
            request_id: request_id.to_owned(),
            status: ExportStatus::Failed,
            counts: Counts::default(),
            watermark: None,
            rejects_report: None,
            message: Some(message.to_owned()),
            duplicate: false,
        })
    }

    /// The export's metadata, or why it can never be read (`Permanent`).
    async fn read_metadata(&self, loc: &S3Location, request_id: &RequestId) -> Result<Metadata, Fault> {
        let bytes = match self.objects.read_small(loc, MAX_METADATA_BYTES).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return Err(permanent(format!("the metadata file {} is larger than 1 MiB", loc.uri()))),
            Err(e) if e.has_code(codes::NO_SUCH_KEY) => {
                return Err(permanent(format!("the metadata file {} does not exist", loc.uri())));
            }
            Err(source) => return Err(Fault::Retry(IngestError::S3 { uri: loc.uri(), source })),
        };
        let meta = parse_metadata(&bytes).map_err(|e| permanent(e.to_string()))?;
        if meta.request_id != *request_id {
            return Err(permanent(format!(
                "the metadata file belongs to export {}, not {request_id}",
                meta.request_id
            )));
        }
        Ok(meta)
    }

    async fn apply_delivered(
        &self,
        request_id: &RequestId,
        data_set: &S3Location,
        metadata_loc: &S3Location,
        message: &str,
        inv: &Invocation,
    ) -> Result<ExportSummary, IngestError> {
        let id = request_id.as_str();
        let record = self.store.export(id).await?;
        if let Some(done) = record.as_ref().filter(|e| e.status.is_done()) {
            info!(request_id = id, status = done.status.as_str(), "export already applied; duplicate delivery ignored");
            return Ok(ExportSummary {
                request_id: done.request_id.clone(),
                status: done.status,
                counts: done.counts,
                watermark: self.store.sync_state().await?.watermark,
                rejects_report: done.rejects_report.clone(),
                message: done.message.clone(),
                duplicate: true,
            });
        }
        let metadata = match self.read_metadata(metadata_loc, request_id).await {
            Ok(m) => m,
            Err(Fault::Permanent(reason)) => return self.record_failure(id, None, &reason).await,
            Err(Fault::Retry(e)) => return Err(e),
        };
        let coverage = metadata.coverage;
        let started = std::time::Instant::now();
        // A first delivery marks the export APPLYING; a continuation or a
        // redelivery of one in flight leaves its record as it is (the lease
        // below, not this read, keeps two invocations apart).
        if record.as_ref().is_none_or(|r| r.status != ExportStatus::Applying) {
            self.store.export_received(id, ExportStatus::Applying, Some(coverage), None).await?;
        }
        let until = inv
            .deadline
            .map_or_else(|| Timestamp::now().plus_seconds(UNBOUNDED_LEASE_SECONDS), Timestamp::from_system_time);
        let lease = Lease { owner: inv.id.clone(), until };
        let Some(record) = self.store.claim_export(id, &lease, Timestamp::now()).await? else {
            let now = self.store.export(id).await?;
            let held = now.as_ref().and_then(|r| r.lease.as_ref()).map(|l| l.until.to_iso()).unwrap_or_default();
            info!(request_id = id, lease_until = %held, "export in progress in another invocation; this one ends");
            return Ok(ExportSummary {
                request_id: id.to_owned(),
                status: now.as_ref().map_or(ExportStatus::Applying, |r| r.status),
                counts: now.as_ref().map(|r| r.counts).unwrap_or_default(),
                watermark: self.store.sync_state().await?.watermark,
                rejects_report: None,
                message: Some(format!("in progress in another invocation (its lease runs until {held})")),
                duplicate: true,
            });
        };
        let state = self.store.sync_state().await?;
        let watermark = state.effective_watermark(self.settings.initial_from_date);
        let resume = record.checkpoint.clone();
        let invocations = resume.as_ref().map_or(1, |c| c.invocations + 1);
        info!(
            request_id = id,
            coverage_start = %coverage.start,
            coverage_end = %coverage.end,
            watermark = %watermark,
            from_line = resume.as_ref().map_or(2, |c| c.position.line),
            invocation = invocations,
            "applying export"
        );

        let from = resume.as_ref().map_or(0, |c| c.position.byte);
        let opened = match self.objects.open_from(data_set, from).await {
            Ok(o) => o,
            Err(e) if e.has_code(codes::NO_SUCH_KEY) => {
                let reason = format!("the data set {} does not exist", data_set.uri());
                return self.record_failure(id, Some(coverage), &reason).await;
            }
            Err(source) => return Err(IngestError::S3 { uri: data_set.uri(), source }),
        };
        let size = opened.size;
        let mut input = match &resume {
            Some(c) => Input::Resume { input: opened.reader, header: c.header.clone(), from: c.position },
            None => Input::Start(opened.reader),
        };
        // Stop in time to drain the writes, record the checkpoint and
        // invoke the continuation: at most 5 s before the deadline, and
        // half the time left when that is shorter (a test's short
        // deadline); every invocation reads at least MIN_ROWS rows.
        let stop_at = inv.deadline.map(|d| {
            let left = d.duration_since(std::time::SystemTime::now()).unwrap_or_default();
            started + left.saturating_sub(self.settings.deadline_margin.min(left / 2))
        });
        let mut counts = resume.as_ref().map(|c| c.counts).unwrap_or_default();
        let mut parts = resume.as_ref().map(|c| c.rejects_parts.clone()).unwrap_or_default();
        let mut segment_start = resume.as_ref().map_or(Position { byte: 0, line: 2 }, |c| c.position);
        let mut first = true;
        let mut throttled_retries = 0;
        let (concurrency, throttling, mode) =
            (self.settings.write_concurrency, self.settings.throttling, self.settings.write_mode);
        let writes = Writes { mode, concurrency, throttling };
        let report = loop {
            let stop = Stop {
                rows: Some(self.settings.checkpoint_rows.max(1)),
                at: stop_at,
                min_rows: if first { MIN_ROWS } else { 0 },
            };
            first = false;
            let segment = match apply_segment(&self.store, input, id, watermark, writes, stop).await {
                Ok(seg) => seg,
                Err(ApplyError::Header(e)) => return self.record_failure(id, Some(coverage), &e.to_string()).await,
                Err(ApplyError::Read(e)) => {
                    let reason = format!("reading the CSV failed: {e}");
                    self.fail_for_retry(id, &reason).await?;
                    return Err(IngestError::Read { request_id: id.to_owned(), source: e });
                }
                Err(ApplyError::Rejects(detail)) => {
                    self.fail_for_retry(id, &detail).await?;
                    return Err(IngestError::RejectsReport { request_id: id.to_owned(), detail });
                }
            };
            counts = counts.plus(&segment.report.counts);
            throttled_retries += segment.report.throttled_retries;
            if segment.report.failed_writes > 0 || segment.reader.is_none() {
                // The end (of the file, or of this attempt): the rest below.
                let mut report = segment.report;
                report.counts = counts;
                report.throttled_retries = throttled_retries;
                break report;
            }
            // A checkpoint: this segment's rejects as a part of the report,
            // then the position of the next row.
            if let Some(file) = segment.report.rejects {
                let loc = S3Location {
                    bucket_name: data_set.bucket_name.clone(),
                    key: rejects_part_key(&data_set.key, segment_start.line),
                };
                self.objects
                    .put_file(&loc, file.path(), "text/csv")
                    .await
                    .map_err(|e| IngestError::RejectsReport { request_id: id.to_owned(), detail: e.to_string() })?;
                parts.push(loc.key);
            }
            let checkpoint = Checkpoint {
                position: segment.position,
                size,
                header: segment.header,
                counts,
                rejects_parts: parts.clone(),
                invocations,
                at: Timestamp::now(),
            };
            // Out of time: the lease ends with this checkpoint, for the
            // continuation to take it.
            let out_of_time = stop_at.is_some_and(|at| std::time::Instant::now() >= at);
            if !self.store.save_checkpoint(id, &inv.id, &checkpoint, out_of_time).await? {
                warn!(request_id = id, "another invocation took the export over; this one ends");
                return Ok(in_flight(id, counts, state.watermark, "taken over by another invocation".to_owned(), true));
            }
            info!(
                request_id = id,
                line = checkpoint.position.line,
                byte = checkpoint.position.byte,
                size,
                rows = counts.applied() + counts.skipped_stale + counts.rejected,
                "checkpoint"
            );
            segment_start = segment.position;
            if out_of_time {
                let payload = continuation_payload(message, id, segment.position);
                self.continuation.continue_later(&payload).await.map_err(IngestError::Continuation)?;
                info!(
                    request_id = id,
                    line = segment.position.line,
                    invocation = invocations + 1,
                    "out of time: the export continues in a new invocation"
                );
                let next = format!("continues in invocation {} from line {}", invocations + 1, segment.position.line);
                return Ok(in_flight(id, counts, state.watermark, next, false));
            }
            input = Input::Reader(segment.reader.expect("not at the end"));
        };
        let counts = report.counts;
        if report.failed_writes > 0 {
            let reason = format!("{} write(s) failed after retries; the export will be retried", report.failed_writes);
            let outcome = ExportOutcome {
                status: ExportStatus::Failed,
                counts,
                rejects_report: None,
                message: Some(reason),
                finished_at: Timestamp::now(),
            };
            self.store.export_finished(id, &outcome).await?;
            self.metrics.emit(&[("ExportFailed", 1.0)]);
            return Err(IngestError::WritesFailed { request_id: id.to_owned(), failed: report.failed_writes });
        }

        let rejects_report = match (parts.is_empty(), report.rejects) {
            (true, None) => None,
            (true, Some(file)) => Some(self.upload_rejects(id, data_set, file).await?),
            (false, last) => {
                let file = self.join_rejects(id, data_set, &parts, last).await?;
                Some(self.upload_rejects(id, data_set, file).await?)
            }
        };
        let state = self.store.record_coverage(coverage, self.settings.initial_from_date).await?;
        let status = if counts.rejected > 0 { ExportStatus::Partial } else { ExportStatus::Applied };
        let outcome = ExportOutcome {
            status,
            counts,
            rejects_report: rejects_report.clone(),
            message: None,
            finished_at: Timestamp::now(),
        };
        self.store.export_finished(id, &outcome).await?;
        let now = Timestamp::now();
        let w = state.effective_watermark(self.settings.initial_from_date);
        let age = (now.datetime() - w.datetime()).whole_seconds().max(0) as f64;
        self.metrics.emit(&[
            ("ExportFailed", 0.0),
            ("ExportPartial", if status == ExportStatus::Partial { 1.0 } else { 0.0 }),
            ("RowsApplied", counts.applied() as f64),
            ("RowsRejected", counts.rejected as f64),
            ("RowsStale", counts.skipped_stale as f64),
            ("DataStale", if sync::is_older_than_one_business_day(w, now) { 1.0 } else { 0.0 }),
            ("WatermarkAgeSeconds", age),
        ]);
        if status == ExportStatus::Partial {
            warn!(
                request_id = id,
                rejected = counts.rejected,
                rejects_report = rejects_report.as_deref().unwrap_or(""),
                "export applied with rejected rows"
            );
        }
        info!(
            request_id = id,
            status = status.as_str(),
            created = counts.created,
            updated = counts.updated,
            deleted = counts.deleted,
            skipped_stale = counts.skipped_stale,
            rejected = counts.rejected,
            throttled_retries = report.throttled_retries,
            watermark = ?state.watermark,
            "export applied"
        );
        Ok(ExportSummary {
            request_id: id.to_owned(),
            status,
            counts,
            watermark: state.watermark,
            rejects_report,
            message: None,
            duplicate: false,
        })
    }

    /// Marks the export FAILED before an error that Lambda will retry.
    async fn fail_for_retry(&self, request_id: &str, reason: &str) -> Result<(), AwsError> {
        error!(request_id, reason, "export failed; the invocation fails so Lambda retries it");
        self.metrics.emit(&[("ExportFailed", 1.0)]);
        self.store.export_received(request_id, ExportStatus::Failed, None, Some(reason)).await
    }

    /// The rejects report of an export applied across checkpoints: its
    /// parts (each with its header), in file order, then the last segment's.
    async fn join_rejects(
        &self,
        request_id: &str,
        data_set: &S3Location,
        parts: &[String],
        last: Option<tempfile::NamedTempFile>,
    ) -> Result<tempfile::NamedTempFile, IngestError> {
        let failed = |detail: String| IngestError::RejectsReport { request_id: request_id.to_owned(), detail };
        let mut out = tempfile::NamedTempFile::new().map_err(|e| failed(e.to_string()))?;
        let header = REJECTS_HEADER.join(",");
        writeln!(out, "{header}").map_err(|e| failed(e.to_string()))?;
        let mut append = |bytes: &[u8]| -> Result<(), IngestError> {
            // Every part starts with the header line.
            let body = bytes.splitn(2, |b| *b == b'\n').nth(1).unwrap_or_default();
            out.write_all(body).map_err(|e| failed(e.to_string()))
        };
        for key in parts {
            let loc = S3Location { bucket_name: data_set.bucket_name.clone(), key: key.clone() };
            match self.objects.read_small(&loc, MAX_REJECTS_PART_BYTES).await {
                Ok(Some(bytes)) => append(&bytes)?,
                Ok(None) => return Err(failed(format!("the rejects part {} is larger than 256 MiB", loc.uri()))),
                Err(source) => return Err(IngestError::S3 { uri: loc.uri(), source }),
            }
        }
        if let Some(file) = last {
            let bytes = std::fs::read(file.path()).map_err(|e| failed(e.to_string()))?;
            append(&bytes)?;
        }
        out.flush().map_err(|e| failed(e.to_string()))?;
        Ok(out)
    }

    async fn upload_rejects(
        &self,
        request_id: &str,
        data_set: &S3Location,
        file: tempfile::NamedTempFile,
    ) -> Result<String, IngestError> {
        let loc = S3Location { bucket_name: data_set.bucket_name.clone(), key: rejects_key(&data_set.key) };
        self.objects
            .put_file(&loc, file.path(), "text/csv")
            .await
            .map_err(|e| IngestError::RejectsReport { request_id: request_id.to_owned(), detail: e.to_string() })?;
        Ok(loc.uri())
    }
}

/// The summary of an invocation that leaves its export APPLYING.
fn in_flight(
    id: &str,
    counts: Counts,
    watermark: Option<Timestamp>,
    message: String,
    duplicate: bool,
) -> ExportSummary {
    ExportSummary {
        request_id: id.to_owned(),
        status: ExportStatus::Applying,
        counts,
        watermark,
        rejects_report: None,
        message: Some(message),
        duplicate,
    }
}

/// The rejects report sits beside the export: `<export key>.rejects.csv`.
pub fn rejects_key(data_set_key: &str) -> String {
    format!("{data_set_key}.rejects.csv")
}

/// A part of the rejects report of an export applied across checkpoints:
/// the rejects of the segment that starts at `line`. The name is the same
/// for a segment applied twice (a duplicate continuation), so the part is
/// written over, never counted twice.
pub fn rejects_part_key(data_set_key: &str, line: u64) -> String {
    format!("{data_set_key}.rejects.part-{line:012}.csv")
}
