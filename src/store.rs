//! DynamoDB adapter: contacts, the sync state and export records in one table.
//!
//! The item layout is documented in `docs/data-model.md`; the table's keys and
//! indexes are defined once, in `template.yaml`.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::Serialize;

use crate::domain::{
    AwsAccountId, Change, ContactDetails, ContactRecord, Guid, ProductCode, RecordKey, Timestamp, email_lookup_key,
};
use crate::notification::RequestId;
use crate::sync::{Coverage, SyncState};

pub const BY_ACCOUNT_INDEX: &str = "ByAccount";
pub const BY_EMAIL_INDEX: &str = "ByEmail";

const CONTACT_SK: &str = "CONTACT";
const SYNC_PK: &str = "SYNC";
const SYNC_SK: &str = "STATE";
const EXPORT_SK: &str = "EXPORT";
const EXPORTS_GSI_PK: &str = "EXPORTS";

/// A DynamoDB call failed (after the SDK's own retries). The text holds the
/// operation, the error code and DynamoDB's message, never item values.
#[derive(Debug, thiserror::Error)]
#[error("DynamoDB {operation} failed: {detail}")]
pub struct StoreError {
    pub operation: &'static str,
    pub detail: String,
    /// True when retrying later may succeed (throttling, 5xx, timeouts).
    pub transient: bool,
}

fn store_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    operation: &'static str,
    e: SdkError<E, HttpResponse>,
) -> StoreError {
    let server_side = e.raw_response().is_some_and(|r| r.status().is_server_error());
    let (detail, transient) = match &e {
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or("unknown");
            let throttled = code.contains("Throttl") || code.contains("LimitExceeded");
            (format!("{code}: {}", se.err().message().unwrap_or("")), throttled || server_side)
        }
        SdkError::TimeoutError(_) => ("timed out".to_owned(), true),
        SdkError::DispatchFailure(_) => ("could not send the request".to_owned(), true),
        SdkError::ResponseError(_) => ("unreadable response".to_owned(), true),
        _ => ("request could not be built".to_owned(), false),
    };
    StoreError { operation, detail, transient }
}

/// What a conditional contact write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    Applied,
    /// The table already holds this record at the same or a newer time.
    Stale,
}

/// A contact as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredContact {
    pub customer_guid: Guid,
    pub aws_account_id: AwsAccountId,
    pub product_id: Guid,
    pub product_code: ProductCode,
    pub subscription_guid: Guid,
    pub subscription_start_date: Timestamp,
    #[serde(flatten)]
    pub details: ContactDetails,
    pub operation_time: Timestamp,
}

/// Status of an export, from request to outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ExportStatus {
    Requested,
    Applying,
    Applied,
    Partial,
    Failed,
}

impl ExportStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Requested => "REQUESTED",
            Self::Applying => "APPLYING",
            Self::Applied => "APPLIED",
            Self::Partial => "PARTIAL",
            Self::Failed => "FAILED",
        }
    }
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "REQUESTED" => Self::Requested,
            "APPLYING" => Self::Applying,
            "APPLIED" => Self::Applied,
            "PARTIAL" => Self::Partial,
            "FAILED" => Self::Failed,
            _ => return None,
        })
    }
    /// The export was applied (fully or with rejected rows); re-applying is pointless.
    pub fn is_done(&self) -> bool {
        matches!(self, Self::Applied | Self::Partial)
    }
}

/// Per-export counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub created: u64,
    pub updated: u64,
    pub deleted: u64,
    pub skipped_stale: u64,
    pub rejected: u64,
}

impl Counts {
    pub fn applied(&self) -> u64 {
        self.created + self.updated + self.deleted
    }
}

/// What the table records about one export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportRecord {
    pub request_id: String,
    pub status: ExportStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_set_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_date: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<Timestamp>,
    pub forced: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<Coverage>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    pub counts: Counts,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejects_report: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// What start-export writes when CAS accepted a request.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    pub request_id: RequestId,
    pub data_set_type: String,
    pub from_date: Timestamp,
    pub requested_at: Timestamp,
    pub forced: bool,
}

