//! The contacts table: contacts, the sync state and export records in one
//! DynamoDB table ([`DynamoStore`] implements [`ContactStore`] and
//! [`ExportLog`]).
//!
//! * [`item`]: the item codec (models to items and back);
//! * [`cursor`]: the pagination cursor codec;
//! * [`put`]: the contact write, one conditional `PutItem` sent without the
//!   SDK client's orchestrator (the ingest's hot call); every other call
//!   goes through the SDK client;
//! * [`feed_item`]: a data-feeds item as the table stores it (the feeds'
//!   items are written and read in the private `feeds` module).

mod conn;
pub mod cursor;
mod feeds;
pub mod item;
pub mod put;
mod sigv4;

pub use feeds::encode_item as feed_item;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;

use self::item::{
    BY_ACCOUNT_INDEX, BY_EMAIL_INDEX, CONTACT_SK, EXPORT_SK, EXPORTS_GSI_PK, Item, SYNC_PK, SYNC_SK, account_pk,
    checkpoint_value, contact_pk, decode_contact, decode_export, decode_sync_state, email_pk, export_pk, n, s,
    sync_state_item,
};
use crate::aws::error::{AwsError, codes};
use crate::domain::{AwsAccountId, ContactRecord, Guid, ProductCode, Timestamp};
use crate::model::{
    Checkpoint, ExportOutcome, ExportRecord, ExportRequest, ExportStatus, Lease, Page, StoredContact, WriteOutcome,
};
use crate::ports::{ContactScan, ContactStore, ExportLog, LookupError};
use crate::sync::{Coverage, SyncState};

const SERVICE: &str = "DynamoDB";

/// How often an optimistic update of the sync state is tried before giving up.
const SYNC_STATE_ATTEMPTS: usize = 20;

fn ddb_error<E: aws_smithy_types::error::metadata::ProvideErrorMetadata>(
    operation: &'static str,
) -> impl FnOnce(aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>) -> AwsError {
    move |e| AwsError::from_sdk(SERVICE, operation, &e)
}

/// A conditional write's result: `true` when written, `false` when its
/// condition did not hold; any other error stays one.
fn condition_met<T>(result: Result<T, AwsError>) -> Result<bool, AwsError> {
    match result {
        Ok(_) => Ok(true),
        Err(e) if e.has_code(codes::CONDITIONAL_CHECK_FAILED) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Write units DynamoDB reported (`ReturnConsumedCapacity=INDEXES`), in
/// thousandths: in all, and the table's own (without the indexes'); shared
/// by a store's clones.
#[derive(Clone, Default)]
struct WriteUnitCount(Arc<[AtomicU64; 2]>);

impl WriteUnitCount {
    fn add(&self, all: f64, table: f64) {
        let milli = |units: f64| (units * 1000.0).round() as u64;
        self.0[0].fetch_add(milli(all), Ordering::Relaxed);
        self.0[1].fetch_add(milli(table), Ordering::Relaxed);
    }

    /// In all, and the table's own.
    fn total(&self) -> (f64, f64) {
        let [all, table] = &*self.0;
        (all.load(Ordering::Relaxed) as f64 / 1000.0, table.load(Ordering::Relaxed) as f64 / 1000.0)
    }
}

/// The contacts table.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
    /// Write units DynamoDB reported for the contact writes
    /// ([`ContactStore::apply`]).
    contact_write_units: WriteUnitCount,
    /// The same for the data-feed items ([`put_feed_items`](crate::ports::FeedStore::put_feed_items)).
    feed_write_units: WriteUnitCount,
    /// The contact write's own client (endpoint, credentials, timeouts and
    /// retries of `client`); shared by the clones.
    put: Arc<put::PutClient>,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        let put = Arc::new(put::PutClient::new(&client));
        Self {
            client,
            table: table.into(),
            contact_write_units: WriteUnitCount::default(),
            feed_write_units: WriteUnitCount::default(),
            put,
        }
    }

    /// The write request units DynamoDB reported consumed
    /// (`ReturnConsumedCapacity=INDEXES`) by the contact writes of this store
    /// and its clones so far: in all (the table's and its indexes'), and the
    /// table's own. A write turned away by its condition reports none,
    /// although DynamoDB bills it one unit.
    pub fn contact_write_units(&self) -> (f64, f64) {
        self.contact_write_units.total()
    }

    /// The table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Opens the connections (TLS handshake) during init so the first
    /// requests do not pay for them: the SDK client's, and the contact
    /// write's (which also resolves its endpoint). Errors are ignored: this
    /// is a warm-up.
    pub async fn warm_up(&self) {
        let _ = self.client.describe_table().table_name(&self.table).send().await;
        self.put.warm_up(&self.table).await;
    }

    /// Every attribute stored under this Customer Guid (audits and tests:
    /// proves what a DELETE left behind).
    pub async fn raw_contact_item(&self, guid: &Guid) -> Result<Option<Item>, AwsError> {
        self.get(contact_pk(guid), CONTACT_SK, true).await
    }

    /// The item at `pk` / `sk`, if any.
    async fn get(&self, pk: String, sk: &str, consistent: bool) -> Result<Option<Item>, AwsError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(ddb_error("GetItem"))?;
        Ok(out.item)
    }

    /// An UpdateItem of the record of export `request_id`, with `#status`
    /// standing for the reserved word `status`.
    fn update_export(&self, request_id: &str) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(export_pk(request_id)))
            .key("sk", s(EXPORT_SK))
            .expression_attribute_names("#status", "status")
    }

    /// Puts the sync state if its version is still `expected_version`;
    /// false when another writer got there first.
    async fn put_sync_state(&self, next: &SyncState, expected_version: u64) -> Result<bool, AwsError> {
        let req =
            self.client.put_item().table_name(&self.table).set_item(Some(sync_state_item(next, expected_version + 1)));
        let req = if expected_version == 0 {
            req.condition_expression("attribute_not_exists(pk)")
        } else {
            req.condition_expression("version = :v").expression_attribute_values(":v", n(expected_version))
        };
        condition_met(req.send().await.map_err(ddb_error("PutItem")))
    }

    /// Updates the sync state with `change`, retrying on concurrent updates.
    async fn update_sync_state(&self, change: impl Fn(&SyncState) -> SyncState) -> Result<SyncState, AwsError> {
        for _ in 0..SYNC_STATE_ATTEMPTS {
            let current = self.sync_state().await?;
            let mut next = change(&current);
            if self.put_sync_state(&next, current.version).await? {
                next.version = current.version + 1;
                return Ok(next);
            }
        }
        let mut e = AwsError::service(
            SERVICE,
            "PutItem",
            codes::CONDITIONAL_CHECK_FAILED,
            "the sync state kept changing under us",
            400,
        );
        e.retryable = true;
        Err(e)
    }
}

