//! ingest-export (R2, R3): CAS notification -> S3 -> DynamoDB.
//!
//! The handler ([`Ingest`]) and its rules, generic over the ports it uses: a
//! [`ContactStore`](psc_bridge::ports::ContactStore) +
//! [`ExportLog`](psc_bridge::ports::ExportLog) (the table) and an
//! [`ObjectStore`](psc_bridge::ports::ObjectStore) (the export bucket).
//! `main.rs` builds the AWS adapters; the tests also run it on the
//! in-memory ones. By concern:
//!
//! * [`config`]: the environment and the settings;
//! * [`error`]: why an invocation fails, as Lambda reports it;
//! * [`pipeline`]: one CSV (or a segment of it) streamed into the table;
//! * [`rejects`]: the rejects report beside the export;
//! * [`handler`]: claim the export, run its segments, finish it; the
//!   segments, checkpoints, lease and continuation are
//!   [`psc_bridge::resumable`]'s, shared with any other long ingest;
//! * [`summary`]: what an invocation answers.
//!
//! The CSV is streamed: a blocking thread reads and validates rows from the
//! object and hands valid ones to the writer in chunks through a bounded
//! channel; memory does not grow with the file. Rejected rows go to a
//! temporary file that becomes the rejects report in S3, beside the export.
//!
//! Each row is one conditional `PutItem`
//! ([`apply`](psc_bridge::ports::ContactStore::apply)), with its newer-than
//! condition: one write request unit per row for the table (the indexes'
//! own, docs/benchmarks-ingest.md), half of what a `TransactWriteItems`
//! costs. `write_concurrency` writes are in flight, all on one thread
//! ([`runtime`]); rows start in file order and a row whose contact already
//! has a write in flight waits for it, so a contact's rows are written in
//! file order, one after the other, as R3 needs. A write the table turns
//! away as older is counted stale, and one that fails transiently
//! (throttling, a transaction conflict, a 5xx, a timeout) waits and is sent
//! again ([`THROTTLING`]), with fewer writes in flight while the faults
//! last; one still failing at the end of the invocation's time leaves its
//! segment to the next invocation, and only after [`DEFAULT_OUTAGE_LIMIT`]
//! without progress is the export given up on (INTERRUPTED, retryable).

pub mod config;
pub mod error;
pub mod handler;
pub mod pipeline;
pub mod rejects;
pub mod summary;

/// The runtime the function runs on (`main`, and the end-to-end benchmark,
/// through [`run_to_end`]): one thread for the handler and every write in
/// flight, beside the parser's blocking thread. A Lambda of 768 MB has
/// about 0.43 of a vCPU;
/// worker threads handing rows and responses to each other only spent it
/// on context switches (docs/benchmarks-ingest.md, the profile).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
}

/// Runs `work` to its end on a new [`runtime`], as a task of it.
///
/// Not as the runtime's `block_on` future: tokio polls that future only
/// after a turn of its I/O driver, so every write answered, which wakes
/// the work, cost one more `epoll_wait` and driver turn before the next
/// write was sent (docs/benchmarks-ingest.md, the profile). A task woken
/// by a connection runs in the same turn. A panic in `work` is resumed
/// here.
pub fn run_to_end<F>(work: F) -> std::io::Result<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let ended = runtime()?.block_on(async move { tokio::spawn(work).await });
    Ok(ended.unwrap_or_else(|e| match e.try_into_panic() {
        Ok(panic) => std::panic::resume_unwind(panic),
        Err(e) => panic!("the runtime stopped the work: {e}"),
    }))
}

/// The function's global allocator (`main`, and the end-to-end benchmark):
/// mimalloc, not glibc's malloc, where malloc and free took a tenth of the
/// CPU per row (docs/benchmarks-ingest.md, the profile).
pub type Allocator = mimalloc::MiMalloc;

pub use config::{
    Config, DEFAULT_CHECKPOINT_ROWS, DEFAULT_DEADLINE_MARGIN, DEFAULT_OUTAGE_LIMIT, Settings, THROTTLING, Writes,
};
pub use error::{ApplyError, IngestError};
pub use handler::Ingest;
pub use pipeline::{AppliedSegment, ApplyReport, Input, apply_export, apply_export_with, apply_segment};
pub use psc_bridge::resumable::NoContinuation;
pub use psc_bridge::resumable::{Invocation, Stop};
pub use rejects::{REJECTS_HEADER, rejects_key, rejects_part_key};
pub use summary::{ExportSummary, continuation_payload};

#[cfg(test)]
mod tests {
    #[test]
    fn run_to_end_answers_the_works_result_and_passes_its_panic_on() {
        let answer = super::run_to_end(async {
            tokio::task::yield_now().await;
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            42
        });
        assert_eq!(answer.unwrap(), 42);
        let panicked = std::panic::catch_unwind(|| super::run_to_end(async { panic!("the work failed") }));
        let message = panicked.unwrap_err();
        assert_eq!(message.downcast_ref::<&str>(), Some(&"the work failed"));
    }
}
