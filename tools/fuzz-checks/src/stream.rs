//! The DynamoDB stream record mapping of contact-events
//! (`contact_events::mapping`): an event's JSON to stream changes, and each
//! change to the event it means.
//!
//! * An image read from DynamoDB JSON, written back as DynamoDB JSON, reads
//!   as the same item.
//! * A `PSC Contact Deleted` event carries identifiers only, never the
//!   contact's fields; an `ids` detail carries no contact either.
//! * An event is keyed by its contact (`CONTACT#`) or export (`EXPORT#`).
//! * A bad record's reason is a fixed text: it quotes none of the images'
//!   values.

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use contact_events::mapping::{CONTACT_DELETED, Detail, EXPORT_FINISHED, event_of, item_of, stream_changes};
use psc_bridge::aws::dynamodb::item::Item;
use serde_json::{Map, Value, json};

use crate::assert_made_of;

pub fn check(data: &[u8]) {
    let Ok(event) = serde_json::from_slice::<Value>(data) else { return };
    let changes = match stream_changes(&event) {
        Ok(changes) => changes,
        Err(e) => {
            let others = &[
                "the event has no Records list: not a DynamoDB stream event",
                "no dynamodb member",
                "no eventID",
                "no SequenceNumber",
                "OldImage is not a DynamoDB item",
                "NewImage is not a DynamoDB item",
            ];
            assert_made_of(&e.reason, &[], &[], others, "a bad record's reason");
            return;
        }
    };
    for change in &changes {
        for image in [&change.old_image, &change.new_image].into_iter().flatten() {
            let again = item_of(&item_json(image));
            assert_eq!(again.as_ref(), Some(image), "item → DynamoDB JSON → item changed it");
        }
        for detail in [Detail::Full, Detail::Ids] {
            let Some(ev) = event_of(change, detail) else { continue };
            assert!(ev.key.starts_with("CONTACT#") || ev.key.starts_with("EXPORT#"), "key {:?}", ev.key);
            if ev.detail_type == CONTACT_DELETED || (detail == Detail::Ids && ev.detail_type != EXPORT_FINISHED) {
                check_ids_only(&ev.detail);
            }
        }
    }
}

/// What a detail without the contact may hold: identifiers and times.
const ID_KEYS: &[&str] = &[
    "schemaVersion",
    "eventId",
    "customerGuid",
    "awsAccountId",
    "productId",
    "productCode",
    "subscriptionGuid",
    "operationTime",
    "exportRequestId",
    "removedFromTable",
    "changedFields",
];

/// A detail without the contact holds identifier keys only.
fn check_ids_only(detail: &Value) {
    let keys = detail.as_object().expect("a detail is an object");
    for key in keys.keys() {
        assert!(ID_KEYS.contains(&key.as_str()), "{key:?} in a detail without the contact");
    }
}

/// `item` in DynamoDB JSON.
pub fn item_json(item: &Item) -> Value {
    Value::Object(item.iter().map(|(k, v)| (k.clone(), attribute_json(v))).collect::<Map<_, _>>())
}

fn attribute_json(v: &AttributeValue) -> Value {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    match v {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        AttributeValue::Null(b) => json!({"NULL": b}),
        AttributeValue::B(b) => json!({"B": b64(b.as_ref())}),
        AttributeValue::Ss(s) => json!({"SS": s}),
        AttributeValue::Ns(s) => json!({"NS": s}),
        AttributeValue::Bs(s) => json!({"BS": s.iter().map(|b| b64(b.as_ref())).collect::<Vec<_>>()}),
        AttributeValue::L(l) => json!({"L": l.iter().map(attribute_json).collect::<Vec<_>>()}),
        AttributeValue::M(m) => json!({"M": item_json(m)}),
        other => panic!("an attribute item_of never makes: {other:?}"),
    }
}
