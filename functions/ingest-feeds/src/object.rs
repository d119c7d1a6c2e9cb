//! One month object, applied a segment at a time.

use std::collections::{BTreeMap, HashMap};

use psc_bridge::aws::AwsError;
use psc_bridge::domain::Timestamp;
use psc_bridge::feeds::run::{HEAD_CHECK_BYTES, sha256_hex};
use psc_bridge::feeds::{
    FeedReader, FeedRecord, FeedRun, ItemKey, ObjectReport, ObjectState, Position, ReadMode, Row, Stored, Versioned,
    merge,
};
use psc_bridge::notification::S3Location;
use psc_bridge::ports::{FeedStore, Listed, ObjectReader, ObjectStore};
use psc_bridge::resumable::{Invocation, Segment, Segmented, Stop};

use crate::error::IngestError;

/// What an object needs read, and from where.
pub(crate) struct Opening {
    pub mode: ReadMode,
    pub state: ObjectState,
}

/// Decides how to read `listed` given what was applied of it before: from
/// the start when new or rewritten, from the checkpoint when it grew or a
/// run stopped part-way.
pub(crate) async fn plan_read<O: ObjectStore>(
    objects: &O,
    loc: &S3Location,
    listed: &Listed,
    applied: Option<&ObjectState>,
) -> Result<Opening, AwsError> {
    if let Some(st) = applied {
        let grown = listed.size > st.applied_bytes && st.applied_bytes > 0;
        let same = st.etag == listed.etag;
        let head_unchanged =
            same || (grown && sha256_hex(&objects.read_head(loc, st.head_len).await?) == st.head_sha256);
        if head_unchanged && st.applied_bytes > 0 {
            let state = ObjectState {
                etag: listed.etag.clone(),
                size: listed.size,
                last_modified: listed.last_modified,
                ..st.clone()
            };
            return Ok(Opening { mode: ReadMode::Continued, state });
        }
    }
    let head_len = listed.size.min(HEAD_CHECK_BYTES);
    let head = objects.read_head(loc, head_len).await?;
    Ok(Opening {
        mode: ReadMode::Whole,
        state: ObjectState {
            key: listed.key.clone(),
            etag: listed.etag.clone(),
            size: listed.size,
            applied_bytes: 0,
            applied_lines: 1,
            header: Vec::new(),
            head_sha256: sha256_hex(&head),
            head_len: head.len() as u64,
            last_modified: listed.last_modified,
        },
    })
}

/// A month object being applied: [`Segmented`] over its rows.
pub(crate) struct ObjectWork<'a, S, T: FeedRecord> {
    pub store: &'a S,
    pub inv: &'a Invocation,
    pub run: &'a mut FeedRun,
    pub state: ObjectState,
    pub report: ObjectReport,
    pub reader: Option<FeedReader<ObjectReader, T>>,
    /// Why the object stopped early (an item's stored versions could not be
    /// read, or the stream broke): the run goes on with the next object,
    /// and the next run resumes this one from its last saved offset.
    pub stopped: Option<String>,
}

/// Opens the reader where `state` says (the header read, or the recorded
/// one used for a continuation), off the async threads.
pub(crate) async fn open_reader<T: FeedRecord + Send + 'static>(
    input: ObjectReader,
    state: &ObjectState,
) -> Result<FeedReader<ObjectReader, T>, String> {
    let header = state.header.clone();
    let from = Position { byte: state.applied_bytes, line: state.applied_lines };
    tokio::task::spawn_blocking(move || {
        if from.byte == 0 { FeedReader::new(input) } else { FeedReader::resume(input, &header, from) }
    })
    .await
    .expect("the reader does not panic")
    .map_err(|e| e.to_string())
}

/// A segment's rows, each with the line it starts on; whether the file
/// ended; why reading stopped early, if it did.
type Read<T> = (Vec<(u64, Row<T>)>, bool, Option<String>);

