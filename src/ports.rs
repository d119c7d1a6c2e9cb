//! The ports: what the functions need from the outside world, as small
//! traits. The AWS adapters ([`crate::aws`]) implement them for DynamoDB,
//! S3, CAS, EC2 and the Agreement API; the in-memory ones
//! (`psc_bridge::memory`, feature `test-util`) for tests of the rules
//! without Java or moto.
//!
//! Every method returns [`AwsError`] on failure (a listing: [`LookupError`],
//! which adds a bad cursor): the adapters are AWS services, and callers
//! decide on its `code` and `retryable`.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Read;
use std::path::Path;

use crate::aws::AwsError;
use crate::domain::{AwsAccountId, ContactRecord, Guid, ProductCode, Timestamp};
use crate::entitlement::{Agreement, InstanceCheck, InstanceId, Region};
use crate::feeds::{AccountPage, FeedAccountId, FeedAgreement, FeedItem, FeedProduct, FeedRun, ItemKey, ObjectState};
use crate::model::{
    Checkpoint, ExportOutcome, ExportParams, ExportRecord, ExportRequest, ExportStatus, Lease, Page, StoredContact,
    WriteOutcome,
};
use crate::notification::S3Location;
use crate::sync::{Coverage, SyncState};
use time::Date;

/// Why a listing failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The cursor is not one this listing handed out.
    #[error("the cursor is not valid for this query")]
    BadCursor,
    #[error(transparent)]
    Aws(#[from] AwsError),
}

/// The contacts: conditional writes (ingest) and the lookups (the API).
pub trait ContactStore: Send + Sync {
    /// Puts or deletes one contact, only if it is newer than what is held.
    fn apply(
        &self,
        rec: &ContactRecord,
        request_id: &str,
    ) -> impl Future<Output = Result<WriteOutcome, AwsError>> + Send;

    fn contacts_by_account(
        &self,
        account: &AwsAccountId,
        product: Option<&ProductCode>,
        cursor: Option<&str>,
        limit: i32,
    ) -> impl Future<Output = Result<Page<StoredContact>, LookupError>> + Send;

    /// Contacts whose email matches, case-insensitively.
    fn contacts_by_email(&self, email: &str) -> impl Future<Output = Result<Vec<StoredContact>, AwsError>> + Send;

    /// The contact with this Customer Guid, unless deleted.
    fn contact_by_guid(&self, guid: &Guid) -> impl Future<Output = Result<Option<StoredContact>, AwsError>> + Send;
}

/// The sync state (watermark) and the record of every export.
pub trait ExportLog: Send + Sync {
    fn sync_state(&self) -> impl Future<Output = Result<SyncState, AwsError>> + Send;

    /// Records that an export with `coverage` was applied; returns the new state.
    fn record_coverage(
        &self,
        coverage: Coverage,
        initial: crate::domain::Timestamp,
    ) -> impl Future<Output = Result<SyncState, AwsError>> + Send;

    /// Forgets the watermark (full re-sync).
    fn reset_watermark(&self) -> impl Future<Output = Result<SyncState, AwsError>> + Send;

    fn export(&self, request_id: &str) -> impl Future<Output = Result<Option<ExportRecord>, AwsError>> + Send;

    /// The newest exports first.
    fn recent_exports(&self, limit: i32) -> impl Future<Output = Result<Vec<ExportRecord>, AwsError>> + Send;