/// A contact write lands only on a new contact or over an older record
/// (R3); or over the same record of the same export, which an ingest
/// resumed after a crash writes again (the same item, counted once more as
/// applied, as one pass counts it).
const NEWER_ONLY: &str =
    "attribute_not_exists(pk) OR operationTime < :t OR (operationTime = :t AND exportRequestId = :rid)";

impl ContactStore for DynamoStore {
    /// One conditional `PutItem` ([`put`]), its write units counted.
    async fn apply(&self, rec: &ContactRecord, request_id: &str) -> Result<WriteOutcome, AwsError> {
        match self.put.put(&self.table, rec, request_id, NEWER_ONLY).await {
            Ok(units) => {
                self.contact_write_units.add(units.all, units.table);
                Ok(WriteOutcome::Applied)
            }
            Err(e) if e.has_code(codes::CONDITIONAL_CHECK_FAILED) => Ok(WriteOutcome::Stale),
            Err(e) => Err(e),
        }
    }

    async fn contacts_by_account(
        &self,
        account: &AwsAccountId,
        product: Option<&ProductCode>,
        cursor: Option<&str>,
        limit: i32,
    ) -> Result<Page<StoredContact>, LookupError> {
        let pk = account_pk(account);
        let start = match cursor {
            Some(c) => Some(cursor::decode(c, &pk).ok_or(LookupError::BadCursor)?),
            None => None,
        };
        let mut req = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(BY_ACCOUNT_INDEX)
            .expression_attribute_values(":p", s(pk))
            .set_exclusive_start_key(start)
            .limit(limit);
        req = match product {
            Some(code) => req
                .key_condition_expression("gsi1pk = :p AND begins_with(gsi1sk, :prefix)")
                .expression_attribute_values(":prefix", s(format!("PRODUCT#{code}#"))),
            // The account's contacts, not its data-feed items (`FEED#...`).
            None => req
                .key_condition_expression("gsi1pk = :p AND begins_with(gsi1sk, :prefix)")
                .expression_attribute_values(":prefix", s("PRODUCT#")),
        };
        let out = match req.send().await.map_err(ddb_error("Query")) {
            Ok(out) => out,
            // A cursor that decodes but names a key outside this query
            // (another product's listing): DynamoDB refuses the start key.
            Err(e) if cursor.is_some() && e.has_code(codes::VALIDATION) => return Err(LookupError::BadCursor),
            Err(e) => return Err(e.into()),
        };
        let items = out.items().iter().filter_map(decode_contact).collect();
        let next_cursor = out.last_evaluated_key().and_then(cursor::encode);
        Ok(Page { items, next_cursor })
    }