/// How an export ended.
#[derive(Debug, Clone)]
pub struct ExportOutcome {
    pub status: ExportStatus,
    pub counts: Counts,
    pub rejects_report: Option<String>,
    pub message: Option<String>,
    pub finished_at: Timestamp,
}

/// A page of results and the cursor of the next one.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Opaque, URL-safe; `None` on the last page.
    pub next_cursor: Option<String>,
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// `parts` joined, in one allocation (`format!` costs more per item).
fn concat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    parts.iter().for_each(|p| out.push_str(p));
    out
}

fn contact_pk(guid: &Guid) -> String {
    concat(&["CONTACT#", guid.as_str()])
}

fn export_pk(id: &str) -> String {
    format!("EXPORT#{id}")
}

fn account_pk(id: &AwsAccountId) -> String {
    concat(&["ACCOUNT#", id.as_str()])
}

/// The item a CREATE/UPDATE puts, or the contact-free item a DELETE leaves.
pub fn contact_item(rec: &ContactRecord, request_id: &str) -> HashMap<String, AttributeValue> {
    let k = &rec.key;
    let guid = k.customer_guid.as_str();
    match &rec.change {
        Change::Delete => HashMap::from([
            ("pk".to_owned(), s(contact_pk(&k.customer_guid))),
            ("sk".to_owned(), s(CONTACT_SK)),
            ("kind".to_owned(), s("DELETED")),
            ("customerGuid".to_owned(), s(guid)),
            ("operationTime".to_owned(), s(rec.operation_time.to_iso())),
            ("exportRequestId".to_owned(), s(request_id)),
        ]),
        Change::Upsert { op, details: d } => {
            let mut item = HashMap::with_capacity(24);
            let mut put = |name: &str, v: AttributeValue| {
                item.insert(name.to_owned(), v);
            };
            put("pk", s(contact_pk(&k.customer_guid)));
            put("sk", s(CONTACT_SK));
            put("gsi1pk", s(account_pk(&k.aws_account_id)));
            let (code, sub) = (k.product_code.as_str(), k.subscription_guid.as_str());
            put("gsi1sk", s(concat(&["PRODUCT#", code, "#SUB#", sub, "#CONTACT#", guid])));
            put("gsi2pk", s(concat(&["EMAIL#", &email_lookup_key(&d.email)])));
            put("gsi2sk", s(guid));
            put("kind", s("CONTACT"));
            put("customerGuid", s(guid));
            put("productId", s(k.product_id.as_str()));
            put("productCode", s(k.product_code.as_str()));
            put("subscriptionGuid", s(k.subscription_guid.as_str()));
            put("subscriptionStartDate", s(k.subscription_start_date.to_iso()));
            put("awsAccountId", s(k.aws_account_id.as_str()));
            put("organization", s(d.organization.as_str()));
            put("givenName", s(d.given_name.as_str()));
            put("surname", s(d.surname.as_str()));
            put("telephoneNumber", s(d.telephone_number.as_str()));
            put("email", s(d.email.as_str()));
            if let Some(v) = &d.title {
                put("title", s(v.as_str()));
            }
            if let Some(v) = &d.country_code {
                put("countryCode", s(v.as_str()));
            }
            if let Some(v) = &d.zip_code {
                put("zipCode", s(v.as_str()));
            }
            put("operationTime", s(rec.operation_time.to_iso()));
            put("operationType", s(op.as_str()));
            put("exportRequestId", s(request_id));
            item
        }
    }
}

fn get_s<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

