//! In-memory implementations of the ports, with the same rules as the AWS
//! adapters (newer-wins writes, DELETE keeps only the guid and the time,
//! newest exports first), for tests of the functions' rules without Java or
//! moto. Faults can be injected: every call failing, or chosen writes; EC2 and
//! the Agreement API fail or (agreements) answer late on demand.
//!
//! Cursors are `o<offset>`; like DynamoDB, a full page has a next cursor even
//! when nothing follows.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::aws::error::{AwsError, Failure, codes};
use crate::domain::{AwsAccountId, Change, ContactRecord, Guid, ProductCode, Timestamp, email_lookup_key};
use crate::entitlement::{Agreement, InstanceCheck, InstanceId, Region};
use crate::feeds::{
    self, AccountPage, FeedAccountId, FeedAgreement, FeedItem, FeedProduct, FeedRun, ItemKey, ObjectState,
};
use crate::model::{
    Checkpoint, ExportOutcome, ExportRecord, ExportRequest, ExportStatus, Lease, Page, StoredContact, WriteOutcome,
};
use crate::notification::S3Location;
use crate::ports::{
    AgreementSource, BusEvent, ContactScan, ContactStore, Continuation, EventBus, ExportLog, FeedLookup, FeedStore,
    InstanceConfirmer, Listed, LookupError, ObjectReader, ObjectStore, Opened,
};
use crate::sync::{Coverage, SyncState};
use time::Date;

type WriteFault = Box<dyn Fn(&ContactRecord) -> Option<AwsError> + Send + Sync>;

/// What the store holds under one Customer Guid: the time of its newest
/// record, and the contact unless that record was a DELETE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub operation_time: Timestamp,
    pub contact: Option<StoredContact>,
    pub export_request_id: String,
}

#[derive(Default)]
struct Inner {
    contacts: BTreeMap<Guid, Held>,
    sync: SyncState,
    /// Export records by id, with the sort key of the `ByAccount` index.
    exports: BTreeMap<String, (String, ExportRecord)>,
}

