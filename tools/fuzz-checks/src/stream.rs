//! The DynamoDB stream record mapping of contact-events
//! (`contact_events::mapping`): an event's JSON to stream changes, and each
//! change to the event it means.
//!
//! * An image read from DynamoDB JSON, written back as DynamoDB JSON, reads
//!   as the same item.
//! * A `PSC Contact Deleted` event carries identifiers only, never the
//!   contact's fields; an `ids` detail carries no contact either.
//! * An event is keyed by its contact (`CONTACT#`) or export (`EXPORT#`).
//! * A bad record's error quotes none of the images' values.

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use contact_events::mapping::{
    CONTACT_DELETED, Detail, StreamChange, event_of, item_of, stream_changes,
};
use psc_bridge::aws::dynamodb::item::Item;
use serde_json::{Map, Value, json};

use crate::assert_no_value_in;

pub fn check(data: &[u8]) {
    let Ok(event) = serde_json::from_slice::<Value>(data) else { return };
    let changes = match stream_changes(&event) {
        Ok(changes) => changes,
        Err(e) => {
            let mut values = Vec::new();
            strings_in(&event, &mut values);
            // The record's eventID is named on purpose: it is no contact data.
            let values: Vec<&str> = values
                .iter()
                .map(String::as_str)
                .filter(|v| *v != e.record)
                .collect();
            assert_no_value_in(&e.reason, &values, "OldImage NewImage is not a DynamoDB item", "a bad record's reason");
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
            if ev.detail_type == CONTACT_DELETED || detail == Detail::Ids {
                assert!(ev.detail.get("contact").is_none(), "{} carries the contact", ev.detail_type);
                check_no_contact_fields(change, &ev.detail);
            }
        }
    }
}

/// Every string of `v`, keys included.
fn strings_in(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings_in(x, out)),
        Value::Object(o) => o.iter().for_each(|(k, x)| {
            out.push(k.clone());
            strings_in(x, out);
        }),
        _ => {}
    }
}

/// The contact fields of the old image appear nowhere in `detail`.
fn check_no_contact_fields(change: &StreamChange, detail: &Value) {
    let Some(old) = &change.old_image else { return };
    let text = detail.to_string();
    for name in ["givenName", "surname", "email", "telephoneNumber", "organization", "title"] {
        if let Some(AttributeValue::S(v)) = old.get(name)
            && v.len() >= crate::MIN_LEAK_LEN
            && !detail_ids(detail).iter().any(|id| id.contains(v.as_str()))
        {
            assert!(!text.contains(&serde_json::to_string(v).expect("a string")), "{name} in a detail without contact");
        }
    }
}

/// The identifier values of a detail (a contact field may equal one by chance).
fn detail_ids(detail: &Value) -> Vec<String> {
    let mut out = Vec::new();
    strings_in(detail, &mut out);
    out.into_iter().filter(|s| s.len() >= crate::MIN_LEAK_LEN).collect::<Vec<_>>()
        .into_iter()
        .filter(|s| !["givenName", "surname", "email", "telephoneNumber", "organization", "title"].contains(&s.as_str()))
        .collect()
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
