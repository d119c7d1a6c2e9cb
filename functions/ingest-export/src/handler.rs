//! The handler: one notification (or continuation) in, one export applied,
//! in three steps: [claim](Ingest::claim) the export (or see that it needs
//! no work), [run](Ingest::run) its segments until it is done or the
//! invocation's time is up, and [finish](Ingest::finish) it.

use std::time::{Instant, SystemTime};

use aws_lambda_events::event::sns::SnsEvent;
use psc_bridge::aws::{AwsError, codes};
use psc_bridge::domain::Timestamp;
use psc_bridge::export_csv::Position;
use psc_bridge::metrics::Metrics;
use psc_bridge::model::{Checkpoint, Counts, ExportOutcome, ExportRecord, ExportStatus};
use psc_bridge::notification::{Metadata, Notification, RequestId, S3Location, parse_metadata, parse_notification};
use psc_bridge::ports::{ContactStore, Continuation, ExportLog, ObjectReader, ObjectStore};
use psc_bridge::resumable::{Invocation, NoContinuation, Plan, RunEnd, Segment, Segmented, Stop, run_segments};
use psc_bridge::retry::{GaveUp, Patience};
use psc_bridge::sync::{self, Coverage};
use tracing::{error, info, warn};

use crate::config::Settings;
use crate::error::{ApplyError, IngestError};
use crate::pipeline::{ApplyReport, Input, apply_segment};
use crate::rejects;
use crate::summary::{ExportSummary, continuation_payload};

/// Rows an invocation reads before it may stop, however close its deadline:
/// every invocation makes progress.
const MIN_ROWS: u64 = 1_000;
/// The metadata file is small; anything bigger is not a metadata file.
const MAX_METADATA_BYTES: usize = 1 << 20;

/// The handler: built once per Lambda instance.
pub struct Ingest<S, O, C = NoContinuation> {
    objects: O,
    store: S,
    settings: Settings,
    metrics: Metrics,
    continuation: C,
}

/// Why a step could not go on.
enum Fault {
    /// Retrying cannot fix it: the export is recorded as FAILED, not retried.
    Permanent(String),
    /// The invocation fails, and Lambda retries it.
    Retry(IngestError),
}

/// What [`Ingest::claim`] found.
enum Claim {
    /// This invocation holds the export's lease.
    Claimed { record: Box<ExportRecord>, coverage: Coverage },
    /// Nothing to apply here: the answer is already known.
    Answered(ExportSummary),
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

