//! The records of the data-feeds ingest: where each month object was
//! applied up to ([`ObjectState`]), and what each run did ([`FeedRun`]).
//! Both are kept in the table as JSON (`docs/data-model.md`).

use serde::{Deserialize, Serialize};

use crate::domain::Timestamp;

/// How many rejected rows a run record lists (all are counted).
pub const MAX_LISTED_REJECTS: usize = 100;

/// How much of a month object's start is checked before continuing it from
/// its checkpoint: when these bytes changed, the object was rewritten, not
/// grown, and it is read again from the start.
pub const HEAD_CHECK_BYTES: u64 = 64 * 1024;

/// How far a month object is applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectState {
    /// The S3 key.
    pub key: String,
    /// The object's ETag and size when it was read.
    pub etag: String,
    pub size: u64,
    /// Bytes and lines applied (a row boundary): the checkpoint.
    pub applied_bytes: u64,
    pub applied_lines: u64,
    /// The header row, to read a continuation by name.
    pub header: Vec<String>,
    /// SHA-256 (hex) of the object's first `head_len` bytes.
    pub head_sha256: String,
    pub head_len: u64,
    /// When the object was last written (its delivery).
    pub last_modified: Timestamp,
    /// The passes over the bytes after the checkpoint, while they are
    /// being applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<Sweep>,
}

impl ObjectState {
    /// Whether every byte of this version of the object is applied.
    pub fn complete(&self) -> bool {
        self.applied_bytes >= self.size
    }

    /// Where reading goes on: in the current pass, or from the checkpoint.
    pub fn read_from(&self) -> (u64, u64) {
        match &self.sweep {
            Some(s) => (s.at_bytes, s.at_lines),
            None => (self.applied_bytes, self.applied_lines),
        }
    }

    /// Starts passes over the bytes after the checkpoint, at `pass_bytes` a
    /// pass, unless passes are under way.
    pub fn start_sweep(&mut self, pass_bytes: u64) {
        if self.sweep.is_none() {
            let new_bytes = self.size.saturating_sub(self.applied_bytes);
            self.sweep = Some(Sweep::new(new_bytes, pass_bytes, self.applied_bytes, self.applied_lines));
        }
    }

    /// The current pass has read up to `at` (bytes, lines), a row boundary.
    pub fn pass_at(&mut self, (bytes, lines): (u64, u64)) {
        if let Some(s) = &mut self.sweep {
            (s.at_bytes, s.at_lines) = (bytes, lines);
        }
    }

    /// The current pass has reached its end (`at`, when it is the first
    /// pass, which finds it): the next pass starts from the checkpoint, or,
    /// after the last, the checkpoint moves to the end.
    pub fn pass_done(&mut self, at: (u64, u64)) {
        let Some(mut s) = self.sweep.take() else { return };
        let (end_bytes, end_lines) = (s.end_bytes.unwrap_or(at.0), s.end_lines.unwrap_or(at.1));
        self.size = self.size.max(end_bytes);
        if s.pass + 1 < s.passes {
            s.pass += 1;
            (s.at_bytes, s.at_lines) = (self.applied_bytes, self.applied_lines);
            (s.end_bytes, s.end_lines) = (Some(end_bytes), Some(end_lines));
            self.sweep = Some(s);
        } else {
            (self.applied_bytes, self.applied_lines) = (end_bytes, end_lines);
        }
    }
}

/// The application of a month object's new bytes (from the checkpoint on)
/// in passes: each pass reads them all and applies the items whose
/// [`pass_of`] is its number, holding their rows until it writes them. So
/// an item is written once per delivery however its rows are spread in the
/// file, and what is held is about a pass's share of the rows
/// (`docs/data-feeds.md`, "Passes").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sweep {
    pub passes: u32,
    /// This pass, from 0.
    pub pass: u32,
    /// Where this pass reads on from (bytes, lines).
    pub at_bytes: u64,
    pub at_lines: u64,
    /// Where the new bytes end: found by the first pass, so that every
    /// pass covers the same rows however the object grows meanwhile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_lines: Option<u64>,
}

/// The most passes over one object's new bytes. Each pass reads all of
/// them, so the reading grows with the square of the size: past 64 passes
/// (384 MB at the default 6 MB a pass, about 2.3 million of the
/// benchmark's rows) a pass holds more rows than a segment and writes its
/// items in several segments instead: more writes, the same memory.
pub const MAX_PASSES: u32 = 64;

impl Sweep {
    /// The passes for `bytes` new bytes at `pass_bytes` a pass (at least
    /// one, at most [`MAX_PASSES`]).
    pub fn new(bytes: u64, pass_bytes: u64, at_bytes: u64, at_lines: u64) -> Self {
        let passes = bytes.div_ceil(pass_bytes.max(1)).clamp(1, u64::from(MAX_PASSES)) as u32;
        Self { passes, pass: 0, at_bytes, at_lines, end_bytes: None, end_lines: None }
    }
}

/// Which of `passes` passes applies the item with `pk` and `sk`: from the
/// key's SHA-256, so the same in every invocation and version.
pub fn pass_of(pk: &str, sk: &str, passes: u32) -> u32 {
    use sha2::Digest;
    if passes <= 1 {
        return 0;
    }
    let mut h = sha2::Sha256::new();
    h.update(pk.as_bytes());
    h.update(b"\n");
    h.update(sk.as_bytes());
    let digest = h.finalize();
    (u64::from_be_bytes(digest[..8].try_into().expect("8 bytes")) % u64::from(passes)) as u32
}

