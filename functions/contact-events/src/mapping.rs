//! From a DynamoDB stream record of the contacts table to the event it
//! means, or to none.
//!
//! | old image | new image | event |
//! |---|---|---|
//! | none or a deletion marker | a contact | `PSC Contact Created` |
//! | a contact | a contact that differs (identifiers or fields) | `PSC Contact Updated` |
//! | a contact | the same contact (only its export id or time moved) | none |
//! | a contact | a deletion marker, or the item removed | `PSC Contact Deleted` (identifiers only) |
//! | none or a deletion marker | a deletion marker | none (a DELETE of a contact the table never held) |
//! | an export record not finished | an export record APPLIED, PARTIAL or FAILED | `PSC Export Finished` |
//! | anything else (the sync state, export records in flight) | | none |
//!
//! Agreement items of the data feeds are mapped by [`crate::subscriptions`]
//! (`Marketplace Subscription *`); [`event_of`] gives none for them.
//!
//! Images come in DynamoDB's JSON (`{"S": "..."}`), are read into the SDK's
//! `AttributeValue` and decoded by the table's own codec
//! (`psc_bridge::aws::dynamodb::item`), so the events see the table exactly
//! as the API does.

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use psc_bridge::aws::dynamodb::item::{Item, decode_contact, decode_export};
use psc_bridge::domain::Timestamp;
use psc_bridge::model::{ExportRecord, ExportStatus, StoredContact};
use serde_json::{Map, Value, json};

/// The `source` of every event.
pub const SOURCE: &str = "psc-bridge";
/// The version of every detail's schema (`docs/events.md`).
pub const SCHEMA_VERSION: u32 = 1;

pub const CONTACT_CREATED: &str = "PSC Contact Created";
pub const CONTACT_UPDATED: &str = "PSC Contact Updated";
pub const CONTACT_DELETED: &str = "PSC Contact Deleted";
pub const EXPORT_FINISHED: &str = "PSC Export Finished";

/// How much of a contact the Created and Updated events carry
/// (`EVENT_DETAIL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Detail {
    /// Identifiers and the contact fields (the default).
    #[default]
    Full,
    /// Identifiers only: consumers fetch the contact from the API.
    Ids,
}

impl Detail {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "full" => Ok(Self::Full),
            "ids" => Ok(Self::Ids),
            _ => Err("must be full or ids".to_owned()),
        }
    }
}

/// One stream record, as much of it as the mapping reads.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamChange {
    /// `eventID`: unique per record, so the events' id.
    pub event_id: String,
    /// `dynamodb.SequenceNumber`: the batch item identifier.
    pub sequence_number: String,
    /// `INSERT`, `MODIFY` or `REMOVE`.
    pub event_name: String,
    pub old_image: Option<Item>,
    pub new_image: Option<Item>,
    /// `dynamodb.ApproximateCreationDateTime` (whole seconds): when the
    /// table was written. `None` when the record lacks it.
    pub time: Option<Timestamp>,
}

/// An event to put on the bus.
#[derive(Debug, Clone, PartialEq)]
pub struct ChangeEvent {
    pub detail_type: &'static str,
    pub detail: Value,
    /// The contact (or export) it is about: events of one key keep their order.
    pub key: String,
}

/// Why a record could not be read (it is reported, never dropped silently).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stream record {record}: {reason}")]
pub struct BadRecord {
    pub record: String,
    pub reason: String,
}

/// Reads the records of a Lambda DynamoDB stream event (its JSON).
pub fn stream_changes(event: &Value) -> Result<Vec<StreamChange>, BadRecord> {
    let records = event.get("Records").and_then(Value::as_array).ok_or_else(|| BadRecord {
        record: "-".into(),
        reason: "the event has no Records list: not a DynamoDB stream event".into(),
    })?;
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let bad = |reason: &str| BadRecord {
                record: r.get("eventID").and_then(Value::as_str).unwrap_or(&format!("#{i}")).to_owned(),
                reason: reason.to_owned(),
            };
            let ddb = r.get("dynamodb").ok_or_else(|| bad("no dynamodb member"))?;
            let image = |name: &str| -> Result<Option<Item>, BadRecord> {
                match ddb.get(name) {
                    None | Some(Value::Null) => Ok(None),
                    Some(v) => item_of(v).map(Some).ok_or_else(|| bad(&format!("{name} is not a DynamoDB item"))),
                }
            };
            Ok(StreamChange {
                event_id: r.get("eventID").and_then(Value::as_str).ok_or_else(|| bad("no eventID"))?.to_owned(),
                sequence_number: ddb
                    .get("SequenceNumber")
                    .and_then(Value::as_str)
                    .ok_or_else(|| bad("no SequenceNumber"))?
                    .to_owned(),
                event_name: r.get("eventName").and_then(Value::as_str).unwrap_or("").to_owned(),
                old_image: image("OldImage")?,
                new_image: image("NewImage")?,
                time: ddb
                    .get("ApproximateCreationDateTime")
                    .and_then(Value::as_f64)
                    .and_then(|secs| Timestamp::from_unix_seconds(secs.floor() as i64).ok()),
            })
        })
        .collect()
}

