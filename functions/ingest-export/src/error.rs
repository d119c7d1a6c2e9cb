//! ingest-export's errors, and how they become Lambda's.

use lambda_runtime::Diagnostic;
use psc_bridge::aws::AwsError;
use psc_bridge::export_csv::{HeaderError, ReadError};

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

/// Table errors convert with `?`; object-store errors are mapped by hand to
/// [`IngestError::S3`], with the object's URI.
impl From<AwsError> for IngestError {
    fn from(e: AwsError) -> Self {
        Self::Store(e)
    }
}

/// Why streaming a CSV into the table stopped.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Header(#[from] HeaderError),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error("the rejects report could not be written locally: {0}")]
    Rejects(String),
}