    async fn contacts_by_email(&self, email: &str) -> Result<Vec<StoredContact>, AwsError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_EMAIL_INDEX)
                .key_condition_expression("gsi2pk = :p")
                .expression_attribute_values(":p", s(email_pk(email)))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(ddb_error("Query"))?;
            items.extend(out.items().iter().filter_map(decode_contact));
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    async fn contact_by_guid(&self, guid: &Guid) -> Result<Option<StoredContact>, AwsError> {
        Ok(self.get(contact_pk(guid), CONTACT_SK, false).await?.as_ref().and_then(decode_contact))
    }
}

impl ContactScan for DynamoStore {
    /// A `Scan` of the table for `kind = CONTACT` (deletion markers, export
    /// records and the sync state are left out by the filter). `limit` is the
    /// number of items read, so a page holds at most that many contacts.
    async fn scan_contacts(&self, cursor: Option<&str>, limit: i32) -> Result<Page<StoredContact>, LookupError> {
        let start = match cursor {
            Some(c) => Some(cursor::decode_table_key(c).ok_or(LookupError::BadCursor)?),
            None => None,
        };
        let out = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("kind = :contact")
            .expression_attribute_values(":contact", s("CONTACT"))
            .set_exclusive_start_key(start)
            .limit(limit)
            .send()
            .await
            .map_err(ddb_error("Scan"))?;
        let items = out.items().iter().filter_map(decode_contact).collect();
        let next_cursor = out.last_evaluated_key().and_then(cursor::encode);
        Ok(Page { items, next_cursor })
    }
}

impl ExportLog for DynamoStore {
    async fn sync_state(&self) -> Result<SyncState, AwsError> {
        Ok(self.get(SYNC_PK.to_owned(), SYNC_SK, true).await?.as_ref().map(decode_sync_state).unwrap_or_default())
    }

    async fn record_coverage(&self, coverage: Coverage, initial: Timestamp) -> Result<SyncState, AwsError> {
        self.update_sync_state(|st| st.with_applied(coverage, initial)).await
    }

    async fn reset_watermark(&self) -> Result<SyncState, AwsError> {
        self.update_sync_state(|st| SyncState { watermark: None, pending: Vec::new(), version: st.version }).await
    }

    async fn export(&self, request_id: &str) -> Result<Option<ExportRecord>, AwsError> {
        Ok(self.get(export_pk(request_id), EXPORT_SK, true).await?.as_ref().and_then(decode_export))
    }

