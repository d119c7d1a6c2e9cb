//! The read and application models: what the ports take and give back.
//!
//! Plain data, no storage layout and no wire format: the DynamoDB adapter
//! maps them to items (`aws::dynamodb::item`), and the API answers with its
//! own view types, so neither the table's shape nor these types are the
//! public contract.

use crate::domain::{AwsAccountId, ContactDetails, Guid, ProductCode, RecordKey, Timestamp};
pub use crate::export_csv::Position;
use crate::notification::RequestId;
use crate::sync::Coverage;

/// What a conditional contact write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    Applied,
    /// The table already holds this record at the same or a newer time.
    Stale,
}

/// A live contact on record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredContact {
    pub customer_guid: Guid,
    pub aws_account_id: AwsAccountId,
    pub product_id: Guid,
    pub product_code: ProductCode,
    pub subscription_guid: Guid,
    pub subscription_start_date: Timestamp,
    pub details: ContactDetails,
    pub operation_time: Timestamp,
}

impl StoredContact {
    /// The contact a CREATE/UPDATE record puts.
    pub fn from_record(key: &RecordKey, details: &ContactDetails, operation_time: Timestamp) -> Self {
        Self {
            customer_guid: key.customer_guid.clone(),
            aws_account_id: key.aws_account_id.clone(),
            product_id: key.product_id.clone(),
            product_code: key.product_code.clone(),
            subscription_guid: key.subscription_guid.clone(),
            subscription_start_date: key.subscription_start_date,
            details: details.clone(),
            operation_time,
        }
    }
}

/// Status of an export, from request to outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportStatus {
    Requested,
    Applying,
    Applied,
    Partial,
    Failed,
    /// The table failed (5xx, timeouts, throttling) for longer than the
    /// ingest's outage limit: the export is not applied in full, keeps its
    /// checkpoint, and can be retried (a redelivery of its notification
    /// resumes from the checkpoint).
    Interrupted,
}

impl ExportStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Requested => "REQUESTED",
            Self::Applying => "APPLYING",
            Self::Applied => "APPLIED",
            Self::Partial => "PARTIAL",
            Self::Failed => "FAILED",
            Self::Interrupted => "INTERRUPTED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "REQUESTED" => Self::Requested,
            "APPLYING" => Self::Applying,
            "APPLIED" => Self::Applied,
            "PARTIAL" => Self::Partial,
            "FAILED" => Self::Failed,
            "INTERRUPTED" => Self::Interrupted,
            _ => return None,
        })
    }

    /// The export was applied (fully or with rejected rows); re-applying is pointless.
    pub fn is_done(&self) -> bool {
        matches!(self, Self::Applied | Self::Partial)
    }
}

/// Per-export counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub created: u64,
    pub updated: u64,
    pub deleted: u64,
    pub skipped_stale: u64,
    pub rejected: u64,
}

impl Counts {
    pub fn applied(&self) -> u64 {
        self.created + self.updated + self.deleted
    }

    /// Both counts added up (an export applied in segments).
    pub fn plus(&self, other: &Counts) -> Counts {
        Counts {
            created: self.created + other.created,
            updated: self.updated + other.updated,
            deleted: self.deleted + other.deleted,
            skipped_stale: self.skipped_stale + other.skipped_stale,
            rejected: self.rejected + other.rejected,
        }
    }
}

/// What the table records about one export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRecord {
    pub request_id: String,
    pub status: ExportStatus,
    pub data_set_type: Option<String>,
    pub from_date: Option<Timestamp>,
    pub requested_at: Option<Timestamp>,
    pub forced: bool,
    pub received_at: Option<Timestamp>,
    pub coverage: Option<Coverage>,
    pub finished_at: Option<Timestamp>,
    pub counts: Counts,
    pub rejects_report: Option<String>,
    pub message: Option<String>,
    /// How far the ingest has got, while it runs across invocations.
    pub checkpoint: Option<Checkpoint>,
    /// The invocation working on it now, if any.
    pub lease: Option<Lease>,
}

/// How far an ingest has got: everything before `position` is applied and
/// counted, and its rejected rows are in `rejects_parts`. What a new
/// invocation resumes from; `GET /sync` shows it as progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Where the next row starts in the object.
    pub position: Position,
    /// The object's size in bytes (the share read is `position.byte / size`).
    pub size: u64,
    /// The export's header, to read on from mid-file (column names only).
    pub header: Vec<String>,
    /// The counts of the rows before `position`.
    pub counts: Counts,
    /// The S3 keys of the rejects of the rows before `position`, in file
    /// order (parts of the report, joined when the export ends).
    pub rejects_parts: Vec<String>,
    /// Invocations that have worked on the export so far (1: the first).
    pub invocations: u32,
    pub at: Timestamp,
}

/// An invocation's claim on an export: no other invocation applies it
/// until `until` (its deadline) unless it is the same one (Lambda retries an
/// invocation with its request id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The invocation's request id.
    pub owner: String,
    pub until: Timestamp,
}

impl ExportRecord {
    /// A record with only its id and status set.
    pub fn new(request_id: impl Into<String>, status: ExportStatus) -> Self {
        Self {
            request_id: request_id.into(),
            status,
            data_set_type: None,
            from_date: None,
            requested_at: None,
            forced: false,
            received_at: None,
            coverage: None,
            finished_at: None,
            counts: Counts::default(),
            rejects_report: None,
            message: None,
            checkpoint: None,
            lease: None,
        }
    }
}

/// What start-export writes when CAS accepted a request.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    pub request_id: RequestId,
    pub data_set_type: String,
    pub from_date: Timestamp,
    pub requested_at: Timestamp,
    pub forced: bool,
}

/// How an export ended.
#[derive(Debug, Clone)]
pub struct ExportOutcome {
    pub status: ExportStatus,
    pub counts: Counts,
    pub rejects_report: Option<String>,
    pub message: Option<String>,
    pub finished_at: Timestamp,
}

impl ExportOutcome {
    /// An outcome that finishes now.
    pub fn now(status: ExportStatus, counts: Counts, rejects_report: Option<String>, message: Option<String>) -> Self {
        Self { status, counts, rejects_report, message, finished_at: Timestamp::now() }
    }
}

/// A page of results and the cursor of the next one.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Opaque, URL-safe; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// What an export source (`StartSupportDataExport`) is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportParams {
    pub data_set_type: String,
    pub from_date: Timestamp,
    /// The role the source assumes to write the export.
    pub role_arn: String,
    pub bucket: String,
    pub prefix: String,
    pub sns_topic_arn: String,
    /// `customerDefinedValues`: echoed back in the notification.
    pub customer_defined_values: Vec<(String, String)>,
}