/// Contacts, sync state and export records in memory.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    sync_reads: AtomicUsize,
    writes: AtomicUsize,
    fail_all: Mutex<Option<AwsError>>,
    fail_writes: Mutex<Option<WriteFault>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store whose every call fails with `error`.
    pub fn failing(error: AwsError) -> Self {
        let s = Self::default();
        *s.fail_all.lock().unwrap() = Some(error);
        s
    }

    /// Makes the contact writes for which `fault` returns an error fail with it.
    pub fn fail_writes(&self, fault: impl Fn(&ContactRecord) -> Option<AwsError> + Send + Sync + 'static) {
        *self.fail_writes.lock().unwrap() = Some(Box::new(fault));
    }

    pub fn set_sync_state(&self, state: SyncState) {
        self.lock().sync = state;
    }

    /// Adds an export record as the table would hold it.
    pub fn insert_export(&self, record: ExportRecord) {
        let at = record.requested_at.or(record.received_at).unwrap_or_else(Timestamp::now);
        let key = format!("{}#{}", at.to_iso(), record.request_id);
        self.lock().exports.insert(record.request_id.clone(), (key, record));
    }

    /// What is held under `guid`, deleted or not.
    pub fn held(&self, guid: &Guid) -> Option<Held> {
        self.lock().contacts.get(guid).cloned()
    }

    /// Every live contact, by Customer Guid.
    pub fn live_contacts(&self) -> Vec<StoredContact> {
        self.lock().contacts.values().filter_map(|h| h.contact.clone()).collect()
    }

    /// How many times the sync state was read.
    pub fn sync_reads(&self) -> usize {
        self.sync_reads.load(Ordering::SeqCst)
    }

    /// How many contact writes were attempted.
    pub fn writes(&self) -> usize {
        self.writes.load(Ordering::SeqCst)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn check(&self) -> Result<(), AwsError> {
        match self.fail_all.lock().unwrap().as_ref() {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Changes the export record (made with `sort_key` if new); `change` may
    /// also set the sort key, as `export_requested` does.
    fn update_export(&self, request_id: &str, sort_key: String, change: impl FnOnce(&mut String, &mut ExportRecord)) {
        let mut inner = self.lock();
        let (key, record) = inner
            .exports
            .entry(request_id.to_owned())
            .or_insert_with(|| (sort_key, ExportRecord::new(request_id, ExportStatus::Requested)));
        change(key, record);
    }

    /// [`ContactStore::apply`], without a runtime (to fill a store in a
    /// test's set-up).
    pub fn apply_now(&self, rec: &ContactRecord, request_id: &str) -> Result<WriteOutcome, AwsError> {
        self.check()?;
        self.writes.fetch_add(1, Ordering::SeqCst);
        if let Some(fault) = self.fail_writes.lock().unwrap().as_ref()
            && let Some(e) = fault(rec)
        {
            return Err(e);
        }
        let mut inner = self.lock();
        let guid = &rec.key.customer_guid;
        // Newer only, or the same record of the same export again (DynamoDB's
        // condition, `aws::dynamodb`).
        let same_again = |h: &Held| h.operation_time == rec.operation_time && h.export_request_id == request_id;
        if inner.contacts.get(guid).is_some_and(|h| h.operation_time >= rec.operation_time && !same_again(h)) {
            return Ok(WriteOutcome::Stale);
        }
        let contact = match &rec.change {
            Change::Delete => None,
            Change::Upsert { details, .. } => Some(StoredContact::from_record(&rec.key, details, rec.operation_time)),
        };
        let held = Held { operation_time: rec.operation_time, contact, export_request_id: request_id.to_owned() };
        inner.contacts.insert(guid.clone(), held);
        Ok(WriteOutcome::Applied)
    }
}

impl ContactStore for MemoryStore {
    async fn apply(&self, rec: &ContactRecord, request_id: &str) -> Result<WriteOutcome, AwsError> {
        self.apply_now(rec, request_id)
    }

    async fn contacts_by_account(
        &self,
        account: &AwsAccountId,
        product: Option<&ProductCode>,
        cursor: Option<&str>,
        limit: i32,
    ) -> Result<Page<StoredContact>, LookupError> {
        self.check()?;
        let offset = match cursor {
            None => 0,
            Some(c) => c.strip_prefix('o').and_then(|n| n.parse::<usize>().ok()).ok_or(LookupError::BadCursor)?,
        };
        let mut all: Vec<StoredContact> = self
            .live_contacts()
            .into_iter()
            .filter(|c| &c.aws_account_id == account && product.is_none_or(|p| &c.product_code == p))
            .collect();
        all.sort_by(|a, b| {
            (&a.product_code, &a.subscription_guid, &a.customer_guid).cmp(&(
                &b.product_code,
                &b.subscription_guid,
                &b.customer_guid,
            ))
        });
        let limit = limit.max(1) as usize;
        let items: Vec<StoredContact> = all.into_iter().skip(offset).take(limit).collect();
        let next_cursor = (items.len() == limit).then(|| format!("o{}", offset + items.len()));
        Ok(Page { items, next_cursor })
    }

    async fn contacts_by_email(&self, email: &str) -> Result<Vec<StoredContact>, AwsError> {
        self.check()?;
        let key = email_lookup_key(email);
        Ok(self.live_contacts().into_iter().filter(|c| email_lookup_key(&c.details.email) == key).collect())
    }

    async fn contact_by_guid(&self, guid: &Guid) -> Result<Option<StoredContact>, AwsError> {
        self.check()?;
        Ok(self.held(guid).and_then(|h| h.contact))
    }
}

impl ContactScan for MemoryStore {
    /// Live contacts by Customer Guid; cursors are `o<offset>`.
    async fn scan_contacts(&self, cursor: Option<&str>, limit: i32) -> Result<Page<StoredContact>, LookupError> {
        self.check()?;
        let offset = match cursor {
            None => 0,
            Some(c) => c.strip_prefix('o').and_then(|n| n.parse::<usize>().ok()).ok_or(LookupError::BadCursor)?,
        };
        let all = self.live_contacts();
        let limit = limit.max(1) as usize;
        let items: Vec<StoredContact> = all.iter().skip(offset).take(limit).cloned().collect();
        let next_cursor = (offset + items.len() < all.len()).then(|| format!("o{}", offset + items.len()));
        Ok(Page { items, next_cursor })
    }
}

impl ExportLog for MemoryStore {
    async fn sync_state(&self) -> Result<SyncState, AwsError> {
        self.sync_reads.fetch_add(1, Ordering::SeqCst);
        self.check()?;
        Ok(self.lock().sync.clone())
    }

    async fn record_coverage(&self, coverage: Coverage, initial: Timestamp) -> Result<SyncState, AwsError> {
        self.check()?;
        let mut inner = self.lock();
        let mut next = inner.sync.with_applied(coverage, initial);
        next.version += 1;
        inner.sync = next.clone();
        Ok(next)
    }

    async fn reset_watermark(&self) -> Result<SyncState, AwsError> {
        self.check()?;
        let mut inner = self.lock();
        inner.sync = SyncState { watermark: None, pending: Vec::new(), version: inner.sync.version + 1 };
        Ok(inner.sync.clone())
    }

    async fn export(&self, request_id: &str) -> Result<Option<ExportRecord>, AwsError> {
        self.check()?;
        Ok(self.lock().exports.get(request_id).map(|(_, r)| r.clone()))
    }

    async fn recent_exports(&self, limit: i32) -> Result<Vec<ExportRecord>, AwsError> {
        self.check()?;
        let inner = self.lock();
        let mut all: Vec<&(String, ExportRecord)> = inner.exports.values().collect();
        all.sort_by(|a, b| b.0.cmp(&a.0));
        Ok(all.into_iter().take(limit.max(0) as usize).map(|(_, r)| r.clone()).collect())
    }

    async fn export_requested(&self, r: &ExportRequest) -> Result<(), AwsError> {
        self.check()?;
        let id = r.request_id.as_str();
        let key = format!("{}#{id}", r.requested_at.to_iso());
        self.update_export(id, key.clone(), |sort_key, rec| {
            // The requested time orders the listing, as gsi1sk does in the table.
            *sort_key = key;
            rec.data_set_type = Some(r.data_set_type.clone());
            rec.from_date = Some(r.from_date);
            rec.requested_at = Some(r.requested_at);
            rec.forced = r.forced;
        });
        Ok(())
    }

    async fn export_received(
        &self,
        request_id: &str,
        status: ExportStatus,
        coverage: Option<Coverage>,
        message: Option<&str>,
    ) -> Result<(), AwsError> {
        self.check()?;
        let now = Timestamp::now();
        self.update_export(request_id, format!("{}#{request_id}", now.to_iso()), |_, rec| {
            rec.status = status;
            rec.received_at = Some(now);
            if coverage.is_some() {
                rec.coverage = coverage;
            }
            if let Some(m) = message {
                rec.message = Some(m.to_owned());
                rec.finished_at = Some(now);
            }
        });
        Ok(())
    }

    async fn export_finished(&self, request_id: &str, o: &ExportOutcome) -> Result<(), AwsError> {
        self.check()?;
        self.update_export(request_id, format!("{}#{request_id}", o.finished_at.to_iso()), |_, rec| {
            rec.status = o.status;
            rec.finished_at = Some(o.finished_at);
            rec.counts = o.counts;
            rec.rejects_report = o.rejects_report.clone();
            rec.message = o.message.clone();
            rec.lease = None;
        });
        Ok(())
    }

    async fn claim_export(
        &self,
        request_id: &str,
        lease: &Lease,
        now: Timestamp,
    ) -> Result<Option<ExportRecord>, AwsError> {
        self.check()?;
        let mut inner = self.lock();
        let Some((_, rec)) = inner.exports.get_mut(request_id) else { return Ok(None) };
        let free = rec.lease.as_ref().is_none_or(|l| l.until < now || l.owner == lease.owner);
        if rec.status != ExportStatus::Applying || !free {
            return Ok(None);
        }
        rec.lease = Some(lease.clone());
        Ok(Some(rec.clone()))
    }

    async fn save_checkpoint(
        &self,
        request_id: &str,
        owner: &str,
        checkpoint: &Checkpoint,
        release: bool,
    ) -> Result<bool, AwsError> {
        self.check()?;
        let mut inner = self.lock();
        let Some((_, rec)) = inner.exports.get_mut(request_id) else { return Ok(false) };
        if rec.lease.as_ref().is_none_or(|l| l.owner != owner) {
            return Ok(false);
        }
        rec.checkpoint = Some(checkpoint.clone());
        if release {
            rec.lease = None;
        }
        Ok(true)
    }
}

/// Objects in memory, by bucket and key.
#[derive(Default)]
pub struct MemoryObjects {
    objects: Mutex<BTreeMap<(String, String), Vec<u8>>>,
    /// When each object was last put (a listing's `LastModified`).
    modified: Mutex<BTreeMap<(String, String), Timestamp>>,
}

impl MemoryObjects {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn put(&self, bucket: &str, key: &str, body: impl Into<Vec<u8>>) {
        let at = (bucket.to_owned(), key.to_owned());
        self.modified.lock().unwrap().insert(at.clone(), Timestamp::now());
        self.objects.lock().unwrap().insert(at, body.into());
    }

    pub fn get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        self.objects.lock().unwrap().get(&(bucket.to_owned(), key.to_owned())).cloned()
    }

    fn find(&self, loc: &S3Location, operation: &'static str) -> Result<Vec<u8>, AwsError> {
        self.get(&loc.bucket_name, &loc.key).ok_or_else(|| {
            AwsError::service("S3", operation, codes::NO_SUCH_KEY, "The specified key does not exist.", 404)
        })
    }
}

impl ObjectStore for MemoryObjects {
    async fn read_small(&self, loc: &S3Location, max_bytes: usize) -> Result<Option<Vec<u8>>, AwsError> {
        let bytes = self.find(loc, "GetObject")?;
        Ok((bytes.len() <= max_bytes).then_some(bytes))
    }

    async fn open(&self, loc: &S3Location) -> Result<ObjectReader, AwsError> {
        Ok(Box::new(std::io::Cursor::new(self.find(loc, "GetObject")?)))
    }

    async fn open_from(&self, loc: &S3Location, from: u64) -> Result<Opened, AwsError> {
        let bytes = self.find(loc, "GetObject")?;
        let size = bytes.len() as u64;
        let rest = bytes.get(from.min(size) as usize..).unwrap_or_default().to_vec();
        Ok(Opened { reader: Box::new(std::io::Cursor::new(rest)), size })
    }

    async fn read_head(&self, loc: &S3Location, len: u64) -> Result<Vec<u8>, AwsError> {
        let mut bytes = self.find(loc, "GetObject")?;
        bytes.truncate(len as usize);
        Ok(bytes)
    }

    /// The ETag is the SHA-256 of the body (S3's is an MD5 for a simple
    /// put: either changes with the body).
    async fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<Listed>, AwsError> {
        let objects = self.objects.lock().unwrap();
        let modified = self.modified.lock().unwrap();
        Ok(objects
            .iter()
            .filter(|((b, k), _)| b == bucket && k.starts_with(prefix))
            .map(|(at, body)| Listed {
                key: at.1.clone(),
                size: body.len() as u64,
                etag: format!("\"{}\"", crate::feeds::run::sha256_hex(body)),
                last_modified: modified.get(at).copied().unwrap_or_else(Timestamp::now),
            })
            .collect())
    }

    async fn put_file(&self, loc: &S3Location, path: &Path, _content_type: &str) -> Result<(), AwsError> {
        let bytes = std::fs::read(path).map_err(|e| {
            AwsError::local("S3", "PutObject", Failure::BadRequest, format!("reading the local file: {e}"))
        })?;
        self.put(&loc.bucket_name, &loc.key, bytes);
        Ok(())
    }
}

/// One instance [`MemoryInstances`] holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryInstance {
    pub region: Region,
    pub instance: InstanceId,
    pub owner: AwsAccountId,
    pub product_codes: Vec<ProductCode>,
    pub running: bool,
}

