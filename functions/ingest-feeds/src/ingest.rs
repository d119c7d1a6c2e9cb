//! One invocation: the lease, the run record, the listing, and each
//! changed month object in turn.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use psc_bridge::domain::Timestamp;
use psc_bridge::feeds::{
    AccountRow, AgreementRow, DailyUsageRow, FeedKey, FeedKind, FeedRecord, FeedRun, MonthObject, ObjectReport,
    ObjectState, OfferProductRow, ProductRow, RunStatus, Stored, Trigger, continuation_payload, parse_trigger,
};
use psc_bridge::metrics::Metrics;
use psc_bridge::notification::S3Location;
use psc_bridge::ports::{Continuation, FeedStore, Listed, ObjectStore};
use psc_bridge::resumable::{Invocation, NoContinuation, Plan, RunEnd, run_segments};
use serde_json::{Value, json};

use crate::config::Settings;
use crate::error::IngestError;
use crate::object::{ObjectWork, open_reader, plan_read};

/// The data-feeds ingest, on its ports.
pub struct FeedIngest<O, S, C = NoContinuation> {
    objects: O,
    store: S,
    settings: Settings,
    metrics: Metrics,
    continuation: C,
}

/// How one object's work ended.
enum ObjectEnd {
    Done,
    OutOfTime,
    TakenOver,
}

impl<O: ObjectStore, S: FeedStore> FeedIngest<O, S> {
    pub fn new(objects: O, store: S, settings: Settings, metrics: Metrics) -> Self {
        Self { objects, store, settings, metrics, continuation: NoContinuation }
    }
}