/// SHA-256 of `bytes`, in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// What a run is doing or did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    /// In progress (possibly across invocations).
    Running,
    /// Every changed object applied, every row applied or rejected.
    Succeeded,
    /// Done, but some objects could not be read (see `failedObjects`).
    Partial,
    /// The run could not go on (the bucket could not be listed, the table
    /// refused a write): the next run picks up where it stopped.
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Running => "RUNNING",
            Self::Succeeded => "SUCCEEDED",
            Self::Partial => "PARTIAL",
            Self::Failed => "FAILED",
        }
    }
}

/// How a month object was read in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ReadMode {
    /// Read from the start: new, or rewritten (its first bytes changed).
    Whole,
    /// Grown: read from where it was applied up to (a ranged GET).
    Continued,
}

/// One month object a run read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReport {
    pub key: String,
    pub feed: String,
    pub mode: ReadMode,
    pub bytes_read: u64,
    pub rows: u64,
    pub rejected: u64,
    pub items_written: u64,
    /// Why the object could not be read (a missing required column, a
    /// broken stream); its other rows and the other objects go on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A rejected row: where, and why (never a value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectReport {
    pub key: String,
    pub line: u64,
    pub reason: String,
}

/// The notification that started a run, as far as it is understood (its
/// shape is not confirmed: fact sheet §2).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// `COMPLETED`, `SKIPPED`, `FAILED` or what else AWS sent.
    pub execution_status: Option<String>,
    pub feed_type: Option<String>,
    /// How many errors the notification listed (their shape is unknown:
    /// they are counted, not copied).
    pub errors: usize,
}

/// One run of the data-feeds ingest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedRun {
    /// `<startedAt>-<request id>`: runs sort by start.
    pub run_id: String,
    pub status: RunStatus,
    /// `notification`, `schedule` or `manual`.
    pub trigger: String,
    pub started_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    /// Invocations the run took (continuations included).
    pub invocations: u32,
    /// The notifications that started or joined it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deliveries: Vec<Delivery>,
    pub objects: Vec<ObjectReport>,
    /// Month objects under folders no feed uses: listed, left alone.
    pub unknown_folders: Vec<String>,
    /// Objects of feeds psc-bridge does not read (Address, Tax item, ...).
    pub skipped_objects: u64,
    pub unchanged_objects: u64,
    pub rows: u64,
    pub rejected: u64,
    pub items_written: u64,
    pub bytes_read: u64,
    /// The first [`MAX_LISTED_REJECTS`] rejected rows.
    pub rejects: Vec<RejectReport>,
    /// The newest delivery (object write time) applied so far, over all runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl FeedRun {
    pub fn new(run_id: String, trigger: &str, started_at: Timestamp) -> Self {
        Self {
            run_id,
            status: RunStatus::Running,
            trigger: trigger.to_owned(),
            started_at,
            finished_at: None,
            invocations: 1,
            deliveries: Vec::new(),
            objects: Vec::new(),
            unknown_folders: Vec::new(),
            skipped_objects: 0,
            unchanged_objects: 0,
            rows: 0,
            rejected: 0,
            items_written: 0,
            bytes_read: 0,
            rejects: Vec::new(),
            as_of: None,
            message: None,
        }
    }

    /// Counts a rejected row and lists it while the list has room.
    pub fn reject(&mut self, key: &str, line: u64, reason: impl Into<String>) {
        self.rejected += 1;
        if self.rejects.len() < MAX_LISTED_REJECTS {
            self.rejects.push(RejectReport { key: key.to_owned(), line, reason: reason.into() });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_cover_the_new_bytes_at_most_max_passes() {
        const MB: u64 = 1024 * 1024;
        let passes = |bytes| Sweep::new(bytes, 6 * MB, 0, 1).passes;
        assert_eq!(passes(0), 1, "nothing new is still one pass");
        assert_eq!(passes(6 * MB), 1);
        assert_eq!(passes(6 * MB + 1), 2);
        assert_eq!(passes(165 * MB), 28);
        assert_eq!(passes(10_000 * MB), MAX_PASSES);
        let sweep = Sweep::new(20 * MB, 6 * MB, 1234, 56);
        assert_eq!((sweep.pass, sweep.at_bytes, sweep.at_lines, sweep.end_bytes), (0, 1234, 56, None));
    }

    #[test]
    fn every_item_has_one_pass_the_same_each_time_and_the_passes_share_them() {
        let keys: Vec<(String, String)> =
            (0..4_000).map(|i| (format!("FEED#ACCOUNT#acct{i}"), format!("ACTIVITY#2025-06#prod-{}", i % 5))).collect();
        let mut per_pass = [0; 4];
        for (pk, sk) in &keys {
            let pass = pass_of(pk, sk, 4);
            assert_eq!(pass, pass_of(pk, sk, 4), "the same pass every time");
            per_pass[pass as usize] += 1;
        }
        assert!(per_pass.iter().all(|&n| (850..1150).contains(&n)), "{per_pass:?}");
        assert_eq!(pass_of("FEED#PRODUCTS", "prod-1", 1), 0, "one pass holds everything");
    }
}
