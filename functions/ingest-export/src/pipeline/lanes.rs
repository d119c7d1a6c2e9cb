//! Batch mode: rows dealt by Customer Guid to lanes, each writing a group
//! of distinct contacts per `TransactWriteItems`.

use std::hash::{Hash, Hasher};

use psc_bridge::domain::ContactRecord;
use psc_bridge::ports::{ContactStore, MAX_BATCH};
use psc_bridge::retry::{GaveUp, Patience};
use tokio::sync::mpsc;

use super::tally::Tally;

/// The parser's side: the group each lane is being dealt.
pub(crate) struct Lanes {
    senders: Vec<mpsc::Sender<Vec<ContactRecord>>>,
    open: Vec<Vec<ContactRecord>>,
}

impl Lanes {
    pub fn new(senders: Vec<mpsc::Sender<Vec<ContactRecord>>>) -> Self {
        let open = senders.iter().map(|_| Vec::with_capacity(MAX_BATCH)).collect();
        Self { senders, open }
    }

    fn lane_of(&self, rec: &ContactRecord) -> usize {
        let mut h = std::hash::DefaultHasher::new();
        rec.key.customer_guid.hash(&mut h);
        (h.finish() % self.senders.len() as u64) as usize
    }

    /// Adds a row to its lane's group; a full group, or one that already
    /// holds this contact, goes to the lane first. False when the writers
    /// are gone.
    pub fn push(&mut self, rec: ContactRecord) -> bool {
        let lane = self.lane_of(&rec);
        let guid = &rec.key.customer_guid;
        if self.open[lane].iter().any(|r| &r.key.customer_guid == guid) && !self.send(lane) {
            return false;
        }
        self.open[lane].push(rec);
        self.open[lane].len() < MAX_BATCH || self.send(lane)
    }

    fn send(&mut self, lane: usize) -> bool {
        let group = std::mem::replace(&mut self.open[lane], Vec::with_capacity(MAX_BATCH));
        self.senders[lane].blocking_send(group).is_ok()
    }

    /// The last, partly filled groups.
    pub fn flush(mut self) {
        for lane in 0..self.open.len() {
            if !self.open[lane].is_empty() && !self.send(lane) {
                return;
            }
        }
    }
}

/// One lane's writer: each group it is dealt, one after the other.
pub(crate) async fn write_lane<S: ContactStore>(
    store: &S,
    lane: usize,
    mut rx: mpsc::Receiver<Vec<ContactRecord>>,
    request_id: &str,
    patience: Patience<'_>,
) -> Tally {
    let mut tally = Tally::default();
    let mut n = 0u64;
    while let Some(group) = rx.recv().await {
        let seed = (lane as u64) << 32 | n;
        apply_group(store, group, request_id, patience, seed, &mut tally).await;
        n += 1;
    }
    tally
}

/// One group of distinct contacts, with [`ContactStore::apply_batch`]
/// under a permit of `patience`'s limit; the rows that failed transiently
/// (the table too busy, a 5xx, a timeout) wait and go again, together,
/// until they land or `patience` runs out (then they are unfinished).
async fn apply_group<S: ContactStore>(
    store: &S,
    mut group: Vec<ContactRecord>,
    request_id: &str,
    patience: Patience<'_>,
    seed: u64,
    tally: &mut Tally,
) {
    let mut round = 0;
    loop {
        let permit = patience.permit().await;
        let Some(results) = patience.within(store.apply_batch(&group, request_id), round > 0).await else {
            // Cut off at the segment's time: the group is left for later.
            if let Some(p) = permit {
                p.faulted();
            }
            group.iter().for_each(|rec| tally.add(rec, Err(GaveUp::Unfinished(None))));
            return;
        };
        assert_eq!(results.len(), group.len(), "apply_batch answers once per record");
        let mut again = Vec::new();
        let mut last = None;
        for (rec, result) in group.into_iter().zip(results) {
            match result {
                Err(e) if e.is_transient() => {
                    again.push(rec);
                    last = Some(e);
                }
                Err(e) => tally.add(&rec, Err(GaveUp::Permanent(e))),
                Ok(outcome) => tally.add(&rec, Ok(outcome)),
            }
        }
        match (permit, &last) {
            (Some(p), Some(_)) => p.faulted(),
            (Some(p), None) => p.succeeded(),
            (None, _) => {}
        }
        if again.is_empty() {
            return;
        }
        round += 1;
        let Some(wait) = patience.wait(round, seed) else {
            again.iter().for_each(|rec| tally.add(rec, Err(GaveUp::Unfinished(last.clone()))));
            return;
        };
        tally.waits += again.len() as u64;
        tokio::time::sleep(wait).await;
        group = again;
    }
}
