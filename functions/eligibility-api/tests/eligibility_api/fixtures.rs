//! The fixtures the handler tests and the latency benchmark
//! (`benches/latency.rs`) share: events from `events/`, edited, and the
//! 50-contact export of one account. Every item is used by both.

use std::path::PathBuf;

use serde_json::Value;

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// An `events/<name>.json` fixture, as JSON.
pub fn event_json(name: &str) -> Value {
    let path = repo_root().join("events").join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The fixture with another query string (raw, as API Gateway passes it).
pub fn with_query(mut event: Value, raw: &str) -> Value {
    event["rawQueryString"] = Value::String(raw.to_owned());
    event.as_object_mut().unwrap().remove("queryStringParameters");
    event
}

/// The fixture with another method and raw path.
pub fn with_path(mut event: Value, method: &str, path: &str) -> Value {
    event["rawPath"] = Value::String(path.to_owned());
    event["requestContext"]["http"]["path"] = Value::String(path.to_owned());
    event["requestContext"]["http"]["method"] = Value::String(method.to_owned());
    event
}

pub const HEADER: &str = "Product Id,Product Code,Customer Guid,Subscription Guid,Subscription Start Date,Organization,\
AWS Customer Id,Given Name,Surname,Telephone Number,Email,Title,Country Code,ZIP Code,Operation Time,Operation Type";

/// The account of the generated export: 50 contacts, 2 products, 5 subscriptions.
pub const BIG_ACCOUNT: &str = "044445555666";
pub const BIG_PRODUCTS: [(&str, &str); 2] = [
    ("aaaaaaaa-0000-4000-8000-000000000001", "prodaaaaaaaaaaaaaaaaaaaa1"),
    ("bbbbbbbb-0000-4000-8000-000000000002", "prodbbbbbbbbbbbbbbbbbbbb2"),
];

pub fn guid(kind: u32, i: usize) -> String {
    format!("{kind:08x}-0000-4000-8000-{i:012x}")
}

/// 50 CREATE rows for [`BIG_ACCOUNT`]: contact i is in subscription i % 5;
/// subscriptions 0-2 are of the first product, 3-4 of the second.
pub fn fifty_contacts_csv() -> String {
    let mut csv = format!("{HEADER}\n");
    for i in 0..50 {
        let sub = i % 5;
        let (pid, code) = BIG_PRODUCTS[usize::from(sub >= 3)];
        csv.push_str(&format!(
            "{pid},{code},{},{},2020-0{}-01T00:00:00.000Z,Org {i} Ltd,{BIG_ACCOUNT},Given{i},Surname{i},555-000-{i:04},\
             person{i}@big.example.com,,,,2021-01-01T00:00:{:02}.000Z,CREATE\n",
            guid(0xc0, i),
            guid(0x5b, sub),
            sub + 1,
            i
        ));
    }
    csv
}
