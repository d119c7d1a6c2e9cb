//! The item codec: models to DynamoDB items and back.
//!
//! The layout is documented in `docs/data-model.md`; the table's keys and
//! indexes are defined once, in `template.yaml`.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::domain::{
    AwsAccountId, Change, ContactDetails, ContactRecord, Guid, ProductCode, Timestamp, email_lookup_key,
};
use crate::model::{Checkpoint, Counts, ExportRecord, ExportStatus, Lease, Position, StoredContact};
use crate::sync::{Coverage, SyncState};

pub type Item = HashMap<String, AttributeValue>;

pub const BY_ACCOUNT_INDEX: &str = "ByAccount";
pub const BY_EMAIL_INDEX: &str = "ByEmail";

pub(super) const CONTACT_SK: &str = "CONTACT";
pub(super) const SYNC_PK: &str = "SYNC";
pub(super) const SYNC_SK: &str = "STATE";
pub(super) const EXPORT_SK: &str = "EXPORT";
pub(super) const EXPORTS_GSI_PK: &str = "EXPORTS";

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(super) fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// `parts` joined, in one allocation (`format!` costs more per item).
fn concat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    parts.iter().for_each(|p| out.push_str(p));
    out
}

pub(super) fn contact_pk(guid: &Guid) -> String {
    concat(&["CONTACT#", guid.as_str()])
}

pub(super) fn export_pk(id: &str) -> String {
    format!("EXPORT#{id}")
}

pub(super) fn account_pk(id: &AwsAccountId) -> String {
    concat(&["ACCOUNT#", id.as_str()])
}

pub(super) fn email_pk(email: &str) -> String {
    concat(&["EMAIL#", &email_lookup_key(email)])
}

/// The item a CREATE/UPDATE puts, or the contact-free item a DELETE leaves.
pub fn contact_item(rec: &ContactRecord, request_id: &str) -> Item {
    let mut item = HashMap::with_capacity(24);
    contact_attributes(rec, request_id, |name, v| {
        item.insert(name.to_owned(), s(v));
    });
    item
}

