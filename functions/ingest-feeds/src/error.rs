//! ingest-feeds' errors, and how they become Lambda's.

use lambda_runtime::Diagnostic;
use psc_bridge::aws::AwsError;

/// Why an invocation failed. Lambda retries a failed asynchronous
/// invocation; every step is safe to repeat, and a retry resumes from the
/// objects' recorded progress.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// A table read or write failed (after retries).
    #[error(transparent)]
    Store(#[from] AwsError),
    /// The bucket could not be listed.
    #[error("the feeds bucket could not be listed: {}", .0.summary())]
    List(AwsError),
    /// The run could not go on in a new invocation.
    #[error("the run could not go on in a new invocation: {}", .0.summary())]
    Continuation(AwsError),
}

impl IngestError {
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::Store(_) => "StoreError",
            Self::List(_) => "ListError",
            Self::Continuation(_) => "ContinuationFailed",
        }
    }
}

impl From<IngestError> for Diagnostic {
    fn from(e: IngestError) -> Self {
        Diagnostic { error_type: e.error_type().to_owned(), error_message: e.to_string() }
    }
}
