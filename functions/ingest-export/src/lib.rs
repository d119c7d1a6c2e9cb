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

/// The runtime the function runs on (`main`, and the end-to-end benchmark):
/// one thread for the handler and every write in flight, beside the
/// parser's blocking thread. A Lambda of 1,024 MB has about 0.6 of a vCPU;
/// worker threads handing rows and responses to each other only spent it
/// on context switches (docs/benchmarks-ingest.md, the profile).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()
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