/// DynamoDB JSON (`{"attr": {"S": "x"}, ...}`) to an item.
pub fn item_of(v: &Value) -> Option<Item> {
    v.as_object()?.iter().map(|(k, v)| Some((k.clone(), attribute_of(v)?))).collect()
}

fn attribute_of(v: &Value) -> Option<AttributeValue> {
    let (tag, value) = v.as_object().filter(|o| o.len() == 1)?.iter().next()?;
    let strings =
        |v: &Value| -> Option<Vec<String>> { v.as_array()?.iter().map(|s| s.as_str().map(str::to_owned)).collect() };
    let blob = |v: &Value| -> Option<Blob> {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.decode(v.as_str()?).ok().map(Blob::new)
    };
    Some(match tag.as_str() {
        "S" => AttributeValue::S(value.as_str()?.to_owned()),
        "N" => AttributeValue::N(value.as_str()?.to_owned()),
        "BOOL" => AttributeValue::Bool(value.as_bool()?),
        "NULL" => AttributeValue::Null(value.as_bool()?),
        "B" => AttributeValue::B(blob(value)?),
        "SS" => AttributeValue::Ss(strings(value)?),
        "NS" => AttributeValue::Ns(strings(value)?),
        "BS" => AttributeValue::Bs(value.as_array()?.iter().map(blob).collect::<Option<_>>()?),
        "L" => AttributeValue::L(value.as_array()?.iter().map(attribute_of).collect::<Option<_>>()?),
        "M" => AttributeValue::M(item_of(value)?),
        _ => return None,
    })
}

/// What an image holds.
enum Image {
    Contact(Box<StoredContact>, Option<String>),
    Deleted,
    Export(Box<ExportRecord>),
    Other,
}

fn image(item: Option<&Item>) -> Image {
    let Some(item) = item else { return Image::Other };
    let s = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str);
    let pk = s("pk").unwrap_or("");
    if pk.starts_with("CONTACT#") {
        return match s("kind") {
            Some("CONTACT") => match decode_contact(item) {
                Some(c) => Image::Contact(Box::new(c), s("exportRequestId").map(str::to_owned)),
                None => Image::Other,
            },
            Some("DELETED") => Image::Deleted,
            _ => Image::Other,
        };
    }
    if pk.starts_with("EXPORT#")
        && let Some(e) = decode_export(item)
    {
        return Image::Export(Box::new(e));
    }
    Image::Other
}

fn is_final(s: ExportStatus) -> bool {
    matches!(s, ExportStatus::Applied | ExportStatus::Partial | ExportStatus::Failed)
}

/// The event a stream record means, if any.
pub fn event_of(change: &StreamChange, detail: Detail) -> Option<ChangeEvent> {
    let old = image(change.old_image.as_ref());
    let new = if change.event_name == "REMOVE" { Image::Other } else { image(change.new_image.as_ref()) };
    match (old, new) {
        (Image::Contact(before, _), Image::Contact(after, export)) => {
            let changed = changed_fields(&before, &after);
            if changed.is_empty() {
                return None;
            }
            let mut d = contact_detail(&change.event_id, &after, export.as_deref(), detail);
            d.insert("changedFields".into(), json!(changed));
            Some(ChangeEvent { detail_type: CONTACT_UPDATED, detail: Value::Object(d), key: key_of(&after) })
        }
        (Image::Deleted | Image::Other, Image::Contact(after, export)) => Some(ChangeEvent {
            detail_type: CONTACT_CREATED,
            detail: Value::Object(contact_detail(&change.event_id, &after, export.as_deref(), detail)),
            key: key_of(&after),
        }),
        (Image::Contact(before, _), Image::Deleted | Image::Other) => {
            // Identifiers only, whatever EVENT_DETAIL says: the contact is erased.
            let mut d = contact_detail(&change.event_id, &before, None, Detail::Ids);
            let new = change.new_image.as_ref();
            let deleted_at = new.and_then(|i| i.get("operationTime")).and_then(|v| v.as_s().ok()).cloned();
            let by = new.and_then(|i| i.get("exportRequestId")).and_then(|v| v.as_s().ok()).cloned();
            d.insert("operationTime".into(), json!(deleted_at));
            d.insert("exportRequestId".into(), json!(by));
            d.insert("removedFromTable".into(), json!(change.event_name == "REMOVE"));
            Some(ChangeEvent { detail_type: CONTACT_DELETED, detail: Value::Object(d), key: key_of(&before) })
        }
        (old, Image::Export(after)) if is_final(after.status) => {
            if let Image::Export(before) = &old
                && before.status == after.status
            {
                return None;
            }
            Some(ChangeEvent {
                detail_type: EXPORT_FINISHED,
                detail: export_detail(change, &after),
                key: format!("EXPORT#{}", after.request_id),
            })
        }
        _ => None,
    }
}

