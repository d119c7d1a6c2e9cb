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

pub mod config;
pub mod input;

use aws_sdk_marketplacecommerceanalytics as cas;
use aws_sdk_marketplacecommerceanalytics::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_marketplacecommerceanalytics::primitives::DateTime;
use aws_sdk_marketplacecommerceanalytics::types::SupportDataSetType;
use psc_bridge::domain::Timestamp;
use psc_bridge::metrics::Metrics;
use psc_bridge::notification::RequestId;
use psc_bridge::store::{ExportRecord, ExportRequest, ExportStatus, Store, StoreError};
use psc_bridge::sync;
use serde_json::{Value, json};
use tracing::{error, info, warn};

pub use config::{CAS_REGION, Config, Settings, cas_client};
pub use input::{InputError, Invocation, Trigger, parse_invocation};

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
    #[error("StartSupportDataExport failed: {0}")]
    Cas(String),
    /// The table could not be read or the watermark reset; no export was started.
    #[error("{0}; no export was started")]
    Store(#[from] StoreError),
    /// CAS accepted the request, but recording it failed.
    #[error(
        "CAS accepted export {request_id}, but recording it as REQUESTED failed: {source}; \
         ingest-export records its outcome when the notification arrives"
    )]
    NotRecorded { request_id: String, source: StoreError },
}

impl StartExportError {
    /// The error type Lambda reports (and alarms and log filters match).
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::InvalidInput(_) => "InvalidInput",
            Self::Cas(_) => "CasError",
            Self::Store(_) => "StoreError",
            Self::NotRecorded { .. } => "ExportNotRecorded",
        }
    }
}

impl From<StartExportError> for lambda_runtime::Diagnostic {
    fn from(e: StartExportError) -> Self {
        lambda_runtime::Diagnostic { error_type: e.error_type().to_owned(), error_message: e.to_string() }
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
pub struct StartExport {
    cas: cas::Client,
    store: Store,
    settings: Settings,
    metrics: Metrics,
}

impl StartExport {
    pub fn new(cas: cas::Client, store: Store, settings: Settings, metrics: Metrics) -> Self {
        Self { cas, store, settings, metrics }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
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
        inv: &Invocation,
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
    async fn pending_export(&self, now: Timestamp) -> Result<Option<ExportRecord>, StoreError> {
        let timeout = self.settings.pending_timeout;
        Ok(self.store.recent_exports(PENDING_LOOKBACK).await?.into_iter().find(|e| {
            e.status == ExportStatus::Requested
                && e.requested_at.is_some_and(|t| now.datetime() - t.datetime() < timeout)
        }))
    }

    #[allow(deprecated)] // the operation is marked deprecated in every SDK; it is the one PSC has
    async fn call_cas(&self, from_date: Timestamp, trigger: Trigger) -> Result<RequestId, StartExportError> {
        let s = &self.settings;
        let millis = from_date.datetime().unix_timestamp_nanos() / 1_000_000;
        let result = self
            .cas
            .start_support_data_export()
            .data_set_type(SupportDataSetType::from(s.data_set_type.as_str()))
            .from_date(DateTime::from_millis(millis as i64))
            .role_name_arn(&s.role_arn)
            .destination_s3_bucket_name(&s.bucket)
            .destination_s3_prefix(&s.prefix)
            .sns_topic_arn(&s.sns_topic_arn)
            .customer_defined_values("requestedBy", REQUESTED_BY)
            .customer_defined_values("trigger", trigger.as_str())
            .send()
            .await;
        let out = result.map_err(|e| StartExportError::Cas(describe_cas_error(&e)))?;
        let id = out.data_set_request_id().unwrap_or_default();
        RequestId::parse(id).map_err(|reason| {
            StartExportError::Cas(format!("CAS answered without a usable dataSetRequestId ({reason})"))
        })
    }
}

/// The error's code, message and HTTP status; never request values.
pub fn describe_cas_error<E: ProvideErrorMetadata + std::error::Error>(
    e: &SdkError<E, cas::config::http::HttpResponse>,
) -> String {
    let status = e.raw_response().map(|r| r.status().as_u16());
    match e {
        SdkError::ServiceError(se) => {
            let err = se.err();
            format!(
                "{} (HTTP {}): {}",
                err.code().unwrap_or("unknown error"),
                status.map_or_else(|| "?".to_owned(), |s| s.to_string()),
                err.message().unwrap_or("no message")
            )
        }
        SdkError::TimeoutError(_) => "timed out (after retries)".to_owned(),
        SdkError::DispatchFailure(d) if d.is_timeout() => "connection timed out (after retries)".to_owned(),
        SdkError::DispatchFailure(_) => "could not reach the endpoint (after retries)".to_owned(),
        SdkError::ResponseError(_) => {
            format!("unreadable response{}", status.map_or_else(String::new, |s| format!(" (HTTP {s})")))
        }
        _ => "the request could not be built".to_owned(),
    }
}
