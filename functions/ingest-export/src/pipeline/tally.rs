//! What the writers did, and the write of one row.

use psc_bridge::aws::AwsError;
use psc_bridge::domain::{ContactRecord, OperationType};
use psc_bridge::model::{Counts, WriteOutcome};
use psc_bridge::ports::ContactStore;
use psc_bridge::retry::{GaveUp, Patience};
use tracing::warn;

/// The counts of written rows, the writes given up on, the writes left
/// unfinished, and the rows sent again after waiting.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    pub counts: Counts,
    /// Writes that failed for good (a permanent error).
    pub failed: u64,
    /// Writes still failing transiently when the segment's time ran out.
    pub unfinished: u64,
    pub waits: u64,
}

impl Tally {
    pub fn add(&mut self, rec: &ContactRecord, result: Result<WriteOutcome, GaveUp<AwsError>>) {
        match result {
            Ok(WriteOutcome::Applied) => match rec.operation_type() {
                OperationType::Create => self.counts.created += 1,
                OperationType::Update => self.counts.updated += 1,
                OperationType::Delete => self.counts.deleted += 1,
            },
            Ok(WriteOutcome::Stale) => self.counts.skipped_stale += 1,
            Err(GaveUp::Permanent(e)) => {
                self.failed += 1;
                warn!(customer_guid = %rec.key.customer_guid, error = %e.summary(), "write failed");
            }
            // Not a failure: the segment is done again in the next invocation.
            Err(GaveUp::Unfinished(_)) => self.unfinished += 1,
        }
    }
}

/// One conditional write; one that fails transiently (throttled, a
/// transaction conflict, a 5xx, a timeout: [`AwsError::is_transient`])
/// waits and is sent again, round after round, until `patience` runs out.
/// Returns the outcome and how many times it waited.
pub(crate) async fn apply_one<S: ContactStore>(
    store: &S,
    rec: &ContactRecord,
    request_id: &str,
    patience: Patience<'_>,
    seed: u64,
) -> (Result<WriteOutcome, GaveUp<AwsError>>, u32) {
    patience.run(seed, AwsError::is_transient, || store.apply(rec, request_id)).await
}
