//! What the function reads from its environment (`docs/configuration.md`).

use std::time::Duration;

use psc_bridge::config::{ConfigError, env_or, env_required, lambda_function_name, parse_var};

/// Rows a segment holds before it writes their items and records the
/// object's progress: the bound on the function's memory.
pub const DEFAULT_SEGMENT_ROWS: u64 = 50_000;

/// New bytes of a month object per pass (`psc_bridge::feeds::Sweep`): about
/// 38,000 of the synthetic benchmark's usage rows (165 bytes each; AWS's
/// rows have more columns, so fewer), so that a pass's rows fit in one
/// segment with room for the hash's spread, and each item is written once
/// per delivery. (8 MB, about 50,000 rows, split some passes in two.)
pub const DEFAULT_PASS_BYTES: u64 = 6 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Settings {
    /// The bucket the feeds are delivered to.
    pub bucket: String,
    /// Where in it (`""`: the whole bucket, AWS's layout).
    pub prefix: String,
    pub segment_rows: u64,
    /// New bytes of a month object per pass over them.
    pub pass_bytes: u64,
    /// How long before its deadline an invocation stops at a segment's end.
    pub deadline_margin: Duration,
}

impl Settings {
    pub fn new(bucket: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            prefix: String::new(),
            segment_rows: DEFAULT_SEGMENT_ROWS,
            pass_bytes: DEFAULT_PASS_BYTES,
            deadline_margin: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    pub settings: Settings,
    pub metrics_namespace: String,
    /// `AWS_LAMBDA_FUNCTION_NAME`: the function a continuation invokes.
    pub function_name: Option<String>,
}

impl Config {
    /// Reads and checks every variable; the error names the first bad one.
    pub fn from_env() -> Result<Self, ConfigError> {
        let prefix = env_or("FEEDS_PREFIX", "");
        Ok(Self {
            table_name: env_required("TABLE_NAME")?,
            settings: Settings {
                prefix: parse_var("FEEDS_PREFIX", &prefix, |v| {
                    if v.is_empty() || v.ends_with('/') { Ok(v.to_owned()) } else { Err("must be empty or end with /") }
                })?,
                ..Settings::new(env_required("FEEDS_BUCKET")?)
            },
            metrics_namespace: env_or("METRICS_NAMESPACE", "PscBridge"),
            function_name: lambda_function_name(),
        })
    }
}
