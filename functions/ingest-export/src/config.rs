//! What the function reads from its environment (`docs/configuration.md`),
//! and the settings of an ingest.

use std::time::Duration;

use psc_bridge::config::{
    ConfigError, DEFAULT_INITIAL_FROM_DATE, env_or, env_required, lambda_function_name, parse_var,
};
use psc_bridge::domain::Timestamp;
use psc_bridge::retry::Backoff;

/// Rows between checkpoints by default: a few seconds of writing.
pub const DEFAULT_CHECKPOINT_ROWS: u64 = 20_000;
/// At most this long before its deadline an invocation stops.
pub const DEFAULT_DEADLINE_MARGIN: Duration = Duration::from_secs(5);
/// An export whose table has let no segment finish for this long, across
/// invocations, is given up on and recorded INTERRUPTED (a redelivery
/// resumes it from its checkpoint): two of Lambda's longest invocations.
pub const DEFAULT_OUTAGE_LIMIT: Duration = Duration::from_secs(30 * 60);

/// A slow, throttling or failing table slows the ingest down instead of
/// failing it: a write that fails transiently (throttled, a transaction
/// conflict, a 5xx, a timeout: `AwsError::is_transient`) after the SDK's
/// own attempts waits and is sent again, round after round (waits of 0.2 to
/// 10 s, jittered), until the invocation's time for writes runs out (then
/// the segment starts again in the next invocation); without a deadline,
/// up to 12 more times (41 to 82 s of waiting in all). While a row waits
/// its write slot sends nothing, and each fault halves the writes in flight
/// (`psc_bridge::retry::AdaptiveLimit`), so the load on the table falls
/// with the faults.
pub const THROTTLING: Backoff = Backoff::new(12, Duration::from_millis(400), Duration::from_secs(10));

#[derive(Debug, Clone)]
pub struct Settings {
    pub initial_from_date: Timestamp,
    /// Conditional writes (one row each) in flight.
    pub write_concurrency: usize,
    /// How a write that fails transiently is retried ([`THROTTLING`]).
    pub throttling: Backoff,
    /// Rows between checkpoints of an export (a crash resumes from the last).
    pub checkpoint_rows: u64,
    /// How long before its deadline an invocation stops at a checkpoint, at
    /// most (half the time left when that is shorter).
    pub deadline_margin: Duration,
    /// How long the table may fail transiently with no progress (no
    /// checkpoint), across invocations, before the export is recorded
    /// INTERRUPTED ([`DEFAULT_OUTAGE_LIMIT`]).
    pub outage_limit: Duration,
}

impl Default for Settings {
    /// The function's defaults (`docs/configuration.md`).
    fn default() -> Self {
        Self {
            initial_from_date: Timestamp::parse(DEFAULT_INITIAL_FROM_DATE).expect("a valid default"),
            write_concurrency: 32,
            throttling: THROTTLING,
            checkpoint_rows: DEFAULT_CHECKPOINT_ROWS,
            deadline_margin: DEFAULT_DEADLINE_MARGIN,
            outage_limit: DEFAULT_OUTAGE_LIMIT,
        }
    }
}

impl Settings {
    /// How [`crate::apply_export_with`] writes under these settings.
    pub fn writes(&self) -> Writes {
        Writes { concurrency: self.write_concurrency, throttling: self.throttling }
    }
}

/// The write side of [`crate::apply_export_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Writes {
    /// Conditional writes (one row each) in flight.
    pub concurrency: usize,
    /// How a write that fails transiently is sent again.
    pub throttling: Backoff,
}

/// Everything `main` reads from the environment (`docs/configuration.md`).
#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    pub settings: Settings,
    pub metrics_namespace: String,
    /// `AWS_LAMBDA_FUNCTION_NAME` (set by Lambda): the function a
    /// continuation invokes, this one.
    pub function_name: Option<String>,
}

impl Config {
    /// Reads and checks every variable; the error names the first bad one.
    pub fn from_env() -> Result<Self, ConfigError> {
        let initial = env_or("INITIAL_FROM_DATE", DEFAULT_INITIAL_FROM_DATE);
        let concurrency = env_or("WRITE_CONCURRENCY", "32");
        Ok(Self {
            table_name: env_required("TABLE_NAME")?,
            settings: Settings {
                initial_from_date: parse_var("INITIAL_FROM_DATE", &initial, Timestamp::parse)?,
                write_concurrency: parse_var("WRITE_CONCURRENCY", &concurrency, |v| match v.parse::<usize>() {
                    Ok(n) if (1..=512).contains(&n) => Ok(n),
                    _ => Err("must be a whole number from 1 to 512"),
                })?,
                ..Settings::default()
            },
            metrics_namespace: env_or("METRICS_NAMESPACE", "PscBridge"),
            function_name: lambda_function_name(),
        })
    }
}