fn read_rows<T: FeedRecord>(reader: &mut FeedReader<ObjectReader, T>, stop: Stop) -> Read<T> {
    let mut rows = Vec::new();
    loop {
        if stop.reached(rows.len() as u64) {
            return (rows, false, None);
        }
        let line = FeedReader::position(reader).line;
        match reader.next_row() {
            None => return (rows, true, None),
            Some(Ok(row)) => rows.push((line, row)),
            Some(Err(e)) => return (rows, false, Some(e.to_string())),
        }
    }
}

impl<S: FeedStore, T: FeedRecord + Stored + Send + 'static> ObjectWork<'_, S, T> {
    /// Folds rows into their items and writes the items that changed.
    async fn apply(&mut self, rows: Vec<(u64, Row<T>)>) -> Result<(), IngestError> {
        let mut groups: BTreeMap<ItemKey, Vec<Versioned<T>>> = BTreeMap::new();
        for (line, row) in rows {
            self.report.rows += 1;
            self.run.rows += 1;
            match row {
                Row::Valid(v) => match v.record.item_key() {
                    Ok(key) => groups.entry(key).or_default().push(v),
                    Err(reason) => self.reject(line, reason.to_owned()),
                },
                Row::Rejected(r) => self.reject(r.line, r.reason),
            }
        }
        let keys: Vec<ItemKey> = groups.keys().cloned().collect();
        let stored: HashMap<ItemKey, String> = self.store.feed_versions(&keys).await?.into_iter().collect();
        let mut changed = Vec::new();
        for (key, rows) in groups {
            match merge(&key, stored.get(&key).map(String::as_str), rows) {
                Ok(Some(item)) => changed.push(item),
                Ok(None) => {}
                // Not this row's fault, and not to be overwritten: the
                // object stops here, to be applied once it is sorted out.
                Err(e) => {
                    self.stopped = Some(e.to_string());
                    break;
                }
            }
        }
        self.store.put_feed_items(&changed).await?;
        self.report.items_written += changed.len() as u64;
        self.run.items_written += changed.len() as u64;
        Ok(())
    }

    fn reject(&mut self, line: u64, reason: String) {
        self.report.rejected += 1;
        self.run.reject(&self.state.key, line, reason);
    }
}

impl<S: FeedStore, T: FeedRecord + Stored + Send + 'static> Segmented for ObjectWork<'_, S, T> {
    type Checkpoint = Position;
    type Error = IngestError;

    async fn segment(&mut self, stop: Stop) -> Result<Segment<Position>, IngestError> {
        let Some(mut reader) = self.reader.take() else { return Ok(Segment::Done) };
        let (reader, (rows, end, broken)) = tokio::task::spawn_blocking(move || {
            let read = read_rows(&mut reader, stop);
            (reader, read)
        })
        .await
        .expect("reading does not panic");
        self.apply(rows).await?;
        if self.stopped.is_some() {
            return Ok(Segment::Done);
        }
        let at = reader.position();
        let bytes = at.byte - self.state.applied_bytes;
        self.report.bytes_read += bytes;
        self.run.bytes_read += bytes;
        self.state.applied_bytes = at.byte;
        self.state.applied_lines = at.line;
        self.state.header = reader.header().to_vec();
        if end {
            self.state.size = self.state.size.max(at.byte);
        }
        // Recorded before the next segment: what is written is never read
        // again for this version of the object.
        self.store.save_object_state(&self.state).await?;
        if let Some(broken) = broken {
            self.stopped = Some(broken);
            return Ok(Segment::Done);
        }
        if end {
            return Ok(Segment::Done);
        }
        self.reader = Some(reader);
        Ok(Segment::Checkpoint(at))
    }

    /// The object's progress is saved by each segment; here the run's, and
    /// the lease is renewed (or released for the continuation).
    async fn save(&mut self, _at: &Position, release: bool) -> Result<bool, IngestError> {
        if !self.store.claim_feeds(&self.inv.lease(), Timestamp::now()).await? {
            return Ok(false);
        }
        self.store.save_feed_run(self.run).await?;
        if release {
            self.store.release_feeds(&self.inv.id).await?;
        }
        Ok(true)
    }
}
