//! The events' JSON Schemas (`schemas/events/`) against the function's real
//! output (events mapped from items the table's own codec wrote) and against
//! the samples in `events/eventbridge-psc-*.json`; and that the schemas
//! refuse what they must (a contact field in a deletion, a missing id).

use std::path::PathBuf;

use aws_sdk_dynamodb::types::AttributeValue;
use contact_events::mapping::{self, Detail, StreamChange};
use psc_bridge::aws::dynamodb::item::{Item, contact_item};
use psc_bridge::export_csv::{ExportReader, Row};
use serde_json::{Value, json};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read_json(path: PathBuf) -> Value {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The schema of a detail type (`PSC Contact Created` -> `psc-contact-created`).
fn validator(detail_type: &str) -> jsonschema::Validator {
    let name = detail_type.to_ascii_lowercase().replace(' ', "-");
    let schema = read_json(repo().join(format!("schemas/events/{name}.schema.json")));
    jsonschema::validator_for(&schema).unwrap_or_else(|e| panic!("{name}: not a valid schema: {e}"))
}

fn assert_valid(detail_type: &str, detail: &Value) {
    let v = validator(detail_type);
    let errors: Vec<String> = v.iter_errors(detail).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{detail_type}: {errors:?}\n{detail:#}");
}

const HEADER: &str = "Product Id,Product Code,Customer Guid,Subscription Guid,Subscription Start Date,Organization,\
AWS Customer Id,Given Name,Surname,Telephone Number,Email,Title,Country Code,ZIP Code,Operation Time,Operation Type";

fn item(line: &str) -> Item {
    let csv = format!("{HEADER}\r\n{line}\r\n");
    let mut reader = ExportReader::new(std::io::Cursor::new(csv.into_bytes())).unwrap();
    let Row::Valid(rec) = reader.next().unwrap().unwrap() else { panic!("fixture row rejected") };
    contact_item(&rec, "c3c84ee0-5aba-11e6-8d9c-235dc080841d")
}

const GUID: &str = "1b4a2b5f-2c5d-4779-b0c7-2878b0f45cfc";

fn angela(email: &str, time: &str) -> Item {
    item(&format!(
        "4b898955-84fa-4cfb-8f43-98287ad69c06,4gzp2symm0v9zidfrn9f854w6,{GUID},cad371fb-6f2c-4537-a054-1a7afc6312fd,\
2016-05-19T00:00:00.000Z,Example Inc -- Service Division,000011112222,Angela,Doe,555-294-4528,{email},CTO,US,02201,{time},CREATE"
    ))
}

fn deleted() -> Item {
    item(&format!(
        "4b898955-84fa-4cfb-8f43-98287ad69c06,4gzp2symm0v9zidfrn9f854w6,{GUID},cad371fb-6f2c-4537-a054-1a7afc6312fd,\
2016-05-01T00:00:00.000Z,,000011112222,,,,,,,,2016-07-01T00:00:00.000Z,DELETE"
    ))
}

fn export(status: &str, finished: bool) -> Item {
    let s = |v: &str| AttributeValue::S(v.to_owned());
    let n = |v: u64| AttributeValue::N(v.to_string());
    let mut item = Item::from([
        ("pk".to_owned(), s("EXPORT#req-9")),
        ("sk".to_owned(), s("EXPORT")),
        ("requestId".to_owned(), s("req-9")),
        ("status".to_owned(), s(status)),
        ("created".to_owned(), n(5)),
        ("updated".to_owned(), n(1)),
    ]);
    if finished {
        item.insert("coverageStart".into(), s("2010-01-01T00:00:00.000Z"));
        item.insert("coverageEnd".into(), s("2026-12-02T09:00:00.000Z"));
        item.insert("finishedAt".into(), s("2026-12-02T09:05:01.000Z"));
        item.insert("dataSetType".into(), s("test_customer_support_contacts_data"));
    }
    item
}

fn change(name: &str, old: Option<Item>, new: Option<Item>) -> StreamChange {
    StreamChange {
        event_id: "3c59dc048e8850243be8079a5c74d079".into(),
        sequence_number: "4000000000000000000001".into(),
        event_name: name.into(),
        old_image: old,
        new_image: new,
        time: None,
    }
}

#[test]
fn the_functions_real_output_matches_the_schemas() {
    let a = angela("adoe@example.com", "2016-05-19T18:21:06.834Z");
    let b = angela("angela.doe@example.com", "2016-06-19T18:21:06.834Z");
    let cases = [
        change("INSERT", None, Some(a.clone())),
        change("MODIFY", Some(a.clone()), Some(b.clone())),
        change("MODIFY", Some(b.clone()), Some(deleted())),
        change("REMOVE", Some(b), None),
        change("MODIFY", Some(export("APPLYING", false)), Some(export("APPLIED", true))),
        change("MODIFY", Some(export("APPLYING", false)), Some(export("FAILED", false))),
    ];
    let mut seen = std::collections::BTreeSet::new();
    for c in &cases {
        for detail in [Detail::Full, Detail::Ids] {
            let e = mapping::event_of(c, detail).unwrap_or_else(|| panic!("an event for {c:?}"));
            assert_valid(e.detail_type, &e.detail);
            seen.insert(e.detail_type);
        }
    }
    assert_eq!(seen.len(), 4, "every detail type checked: {seen:?}");
    // A backfill's Created event.
    let c = psc_bridge::aws::dynamodb::item::decode_contact(&angela("adoe@example.com", "2016-05-19T18:21:06.834Z"))
        .unwrap();
    for detail in [Detail::Full, Detail::Ids] {
        let e = mapping::backfill_event(&c, "backfill-x", detail);
        assert_valid(e.detail_type, &e.detail);
    }
}

#[test]
fn the_samples_match_the_schemas() {
    let mut n = 0;
    for entry in std::fs::read_dir(repo().join("events")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if !name.starts_with("eventbridge-psc-") {
            continue;
        }
        let event = read_json(repo().join("events").join(&name));
        assert_eq!(event["source"], "psc-bridge", "{name}");
        let detail_type = event["detail-type"].as_str().unwrap_or_else(|| panic!("{name}: detail-type"));
        let expected = format!("eventbridge-{}.json", detail_type.to_ascii_lowercase().replace(' ', "-"));
        assert_eq!(name, expected, "the sample is named after its detail type");
        assert_valid(detail_type, &event["detail"]);
        n += 1;
    }
    assert_eq!(n, 4, "a sample of each detail type");
}

#[test]
fn the_schemas_refuse_a_contact_field_in_a_deletion_and_missing_ids() {
    let deleted = read_json(repo().join("events/eventbridge-psc-contact-deleted.json"))["detail"].clone();
    let v = validator("PSC Contact Deleted");
    assert!(v.is_valid(&deleted));
    let mut leaky = deleted.clone();
    leaky["email"] = json!("adoe@example.com");
    assert!(!v.is_valid(&leaky), "a Deleted event with a contact field must fail its schema");
    let mut with_contact = deleted.clone();
    with_contact["contact"] = json!({"email": "adoe@example.com"});
    assert!(!v.is_valid(&with_contact));

    let created = read_json(repo().join("events/eventbridge-psc-contact-created.json"))["detail"].clone();
    let v = validator("PSC Contact Created");
    let mut no_guid = created.clone();
    no_guid.as_object_mut().unwrap().remove("customerGuid");
    assert!(!v.is_valid(&no_guid));
    let mut v2 = created.clone();
    v2["schemaVersion"] = json!(2);
    assert!(!v.is_valid(&v2), "another schema version is another schema");
}
