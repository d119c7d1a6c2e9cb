//! start-export (R1): starts a Product Support Connection export.
//!
//! One invocation, from the EventBridge schedule or by hand:
//! 1. The payload is parsed strictly ([`input`]); a bad one is an
//!    `InvalidInput` error and nothing is called.
//! 2. The sync state is read; `DataStale` and `WatermarkAgeSeconds` are
//!    emitted from it, so the staleness alarm works even when no export
//!    arrives.
//! 3. No pile-up: unless forced, an export requested less than
//!    `PENDING_TIMEOUT_MINUTES` ago and still unanswered (status
//!    `REQUESTED`) makes the run skip, saying which export it waits for.
//! 4. `fromDate` is the watermark, `INITIAL_FROM_DATE` after a full re-sync
//!    (which first resets the watermark), or the payload's own `fromDate`.
//! 5. `StartSupportDataExport` is called (us-east-1, see [`cas_client`]);
//!    only when CAS accepted the request is it recorded as `REQUESTED`.
//!    A failed call is a `CasError` and emits `StartExportFailed`.
//!
//! `docs/start-export.md` describes the rules for operators.

pub mod cas;
pub mod config;
pub mod input;

pub use cas::CasSource;
pub use config::{CAS_REGION, Config, Settings, cas_client};
pub use input::{InputError, StartRequest, Trigger, parse_invocation};
use lambda_runtime::Diagnostic;
use psc_bridge::aws::AwsError;
use psc_bridge::domain::Timestamp;
use psc_bridge::metrics::Metrics;
use psc_bridge::model::{ExportParams, ExportRecord, ExportRequest, ExportStatus};
use psc_bridge::notification::RequestId;
use psc_bridge::ports::{ExportLog, ExportSource};
use psc_bridge::sync;
use serde_json::{Value, json};
use tracing::{error, info, warn};

/// `customerDefinedValues.requestedBy` of every request.
pub const REQUESTED_BY: &str = "psc-bridge";

/// How many of the newest export records the pile-up check looks at.
const PENDING_LOOKBACK: i32 = 10;

/// Why an invocation failed. Each kind has its own Lambda error type.
#[derive(Debug, thiserror::Error)]
pub enum StartExportError {
    /// The payload is not an accepted shape; nothing was called.
    #[error(transparent)]
    InvalidInput(#[from] InputError),
    /// `StartSupportDataExport` failed (after retries); nothing was recorded.
    #[error(transparent)]
    Cas(AwsError),
    /// CAS answered, but without a usable request id; nothing was recorded.
    #[error("StartSupportDataExport answered without a usable dataSetRequestId ({0})")]
    CasAnswer(String),
    /// The table could not be read or the watermark reset; no export was started.
    #[error("{0}; no export was started")]
    Store(AwsError),
    /// CAS accepted the request, but recording it failed.
    #[error(
        "CAS accepted export {request_id}, but recording it as REQUESTED failed: {source}; \
         ingest-export records its outcome when the notification arrives"
    )]
    NotRecorded { request_id: String, source: AwsError },
}

impl StartExportError {
    /// The error type Lambda reports (and alarms and log filters match).
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::InvalidInput(_) => "InvalidInput",
            Self::Cas(_) | Self::CasAnswer(_) => "CasError",
            Self::Store(_) => "StoreError",
            Self::NotRecorded { .. } => "ExportNotRecorded",
        }
    }
}

/// The one place start-export's errors become Lambda's.
impl From<StartExportError> for Diagnostic {
    fn from(e: StartExportError) -> Self {
        Diagnostic { error_type: e.error_type().to_owned(), error_message: e.to_string() }
    }
}

/// Table errors convert with `?`; a CAS error is mapped by hand.
impl From<AwsError> for StartExportError {
    fn from(e: AwsError) -> Self {
        Self::Store(e)
    }
}

/// What a successful invocation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// CAS accepted the request; it is recorded as `REQUESTED`.
    Started { request_id: String, from_date: Timestamp, data_set_type: String, trigger: Trigger },
    /// An unanswered export blocks this run (no pile-up).
    Skipped { reason: String, pending_request_id: String },
}

impl Outcome {
    /// The invocation's JSON result.
    pub fn to_json(&self) -> Value {
        match self {
            Self::Started { request_id, from_date, data_set_type, trigger } => json!({
                "requestId": request_id,
                "fromDate": from_date.to_iso(),
                "dataSetType": data_set_type,
                "trigger": trigger.as_str(),
            }),
            Self::Skipped { reason, pending_request_id } => json!({
                "skipped": true,
                "reason": reason,
                "pendingRequestId": pending_request_id,
            }),
        }
    }
}

/// One invocation's result and the metrics it emits.
#[derive(Debug)]
pub struct Report {
    pub outcome: Result<Outcome, StartExportError>,
    pub metrics: Vec<(&'static str, f64)>,
}

impl Report {
    /// The value of one metric of this report.
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }
}

/// The handler: built once per Lambda instance.
pub struct StartExport<X, L> {
    source: X,
    store: L,
    settings: Settings,
    metrics: Metrics,
}

impl<X: ExportSource, L: ExportLog> StartExport<X, L> {
    /// `source` is the CAS client ([`cas_client`]) in production.
    pub fn new(source: X, store: L, settings: Settings, metrics: Metrics) -> Self {
        Self { source, store, settings, metrics }
    }