    /// The table it writes to.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The bucket it reads from.
    pub fn objects(&self) -> &O {
        &self.objects
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
                self.record_failure(&id, None, &message, self.log_patience(inv)).await
            }
            Notification::Delivered { request_id, data_set, metadata } => {
                let claimed = match self.claim(&request_id, &metadata, inv).await? {
                    Claim::Claimed { record, coverage } => (*record, coverage),
                    Claim::Answered(summary) => return Ok(summary),
                };
                self.run(claimed, &data_set, message, inv).await
            }
        }
    }

    async fn record_failure(
        &self,
        request_id: &str,
        coverage: Option<Coverage>,
        message: &str,
        log: Patience<'_>,
    ) -> Result<ExportSummary, IngestError> {
        error!(request_id, reason = message, "export failed");
        patiently(log, || self.store.export_received(request_id, ExportStatus::Failed, coverage, Some(message)))
            .await?;
        self.metrics.emit(&[("ExportFailed", 1.0), ("ExportPartial", 0.0)]);
        Ok(ExportSummary::failed(request_id, message))
    }

    /// Marks the export FAILED before an error that Lambda will retry.
    async fn fail_for_retry(&self, request_id: &str, reason: &str, log: Patience<'_>) -> Result<(), AwsError> {
        error!(request_id, reason, "export failed; the invocation fails so Lambda retries it");
        self.metrics.emit(&[("ExportFailed", 1.0)]);
        patiently(log, || self.store.export_received(request_id, ExportStatus::Failed, None, Some(reason))).await
    }

    /// How the export record's writes (its status, lease and checkpoints)
    /// are retried in invocation `inv`: in rounds while they fail
    /// transiently, until shortly before its deadline (without one, the
    /// rounds of [`Settings::throttling`]).
    fn log_patience(&self, inv: &Invocation) -> Patience<'static> {
        let until = inv.deadline.map(|d| {
            let left = d.duration_since(SystemTime::now()).unwrap_or_default();
            Instant::now() + left.saturating_sub((self.settings.deadline_margin / 4).min(left / 8))
        });
        Patience { rounds: self.settings.throttling, until, cut_off: false, limit: None }
    }

    /// Step 1: the export's record and its lease for `inv`, unless the
    /// delivery repeats one already applied, its metadata can never be read,
    /// or another invocation holds it.
    async fn claim(
        &self,
        request_id: &RequestId,
        metadata: &S3Location,
        inv: &Invocation,
    ) -> Result<Claim, IngestError> {
        let id = request_id.as_str();
        let log = self.log_patience(inv);
        let record = self.store.export(id).await?;
        if let Some(done) = record.as_ref().filter(|e| e.status.is_done()) {
            info!(request_id = id, status = done.status.as_str(), "export already applied; duplicate delivery ignored");
            let watermark = self.store.sync_state().await?.watermark;
            return Ok(Claim::Answered(ExportSummary::repeated(done, watermark)));
        }
        let coverage = match self.read_metadata(metadata, request_id).await {
            Ok(m) => m.coverage,
            Err(Fault::Permanent(reason)) => {
                return Ok(Claim::Answered(self.record_failure(id, None, &reason, log).await?));
            }
            Err(Fault::Retry(e)) => return Err(e),
        };
        // A first delivery marks the export APPLYING; a continuation or a
        // redelivery of one in flight leaves its record as it is (the lease
        // below, not this read, keeps two invocations apart).
        if record.as_ref().is_none_or(|r| r.status != ExportStatus::Applying) {
            patiently(log, || self.store.export_received(id, ExportStatus::Applying, Some(coverage), None)).await?;
        }
        let lease = inv.lease();
        if let Some(record) = patiently(log, || self.store.claim_export(id, &lease, Timestamp::now())).await? {
            return Ok(Claim::Claimed { record: Box::new(record), coverage });
        }
        let now = self.store.export(id).await?;
        let held = now.as_ref().and_then(|r| r.lease.as_ref()).map(|l| l.until.to_iso()).unwrap_or_default();
        info!(request_id = id, lease_until = %held, "export in progress in another invocation; this one ends");
        let watermark = self.store.sync_state().await?.watermark;
        Ok(Claim::Answered(ExportSummary::in_flight(
            id,
            now.as_ref().map_or(ExportStatus::Applying, |r| r.status),
            now.as_ref().map(|r| r.counts).unwrap_or_default(),
            watermark,
            format!("in progress in another invocation (its lease runs until {held})"),
            true,
        )))
    }

    /// The export's metadata, or why it can never be read (`Permanent`).
    async fn read_metadata(&self, loc: &S3Location, request_id: &RequestId) -> Result<Metadata, Fault> {
        let bytes = match self.objects.read_small(loc, MAX_METADATA_BYTES).await {
            Ok(Some(bytes)) => bytes,
            Ok(None) => {
                return Err(Fault::Permanent(format!("the metadata file {} is larger than 1 MiB", loc.uri())));
            }
            Err(e) if e.has_code(codes::NO_SUCH_KEY) => {
                return Err(Fault::Permanent(format!("the metadata file {} does not exist", loc.uri())));
            }
            Err(source) => return Err(Fault::Retry(IngestError::S3 { uri: loc.uri(), source })),
        };
        let meta = parse_metadata(&bytes).map_err(|e| Fault::Permanent(e.to_string()))?;
        if meta.request_id != *request_id {
            return Err(Fault::Permanent(format!(
                "the metadata file belongs to export {}, not {request_id}",
                meta.request_id
            )));
        }
        Ok(meta)
    }

    /// Step 2: the export's rows from its checkpoint (or its start), in
    /// segments, until the end of the file or of the invocation's time.
    async fn run(
        &self,
        (record, coverage): (ExportRecord, Coverage),
        data_set: &S3Location,
        message: &str,
        inv: &Invocation,
    ) -> Result<ExportSummary, IngestError> {
        let id = record.request_id.as_str();
        let state = self.store.sync_state().await?;
        let watermark = state.effective_watermark(self.settings.initial_from_date);
        let resume = record.checkpoint.as_ref();
        let invocations = resume.map_or(1, |c| c.invocations + 1);
        info!(
            request_id = id,
            coverage_start = %coverage.start,
            coverage_end = %coverage.end,
            watermark = %watermark,
            from_line = resume.map_or(2, |c| c.position.line),
            invocation = invocations,
            "applying export"
        );
        let opened = match self.objects.open_from(data_set, resume.map_or(0, |c| c.position.byte)).await {
            Ok(o) => o,
            Err(e) if e.has_code(codes::NO_SUCH_KEY) => {
                let reason = format!("the data set {} does not exist", data_set.uri());
                return self.record_failure(id, Some(coverage), &reason, self.log_patience(inv)).await;
            }
            Err(source) => return Err(IngestError::S3 { uri: data_set.uri(), source }),
        };
        let started = Instant::now();
        let stop_at = inv.stop_at(started, self.settings.deadline_margin);
        let mut work = ExportWork {
            ingest: self,
            id,
            owner: &inv.id,
            log: self.log_patience(inv),
            writes_until: stop_at.zip(inv.deadline).map(|(stop, deadline)| {
                // Half way from the stop to the deadline: the other half is
                // for the checkpoint and the continuation.
                let end = started + deadline.duration_since(SystemTime::now()).unwrap_or_default();
                stop + end.saturating_duration_since(stop) / 2
            }),
            rejects: rejects::Report { objects: &self.objects, request_id: id, data_set },
            watermark,
            size: opened.size,
            input: Some(match resume {
                // A checkpoint at the start: an interrupted first segment's.
                Some(c) if c.position.byte > 0 => {
                    Input::Resume { input: opened.reader, header: c.header.clone(), from: c.position }
                }
                _ => Input::Start(opened.reader),
            }),
            header: resume.map(|c| c.header.clone()).unwrap_or_default(),
            progress_at: resume.map_or_else(Timestamp::now, |c| c.at),
            counts: resume.map(|c| c.counts).unwrap_or_default(),
            parts: resume.map(|c| c.rejects_parts.clone()).unwrap_or_default(),
            segment_start: resume.map_or(Position { byte: 0, line: 2 }, |c| c.position),
            invocations,
            throttled_retries: 0,
            last: None,
        };
        let plan = Plan { checkpoint_rows: self.settings.checkpoint_rows, stop_at, min_rows: MIN_ROWS };
        match run_segments(&mut work, &plan).await {
            Ok(RunEnd::Done) => self.finish(work, coverage).await,
            Ok(end) => self.hand_over(end, work, state.watermark, message).await,
            Err(stopped) => self.stopped(stopped, id, coverage, message, work.log).await,
        }
    }

    /// An invocation that ends before its export: out of time (the export
    /// continues in a new invocation), or taken over by another.
    async fn hand_over(
        &self,
        end: RunEnd<Checkpoint>,
        work: ExportWork<'_, S, O, C>,
        watermark: Option<Timestamp>,
        message: &str,
    ) -> Result<ExportSummary, IngestError> {
        let (id, next) = (work.id, work.invocations + 1);
        let RunEnd::OutOfTime(checkpoint) = end else {
            warn!(request_id = id, "another invocation took the export over; this one ends");
            let why = "taken over by another invocation".to_owned();
            return Ok(ExportSummary::in_flight(id, ExportStatus::Applying, work.counts, watermark, why, true));
        };
        let from = checkpoint.position;
        let payload = continuation_payload(message, id, from);
        self.continuation.continue_later(&payload).await.map_err(IngestError::Continuation)?;
        info!(
            request_id = id,
            line = from.line,
            invocation = next,
            "out of time: the export continues in a new invocation"
        );
        let why = format!("continues in invocation {next} from line {}", from.line);
        Ok(ExportSummary::in_flight(id, ExportStatus::Applying, work.counts, watermark, why, false))
    }

    /// A segment that could not be applied: a bad header fails the export
    /// for good; a read or rejects-file error fails it for Lambda to retry.
    async fn stopped(
        &self,
        stopped: Stopped,
        id: &str,
        coverage: Coverage,
        message: &str,
        log: Patience<'_>,
    ) -> Result<ExportSummary, IngestError> {
        match stopped {
            Stopped::Failed(e) => Err(e),
            Stopped::Outage(checkpoint) => self.interrupted(id, &checkpoint, message, log).await,
            Stopped::Apply(ApplyError::Header(e)) => self.record_failure(id, Some(coverage), &e.to_string(), log).await,
            Stopped::Apply(ApplyError::Read(e)) => {
                self.fail_for_retry(id, &format!("reading the CSV failed: {e}"), log).await?;
                Err(IngestError::Read { request_id: id.to_owned(), source: e })
            }
            Stopped::Apply(ApplyError::Rejects(detail)) => {
                self.fail_for_retry(id, &detail, log).await?;
                Err(IngestError::RejectsReport { request_id: id.to_owned(), detail })
            }
        }
    }

    /// No write has succeeded for [`Settings::outage_limit`]: the export is
    /// recorded INTERRUPTED (it keeps its last checkpoint, and a redelivery
    /// of its notification resumes from it), and the invocation ends
    /// without a continuation. The log line holds the payload that resumes
    /// it (the notification names S3 objects, no contact data).
    async fn interrupted(
        &self,
        id: &str,
        checkpoint: &Checkpoint,
        message: &str,
        log: Patience<'_>,
    ) -> Result<ExportSummary, IngestError> {
        let minutes = self.settings.outage_limit.as_secs().div_ceil(60);
        let line = checkpoint.position.line;
        let reason = format!(
            "the table failed transiently (5xx, timeouts or throttling) with no progress for more than {minutes} \
             minute(s), since {}; the export is applied up to line {line} and can be retried: redeliver its \
             notification to resume from there",
            checkpoint.at.to_iso()
        );
        let retry_payload = continuation_payload(message, id, checkpoint.position).to_string();
        error!(
            request_id = id,
            line,
            outage_minutes = minutes,
            retry_payload,
            "export interrupted: the table kept failing; invoke the function with retry_payload to resume it"
        );
        let outcome = ExportOutcome::now(ExportStatus::Interrupted, checkpoint.counts, None, Some(reason.clone()));
        patiently(log, || self.store.export_finished(id, &outcome)).await?;
        self.metrics.emit(&[("ExportInterrupted", 1.0)]);
        Ok(ExportSummary::in_flight(id, ExportStatus::Interrupted, checkpoint.counts, None, reason, false))
    }

    /// Step 3: the export's outcome, its rejects report, the watermark, the
    /// metrics; or FAILED when writes were given up on (Lambda retries).
    async fn finish(&self, work: ExportWork<'_, S, O, C>, coverage: Coverage) -> Result<ExportSummary, IngestError> {
        let id = work.id;
        let report = work.last.expect("a finished run has its last segment");
        let counts = work.counts;
        if report.failed_writes > 0 {
            let reason = format!("{} write(s) failed after retries; the export will be retried", report.failed_writes);
            let outcome = ExportOutcome::now(ExportStatus::Failed, counts, None, Some(reason));
            patiently(work.log, || self.store.export_finished(id, &outcome)).await?;
            self.metrics.emit(&[("ExportFailed", 1.0)]);
            return Err(IngestError::WritesFailed { request_id: id.to_owned(), failed: report.failed_writes });
        }
        let rejects_report = work.rejects.put(&work.parts, report.rejects).await?;
        let state =
            patiently(work.log, || self.store.record_coverage(coverage, self.settings.initial_from_date)).await?;
        let status = if counts.rejected > 0 { ExportStatus::Partial } else { ExportStatus::Applied };
        let outcome = ExportOutcome::now(status, counts, rejects_report.clone(), None);
        patiently(work.log, || self.store.export_finished(id, &outcome)).await?;
        self.metrics.emit(&[("ExportInterrupted", 0.0)]);
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
            throttled_retries = work.throttled_retries,
            watermark = ?state.watermark,
            "export applied"
        );
        Ok(ExportSummary::applied(id, status, counts, state.watermark, rejects_report))
    }
}