/// `PSC Contact Created` for a contact the table holds (the backfill), with
/// `backfill: true` in its detail.
pub fn backfill_event(c: &StoredContact, event_id: &str, detail: Detail) -> ChangeEvent {
    let mut d = contact_detail(event_id, c, None, detail);
    d.insert("backfill".into(), json!(true));
    ChangeEvent { detail_type: CONTACT_CREATED, detail: Value::Object(d), key: key_of(c) }
}

fn key_of(c: &StoredContact) -> String {
    format!("CONTACT#{}", c.customer_guid)
}

/// The names (as in the API) of what differs between two states of a contact.
pub fn changed_fields(a: &StoredContact, b: &StoredContact) -> Vec<&'static str> {
    let (x, y) = (&a.details, &b.details);
    let mut out = Vec::new();
    let mut diff = |name: &'static str, differs: bool| {
        if differs {
            out.push(name);
        }
    };
    diff("awsAccountId", a.aws_account_id != b.aws_account_id);
    diff("productId", a.product_id != b.product_id);
    diff("productCode", a.product_code != b.product_code);
    diff("subscriptionGuid", a.subscription_guid != b.subscription_guid);
    diff("subscriptionStartDate", a.subscription_start_date != b.subscription_start_date);
    diff("organization", x.organization != y.organization);
    diff("givenName", x.given_name != y.given_name);
    diff("surname", x.surname != y.surname);
    diff("telephoneNumber", x.telephone_number != y.telephone_number);
    diff("email", x.email != y.email);
    diff("title", x.title != y.title);
    diff("countryCode", x.country_code != y.country_code);
    diff("zipCode", x.zip_code != y.zip_code);
    out
}

fn contact_detail(
    event_id: &str,
    c: &StoredContact,
    export_request_id: Option<&str>,
    detail: Detail,
) -> Map<String, Value> {
    let mut d = Map::new();
    d.insert("schemaVersion".into(), json!(SCHEMA_VERSION));
    d.insert("eventId".into(), json!(event_id));
    d.insert("customerGuid".into(), json!(c.customer_guid.as_str()));
    d.insert("awsAccountId".into(), json!(c.aws_account_id.as_str()));
    d.insert("productId".into(), json!(c.product_id.as_str()));
    d.insert("productCode".into(), json!(c.product_code.as_str()));
    d.insert("subscriptionGuid".into(), json!(c.subscription_guid.as_str()));
    d.insert("operationTime".into(), json!(c.operation_time.to_iso()));
    d.insert("exportRequestId".into(), json!(export_request_id));
    if detail == Detail::Full {
        let x = &c.details;
        let mut contact = Map::new();
        contact.insert("subscriptionStartDate".into(), json!(c.subscription_start_date.to_iso()));
        contact.insert("organization".into(), json!(x.organization));
        contact.insert("givenName".into(), json!(x.given_name));
        contact.insert("surname".into(), json!(x.surname));
        contact.insert("telephoneNumber".into(), json!(x.telephone_number));
        contact.insert("email".into(), json!(x.email));
        for (name, v) in [("title", &x.title), ("countryCode", &x.country_code), ("zipCode", &x.zip_code)] {
            if let Some(v) = v {
                contact.insert(name.into(), json!(v));
            }
        }
        d.insert("contact".into(), Value::Object(contact));
    }
    d
}

fn export_detail(change: &StreamChange, e: &ExportRecord) -> Value {
    let t = |t: Option<Timestamp>| t.map(|t| t.to_iso());
    let c = &e.counts;
    json!({
        "schemaVersion": SCHEMA_VERSION,
        "eventId": change.event_id,
        "exportRequestId": e.request_id,
        "status": e.status.as_str(),
        "dataSetType": e.data_set_type,
        "coverage": e.coverage.as_ref().map(|c| json!({"start": c.start.to_iso(), "end": c.end.to_iso()})),
        "finishedAt": t(e.finished_at),
        "counts": {
            "created": c.created, "updated": c.updated, "deleted": c.deleted,
            "skippedStale": c.skipped_stale, "rejected": c.rejected
        },
        "rejectsReport": e.rejects_report,
        "message": e.message,
    })
}