    /// start-export: the source accepted the request.
    fn export_requested(&self, request: &ExportRequest) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// ingest-export: a notification arrived for this export. A `message`
    /// also marks it finished.
    fn export_received(
        &self,
        request_id: &str,
        status: ExportStatus,
        coverage: Option<Coverage>,
        message: Option<&str>,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// ingest-export: the export's outcome and counts (its lease ends).
    fn export_finished(
        &self,
        request_id: &str,
        outcome: &ExportOutcome,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// ingest-export: takes the lease of an APPLYING export for invocation
    /// `lease.owner` until `lease.until`, unless another invocation holds
    /// one that has not run out by `now`. The record (with its checkpoint)
    /// when claimed; `None` when another invocation has it, or the export
    /// is not APPLYING.
    fn claim_export(
        &self,
        request_id: &str,
        lease: &Lease,
        now: crate::domain::Timestamp,
    ) -> impl Future<Output = Result<Option<ExportRecord>, AwsError>> + Send;

    /// ingest-export: records `checkpoint`, if `owner` still holds the
    /// lease; false when it does not (another invocation took over). With
    /// `release`, the lease ends too: the next invocation (a continuation)
    /// may take it at once.
    fn save_checkpoint(
        &self,
        request_id: &str,
        owner: &str,
        checkpoint: &Checkpoint,
        release: bool,
    ) -> impl Future<Output = Result<bool, AwsError>> + Send;
}

/// A blocking reader of an object's bytes, read on a blocking thread.
pub type ObjectReader = Box<dyn Read + Send>;

/// An object opened part-way ([`ObjectStore::open_from`]).
pub struct Opened {
    pub reader: ObjectReader,
    /// The size of the whole object, in bytes.
    pub size: u64,
}

/// An object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub key: String,
    pub size: u64,
    pub etag: String,
    pub last_modified: Timestamp,
}

/// The export bucket. A missing object is an error with code
/// [`crate::aws::codes::NO_SUCH_KEY`].
pub trait ObjectStore: Send + Sync {
    /// The whole object, or `None` when it is larger than `max_bytes`.
    fn read_small(
        &self,
        loc: &S3Location,
        max_bytes: usize,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, AwsError>> + Send;

    /// The object as a stream (memory does not grow with its size).
    fn open(&self, loc: &S3Location) -> impl Future<Output = Result<ObjectReader, AwsError>> + Send;

    /// The object from byte `from` on (a ranged GET), with the size of the
    /// whole object: where an ingest resumes from its checkpoint. At or
    /// past the end, an empty stream.
    fn open_from(&self, loc: &S3Location, from: u64) -> impl Future<Output = Result<Opened, AwsError>> + Send;

    /// The first `len` bytes of the object (fewer when it is shorter): a
    /// ranged GET.
    fn read_head(&self, loc: &S3Location, len: u64) -> impl Future<Output = Result<Vec<u8>, AwsError>> + Send;

    /// Every object under `prefix` (all pages), in key order.
    fn list(&self, bucket: &str, prefix: &str) -> impl Future<Output = Result<Vec<Listed>, AwsError>> + Send;

    /// Uploads a local file.
    fn put_file(
        &self,
        loc: &S3Location,
        path: &Path,
        content_type: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// What the data-feeds ingest keeps in the table (`crate::feeds`): the
/// feeds' items, how far each month object is applied, the runs, and the
/// lease that lets one invocation at a time apply the feeds.
pub trait FeedStore: Send + Sync {
    /// The stored versions of the items that exist among `keys` (any
    /// number of keys; an absent item is left out).
    fn feed_versions(&self, keys: &[ItemKey]) -> impl Future<Output = Result<Vec<(ItemKey, String)>, AwsError>> + Send;

    /// Writes whole items (any number).
    fn put_feed_items(&self, items: &[FeedItem]) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// How far every month object seen is applied.
    fn object_states(&self) -> impl Future<Output = Result<Vec<ObjectState>, AwsError>> + Send;

    fn save_object_state(&self, state: &ObjectState) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Takes (or renews) the feeds' lease for `lease.owner` until
    /// `lease.until`, unless another owner holds one that has not run out
    /// by `now`. False when another owner has it.
    fn claim_feeds(&self, lease: &Lease, now: Timestamp) -> impl Future<Output = Result<bool, AwsError>> + Send;

    /// Ends `owner`'s lease (when it holds it).
    fn release_feeds(&self, owner: &str) -> impl Future<Output = Result<(), AwsError>> + Send;

    fn save_feed_run(&self, run: &FeedRun) -> impl Future<Output = Result<(), AwsError>> + Send;

    fn feed_run(&self, run_id: &str) -> impl Future<Output = Result<Option<FeedRun>, AwsError>> + Send;

    /// The newest runs first.
    fn recent_feed_runs(&self, limit: i32) -> impl Future<Output = Result<Vec<FeedRun>, AwsError>> + Send;

    /// Records the newest delivery applied, which the lookups give as the
    /// feeds' `asOf` ([`FeedLookup::feeds_as_of`]).
    fn save_feeds_as_of(&self, as_of: Timestamp) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// What the lookups read of the data feeds (`crate::feeds::lookup` joins
/// them): each method is one query or one batch of keys.
pub trait FeedLookup: Send + Sync {
    /// The newest delivery applied (`None` before a run finished).
    fn feeds_as_of(&self) -> impl Future<Output = Result<Option<Timestamp>, AwsError>> + Send;

    /// The feeds' ids of an AWS account (the bridge, by the `ByAccount` index).
    fn feed_accounts(
        &self,
        account: &AwsAccountId,
    ) -> impl Future<Output = Result<Vec<FeedAccountId>, AwsError>> + Send;

    /// The feeds' ids' AWS accounts, for those the Account feed bridged.
    fn aws_account_ids(
        &self,
        ids: &[FeedAccountId],
    ) -> impl Future<Output = Result<BTreeMap<FeedAccountId, AwsAccountId>, AwsError>> + Send;

    /// One page of a feed account's agreements (revision in force) and usage
    /// days: every agreement first, then the days it used a product, newest
    /// first; `after` is the previous page's `next`.
    fn account_page(
        &self,
        account: &FeedAccountId,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<AccountPage, AwsError>> + Send;

    /// The latest usage date of `product_id` by `account`.
    fn last_usage(
        &self,
        account: &FeedAccountId,
        product_id: &str,
    ) -> impl Future<Output = Result<Option<Date>, AwsError>> + Send;

    /// Every product the feeds list (a seller has few).
    fn feed_products(&self) -> impl Future<Output = Result<Vec<FeedProduct>, AwsError>> + Send;

    /// The products an offer is for.
    fn offer_products(&self, offer_id: &str) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;

    /// The offers of a product.
    fn product_offers(&self, product_id: &str) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;

    /// A page of an offer's agreements in force (`ACTIVE` ones only when
    /// `active_only`), in agreement id order within a status.
    fn offer_agreements(
        &self,
        offer_id: &str,
        active_only: bool,
        cursor: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<Page<FeedAgreement>, LookupError>> + Send;
}

/// A later invocation of this function with `payload`: how an ingest that
/// runs out of time goes on (Lambda `Invoke`, `InvocationType: Event`).
pub trait Continuation: Send + Sync {
    fn continue_later(&self, payload: &serde_json::Value) -> impl Future<Output = Result<(), AwsError>> + Send;
}

/// Where exports come from: `StartSupportDataExport`.
pub trait ExportSource: Send + Sync {
    /// Starts an export; returns the request id the source gave it (as
    /// given: the caller checks its shape).
    fn start_export(&self, params: &ExportParams) -> impl Future<Output = Result<String, AwsError>> + Send;
}

/// EC2 `ConfirmProductInstance`: does this instance, in this region, run
/// this product, and who owns it.
pub trait InstanceConfirmer: Send + Sync {
    fn confirm_product_instance(
        &self,
        region: &Region,
        instance: &InstanceId,
        product: &ProductCode,
    ) -> impl Future<Output = Result<InstanceCheck, AwsError>> + Send;
}

/// The AWS Marketplace Agreement API: the purchase agreements an account
/// accepted from this seller (`SearchAgreements`, all pages).
pub trait AgreementSource: Send + Sync {
    fn purchase_agreements(
        &self,
        acceptor: &AwsAccountId,
    ) -> impl Future<Output = Result<Vec<Agreement>, AwsError>> + Send;
}

/// Every live contact of the table, a page at a time (contact-events'
/// backfill). Pages are in no particular order; a page may be short, or
/// empty, and still have a next cursor.
pub trait ContactScan: Send + Sync {
    fn scan_contacts(
        &self,
        cursor: Option<&str>,
        limit: i32,
    ) -> impl Future<Output = Result<Page<StoredContact>, LookupError>> + Send;
}

/// One event for the bus: `source`, `detail-type`, the detail (JSON text)
/// and when it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusEvent {
    pub source: String,
    pub detail_type: String,
    pub detail: String,
    pub time: Option<crate::domain::Timestamp>,
}

impl BusEvent {
    /// Its size as EventBridge counts it against the 256 KB of a
    /// `PutEvents` call: source, detail-type, detail, and 14 bytes for the time.
    pub fn size(&self) -> usize {
        self.source.len() + self.detail_type.len() + self.detail.len() + 14
    }
}

/// An event bus (EventBridge `PutEvents`): the outcome of each entry, in
/// order, `None` when it was accepted and the error code when it was not.
pub trait EventBus: Send + Sync {
    fn put_events(&self, events: &[BusEvent]) -> impl Future<Output = Result<Vec<Option<String>>, AwsError>> + Send;
}

// A shared reference to a port is the port: one store can serve several
// handlers (and a test can keep its in-memory store to look into).

impl<T: ContactStore + ?Sized> ContactStore for &T {
    fn apply(
        &self,
        rec: &ContactRecord,
        request_id: &str,
    ) -> impl Future<Output = Result<WriteOutcome, AwsError>> + Send {
        (**self).apply(rec, request_id)
    }
    fn contacts_by_account(
        &self,
        account: &AwsAccountId,
        product: Option<&ProductCode>,
        cursor: Option<&str>,
        limit: i32,
    ) -> impl Future<Output = Result<Page<StoredContact>, LookupError>> + Send {
        (**self).contacts_by_account(account, product, cursor, limit)
    }
    fn contacts_by_email(&self, email: &str) -> impl Future<Output = Result<Vec<StoredContact>, AwsError>> + Send {
        (**self).contacts_by_email(email)
    }
    fn contact_by_guid(&self, guid: &Guid) -> impl Future<Output = Result<Option<StoredContact>, AwsError>> + Send {
        (**self).contact_by_guid(guid)
    }
}

impl<T: ExportLog + ?Sized> ExportLog for &T {
    fn sync_state(&self) -> impl Future<Output = Result<SyncState, AwsError>> + Send {
        (**self).sync_state()
    }
    fn record_coverage(
        &self,
        coverage: Coverage,
        initial: crate::domain::Timestamp,
    ) -> impl Future<Output = Result<SyncState, AwsError>> + Send {
        (**self).record_coverage(coverage, initial)
    }
    fn reset_watermark(&self) -> impl Future<Output = Result<SyncState, AwsError>> + Send {
        (**self).reset_watermark()
    }
    fn export(&self, request_id: &str) -> impl Future<Output = Result<Option<ExportRecord>, AwsError>> + Send {
        (**self).export(request_id)
    }
    fn recent_exports(&self, limit: i32) -> impl Future<Output = Result<Vec<ExportRecord>, AwsError>> + Send {
        (**self).recent_exports(limit)
    }
    fn export_requested(&self, request: &ExportRequest) -> impl Future<Output = Result<(), AwsError>> + Send {
        (**self).export_requested(request)
    }
    fn export_received(
        &self,
        request_id: &str,
        status: ExportStatus,
        coverage: Option<Coverage>,
        message: Option<&str>,
    ) -> impl Future<Output = Result<(), AwsError>> + Send {
        (**self).export_received(request_id, status, coverage, message)
    }
    fn export_finished(
        &self,
        request_id: &str,
        outcome: &ExportOutcome,
    ) -> impl Future<Output = Result<(), AwsError>> + Send {
        (**self).export_finished(request_id, outcome)
    }
    fn claim_export(
        &self,
        request_id: &str,
        lease: &Lease,
        now: crate::domain::Timestamp,
    ) -> impl Future<Output = Result<Option<ExportRecord>, AwsError>> + Send {
        (**self).claim_export(request_id, lease, now)
    }
    fn save_checkpoint(
        &self,
        request_id: &str,
        owner: &str,
        checkpoint: &Checkpoint,
        release: bool,
    ) -> impl Future<Output = Result<bool, AwsError>> + Send {
        (**self).save_checkpoint(request_id, owner, checkpoint, release)
    }
}

impl<T: InstanceConfirmer + ?Sized> InstanceConfirmer for &T {
    fn confirm_product_instance(
        &self,
        region: &Region,
        instance: &InstanceId,
        product: &ProductCode,
    ) -> impl Future<Output = Result<InstanceCheck, AwsError>> + Send {
        (**self).confirm_product_instance(region, instance, product)
    }
}

impl<T: AgreementSource + ?Sized> AgreementSource for &T {
    fn purchase_agreements(
        &self,
        acceptor: &AwsAccountId,
    ) -> impl Future<Output = Result<Vec<Agreement>, AwsError>> + Send {
        (**self).purchase_agreements(acceptor)
    }
}

impl<T: EventBus + ?Sized> EventBus for &T {
    fn put_events(&self, events: &[BusEvent]) -> impl Future<Output = Result<Vec<Option<String>>, AwsError>> + Send {
        (**self).put_events(events)
    }
}

impl<T: ContactScan + ?Sized> ContactScan for &T {
    fn scan_contacts(
        &self,
        cursor: Option<&str>,
        limit: i32,
    ) -> impl Future<Output = Result<Page<StoredContact>, LookupError>> + Send {
        (**self).scan_contacts(cursor, limit)
    }
}

impl<T: ObjectStore + ?Sized> ObjectStore for &T {
    fn read_small(
        &self,
        loc: &S3Location,
        max_bytes: usize,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, AwsError>> + Send {
        (**self).read_small(loc, max_bytes)
    }
    fn open(&self, loc: &S3Location) -> impl Future<Output = Result<ObjectReader, AwsError>> + Send {
        (**self).open(loc)
    }
    fn open_from(&self, loc: &S3Location, from: u64) -> impl Future<Output = Result<Opened, AwsError>> + Send {
        (**self).open_from(loc, from)
    }
    fn read_head(&self, loc: &S3Location, len: u64) -> impl Future<Output = Result<Vec<u8>, AwsError>> + Send {
        (**self).read_head(loc, len)
    }
    fn list(&self, bucket: &str, prefix: &str) -> impl Future<Output = Result<Vec<Listed>, AwsError>> + Send {
        (**self).list(bucket, prefix)
    }
    fn put_file(
        &self,
        loc: &S3Location,
        path: &Path,
        content_type: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send {
        (**self).put_file(loc, path, content_type)
    }
}

impl<T: FeedStore + ?Sized> FeedStore for &T {
    fn feed_versions(&self, keys: &[ItemKey]) -> impl Future<Output = Result<Vec<(ItemKey, String)>, AwsError>> + Send {
        (**self).feed_versions(keys)
    }
    fn put_feed_items(&self, items: &[FeedItem]) -> impl Future<Output = Result<(), AwsError>> + Send {
        (**self).put_feed_items(items)
    }
    fn object_states(&self) -> impl Future<Output = Result<Vec<ObjectState>, AwsError>> + Send {
        (**self).object_states()
    }
    fn save_object_state(&self, state: &ObjectState) -> impl Future<Output = Result<(), AwsError>> + Send {
        (**self).save_object_state(state)
    }
    fn claim_feeds(&self, lease: &Lease, now: Timestamp) -> impl Future<Output = Result<bool, AwsError>> + Send {
        (**self).claim_feeds(lease, now)
    }
    fn release_feeds(&self, owner: &str) -> impl Future<Output = Result<(), AwsError>> + Send {
        (**self).release_feeds(owner)
    }
    fn save_feed_run(&self, run: &FeedRun) -> impl Future<Output = Result<(), AwsError>> + Send {
        (**self).save_feed_run(run)
    }
    fn feed_run(&self, run_id: &str) -> impl Future<Output = Result<Option<FeedRun>, AwsError>> + Send {
        (**self).feed_run(run_id)
    }
    fn recent_feed_runs(&self, limit: i32) -> impl Future<Output = Result<Vec<FeedRun>, AwsError>> + Send {
        (**self).recent_feed_runs(limit)
    }
    fn save_feeds_as_of(&self, as_of: Timestamp) -> impl Future<Output = Result<(), AwsError>> + Send {
        (**self).save_feeds_as_of(as_of)
    }
}

impl<T: FeedLookup + ?Sized> FeedLookup for &T {
    fn feeds_as_of(&self) -> impl Future<Output = Result<Option<Timestamp>, AwsError>> + Send {
        (**self).feeds_as_of()
    }
    fn feed_accounts(
        &self,
        account: &AwsAccountId,
    ) -> impl Future<Output = Result<Vec<FeedAccountId>, AwsError>> + Send {
        (**self).feed_accounts(account)
    }
    fn aws_account_ids(
        &self,
        ids: &[FeedAccountId],
    ) -> impl Future<Output = Result<BTreeMap<FeedAccountId, AwsAccountId>, AwsError>> + Send {
        (**self).aws_account_ids(ids)
    }
    fn account_page(
        &self,
        account: &FeedAccountId,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<AccountPage, AwsError>> + Send {
        (**self).account_page(account, after, limit)
    }
    fn last_usage(
        &self,
        account: &FeedAccountId,
        product_id: &str,
    ) -> impl Future<Output = Result<Option<Date>, AwsError>> + Send {
        (**self).last_usage(account, product_id)
    }
    fn feed_products(&self) -> impl Future<Output = Result<Vec<FeedProduct>, AwsError>> + Send {
        (**self).feed_products()
    }
    fn offer_products(&self, offer_id: &str) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send {
        (**self).offer_products(offer_id)
    }
    fn product_offers(&self, product_id: &str) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send {
        (**self).product_offers(product_id)
    }
    fn offer_agreements(
        &self,
        offer_id: &str,
        active_only: bool,
        cursor: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<Page<FeedAgreement>, LookupError>> + Send {
        (**self).offer_agreements(offer_id, active_only, cursor, limit)
    }
}