/// Why a run of segments stopped short.
enum Stopped {
    Apply(ApplyError),
    Failed(IngestError),
    /// No progress for [`Settings::outage_limit`]: the last checkpoint.
    Outage(Box<Checkpoint>),
}

/// A write of the export record, sent again while it fails transiently
/// ([`AwsError::is_transient`]) until `log` runs out.
async fn patiently<T, F, Fut>(log: Patience<'_>, op: F) -> Result<T, AwsError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, AwsError>>,
{
    match log.run(psc_bridge::retry::seed(), AwsError::is_transient, op).await.0 {
        Ok(v) => Ok(v),
        Err(GaveUp::Permanent(e) | GaveUp::Unfinished(Some(e))) => Err(e),
        Err(GaveUp::Unfinished(None)) => unreachable!("the export record's writes are not cut off"),
    }
}

impl From<AwsError> for Stopped {
    fn from(e: AwsError) -> Self {
        Self::Failed(IngestError::Store(e))
    }
}

/// One invocation's share of an export: its segments, from the checkpoint
/// it resumed (or the start), with the counts and rejects parts so far.
struct ExportWork<'a, S, O, C> {
    ingest: &'a Ingest<S, O, C>,
    id: &'a str,
    /// The invocation holding the lease.
    owner: &'a str,
    /// How the export record's writes are retried.
    log: Patience<'static>,
    /// Until when writes that fail transiently are sent again
    /// ([`Stop::writes_until`]).
    writes_until: Option<Instant>,
    /// The export's header, once read (for a checkpoint to go back to).
    header: Vec<String>,
    /// The last progress: the last checkpoint's time, or the start of the
    /// export's first invocation.
    progress_at: Timestamp,
    rejects: rejects::Report<'a, O>,
    watermark: Timestamp,
    /// The object's size.
    size: u64,
    /// The next segment's rows (`None` while a segment runs).
    input: Option<Input<ObjectReader>>,
    counts: Counts,
    parts: Vec<String>,
    /// Where the segment being applied starts.
    segment_start: Position,
    invocations: u32,
    throttled_retries: u64,
    /// The report of the last segment (the end of the file, or writes given
    /// up on), for [`Ingest::finish`].
    last: Option<ApplyReport>,
}

