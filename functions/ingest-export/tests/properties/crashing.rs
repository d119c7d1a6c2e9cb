//! The in-memory table with a kill switch: at a chosen call (before or
//! after the call takes effect, as a process killed before DynamoDB got the
//! request or before its answer came back), it signals the test and never
//! answers again, so the test can drop the invocation where it stands.
//! It also notes, at each `record_coverage`, what the table held then.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use psc_bridge::aws::AwsError;
use psc_bridge::domain::{AwsAccountId, ContactRecord, Guid, ProductCode, Timestamp};
use psc_bridge::memory::{Held, MemoryStore};
use psc_bridge::model::{
    Checkpoint, ExportOutcome, ExportRecord, ExportRequest, ExportStatus, Lease, Page, StoredContact, WriteOutcome,
};
use psc_bridge::ports::{ContactStore, ExportLog, LookupError};
use psc_bridge::sync::{Coverage, SyncState};
use tokio::sync::Notify;

/// Where the next invocation dies: at its `call`-th store call (0: the
/// first), `after` the call took effect or before.
#[derive(Debug, Clone, Copy)]
pub struct CrashAt {
    pub call: u32,
    pub after: bool,
}

/// What the table held when a coverage was recorded.
pub type Recorded = (Coverage, BTreeMap<Guid, Option<Held>>);

#[derive(Default)]
pub struct Switch {
    next: Mutex<Option<CrashAt>>,
    crashed: AtomicBool,
    pub notify: Notify,
    recorded: Mutex<Vec<Recorded>>,
}

enum Step {
    Go,
    Before,
    After,
}

impl Switch {
    /// Arms (or, with `None`, disarms) the switch for the next invocation.
    pub fn arm(&self, at: Option<CrashAt>) {
        *self.next.lock().unwrap() = at;
        self.crashed.store(false, Ordering::SeqCst);
    }

    pub fn recorded(&self) -> Vec<Recorded> {
        self.recorded.lock().unwrap().clone()
    }

    fn step(&self) -> Step {
        if self.crashed.load(Ordering::SeqCst) {
            return Step::Before;
        }
        let mut next = self.next.lock().unwrap();
        match *next {
            Some(CrashAt { call: 0, after }) => {
                *next = None;
                self.crashed.store(true, Ordering::SeqCst);
                self.notify.notify_one();
                if after { Step::After } else { Step::Before }
            }
            Some(CrashAt { call, after }) => {
                *next = Some(CrashAt { call: call - 1, after });
                Step::Go
            }
            None => Step::Go,
        }
    }
}

#[derive(Clone)]
pub struct Crashing {
    pub inner: Arc<MemoryStore>,
    pub switch: Arc<Switch>,
}

impl Crashing {
    pub fn new() -> Self {
        Self { inner: Arc::new(MemoryStore::new()), switch: Arc::new(Switch::default()) }
    }

    async fn call<T>(&self, call: impl Future<Output = T>) -> T {
        match self.switch.step() {
            Step::Go => call.await,
            Step::Before => std::future::pending().await,
            Step::After => {
                drop(call.await);
                std::future::pending().await
            }
        }
    }
}

impl ContactStore for Crashing {
    async fn apply(&self, rec: &ContactRecord, request_id: &str) -> Result<WriteOutcome, AwsError> {
        self.call(self.inner.apply(rec, request_id)).await
    }
    async fn contacts_by_account(
        &self,
        account: &AwsAccountId,
        product: Option<&ProductCode>,
        cursor: Option<&str>,
        limit: i32,
    ) -> Result<Page<StoredContact>, LookupError> {
        self.call(self.inner.contacts_by_account(account, product, cursor, limit)).await
    }
    async fn contacts_by_email(&self, email: &str) -> Result<Vec<StoredContact>, AwsError> {
        self.call(self.inner.contacts_by_email(email)).await
    }
    async fn contact_by_guid(&self, guid: &Guid) -> Result<Option<StoredContact>, AwsError> {
        self.call(self.inner.contact_by_guid(guid)).await
    }
}

impl ExportLog for Crashing {
    async fn sync_state(&self) -> Result<SyncState, AwsError> {
        self.call(self.inner.sync_state()).await
    }
    async fn record_coverage(&self, coverage: Coverage, initial: Timestamp) -> Result<SyncState, AwsError> {
        let held = crate::world::all_guids().into_iter().map(|g| (g.clone(), self.inner.held(&g))).collect();
        self.switch.recorded.lock().unwrap().push((coverage, held));
        self.call(self.inner.record_coverage(coverage, initial)).await
    }
    async fn reset_watermark(&self) -> Result<SyncState, AwsError> {
        self.call(self.inner.reset_watermark()).await
    }
    async fn export(&self, request_id: &str) -> Result<Option<ExportRecord>, AwsError> {
        self.call(self.inner.export(request_id)).await
    }
    async fn recent_exports(&self, limit: i32) -> Result<Vec<ExportRecord>, AwsError> {
        self.call(self.inner.recent_exports(limit)).await
    }
    async fn export_requested(&self, r: &ExportRequest) -> Result<(), AwsError> {
        self.call(self.inner.export_requested(r)).await
    }
    async fn export_received(
        &self,
        id: &str,
        status: ExportStatus,
        coverage: Option<Coverage>,
        message: Option<&str>,
    ) -> Result<(), AwsError> {
        self.call(self.inner.export_received(id, status, coverage, message)).await
    }
    async fn export_finished(&self, id: &str, o: &ExportOutcome) -> Result<(), AwsError> {
        self.call(self.inner.export_finished(id, o)).await
    }
    async fn claim_export(&self, id: &str, lease: &Lease, now: Timestamp) -> Result<Option<ExportRecord>, AwsError> {
        self.call(self.inner.claim_export(id, lease, now)).await
    }
    async fn save_checkpoint(&self, id: &str, owner: &str, c: &Checkpoint, release: bool) -> Result<bool, AwsError> {
        self.call(self.inner.save_checkpoint(id, owner, c, release)).await
    }
}