/// EC2 in memory: instances per region, with EC2's answer rules (the
/// product must be attached and the instance running; unknown in the region
/// is `NotFound`), and injected failures.
#[derive(Default)]
pub struct MemoryInstances {
    instances: Mutex<Vec<MemoryInstance>>,
    fail: Mutex<Option<AwsError>>,
    calls: AtomicUsize,
}

impl MemoryInstances {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&self, instance: MemoryInstance) {
        lock(&self.instances).push(instance);
    }

    /// Every call fails with `error` from now on (`None`: succeeds again).
    pub fn fail_with(&self, error: Option<AwsError>) {
        *lock(&self.fail) = error;
    }

    /// Calls made so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl InstanceConfirmer for MemoryInstances {
    async fn confirm_product_instance(
        &self,
        region: &Region,
        instance: &InstanceId,
        product: &ProductCode,
    ) -> Result<InstanceCheck, AwsError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if let Some(e) = lock(&self.fail).clone() {
            return Err(e);
        }
        let held = lock(&self.instances);
        Ok(match held.iter().find(|i| &i.region == region && &i.instance == instance) {
            None => InstanceCheck::NotFound,
            Some(i) => InstanceCheck::Found {
                product_running: i.running && i.product_codes.contains(product),
                owner: Some(i.owner.clone()),
            },
        })
    }
}

