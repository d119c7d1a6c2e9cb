//! One month object, applied a segment at a time.

use std::collections::{BTreeMap, HashMap};

use psc_bridge::aws::AwsError;
use psc_bridge::domain::Timestamp;
use psc_bridge::feeds::run::{HEAD_CHECK_BYTES, sha256_hex};
use psc_bridge::feeds::{
    FeedReader, FeedRecord, FeedRun, ItemKey, ObjectReport, ObjectState, Position, ReadMode, Row, Stored, Versioned,
    merge, pass_of,
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
        // Something of it applied: a checkpoint past the header, or passes
        // under way.
        let started = st.applied_bytes > 0 || st.sweep.is_some();
        let grown = started && listed.size > st.applied_bytes;
        let same = st.etag == listed.etag;
        let head_unchanged =
            same || (grown && sha256_hex(&objects.read_head(loc, st.head_len).await?) == st.head_sha256);
        if head_unchanged && started {
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
            sweep: None,
        },
    })
}

/// A month object being applied: [`Segmented`] over its rows, in the
/// passes of its [`Sweep`].
pub(crate) struct ObjectWork<'a, O, S, T: FeedRecord> {
    pub objects: &'a O,
    pub loc: S3Location,
    pub store: &'a S,
    pub inv: &'a Invocation,
    pub run: &'a mut FeedRun,
    pub state: ObjectState,
    pub report: ObjectReport,
    /// `None` between passes: the next segment opens the next pass.
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
    let (byte, line) = state.read_from();
    let from = Position { byte, line };
    tokio::task::spawn_blocking(move || {
        if from.byte == 0 { FeedReader::new(input) } else { FeedReader::resume(input, &header, from) }
    })
    .await
    .expect("the reader does not panic")
    .map_err(|e| e.to_string())
}

/// Items read, merged and written at a time: what a segment holds beside
/// its rows.
const WRITE_CHUNK: usize = 1_000;

/// What a segment read of its pass: the rows of its pass's items, grouped
/// by item, and the rows to reject (the first pass only).
struct Held<T> {
    groups: BTreeMap<ItemKey, Vec<Versioned<T>>>,
    held: u64,
    rejects: Vec<(u64, String)>,
    /// Rows read, of every pass's items.
    read: u64,
    /// The pass's end is reached (the end of the file, or of the bytes the
    /// first pass read).
    end: bool,
    /// Why reading stopped early, if it did.
    broken: Option<String>,
}

/// Reads rows until `stop` (counting the rows held) or the pass's end,
/// keeping those of pass `pass` of `passes`.
fn read_pass<T: FeedRecord + Stored>(
    reader: &mut FeedReader<ObjectReader, T>,
    stop: Stop,
    (pass, passes): (u32, u32),
    end_bytes: Option<u64>,
) -> Held<T> {
    let mut h = Held { groups: BTreeMap::new(), held: 0, rejects: Vec::new(), read: 0, end: false, broken: None };
    loop {
        if end_bytes.is_some_and(|end| FeedReader::position(reader).byte >= end) {
            h.end = true;
            return h;
        }
        if stop.reached(h.held) {
            return h;
        }
        let line = FeedReader::position(reader).line;
        let row = match reader.next_row() {
            None => {
                h.end = true;
                return h;
            }
            Some(Ok(row)) => row,
            Some(Err(e)) => {
                h.broken = Some(e.to_string());
                return h;
            }
        };
        h.read += 1;
        match row {
            Row::Valid(v) => match v.record.item_key() {
                Ok(key) if pass_of(&key.pk, &key.sk, passes) == pass => {
                    h.groups.entry(key).or_default().push(v);
                    h.held += 1;
                }
                Ok(_) => {}
                Err(reason) if pass == 0 => h.rejects.push((line, reason.to_owned())),
                Err(_) => {}
            },
            Row::Rejected(r) if pass == 0 => h.rejects.push((r.line, r.reason)),
            Row::Rejected(_) => {}
        }
    }
}

impl<O: ObjectStore, S: FeedStore, T: FeedRecord + Stored + Send + 'static> ObjectWork<'_, O, S, T> {
    /// Folds the held rows into their items and writes the items that
    /// changed, [`WRITE_CHUNK`] items at a time.
    async fn apply(&mut self, groups: BTreeMap<ItemKey, Vec<Versioned<T>>>) -> Result<(), IngestError> {
        let mut groups = groups.into_iter().peekable();
        while groups.peek().is_some() {
            let chunk: Vec<(ItemKey, Vec<Versioned<T>>)> = groups.by_ref().take(WRITE_CHUNK).collect();
            let keys: Vec<ItemKey> = chunk.iter().map(|(k, _)| k.clone()).collect();
            let stored: HashMap<ItemKey, String> = self.store.feed_versions(&keys).await?.into_iter().collect();
            let mut changed = Vec::new();
            for (key, rows) in chunk {
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
            if self.stopped.is_some() {
                break;
            }
        }
        Ok(())
    }

    fn reject(&mut self, line: u64, reason: String) {
        self.report.rejected += 1;
        self.run.reject(&self.state.key, line, reason);
    }

    /// The reader of the current pass, opened where it reads on.
    async fn reader(&mut self) -> Result<FeedReader<ObjectReader, T>, String> {
        if let Some(reader) = self.reader.take() {
            return Ok(reader);
        }
        let (from, _) = self.state.read_from();
        let opened = self.objects.open_from(&self.loc, from).await.map_err(|e| e.summary())?;
        open_reader(opened.reader, &self.state).await
    }
}

impl<O: ObjectStore, S: FeedStore, T: FeedRecord + Stored + Send + 'static> Segmented for ObjectWork<'_, O, S, T> {
    type Checkpoint = Position;
    type Error = IngestError;

    async fn segment(&mut self, stop: Stop) -> Result<Segment<Position>, IngestError> {
        let Some(sweep) = self.state.sweep.clone() else { return Ok(Segment::Done) };
        let mut reader = match self.reader().await {
            Ok(reader) => reader,
            Err(e) => {
                self.stopped = Some(format!("it could not be read again: {e}"));
                return Ok(Segment::Done);
            }
        };
        let (from, _) = self.state.read_from();
        let pass = (sweep.pass, sweep.passes);
        let (reader, held) = tokio::task::spawn_blocking(move || {
            let held = read_pass(&mut reader, stop, pass, sweep.end_bytes);
            (reader, held)
        })
        .await
        .expect("reading does not panic");
        let Held { groups, rejects, read, end, broken, .. } = held;
        // Rows are counted, and rejected, by the first pass alone.
        if sweep.pass == 0 {
            self.report.rows += read;
            self.run.rows += read;
        }
        for (line, reason) in rejects {
            self.reject(line, reason);
        }
        self.apply(groups).await?;
        if self.stopped.is_some() {
            return Ok(Segment::Done);
        }
        let at = reader.position();
        self.report.bytes_read += at.byte - from;
        self.run.bytes_read += at.byte - from;
        self.state.header = reader.header().to_vec();
        if end {
            self.state.pass_done((at.byte, at.line));
        } else {
            self.state.pass_at((at.byte, at.line));
            self.reader = Some(reader);
        }
        // Recorded before the next segment: what is written is never read
        // again for this pass.
        self.store.save_object_state(&self.state).await?;
        if let Some(broken) = broken {
            self.stopped = Some(broken);
            return Ok(Segment::Done);
        }
        if self.state.sweep.is_none() {
            return Ok(Segment::Done);
        }
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