    /// Handles one invocation: emits its metrics and returns its JSON result.
    pub async fn handle(&self, payload: Value) -> Result<Value, StartExportError> {
        let report = self.run(payload).await;
        if !report.metrics.is_empty() {
            self.metrics.emit(&report.metrics);
        }
        report.outcome.map(|o| o.to_json())
    }

    /// Handles one invocation without emitting: the outcome and the metrics
    /// [`StartExport::handle`] would emit.
    pub async fn run(&self, payload: Value) -> Report {
        let now = Timestamp::now();
        let invocation = match parse_invocation(&payload, now) {
            Ok(i) => i,
            Err(e) => {
                warn!(field = %e.field, error = %e, "invalid input; nothing started");
                return Report { outcome: Err(e.into()), metrics: Vec::new() };
            }
        };
        let mut metrics = Vec::new();
        let outcome = self.start(&invocation, now, &mut metrics).await;
        match &outcome {
            Ok(_) => metrics.push(("StartExportFailed", 0.0)),
            Err(e) => {
                error!(error_type = e.error_type(), error = %e, trigger = %invocation.trigger, "no export started");
                // NotRecorded: the export did start; its outcome still arrives.
                let started = matches!(e, StartExportError::NotRecorded { .. });
                metrics.push(("StartExportFailed", if started { 0.0 } else { 1.0 }));
            }
        }
        Report { outcome, metrics }
    }

    async fn start(
        &self,
        inv: &StartRequest,
        now: Timestamp,
        metrics: &mut Vec<(&'static str, f64)>,
    ) -> Result<Outcome, StartExportError> {
        let initial = self.settings.initial_from_date;
        let state = self.store.sync_state().await?;
        let watermark = state.effective_watermark(initial);
        let age = (now.datetime() - watermark.datetime()).whole_seconds().max(0) as f64;
        let stale = sync::is_older_than_one_business_day(watermark, now);
        metrics.push(("DataStale", if stale { 1.0 } else { 0.0 }));
        metrics.push(("WatermarkAgeSeconds", age));
        info!(
            trigger = %inv.trigger,
            force = inv.force,
            event_id = inv.event_id.as_deref().unwrap_or(""),
            watermark = %watermark,
            watermark_set = state.watermark.is_some(),
            data_stale = stale,
            "start-export invoked"
        );

        if !inv.force
            && let Some(pending) = self.pending_export(now).await?
        {
            let since = pending.requested_at.map_or_else(|| "an unknown time".to_owned(), |t| t.to_iso());
            let reason = format!(
                "export {} requested at {since} is still unanswered (less than {} minutes ago); \
                 invoke with {{\"force\": true}} to start another anyway",
                pending.request_id,
                self.settings.pending_timeout.whole_minutes()
            );
            info!(pending_request_id = %pending.request_id, requested_at = %since, trigger = %inv.trigger, "skipped: an export is pending");
            return Ok(Outcome::Skipped { reason, pending_request_id: pending.request_id });
        }

        let from_date = match inv.trigger {
            Trigger::FullResync => {
                // Before the call: the full export must not find the old
                // watermark and skip its rows as stale.
                self.store.reset_watermark().await?;
                info!(initial_from_date = %initial, "watermark reset for a full re-sync");
                initial
            }
            Trigger::Schedule | Trigger::Manual => inv.from_date.unwrap_or(watermark),
        };

        let requested_at = Timestamp::now();
        let request_id = self.call_cas(from_date, inv.trigger).await?;
        let request = ExportRequest {
            request_id: request_id.clone(),
            data_set_type: self.settings.data_set_type.clone(),
            from_date,
            requested_at,
            forced: inv.force,
        };
        self.store
            .export_requested(&request)
            .await
            .map_err(|source| StartExportError::NotRecorded { request_id: request_id.to_string(), source })?;
        info!(
            request_id = %request_id,
            from_date = %from_date,
            requested_at = %requested_at,
            data_set_type = %self.settings.data_set_type,
            trigger = %inv.trigger,
            forced = inv.force,
            "export requested"
        );
        Ok(Outcome::Started {
            request_id: request_id.to_string(),
            from_date,
            data_set_type: self.settings.data_set_type.clone(),
            trigger: inv.trigger,
        })
    }

    /// The newest export still unanswered and younger than the timeout.
    async fn pending_export(&self, now: Timestamp) -> Result<Option<ExportRecord>, AwsError> {
        let timeout = self.settings.pending_timeout;
        Ok(self.store.recent_exports(PENDING_LOOKBACK).await?.into_iter().find(|e| {
            e.status == ExportStatus::Requested
                && e.requested_at.is_some_and(|t| now.datetime() - t.datetime() < timeout)
        }))
    }

    async fn call_cas(&self, from_date: Timestamp, trigger: Trigger) -> Result<RequestId, StartExportError> {
        let s = &self.settings;
        let params = ExportParams {
            data_set_type: s.data_set_type.clone(),
            from_date,
            role_arn: s.role_arn.clone(),
            bucket: s.bucket.clone(),
            prefix: s.prefix.clone(),
            sns_topic_arn: s.sns_topic_arn.clone(),
            customer_defined_values: vec![
                ("requestedBy".to_owned(), REQUESTED_BY.to_owned()),
                ("trigger".to_owned(), trigger.as_str().to_owned()),
            ],
        };
        let id = self.source.start_export(&params).await.map_err(StartExportError::Cas)?;
        RequestId::parse(&id).map_err(StartExportError::CasAnswer)
    }
}