/// The Agreement API in memory: agreements by acceptor, with an injected
/// delay and failures.
#[derive(Default)]
pub struct MemoryAgreements {
    agreements: Mutex<Vec<Agreement>>,
    fail: Mutex<Option<AwsError>>,
    delay: Mutex<std::time::Duration>,
    calls: AtomicUsize,
}

impl MemoryAgreements {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&self, agreement: Agreement) {
        lock(&self.agreements).push(agreement);
    }

    /// Every call fails with `error` from now on (`None`: succeeds again).
    pub fn fail_with(&self, error: Option<AwsError>) {
        *lock(&self.fail) = error;
    }

    /// Every call answers after `delay`.
    pub fn set_delay(&self, delay: std::time::Duration) {
        *lock(&self.delay) = delay;
    }

    /// Calls made so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl AgreementSource for MemoryAgreements {
    async fn purchase_agreements(&self, acceptor: &AwsAccountId) -> Result<Vec<Agreement>, AwsError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let delay = *lock(&self.delay);
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if let Some(e) = lock(&self.fail).clone() {
            return Err(e);
        }
        Ok(lock(&self.agreements).iter().filter(|a| a.acceptor.as_ref() == Some(acceptor)).cloned().collect())
    }
}

type EntryFault = Box<dyn Fn(&BusEvent, usize) -> Option<String> + Send + Sync>;