impl<O: ObjectStore, S: FeedStore, C: Continuation> FeedIngest<O, S, C> {
    pub fn with_continuation<C2: Continuation>(self, continuation: C2) -> FeedIngest<O, S, C2> {
        let Self { objects, store, settings, metrics, .. } = self;
        FeedIngest { objects, store, settings, metrics, continuation }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn continuation(&self) -> &C {
        &self.continuation
    }

    /// Handles one invocation; answers with the run's summary.
    pub async fn handle(&self, event: Value, inv: &Invocation) -> Result<Value, IngestError> {
        let trigger = parse_trigger(&event);
        let now = Timestamp::now();
        if let Trigger::Notification(deliveries) = &trigger {
            let failed = deliveries.iter().filter(|d| d.failed()).count();
            self.metrics.emit(&[("FeedDeliveriesFailed", failed as f64)]);
            if failed > 0 {
                tracing::error!(failed, "AWS reports a failed data-feed delivery");
            }
        }
        if !self.store.claim_feeds(&inv.lease(), now).await? {
            tracing::info!(trigger = trigger.name(), "another invocation is applying the feeds");
            return Ok(json!({ "status": "BUSY" }));
        }
        let mut run = self.open_run(&trigger, inv, now).await?;
        let started = Instant::now();
        match self.run(&mut run, inv, started).await {
            Ok(end) => self.finish(run, inv, end).await,
            Err(e) => {
                run.status = RunStatus::Failed;
                run.message = Some(e.to_string());
                run.finished_at = Some(Timestamp::now());
                self.metrics.emit(&[("FeedRunsFailed", 1.0)]);
                // Best effort: the error is the invocation's either way.
                let _ = self.store.save_feed_run(&run).await;
                let _ = self.store.release_feeds(&inv.id).await;
                tracing::error!(run = %run.run_id, error = %e, "the data-feeds run failed");
                Err(e)
            }
        }
    }

    /// The run this invocation works on: a continuation's, or a new one.
    async fn open_run(&self, trigger: &Trigger, inv: &Invocation, now: Timestamp) -> Result<FeedRun, IngestError> {
        if let Trigger::Continuation { run_id } = trigger
            && let Some(mut run) = self.store.feed_run(run_id).await?
            && run.status == RunStatus::Running
        {
            run.invocations += 1;
            return Ok(run);
        }
        let id = format!("{}-{}", now.to_iso(), inv.id);
        let mut run = FeedRun::new(id, trigger.name(), now);
        if let Trigger::Notification(deliveries) = trigger {
            run.deliveries = deliveries.clone();
        }
        self.store.save_feed_run(&run).await?;
        Ok(run)
    }

    /// Lists the bucket and applies every changed month object.
    async fn run(&self, run: &mut FeedRun, inv: &Invocation, started: Instant) -> Result<ObjectEnd, IngestError> {
        let listed =
            self.objects.list(&self.settings.bucket, &self.settings.prefix).await.map_err(IngestError::List)?;
        let states: HashMap<String, ObjectState> =
            self.store.object_states().await?.into_iter().map(|s| (s.key.clone(), s)).collect();
        let mut unknown = BTreeSet::new();
        let (mut skipped, mut unchanged) = (0, 0);
        let mut work = Vec::new();
        for o in listed {
            match FeedKey::parse(&o.key) {
                FeedKey::Month(m) if !m.feed.is_read() => skipped += 1,
                FeedKey::Month(m) => match states.get(&o.key) {
                    Some(st) if st.etag == o.etag && st.complete() => unchanged += 1,
                    st => work.push((m, o, st.cloned())),
                },
                FeedKey::UnknownFeed { folder } => {
                    unknown.insert(folder);
                }
                FeedKey::Other => {}
            }
        }
        run.unknown_folders = unknown.into_iter().collect();
        run.skipped_objects = skipped;
        run.unchanged_objects = unchanged;
        let plan = Plan {
            checkpoint_rows: self.settings.segment_rows,
            stop_at: inv.stop_at(started, self.settings.deadline_margin),
            // Every invocation applies at least a segment, however close
            // its deadline.
            min_rows: self.settings.segment_rows,
        };
        for (n, (month, listed, state)) in work.into_iter().enumerate() {
            if n > 0 && plan.out_of_time() {
                return Ok(ObjectEnd::OutOfTime);
            }
            let end = match month.feed {
                FeedKind::Account => self.object::<AccountRow>(run, inv, &plan, month, &listed, state).await?,
                FeedKind::Product => self.object::<ProductRow>(run, inv, &plan, month, &listed, state).await?,
                FeedKind::OfferProduct => {
                    self.object::<OfferProductRow>(run, inv, &plan, month, &listed, state).await?
                }
                FeedKind::Agreement => self.object::<AgreementRow>(run, inv, &plan, month, &listed, state).await?,
                FeedKind::DailyUsage => self.object::<DailyUsageRow>(run, inv, &plan, month, &listed, state).await?,
                _ => ObjectEnd::Done,
            };
            if !matches!(end, ObjectEnd::Done) {
                return Ok(end);
            }
        }
        Ok(ObjectEnd::Done)
    }

    /// Applies one month object from where it was left.
    async fn object<T: FeedRecord + Stored + Send + 'static>(
        &self,
        run: &mut FeedRun,
        inv: &Invocation,
        plan: &Plan,
        month: MonthObject,
        listed: &Listed,
        applied: Option<ObjectState>,
    ) -> Result<ObjectEnd, IngestError> {
        let loc = S3Location { bucket_name: self.settings.bucket.clone(), key: listed.key.clone() };
        let mut report = ObjectReport {
            key: listed.key.clone(),
            feed: month.feed.folder().to_owned(),
            mode: psc_bridge::feeds::ReadMode::Whole,
            bytes_read: 0,
            rows: 0,
            rejected: 0,
            items_written: 0,
            error: None,
        };
        let opening = match plan_read(&self.objects, &loc, listed, applied.as_ref()).await {
            Ok(o) => o,
            Err(e) => return Ok(self.object_failed(run, report, format!("it could not be read: {}", e.summary()))),
        };
        report.mode = opening.mode;
        let mut state = opening.state;
        state.start_sweep(self.settings.pass_bytes);
        let input = match self.objects.open_from(&loc, state.read_from().0).await {
            Ok(opened) => opened.reader,
            Err(e) => return Ok(self.object_failed(run, report, format!("it could not be read: {}", e.summary()))),
        };
        let reader = match open_reader::<T>(input, &state).await {
            Ok(r) => r,
            // A header without a required column: the whole file is
            // rejected, and not read again until it changes.
            Err(reason) => {
                state.applied_bytes = state.size;
                state.sweep = None;
                self.store.save_object_state(&state).await?;
                run.reject(&listed.key, 1, reason.clone());
                report.rejected = 1;
                return Ok(self.object_failed(run, report, reason));
            }
        };
        let (from, sweep) = (state.applied_bytes, state.sweep.as_ref());
        let (pass, passes) = sweep.map_or((0, 1), |s| (s.pass, s.passes));
        tracing::info!(key = %listed.key, mode = ?report.mode, from, pass, passes, "applying a month object");
        let mut work = ObjectWork {
            objects: &self.objects,
            loc,
            store: &self.store,
            inv,
            run,
            state,
            report,
            reader: Some(reader),
            stopped: None,
        };
        let end = run_segments(&mut work, plan).await?;
        let ObjectWork { report, stopped, run, .. } = work;
        let mut report = report;
        report.error = stopped;
        run.objects.push(report);
        Ok(match end {
            RunEnd::Done => ObjectEnd::Done,
            RunEnd::OutOfTime(_) => ObjectEnd::OutOfTime,
            RunEnd::TakenOver => ObjectEnd::TakenOver,
        })
    }

