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
//! object and hands valid ones to the writers through bounded channels; memory
//! does not grow with the file. Rejected rows go to a temporary file that
//! becomes the rejects report in S3, beside the export.
//!
//! How rows are written is [`WriteMode`] (`WRITE_MODE`):
//!
//! * `batch` (the default): rows are dealt by Customer Guid to
//!   `write_concurrency` lanes; the parser hands a lane a whole group of up to
//!   [`MAX_BATCH`](psc_bridge::ports::MAX_BATCH) rows of distinct contacts at
//!   a time (one channel message, one wake-up per group), and the lane writes
//!   it with one [`apply_batch`](psc_bridge::ports::ContactStore::apply_batch)
//!   (one `TransactWriteItems`, each `Put` with its own newer-than condition)
//!   before it takes the next. A contact always goes to the same lane, and a
//!   group never holds it twice (a second row of it starts the next group),
//!   so a contact's rows are written in file order, one after the other, as
//!   R3 needs.
//! * `row`: one conditional `PutItem` per row, `write_concurrency` in flight
//!   (the earlier path, kept as the benchmark's baseline).
//!
//! Either way a write the table turns away as older is counted stale, and one
//! that fails transiently (throttling, a transaction conflict, a 5xx, a
//! timeout) waits and is sent again ([`THROTTLING`]), with fewer writes in
//! flight while the faults last; one still failing at the end of the
//! invocation's time leaves its segment to the next invocation, and only
//! after [`DEFAULT_OUTAGE_LIMIT`] without progress is the export given up
//! on (INTERRUPTED, retryable).

pub mod config;
pub mod error;
pub mod handler;
pub mod pipeline;
pub mod rejects;
pub mod summary;

pub use config::{
    Config, DEFAULT_CHECKPOINT_ROWS, DEFAULT_DEADLINE_MARGIN, DEFAULT_OUTAGE_LIMIT, Settings, THROTTLING, WriteMode,
    Writes,
};
pub use error::{ApplyError, IngestError};
pub use handler::Ingest;
pub use pipeline::{AppliedSegment, ApplyReport, Input, apply_export, apply_export_with, apply_segment};
pub use psc_bridge::resumable::NoContinuation;
pub use psc_bridge::resumable::{Invocation, Stop};
pub use rejects::{REJECTS_HEADER, rejects_key, rejects_part_key};
pub use summary::{ExportSummary, continuation_payload};