impl<S: ContactStore + ExportLog, O: ObjectStore, C: Continuation> Segmented for ExportWork<'_, S, O, C> {
    type Checkpoint = Checkpoint;
    type Error = Stopped;

    async fn segment(&mut self, stop: Stop) -> Result<Segment<Checkpoint>, Stopped> {
        let input = self.input.take().expect("a segment's input");
        let writes = self.ingest.settings.writes();
        let stop = Stop { writes_until: self.writes_until, ..stop };
        let segment = apply_segment(&self.ingest.store, input, self.id, self.watermark, writes, stop)
            .await
            .map_err(Stopped::Apply)?;
        if segment.report.unfinished_writes > 0 {
            return self.interrupted(&segment.report);
        }
        self.counts = self.counts.plus(&segment.report.counts);
        self.header.clone_from(&segment.header);
        self.throttled_retries += segment.report.throttled_retries;
        let Some(reader) = segment.reader.filter(|_| segment.report.failed_writes == 0) else {
            // The end (of the file, or of this attempt): Ingest::finish.
            self.last = Some(segment.report);
            return Ok(Segment::Done);
        };
        // A checkpoint: this segment's rejects as a part of the report,
        // then the position of the next row.
        if let Some(file) = segment.report.rejects {
            self.parts.push(self.rejects.put_part(self.segment_start.line, &file).await.map_err(Stopped::Failed)?);
        }
        self.segment_start = segment.position;
        self.input = Some(Input::Reader(reader));
        self.progress_at = Timestamp::now();
        Ok(Segment::Checkpoint(Checkpoint {
            position: segment.position,
            size: self.size,
            header: segment.header,
            counts: self.counts,
            rejects_parts: self.parts.clone(),
            invocations: self.invocations,
            at: self.progress_at,
        }))
    }

    async fn save(&mut self, checkpoint: &Checkpoint, release: bool) -> Result<bool, Stopped> {
        // Out of time (`release`): the lease ends with this checkpoint, for
        // the continuation to take it.
        let store = &self.ingest.store;
        let mut sent = 0;
        let saved = patiently(self.log, || {
            sent += 1;
            store.save_checkpoint(self.id, self.owner, checkpoint, release)
        })
        .await?;
        // A release sent again after an answer was lost finds the lease
        // gone: its own doing when the record holds this checkpoint.
        let saved = saved || (release && sent > 1 && released_with(store, self.id, checkpoint).await?);
        if !saved {
            return Ok(false);
        }
        let rows = self.counts.applied() + self.counts.skipped_stale + self.counts.rejected;
        let (line, byte, size) = (checkpoint.position.line, checkpoint.position.byte, self.size);
        info!(request_id = self.id, line, byte, size, rows, "checkpoint");
        Ok(true)
    }
}