/// The attributes of [`contact_item`], each handed to `put` (every one a
/// string): the one layout of a contact item, for the SDK's item and for
/// the JSON of the contact write (`super::put`).
pub(crate) fn contact_attributes(rec: &ContactRecord, request_id: &str, mut put: impl FnMut(&'static str, &str)) {
    let k = &rec.key;
    let guid = k.customer_guid.as_str();
    let operation_time = rec.operation_time.to_iso();
    put("pk", &contact_pk(&k.customer_guid));
    put("sk", CONTACT_SK);
    match &rec.change {
        Change::Delete => {
            put("kind", "DELETED");
            put("customerGuid", guid);
            put("operationTime", &operation_time);
            put("exportRequestId", request_id);
        }
        Change::Upsert { op, details: d } => {
            put("gsi1pk", &account_pk(&k.aws_account_id));
            let (code, sub) = (k.product_code.as_str(), k.subscription_guid.as_str());
            put("gsi1sk", &concat(&["PRODUCT#", code, "#SUB#", sub, "#CONTACT#", guid]));
            put("gsi2pk", &email_pk(&d.email));
            put("gsi2sk", guid);
            put("kind", "CONTACT");
            put("customerGuid", guid);
            put("productId", k.product_id.as_str());
            put("productCode", k.product_code.as_str());
            put("subscriptionGuid", k.subscription_guid.as_str());
            put("subscriptionStartDate", &k.subscription_start_date.to_iso());
            put("awsAccountId", k.aws_account_id.as_str());
            put("organization", d.organization.as_str());
            put("givenName", d.given_name.as_str());
            put("surname", d.surname.as_str());
            put("telephoneNumber", d.telephone_number.as_str());
            put("email", d.email.as_str());
            if let Some(v) = &d.title {
                put("title", v.as_str());
            }
            if let Some(v) = &d.country_code {
                put("countryCode", v.as_str());
            }
            if let Some(v) = &d.zip_code {
                put("zipCode", v.as_str());
            }
            put("operationTime", &operation_time);
            put("operationType", op.as_str());
            put("exportRequestId", request_id);
        }
    }
}

fn get_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

fn get_n(item: &Item, name: &str) -> u64 {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn get_t(item: &Item, name: &str) -> Option<Timestamp> {
    get_s(item, name).and_then(|v| Timestamp::parse(v).ok())
}

/// Decodes a stored contact; `None` for a deleted record or a damaged item.
pub fn decode_contact(item: &Item) -> Option<StoredContact> {
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

pub fn decode_export(item: &Item) -> Option<ExportRecord> {
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
        checkpoint: item.get("checkpoint").and_then(|v| v.as_m().ok()).and_then(decode_checkpoint),
        lease: match (get_s(item, "leaseOwner"), get_t(item, "leaseUntil")) {
            (Some(owner), Some(until)) => Some(Lease { owner: owner.to_owned(), until }),
            _ => None,
        },
    })
}

/// A checkpoint as the `checkpoint` map of an export item.
pub fn checkpoint_value(c: &Checkpoint) -> AttributeValue {
    let strings = |v: &[String]| AttributeValue::L(v.iter().map(|x| s(x.as_str())).collect());
    AttributeValue::M(HashMap::from([
        ("byte".to_owned(), n(c.position.byte)),
        ("line".to_owned(), n(c.position.line)),
        ("size".to_owned(), n(c.size)),
        ("header".to_owned(), strings(&c.header)),
        ("created".to_owned(), n(c.counts.created)),
        ("updated".to_owned(), n(c.counts.updated)),
        ("deleted".to_owned(), n(c.counts.deleted)),
        ("skippedStale".to_owned(), n(c.counts.skipped_stale)),
        ("rejected".to_owned(), n(c.counts.rejected)),
        ("rejectsParts".to_owned(), strings(&c.rejects_parts)),
        ("invocations".to_owned(), n(u64::from(c.invocations))),
        ("at".to_owned(), s(c.at.to_iso())),
    ]))
}

fn decode_checkpoint(m: &Item) -> Option<Checkpoint> {
    let strings = |name: &str| -> Option<Vec<String>> {
        m.get(name)?.as_l().ok()?.iter().map(|v| v.as_s().ok().cloned()).collect()
    };
    Some(Checkpoint {
        position: Position { byte: get_n(m, "byte"), line: get_n(m, "line") },
        size: get_n(m, "size"),
        header: strings("header")?,
        counts: Counts {
            created: get_n(m, "created"),
            updated: get_n(m, "updated"),
            deleted: get_n(m, "deleted"),
            skipped_stale: get_n(m, "skippedStale"),
            rejected: get_n(m, "rejected"),
        },
        rejects_parts: strings("rejectsParts").unwrap_or_default(),
        invocations: u32::try_from(get_n(m, "invocations")).unwrap_or(u32::MAX),
        at: get_t(m, "at")?,
    })
}

pub fn decode_sync_state(item: &Item) -> SyncState {
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
    SyncState { watermark: get_t(item, "watermark"), pending, version: get_n(item, "version") }
}

/// The sync-state item at `version`.
pub fn sync_state_item(state: &SyncState, version: u64) -> Item {
    let mut item = HashMap::from([
        ("pk".to_owned(), s(SYNC_PK)),
        ("sk".to_owned(), s(SYNC_SK)),
        ("version".to_owned(), n(version)),
        ("updatedAt".to_owned(), s(Timestamp::now().to_iso())),
        (
            "pendingRanges".to_owned(),
            AttributeValue::L(
                state
                    .pending
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
    if let Some(w) = state.watermark {
        item.insert("watermark".to_owned(), s(w.to_iso()));
    }
    item
}
