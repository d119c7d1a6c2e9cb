//! The events' JSON Schemas (`schemas/events/`) against the function's real
//! output (events mapped from items the table's own codec wrote) and against
//! the samples in `events/eventbridge-psc-*.json` and
//! `events/eventbridge-marketplace-subscription-*.json`; and that the
//! schemas refuse what they must (a contact field in a deletion, a missing
//! id, a subscription event whose statuses contradict its type).

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
        if !name.starts_with("eventbridge-psc-") && !name.starts_with("eventbridge-marketplace-subscription-") {
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
    assert_eq!(n, 7, "a sample of each detail type");
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

#[test]
fn the_subscription_events_match_their_schemas() {
    use crate::feeds::{agreement, revision, version};
    use contact_events::subscriptions::{Lookups, subscription_change, subscription_event};
    use psc_bridge::feeds::FeedAccountId;

    let end = Some("2026-03-03T23:59:59Z");
    let active = agreement(None, vec![revision("2025-03-04T09:15:00Z", "ACTIVE", end)]);
    let longer =
        agreement(Some(&active), vec![revision("2026-03-01T00:00:00Z", "ACTIVE", Some("2027-03-03T23:59:59Z"))]);
    let cancelled = agreement(Some(&active), vec![revision("2025-09-01T12:00:00Z", "CANCELLED", end)]);
    let archived = agreement(Some(&cancelled), vec![revision("2025-10-01T00:00:00Z", "ARCHIVED", end)]);
    let mut gone = revision("2025-03-04T09:15:00Z", "ACTIVE", end);
    gone.version = version("2025-03-04T09:15:00Z", "2025-03-06T00:00:00Z", true);
    let withdrawn = agreement(Some(&active), vec![gone]);
    let payg = agreement(None, vec![revision("2025-05-20T08:00:00Z", "ACTIVE", None)]);
    let image = |i: &psc_bridge::feeds::FeedItem| crate::feeds::image(i);
    let cases = [
        change("INSERT", None, Some(image(&active))),
        change("INSERT", None, Some(image(&payg))),
        change("MODIFY", Some(image(&active)), Some(image(&longer))),
        change("MODIFY", Some(image(&active)), Some(image(&cancelled))),
        change("MODIFY", Some(image(&cancelled)), Some(image(&archived))),
        change("INSERT", None, Some(image(&cancelled))),
        change("MODIFY", Some(image(&active)), Some(image(&withdrawn))),
    ];
    // What the feeds know: nothing yet, or the bridge and the product.
    let mut known = Lookups::default();
    known.accounts.insert(FeedAccountId::new(crate::feeds::BUYER), crate::feeds::BUYER_AWS.to_owned());
    known.offers.insert(crate::feeds::OFFER.to_owned(), vec![crate::feeds::PRODUCT.to_owned()]);
    known.codes.insert(crate::feeds::PRODUCT.to_owned(), crate::feeds::CODE.to_owned());
    let mut seen = std::collections::BTreeSet::new();
    for c in &cases {
        let s = subscription_change(c).unwrap_or_else(|| panic!("an event for {c:?}"));
        for lookups in [&Lookups::default(), &known] {
            let e = subscription_event(c, &s, lookups);
            assert_valid(e.detail_type, &e.detail);
            seen.insert(e.detail_type);
        }
    }
    assert_eq!(seen.len(), 3, "every subscription detail type checked: {seen:?}");
}

#[test]
fn the_subscription_schemas_refuse_contradicting_statuses_and_contact_fields() {
    let sample = |t: &str| {
        read_json(repo().join(format!("events/eventbridge-marketplace-subscription-{t}.json")))["detail"].clone()
    };
    let started = sample("started");
    let v = validator("Marketplace Subscription Started");
    assert!(v.is_valid(&started));
    let mut wrong = started.clone();
    wrong["status"] = json!("EXPIRED");
    assert!(!v.is_valid(&wrong), "a Started event is ACTIVE");
    let mut wrong = started.clone();
    wrong["previousStatus"] = json!("ACTIVE");
    assert!(!v.is_valid(&wrong), "a Started event was not ACTIVE before");
    let mut leaky = started.clone();
    leaky["email"] = json!("adoe@example.com");
    assert!(!v.is_valid(&leaky), "no contact field in a subscription event");

    let ended = sample("ended");
    let v = validator("Marketplace Subscription Ended");
    assert!(v.is_valid(&ended));
    let mut wrong = ended.clone();
    wrong["status"] = json!("ACTIVE");
    assert!(!v.is_valid(&wrong), "an Ended event is no longer ACTIVE");
    let mut wrong = ended.clone();
    wrong["awsAccountId"] = json!("11112222");
    assert!(!v.is_valid(&wrong), "an AWS account id has 12 digits");

    let changed = sample("changed");
    let v = validator("Marketplace Subscription Changed");
    assert!(v.is_valid(&changed));
    let mut wrong = changed.clone();
    wrong["changedFields"] = json!([]);
    assert!(!v.is_valid(&wrong), "a change names what changed");
    let mut wrong = changed.clone();
    wrong.as_object_mut().unwrap().remove("agreementId");
    assert!(!v.is_valid(&wrong));
}