impl<S: ContactStore + ExportLog, O: ObjectStore, C: Continuation> ExportWork<'_, S, O, C> {
    /// A segment with writes still failing transiently at its time: it
    /// starts again from its beginning, in the next invocation (the rows it
    /// wrote are written again there, and count as stale), unless the
    /// table has made no progress for the outage limit.
    fn interrupted(&mut self, report: &crate::pipeline::ApplyReport) -> Result<Segment<Checkpoint>, Stopped> {
        let back = Checkpoint {
            position: self.segment_start,
            size: self.size,
            header: self.header.clone(),
            counts: self.counts,
            rejects_parts: self.parts.clone(),
            invocations: self.invocations,
            at: self.progress_at,
        };
        let stalled = (Timestamp::now().datetime() - self.progress_at.datetime()).unsigned_abs();
        warn!(
            request_id = self.id,
            unfinished = report.unfinished_writes,
            from_line = self.segment_start.line,
            stalled_seconds = stalled.as_secs(),
            "writes still failing transiently at the invocation's time; the segment starts again in a new invocation"
        );
        if stalled > self.ingest.settings.outage_limit {
            return Err(Stopped::Outage(Box::new(back)));
        }
        Ok(Segment::Interrupted(back))
    }
}

/// Whether export `id`'s record holds `checkpoint` without a lease.
async fn released_with<S: ExportLog>(store: &S, id: &str, checkpoint: &Checkpoint) -> Result<bool, AwsError> {
    let record = store.export(id).await?;
    Ok(record.is_some_and(|r| r.lease.is_none() && r.checkpoint.is_some_and(|c| c.position == checkpoint.position)))
}