/// An event bus in memory: what it accepted, in order, with injected
/// failures of whole calls or of chosen entries (as `PutEvents` reports them
/// in `FailedEntryCount`).
#[derive(Default)]
pub struct MemoryBus {
    accepted: Mutex<Vec<BusEvent>>,
    calls: Mutex<Vec<usize>>,
    fail_calls: Mutex<Vec<AwsError>>,
    fail_entries: Mutex<Option<EntryFault>>,
}

impl MemoryBus {
    pub fn new() -> Self {
        Self::default()
    }

    /// The events accepted so far, in order.
    pub fn accepted(&self) -> Vec<BusEvent> {
        lock(&self.accepted).clone()
    }

    /// The number of entries of each call so far.
    pub fn calls(&self) -> Vec<usize> {
        lock(&self.calls).clone()
    }

    /// The next calls fail with these errors, one each.
    pub fn fail_next_calls(&self, errors: Vec<AwsError>) {
        *lock(&self.fail_calls) = errors;
    }

    /// `fault(event, call number)` gives the error code of an entry to refuse.
    pub fn fail_entries(&self, fault: impl Fn(&BusEvent, usize) -> Option<String> + Send + Sync + 'static) {
        *lock(&self.fail_entries) = Some(Box::new(fault));
    }
}