    fn object_failed(&self, run: &mut FeedRun, mut report: ObjectReport, reason: String) -> ObjectEnd {
        tracing::warn!(key = %report.key, reason = %reason, "a month object was not applied");
        report.error = Some(reason);
        run.objects.push(report);
        ObjectEnd::Done
    }

    /// Records the run's end, or hands it to a continuation.
    async fn finish(&self, mut run: FeedRun, inv: &Invocation, end: ObjectEnd) -> Result<Value, IngestError> {
        match end {
            ObjectEnd::TakenOver => {
                tracing::warn!(run = %run.run_id, "another invocation took the feeds over");
                return Ok(json!({ "runId": run.run_id, "status": "TAKEN_OVER" }));
            }
            ObjectEnd::OutOfTime => {
                self.store.save_feed_run(&run).await?;
                self.store.release_feeds(&inv.id).await?;
                if let Err(e) = self.continuation.continue_later(&continuation_payload(&run.run_id)).await {
                    // The objects' progress is saved: the next run (Lambda's
                    // retry, the schedule, a notification) resumes from it.
                    run.status = RunStatus::Failed;
                    run.message = Some(format!("stopped at the deadline; the continuation failed: {}", e.summary()));
                    run.finished_at = Some(Timestamp::now());
                    self.store.save_feed_run(&run).await?;
                    return Err(IngestError::Continuation(e));
                }
                tracing::info!(run = %run.run_id, rows = run.rows, "out of time: the run goes on in a new invocation");
                return Ok(summary(&run));
            }
            ObjectEnd::Done => {}
        }
        let states = self.store.object_states().await?;
        run.as_of = states.iter().filter(|s| s.complete()).map(|s| s.last_modified).max();
        run.status =
            if run.objects.iter().any(|o| o.error.is_some()) { RunStatus::Partial } else { RunStatus::Succeeded };
        run.finished_at = Some(Timestamp::now());
        self.store.save_feed_run(&run).await?;
        if let Some(as_of) = run.as_of {
            self.store.save_feeds_as_of(as_of).await?;
        }
        self.store.release_feeds(&inv.id).await?;
        let age = run.as_of.map(|t| (Timestamp::now().unix_seconds() - t.unix_seconds()).max(0) as f64);
        let mut figures = vec![
            ("FeedRowsRead", run.rows as f64),
            ("FeedRowsRejected", run.rejected as f64),
            ("FeedItemsWritten", run.items_written as f64),
            ("FeedObjectsFailed", run.objects.iter().filter(|o| o.error.is_some()).count() as f64),
            ("FeedRunsFailed", if run.status == RunStatus::Partial { 1.0 } else { 0.0 }),
        ];
        if let Some(age) = age {
            figures.push(("FeedsAgeSeconds", age));
        }
        self.metrics.emit(&figures);
        tracing::info!(
            run = %run.run_id,
            status = run.status.as_str(),
            objects = run.objects.len(),
            rows = run.rows,
            rejected = run.rejected,
            items = run.items_written,
            "data-feeds run finished"
        );
        Ok(summary(&run))
    }
}

fn summary(run: &FeedRun) -> Value {
    json!({
        "runId": run.run_id,
        "status": run.status.as_str(),
        "objects": run.objects.len(),
        "unchangedObjects": run.unchanged_objects,
        "rows": run.rows,
        "rejected": run.rejected,
        "itemsWritten": run.items_written,
        "bytesRead": run.bytes_read,
        "unknownFolders": run.unknown_folders,
        "asOf": run.as_of,
    })
}
