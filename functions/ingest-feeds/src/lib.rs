//! ingest-feeds: applies AWS Marketplace's Seller Delivery Data Feeds
//! (`docs/data-feeds.md`) from the seller's bucket to the table.
//!
//! Every invocation (a delivery notification, the daily schedule, a manual
//! run or its own continuation) lists the bucket and applies what changed
//! since the last run:
//!
//! * a month object not seen before, or rewritten (its first bytes
//!   changed), is read from the start;
//! * a month object that grew (AWS appends each day's rows) is read from
//!   where it was applied up to, with a ranged GET;
//! * an unchanged one is not read at all.
//!
//! Rows are read as a stream, a segment at a time
//! ([`psc_bridge::resumable`]); each segment's rows are folded into the
//! items they belong to ([`psc_bridge::feeds::store`]) and only items that
//! changed are written. After every segment the object's state records how
//! far it is applied, so a crash or the end of an invocation resumes there.
//! One invocation at a time applies the feeds (a lease in the table); a run
//! that does not fit in one invocation continues in a new one.

pub mod config;
mod error;
mod ingest;
mod object;

pub use config::{Config, Settings};

/// Gives glibc's malloc one arena (`M_ARENA_MAX`), as `main` and the
/// benchmark do before anything else. Rows are parsed on a blocking thread
/// and freed on the runtime's, and segments are read by whichever blocking
/// thread is free: with an arena per thread, each kept a pass's worth of
/// freed rows (a peak of 90 MB holding 50,000 rows, 48 MB with one arena;
/// mimalloc, which keeps its pages, 70 MB: docs/data-feeds.md,
/// "Benchmark"). The function's threads hardly contend for malloc. Nothing
/// to do on other C libraries.
pub fn one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a tunable of glibc's allocator; called
    // before the runtime starts its threads.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}
pub use error::IngestError;
pub use ingest::FeedIngest;
pub use psc_bridge::resumable::NoContinuation;