impl EventBus for MemoryBus {
    async fn put_events(&self, events: &[BusEvent]) -> Result<Vec<Option<String>>, AwsError> {
        let call = {
            let mut calls = lock(&self.calls);
            calls.push(events.len());
            calls.len()
        };
        {
            let mut failing = lock(&self.fail_calls);
            if !failing.is_empty() {
                return Err(failing.remove(0));
            }
        }
        let fault = lock(&self.fail_entries);
        let outcome: Vec<Option<String>> = events.iter().map(|e| fault.as_ref().and_then(|f| f(e, call))).collect();
        let mut accepted = lock(&self.accepted);
        for (e, o) in events.iter().zip(&outcome) {
            if o.is_none() {
                accepted.push(e.clone());
            }
        }
        Ok(outcome)
    }
}

/// A poisoned lock still holds usable test data.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Continuations in memory: the payloads asked for, in order, taken by the
/// test that plays Lambda; and injected failures.
#[derive(Default)]
pub struct MemoryContinuations {
    queued: Mutex<Vec<serde_json::Value>>,
    fail_next: Mutex<Vec<AwsError>>,
}

impl MemoryContinuations {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the payloads queued so far.
    pub fn take(&self) -> Vec<serde_json::Value> {
        std::mem::take(&mut *lock(&self.queued))
    }

    /// The next calls fail with these errors, one each.
    pub fn fail_next(&self, errors: Vec<AwsError>) {
        *lock(&self.fail_next) = errors;
    }
}

impl Continuation for MemoryContinuations {
    async fn continue_later(&self, payload: &serde_json::Value) -> Result<(), AwsError> {
        let mut fail = lock(&self.fail_next);
        if !fail.is_empty() {
            return Err(fail.remove(0));
        }
        drop(fail);
        lock(&self.queued).push(payload.clone());
        Ok(())
    }
}

/// The data-feeds ingest's table ([`FeedStore`]) in memory.
#[derive(Debug, Default)]
pub struct MemoryFeeds {
    items: Mutex<BTreeMap<ItemKey, FeedItem>>,
    objects: Mutex<BTreeMap<String, ObjectState>>,
    runs: Mutex<BTreeMap<String, FeedRun>>,
    lease: Mutex<Option<Lease>>,
    as_of: Mutex<Option<Timestamp>>,
    /// Items written, re-writes included.
    pub items_put: AtomicUsize,
}

impl MemoryFeeds {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every item, in key order.
    pub fn items(&self) -> Vec<FeedItem> {
        self.items.lock().unwrap().values().cloned().collect()
    }

    pub fn item(&self, pk: &str, sk: &str) -> Option<FeedItem> {
        self.items.lock().unwrap().get(&ItemKey::new(pk, sk)).cloned()
    }
}

impl FeedStore for MemoryFeeds {
    async fn feed_versions(&self, keys: &[ItemKey]) -> Result<Vec<(ItemKey, String)>, AwsError> {
        let items = self.items.lock().unwrap();
        Ok(keys.iter().filter_map(|k| items.get(k).map(|i| (k.clone(), i.versions.clone()))).collect())
    }

    async fn put_feed_items(&self, items: &[FeedItem]) -> Result<(), AwsError> {
        let mut held = self.items.lock().unwrap();
        for item in items {
            held.insert(item.key.clone(), item.clone());
        }
        self.items_put.fetch_add(items.len(), Ordering::Relaxed);
        Ok(())
    }

    async fn object_states(&self) -> Result<Vec<ObjectState>, AwsError> {
        Ok(self.objects.lock().unwrap().values().cloned().collect())
    }

    async fn save_object_state(&self, state: &ObjectState) -> Result<(), AwsError> {
        self.objects.lock().unwrap().insert(state.key.clone(), state.clone());
        Ok(())
    }

    async fn claim_feeds(&self, lease: &Lease, now: Timestamp) -> Result<bool, AwsError> {
        let mut held = self.lease.lock().unwrap();
        if held.as_ref().is_some_and(|h| h.owner != lease.owner && h.until > now) {
            return Ok(false);
        }
        *held = Some(lease.clone());
        Ok(true)
    }

    async fn release_feeds(&self, owner: &str) -> Result<(), AwsError> {
        let mut held = self.lease.lock().unwrap();
        if held.as_ref().is_some_and(|h| h.owner == owner) {
            *held = None;
        }
        Ok(())
    }