    async fn recent_exports(&self, limit: i32) -> Result<Vec<ExportRecord>, AwsError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(BY_ACCOUNT_INDEX)
            .key_condition_expression("gsi1pk = :p")
            .expression_attribute_values(":p", s(EXPORTS_GSI_PK))
            .scan_index_forward(false)
            .limit(limit)
            .send()
            .await
            .map_err(ddb_error("Query"))?;
        Ok(out.items().iter().filter_map(decode_export).collect())
    }

    async fn export_requested(&self, r: &ExportRequest) -> Result<(), AwsError> {
        let id = r.request_id.as_str();
        self.update_export(id)
            .update_expression(
                "SET requestId = :id, kind = :kind, dataSetType = :dst, fromDate = :from, requestedAt = :at, \
                 forced = :forced, gsi1pk = :gpk, gsi1sk = :gsk, #status = if_not_exists(#status, :requested)",
            )
            .expression_attribute_values(":id", s(id))
            .expression_attribute_values(":kind", s("EXPORT"))
            .expression_attribute_values(":dst", s(r.data_set_type.as_str()))
            .expression_attribute_values(":from", s(r.from_date.to_iso()))
            .expression_attribute_values(":at", s(r.requested_at.to_iso()))
            .expression_attribute_values(":forced", AttributeValue::Bool(r.forced))
            .expression_attribute_values(":gpk", s(EXPORTS_GSI_PK))
            .expression_attribute_values(":gsk", s(format!("{}#{id}", r.requested_at.to_iso())))
            .expression_attribute_values(":requested", s(ExportStatus::Requested.as_str()))
            .send()
            .await
            .map_err(ddb_error("UpdateItem"))?;
        Ok(())
    }

    async fn export_received(
        &self,
        request_id: &str,
        status: ExportStatus,
        coverage: Option<Coverage>,
        message: Option<&str>,
    ) -> Result<(), AwsError> {
        let now = Timestamp::now();
        let mut expr = String::from(
            "SET requestId = :id, kind = :kind, #status = :status, receivedAt = :now, gsi1pk = :gpk, \
             gsi1sk = if_not_exists(gsi1sk, :gsk)",
        );
        let mut req = self
            .update_export(request_id)
            .expression_attribute_values(":id", s(request_id))
            .expression_attribute_values(":kind", s("EXPORT"))
            .expression_attribute_values(":status", s(status.as_str()))
            .expression_attribute_values(":now", s(now.to_iso()))
            .expression_attribute_values(":gpk", s(EXPORTS_GSI_PK))
            .expression_attribute_values(":gsk", s(format!("{}#{request_id}", now.to_iso())));
        if let Some(c) = coverage {
            expr.push_str(", coverageStart = :cs, coverageEnd = :ce");
            req = req
                .expression_attribute_values(":cs", s(c.start.to_iso()))
                .expression_attribute_values(":ce", s(c.end.to_iso()));
        }
        if let Some(m) = message {
            expr.push_str(", message = :msg, finishedAt = :now");
            req = req.expression_attribute_values(":msg", s(m));
        }
        req.update_expression(expr).send().await.map_err(ddb_error("UpdateItem"))?;
        Ok(())
    }

    async fn export_finished(&self, request_id: &str, o: &ExportOutcome) -> Result<(), AwsError> {
        let mut expr = String::from(
            "SET #status = :status, finishedAt = :fin, created = :c, updated = :u, deleted = :d, \
             skippedStale = :st, rejected = :r",
        );
        let mut req = self
            .update_export(request_id)
            .expression_attribute_values(":status", s(o.status.as_str()))
            .expression_attribute_values(":fin", s(o.finished_at.to_iso()))
            .expression_attribute_values(":c", n(o.counts.created))
            .expression_attribute_values(":u", n(o.counts.updated))
            .expression_attribute_values(":d", n(o.counts.deleted))
            .expression_attribute_values(":st", n(o.counts.skipped_stale))
            .expression_attribute_values(":r", n(o.counts.rejected));
        let mut removes = Vec::new();
        match &o.rejects_report {
            Some(r) => {
                expr.push_str(", rejectsReport = :rep");
                req = req.expression_attribute_values(":rep", s(r.as_str()));
            }
            None => removes.push("rejectsReport"),
        }
        match &o.message {
            Some(m) => {
                expr.push_str(", message = :msg");
                req = req.expression_attribute_values(":msg", s(m.as_str()));
            }
            None => removes.push("message"),
        }
        removes.extend(["leaseOwner", "leaseUntil"]);
        expr.push_str(" REMOVE ");
        expr.push_str(&removes.join(", "));
        req.update_expression(expr).send().await.map_err(ddb_error("UpdateItem"))?;
        Ok(())
    }

    async fn claim_export(
        &self,
        request_id: &str,
        lease: &Lease,
        now: Timestamp,
    ) -> Result<Option<ExportRecord>, AwsError> {
        let result = self
            .update_export(request_id)
            .update_expression("SET leaseOwner = :owner, leaseUntil = :until")
            .condition_expression(
                "#status = :applying AND (attribute_not_exists(leaseOwner) OR leaseOwner = :owner OR leaseUntil < :now)",
            )
            .expression_attribute_values(":owner", s(lease.owner.as_str()))
            .expression_attribute_values(":until", s(lease.until.to_iso()))
            .expression_attribute_values(":now", s(now.to_iso()))
            .expression_attribute_values(":applying", s(ExportStatus::Applying.as_str()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await
            .map_err(ddb_error("UpdateItem"));
        match result {
            // The item as the update left it (with this lease); an answer
            // without it still means the lease is ours.
            Ok(out) => Ok(Some(out.attributes.as_ref().and_then(decode_export).unwrap_or_else(|| {
                let mut r = ExportRecord::new(request_id, ExportStatus::Applying);
                r.lease = Some(lease.clone());
                r
            }))),
            Err(e) if e.has_code(codes::CONDITIONAL_CHECK_FAILED) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn save_checkpoint(
        &self,
        request_id: &str,
        owner: &str,
        checkpoint: &Checkpoint,
        release: bool,
    ) -> Result<bool, AwsError> {
        // Not update_export: DynamoDB refuses an unused `#status` name.
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(export_pk(request_id)))
            .key("sk", s(EXPORT_SK))
            .update_expression(if release {
                "SET checkpoint = :cp REMOVE leaseOwner, leaseUntil"
            } else {
                "SET checkpoint = :cp"
            })
            .condition_expression("leaseOwner = :owner")
            .expression_attribute_values(":cp", checkpoint_value(checkpoint))
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await
            .map_err(ddb_error("UpdateItem"));
        condition_met(result)
    }
}