fn get_n(item: &HashMap<String, AttributeValue>, name: &str) -> u64 {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn get_t(item: &HashMap<String, AttributeValue>, name: &str) -> Option<Timestamp> {
    get_s(item, name).and_then(|v| Timestamp::parse(v).ok())
}

/// Decodes a stored contact; `None` for a deleted record or a damaged item.
pub fn decode_contact(item: &HashMap<String, AttributeValue>) -> Option<StoredContact> {
    if get_s(item, "kind") != Some("CONTACT") {
        return None;
    }
    let owned = |name: &str| get_s(item, name).map(str::to_owned);
    Some(StoredContact {
        customer_guid: Guid::parse(get_s(item, "customerGuid")?).ok()?,
        aws_account_id: AwsAccountId::parse(get_s(item, "awsAccountId")?).ok()?,
        product_id: Guid::parse(get_s(item, "productId")?).ok()?,
        product_code: ProductCode::parse(get_s(item, "productCode")?).ok()?,
        subscription_guid: Guid::parse(get_s(item, "subscriptionGuid")?).ok()?,
        subscription_start_date: get_t(item, "subscriptionStartDate")?,
        details: ContactDetails {
            organization: owned("organization")?,
            given_name: owned("givenName")?,
            surname: owned("surname")?,
            telephone_number: owned("telephoneNumber")?,
            email: owned("email")?,
            title: owned("title"),
            country_code: owned("countryCode"),
            zip_code: owned("zipCode"),
        },
        operation_time: get_t(item, "operationTime")?,
    })
}

fn decode_export(item: &HashMap<String, AttributeValue>) -> Option<ExportRecord> {
    let coverage = match (get_t(item, "coverageStart"), get_t(item, "coverageEnd")) {
        (Some(a), Some(b)) => Coverage::new(a, b).ok(),
        _ => None,
    };
    Some(ExportRecord {
        request_id: get_s(item, "requestId")?.to_owned(),
        status: ExportStatus::parse(get_s(item, "status")?)?,
        data_set_type: get_s(item, "dataSetType").map(str::to_owned),
        from_date: get_t(item, "fromDate"),
        requested_at: get_t(item, "requestedAt"),
        forced: item.get("forced").and_then(|v| v.as_bool().ok()).copied().unwrap_or(false),
        received_at: get_t(item, "receivedAt"),
        coverage,
        finished_at: get_t(item, "finishedAt"),
        counts: Counts {
            created: get_n(item, "created"),
            updated: get_n(item, "updated"),
            deleted: get_n(item, "deleted"),
            skipped_stale: get_n(item, "skippedStale"),
            rejected: get_n(item, "rejected"),
        },
        rejects_report: get_s(item, "rejectsReport").map(str::to_owned),
        message: get_s(item, "message").map(str::to_owned),
    })
}

/// Cursor: the query's LastEvaluatedKey (string attributes only), as
/// URL-safe base64 of a JSON object.
fn encode_cursor(key: &HashMap<String, AttributeValue>) -> Option<String> {
    use base64::Engine;
    let map: serde_json::Map<String, serde_json::Value> = key
        .iter()
        .filter_map(|(k, v)| v.as_s().ok().map(|s| (k.clone(), serde_json::Value::String(s.clone()))))
        .collect();
    Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&map).ok()?))
}

/// Decodes a cursor, checking it can only name keys of the expected shape.
fn decode_cursor(cursor: &str, expected_gsi1pk: &str) -> Option<HashMap<String, AttributeValue>> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let map: HashMap<String, String> = serde_json::from_slice(&bytes).ok()?;
    let allowed = ["pk", "sk", "gsi1pk", "gsi1sk"];
    if map.len() != 4 || !map.keys().all(|k| allowed.contains(&k.as_str())) || map.get("gsi1pk")? != expected_gsi1pk {
        return None;
    }
    Some(map.into_iter().map(|(k, v)| (k, s(v))).collect())
}

/// A bad pagination cursor.
#[derive(Debug, thiserror::Error)]
#[error("the cursor is not valid for this query")]
pub struct BadCursor;

#[derive(Clone)]
pub struct Store {
    client: Client,
    table: String,
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Opens the connection (TLS handshake) during init so the first
    /// request does not pay for it. Errors are ignored: this is a warm-up.
    pub async fn warm_up(&self) {
        let _ = self.client.describe_table().table_name(&self.table).send().await;
    }