    async fn save_feed_run(&self, run: &FeedRun) -> Result<(), AwsError> {
        self.runs.lock().unwrap().insert(run.run_id.clone(), run.clone());
        Ok(())
    }

    async fn feed_run(&self, run_id: &str) -> Result<Option<FeedRun>, AwsError> {
        Ok(self.runs.lock().unwrap().get(run_id).cloned())
    }

    async fn recent_feed_runs(&self, limit: i32) -> Result<Vec<FeedRun>, AwsError> {
        Ok(self.runs.lock().unwrap().values().rev().take(limit.max(0) as usize).cloned().collect())
    }

    async fn save_feeds_as_of(&self, as_of: Timestamp) -> Result<(), AwsError> {
        *self.as_of.lock().unwrap() = Some(as_of);
        Ok(())
    }
}

impl MemoryFeeds {
    /// Applies a feed's CSV as the ingest does (rows grouped by item, merged
    /// into the items held): the lookups' tests fill the feeds with it.
    /// Rejected rows are skipped.
    pub fn load_csv<T: feeds::FeedRecord + feeds::Stored>(&self, csv: &str) {
        let reader = feeds::FeedReader::<_, T>::new(csv.as_bytes()).expect("a feed's header");
        let mut groups: BTreeMap<ItemKey, Vec<feeds::Versioned<T>>> = BTreeMap::new();
        for row in reader {
            if let Ok(feeds::Row::Valid(v)) = row
                && let Ok(key) = v.record.item_key()
            {
                groups.entry(key).or_default().push(v);
            }
        }
        let mut items = self.items.lock().unwrap();
        for (key, rows) in groups {
            let stored = items.get(&key).map(|i| i.versions.clone());
            if let Ok(Some(item)) = feeds::merge(&key, stored.as_deref(), rows) {
                items.insert(key, item);
            }
        }
    }

    /// The items a query of table partition `pk` with sort-key `prefix` reads.
    fn partition(&self, pk: &str, prefix: &str) -> Vec<FeedItem> {
        let items = self.items.lock().unwrap();
        items.values().filter(|i| i.key.pk == pk && i.key.sk.starts_with(prefix)).cloned().collect()
    }

    /// The items a `ByAccount` query reads, in index sort-key order.
    fn indexed(&self, gsi1pk: &str, prefix: &str) -> Vec<FeedItem> {
        let items = self.items.lock().unwrap();
        let mut found: Vec<FeedItem> = items
            .values()
            .filter(|i| i.index.as_ref().is_some_and(|(p, s)| p == gsi1pk && s.starts_with(prefix)))
            .cloned()
            .collect();
        found.sort_by(|a, b| (&a.index, &a.key).cmp(&(&b.index, &b.key)));
        found
    }
}

fn attr<'a>(item: &'a FeedItem, name: &str) -> Option<&'a str> {
    item.attrs.get(name).map(String::as_str)
}

fn memory_agreement(item: &FeedItem) -> Option<FeedAgreement> {
    let time = |name| attr(item, name).and_then(|t| crate::feeds::parse_time(t).ok());
    Some(FeedAgreement {
        agreement_id: attr(item, "agreementId")?.to_owned(),
        account: FeedAccountId::new(item.key.pk.strip_prefix("FEED#ACCOUNT#")?),
        status: attr(item, "status")?.to_owned(),
        start_time: time("startTime"),
        end_time: time("endTime"),
        acceptance_time: time("acceptanceTime"),
        offer_id: attr(item, "offerId").map(str::to_owned),
    })
}

impl FeedLookup for MemoryFeeds {
    async fn feeds_as_of(&self) -> Result<Option<Timestamp>, AwsError> {
        Ok(*self.as_of.lock().unwrap())
    }

    async fn feed_accounts(&self, account: &AwsAccountId) -> Result<Vec<FeedAccountId>, AwsError> {
        let items = self.indexed(&format!("ACCOUNT#{}", account.as_str()), "FEED#ACCOUNT#");
        Ok(items.iter().filter_map(|i| attr(i, "feedAccountId")).map(FeedAccountId::new).collect())
    }

