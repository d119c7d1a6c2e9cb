//! What the writers did, and the write of one row.

use psc_bridge::aws::AwsError;
use psc_bridge::domain::{ContactRecord, OperationType};
use psc_bridge::model::{Counts, WriteOutcome};
use psc_bridge::ports::ContactStore;
use psc_bridge::retry::Backoff;
use tracing::warn;

/// The counts of written rows, the writes given up on, and the rows sent
/// again after waiting.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub counts: Counts,
    pub failed: u64,
    pub waits: u64,
}

impl Tally {
    pub fn add(&mut self, rec: &ContactRecord, result: Result<WriteOutcome, AwsError>) {
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
}

/// One conditional write; one the table is too busy for waits
/// and is sent again (`throttling`). Returns the outcome and how many times
/// it waited.
pub(crate) async fn apply_one<S: ContactStore>(
    store: &S,
    rec: &ContactRecord,
    request_id: &str,
    throttling: Backoff,
    seed: u64,
) -> (Result<WriteOutcome, AwsError>, u32) {
    throttling.run(seed, AwsError::is_contention, || store.apply(rec, request_id)).await
}