    /// Puts or deletes one contact, only if it is newer than what the table holds.
    pub async fn apply(&self, rec: &ContactRecord, request_id: &str) -> Result<WriteOutcome, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(contact_item(rec, request_id)))
            .condition_expression("attribute_not_exists(pk) OR operationTime < :t")
            .expression_attribute_values(":t", s(rec.operation_time.to_iso()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(WriteOutcome::Applied),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {
                Ok(WriteOutcome::Stale)
            }
            Err(e) => Err(store_error("PutItem", e)),
        }
    }

    // ---- sync state ----------------------------------------------------

    pub async fn sync_state(&self) -> Result<SyncState, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(SYNC_PK))
            .key("sk", s(SYNC_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", e))?;
        let Some(item) = out.item else { return Ok(SyncState::default()) };
        let pending = item
            .get("pendingRanges")
            .and_then(|v| v.as_l().ok())
            .map(|l| {
                l.iter()
                    .filter_map(|m| {
                        let m = m.as_m().ok()?;
                        Coverage::new(get_t(m, "start")?, get_t(m, "end")?).ok()
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(SyncState { watermark: get_t(&item, "watermark"), pending, version: get_n(&item, "version") })
    }

    async fn put_sync_state(&self, next: &SyncState, expected_version: u64) -> Result<bool, StoreError> {
        let mut item = HashMap::from([
            ("pk".to_owned(), s(SYNC_PK)),
            ("sk".to_owned(), s(SYNC_SK)),
            ("version".to_owned(), n(expected_version + 1)),
            ("updatedAt".to_owned(), s(Timestamp::now().to_iso())),
            (
                "pendingRanges".to_owned(),
                AttributeValue::L(
                    next.pending
                        .iter()
                        .map(|c| {
                            AttributeValue::M(HashMap::from([
                                ("start".to_owned(), s(c.start.to_iso())),
                                ("end".to_owned(), s(c.end.to_iso())),
                            ]))
                        })
                        .collect(),
                ),
            ),
        ]);
        if let Some(w) = next.watermark {
            item.insert("watermark".to_owned(), s(w.to_iso()));
        }
        let req = self.client.put_item().table_name(&self.table).set_item(Some(item));
        let req = if expected_version == 0 {
            req.condition_expression("attribute_not_exists(pk)")
        } else {
            req.condition_expression("version = :v").expression_attribute_values(":v", n(expected_version))
        };
        match req.send().await {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(store_error("PutItem", e)),
        }
    }

    /// Updates the sync state with `change`, retrying on concurrent updates.
    pub async fn update_sync_state(&self, change: impl Fn(&SyncState) -> SyncState) -> Result<SyncState, StoreError> {
        for _ in 0..20 {
            let current = self.sync_state().await?;
            let mut next = change(&current);
            if self.put_sync_state(&next, current.version).await? {
                next.version = current.version + 1;
                return Ok(next);
            }
        }
        Err(StoreError { operation: "PutItem", detail: "sync state kept changing under us".into(), transient: true })
    }

    /// Records that an export with `coverage` was applied; returns the new state.
    pub async fn record_coverage(&self, coverage: Coverage, initial: Timestamp) -> Result<SyncState, StoreError> {
        self.update_sync_state(|st| st.with_applied(coverage, initial)).await
    }

    /// Forgets the watermark (full re-sync).
    pub async fn reset_watermark(&self) -> Result<SyncState, StoreError> {
        self.update_sync_state(|st| SyncState { watermark: None, pending: Vec::new(), version: st.version }).await
    }

    // ---- export records ------------------------------------------------

    pub async fn export(&self, request_id: &str) -> Result<Option<ExportRecord>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(export_pk(request_id)))
            .key("sk", s(EXPORT_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", e))?;
        Ok(out.item.as_ref().and_then(decode_export))
    }

    /// The newest exports first.
    pub async fn recent_exports(&self, limit: i32) -> Result<Vec<ExportRecord>, StoreError> {
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
            .map_err(|e| store_error("Query", e))?;
        Ok(out.items().iter().filter_map(decode_export).collect())
    }

    /// start-export: CAS accepted the request.
    pub async fn export_requested(&self, r: &ExportRequest) -> Result<(), StoreError> {
        let id = r.request_id.as_str();
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(export_pk(id)))
            .key("sk", s(EXPORT_SK))
            .update_expression(
                "SET requestId = :id, kind = :kind, dataSetType = :dst, fromDate = :from, requestedAt = :at, \
                 forced = :forced, gsi1pk = :gpk, gsi1sk = :gsk, #status = if_not_exists(#status, :requested)",
            )
            .expression_attribute_names("#status", "status")
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
            .map_err(|e| store_error("UpdateItem", e))?;
        Ok(())
    }

    /// ingest-export: a notification arrived for this export.
    pub async fn export_received(
        &self,
        request_id: &str,
        status: ExportStatus,
        coverage: Option<Coverage>,
        message: Option<&str>,
    ) -> Result<(), StoreError> {
        let now = Timestamp::now();
        let mut expr = String::from(
            "SET requestId = :id, kind = :kind, #status = :status, receivedAt = :now, gsi1pk = :gpk, \
             gsi1sk = if_not_exists(gsi1sk, :gsk)",
        );
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(export_pk(request_id)))
            .key("sk", s(EXPORT_SK))
            .expression_attribute_names("#status", "status")
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
        req.update_expression(expr).send().await.map_err(|e| store_error("UpdateItem", e))?;
        Ok(())
    }

    /// ingest-export: the export's outcome and counts.
    pub async fn export_finished(&self, request_id: &str, o: &ExportOutcome) -> Result<(), StoreError> {
        let mut expr = String::from(
            "SET #status = :status, finishedAt = :fin, created = :c, updated = :u, deleted = :d, \
             skippedStale = :st, rejected = :r",
        );
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(export_pk(request_id)))
            .key("sk", s(EXPORT_SK))
            .expression_attribute_names("#status", "status")
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
        if !removes.is_empty() {
            expr.push_str(" REMOVE ");
            expr.push_str(&removes.join(", "));
        }
        req.update_expression(expr).send().await.map_err(|e| store_error("UpdateItem", e))?;
        Ok(())
    }

    // ---- lookups (R4) ------------------------------------------------------

    /// Contacts of an account, optionally of one product, a page at a time.
    pub async fn contacts_by_account(
        &self,
        account: &AwsAccountId,
        product: Option<&ProductCode>,
        cursor: Option<&str>,
        limit: i32,
    ) -> Result<Result<Page<StoredContact>, BadCursor>, StoreError> {
        let pk = account_pk(account);
        let start = match cursor {
            Some(c) => match decode_cursor(c, &pk) {
                Some(k) => Some(k),
                None => return Ok(Err(BadCursor)),
            },
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
            None => req.key_condition_expression("gsi1pk = :p"),
        };
        let out = req.send().await.map_err(|e| store_error("Query", e))?;
        let items = out.items().iter().filter_map(decode_contact).collect();
        let next_cursor = out.last_evaluated_key().and_then(encode_cursor);
        Ok(Ok(Page { items, next_cursor }))
    }

    /// Contacts whose email matches, case-insensitively.
    pub async fn contacts_by_email(&self, email: &str) -> Result<Vec<StoredContact>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(BY_EMAIL_INDEX)
                .key_condition_expression("gsi2pk = :p")
                .expression_attribute_values(":p", s(format!("EMAIL#{}", email_lookup_key(email))))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| store_error("Query", e))?;
            items.extend(out.items().iter().filter_map(decode_contact));
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// The contact with this Customer Guid, unless deleted.
    pub async fn contact_by_guid(&self, guid: &Guid) -> Result<Option<StoredContact>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(contact_pk(guid)))
            .key("sk", s(CONTACT_SK))
            .send()
            .await
            .map_err(|e| store_error("GetItem", e))?;
        Ok(out.item.as_ref().and_then(decode_contact))
    }

    /// Every attribute stored under this Customer Guid (tests and audits:
    /// proves what a DELETE left behind).
    pub async fn raw_contact_item(&self, guid: &Guid) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(contact_pk(guid)))
            .key("sk", s(CONTACT_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", e))?;
        Ok(out.item)
    }
}

/// The record key of a stored contact (for comparisons in tests and views).
impl StoredContact {
    pub fn key(&self) -> RecordKey {
        RecordKey {
            product_id: self.product_id.clone(),
            product_code: self.product_code.clone(),
            customer_guid: self.customer_guid.clone(),
            subscription_guid: self.subscription_guid.clone(),
            subscription_start_date: self.subscription_start_date,
            aws_account_id: self.aws_account_id.clone(),
        }
    }
}