    async fn aws_account_ids(&self, ids: &[FeedAccountId]) -> Result<BTreeMap<FeedAccountId, AwsAccountId>, AwsError> {
        let items = self.items.lock().unwrap();
        Ok(ids
            .iter()
            .filter_map(|id| {
                let item = items.get(&ItemKey::new(feeds::store::account_pk(id), "ACCOUNT"))?;
                Some((id.clone(), AwsAccountId::parse(attr(item, "awsAccountId")?).ok()?))
            })
            .collect())
    }

    /// Pages like the table: newest sort key first, from the one after
    /// `after`.
    async fn account_page(
        &self,
        account: &FeedAccountId,
        after: Option<&str>,
        limit: usize,
    ) -> Result<AccountPage, AwsError> {
        let mut items = self.partition(&feeds::store::account_pk(account), "");
        items.retain(|i| i.key.sk.as_str() > "ACCOUNT" && after.is_none_or(|a| i.key.sk.as_str() < a));
        items.sort_by(|a, b| b.key.sk.cmp(&a.key.sk));
        let mut page = AccountPage::default();
        if items.len() > limit.max(1) {
            items.truncate(limit.max(1));
            page.next = items.last().map(|i| i.key.sk.clone());
        }
        for item in &items {
            page.add(&item.key.sk, |name| attr(item, name), || memory_agreement(item));
        }
        Ok(page)
    }

    async fn last_usage(&self, account: &FeedAccountId, product_id: &str) -> Result<Option<Date>, AwsError> {
        let items = self.partition(&feeds::store::account_pk(account), feeds::store::USAGE_MONTH_PREFIX);
        Ok(items
            .iter()
            .filter(|i| attr(i, "productId") == Some(product_id))
            .filter_map(|i| attr(i, "usageDate").and_then(|d| crate::feeds::parse_date(d).ok()))
            .max())
    }

    async fn feed_products(&self) -> Result<Vec<FeedProduct>, AwsError> {
        let items = self.partition(feeds::store::PRODUCTS_PK, "");
        Ok(items
            .iter()
            .filter_map(|i| {
                Some(FeedProduct {
                    product_id: attr(i, "productId")?.to_owned(),
                    product_code: attr(i, "productCode").and_then(|c| ProductCode::parse(c).ok()),
                    title: attr(i, "title").map(str::to_owned),
                })
            })
            .collect())
    }

    async fn offer_products(&self, offer_id: &str) -> Result<Vec<String>, AwsError> {
        let items = self.partition(&format!("FEED#OFFER#{offer_id}"), "PRODUCT#");
        Ok(items.iter().filter_map(|i| attr(i, "productId")).map(str::to_owned).collect())
    }

    async fn product_offers(&self, product_id: &str) -> Result<Vec<String>, AwsError> {
        let items = self.indexed(&feeds::store::product_offers_index(product_id), "FEED#OFFER#");
        Ok(items.iter().filter_map(|i| attr(i, "offerId")).map(str::to_owned).collect())
    }

    /// Pages like the table: the cursor is the index sort key (and item
    /// key) of the page's last item.
    async fn offer_agreements(
        &self,
        offer_id: &str,
        active_only: bool,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<FeedAgreement>, LookupError> {
        let prefix = feeds::store::agreements_with_status(if active_only { "ACTIVE" } else { "" });
        let items = self.indexed(&feeds::store::offer_agreements_index(offer_id), &prefix);
        let sort_key = |i: &FeedItem| {
            format!("{}|{}|{}", i.index.as_ref().map(|x| x.1.as_str()).unwrap_or(""), i.key.pk, i.key.sk)
        };
        let from = match cursor {
            Some(c) => items.iter().position(|i| sort_key(i) == c).ok_or(LookupError::BadCursor)? + 1,
            None => 0,
        };
        let page: Vec<&FeedItem> = items.iter().skip(from).take(limit.max(1)).collect();
        let next_cursor = (from + page.len() < items.len()).then(|| page.last().map(|i| sort_key(i))).flatten();
        Ok(Page { items: page.into_iter().filter_map(memory_agreement).collect(), next_cursor })
    }
}
