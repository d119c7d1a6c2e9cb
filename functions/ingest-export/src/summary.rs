//! What an invocation answers: one summary per notification.

use psc_bridge::domain::Timestamp;
use psc_bridge::export_csv::Position;
use psc_bridge::model::{Counts, ExportRecord, ExportStatus};
use serde::Serialize;

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

impl ExportSummary {
    /// An export applied to the end.
    pub fn applied(
        request_id: &str,
        status: ExportStatus,
        counts: Counts,
        watermark: Option<Timestamp>,
        rejects_report: Option<String>,
    ) -> Self {
        Self {
            request_id: request_id.to_owned(),
            status,
            counts,
            watermark,
            rejects_report,
            message: None,
            duplicate: false,
        }
    }

    /// An export recorded as FAILED for `message`.
    pub fn failed(request_id: &str, message: &str) -> Self {
        Self {
            request_id: request_id.to_owned(),
            status: ExportStatus::Failed,
            counts: Counts::default(),
            watermark: None,
            rejects_report: None,
            message: Some(message.to_owned()),
            duplicate: false,
        }
    }

    /// A delivery of an export already done: its record's outcome.
    pub fn repeated(done: &ExportRecord, watermark: Option<Timestamp>) -> Self {
        Self {
            request_id: done.request_id.clone(),
            status: done.status,
            counts: done.counts,
            watermark,
            rejects_report: done.rejects_report.clone(),
            message: done.message.clone(),
            duplicate: true,
        }
    }

    /// An invocation that leaves its export in progress (`status`, usually
    /// APPLYING), and why.
    pub fn in_flight(
        request_id: &str,
        status: ExportStatus,
        counts: Counts,
        watermark: Option<Timestamp>,
        message: String,
        duplicate: bool,
    ) -> Self {
        Self {
            request_id: request_id.to_owned(),
            status,
            counts,
            watermark,
            rejects_report: None,
            message: Some(message),
            duplicate,
        }
    }
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

/// What a continuation invocation gets: the notification again (the same
/// handler applies it, from the export's checkpoint).
pub fn continuation_payload(message: &str, request_id: &str, from: Position) -> serde_json::Value {
    serde_json::json!({
        "continuation": {"message": message, "requestId": request_id, "fromLine": from.line, "fromByte": from.byte}
    })
}
