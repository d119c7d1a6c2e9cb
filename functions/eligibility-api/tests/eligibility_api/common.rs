//! Shared by the handler tests: fixture events from `events/`, in-memory
//! lookups built by the library's own CSV reader, a failing store, and a
//! capture of the log lines.

use lambda_http::{Body, Request, Response};
use psc_bridge::aws::AwsError;
use psc_bridge::domain::Timestamp;
use psc_bridge::export_csv::{ExportReader, Row};
use psc_bridge::memory::MemoryStore;
use psc_bridge::model::{Counts, ExportRecord, ExportStatus};
use psc_bridge::sync::{Coverage, SyncState};
use serde_json::Value;

#[path = "fixtures.rs"]
mod fixtures;
pub use fixtures::*;

/// A Lambda event (JSON) as `lambda_http` hands it to the handler.
pub fn request(event: &Value) -> Request {
    lambda_http::request::from_str(&event.to_string()).expect("an API Gateway v2 event")
}

/// The fixture with another request id (to find its audit line).
pub fn with_request_id(mut event: Value, id: &str) -> Value {
    event["requestContext"]["requestId"] = Value::String(id.to_owned());
    event
}

pub struct ApiResponse {
    pub status: u16,
    pub headers: lambda_http::http::HeaderMap,
    pub body: Value,
    pub text: String,
}

pub fn answer(r: Response<Body>) -> ApiResponse {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = match r.body() {
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8(b.clone()).expect("UTF-8 body"),
        Body::Empty => String::new(),
        _ => panic!("unexpected body type"),
    };
    let csv = headers.get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"text/csv"));
    // A CSV download (the subscriber report) has no JSON body: `text` holds it.
    let body = if csv {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("body is not JSON ({e}): {text}"))
    };
    ApiResponse { status, headers, body, text }
}

pub const ACCOUNT: &str = "000011112222";
pub const PRODUCT: &str = "4gzp2symm0v9zidfrn9f854w6";
pub const GUID: &str = "ba1d75cc-d984-4f07-bb14-ae04b952afbc";
pub const WATERMARK: &str = "2026-11-20T17:00:00.000Z";
/// Monday 17:00, one business day after the watermark (Friday 17:00).
pub fn now() -> Timestamp {
    Timestamp::parse("2026-11-23T17:00:00.000Z").unwrap()
}

pub fn guide_csv() -> String {
    std::fs::read_to_string(repo_root().join("tests/fixtures/guide-sample.csv")).unwrap()
}

/// The in-memory store the handler tests use ([`psc_bridge::memory`]).
pub type FakeLookups = MemoryStore;

/// A store holding the contacts of `csv`, a watermark and one applied export.
pub fn from_csv(csv: &str) -> MemoryStore {
    let store = MemoryStore::new();
    apply_csv(&store, csv);
    store.set_sync_state(SyncState { watermark: Some(Timestamp::parse(WATERMARK).unwrap()), ..Default::default() });
    store.insert_export(ExportRecord {
        request_id: "c3c84ee0-5aba-11e6-8d9c-235dc080841d".into(),
        status: ExportStatus::Applied,
        data_set_type: Some("test_customer_support_contacts_data".into()),
        from_date: Some(Timestamp::parse("2010-01-01T00:00:00.000Z").unwrap()),
        requested_at: Some(Timestamp::parse("2026-11-20T16:00:00.000Z").unwrap()),
        forced: false,
        received_at: Some(Timestamp::parse("2026-11-20T17:05:00.000Z").unwrap()),
        coverage: Some(
            Coverage::new(Timestamp::parse("2010-01-01T00:00:00.000Z").unwrap(), Timestamp::parse(WATERMARK).unwrap())
                .unwrap(),
        ),
        finished_at: Some(Timestamp::parse("2026-11-20T17:05:01.000Z").unwrap()),
        counts: Counts { created: 5, updated: 1, deleted: 0, skipped_stale: 0, rejected: 0 },
        rejects_report: None,
        message: None,
        checkpoint: None,
        lease: None,
    });
    store
}

/// Applies the rows of an export CSV with the library's reader and the
/// store's newer-wins rule.
pub fn apply_csv(store: &MemoryStore, csv: &str) {
    let reader = ExportReader::new(std::io::Cursor::new(csv.as_bytes().to_vec())).expect("CSV header");
    for row in reader {
        let Row::Valid(rec) = row.expect("readable CSV") else { continue };
        store.apply_now(&rec, "fixture").expect("in-memory write");
    }
}

/// What a failing DynamoDB call looks like: its text names the table.
pub const SECRET_TABLE: &str = "psc-bridge-ContactsTable-SECRET1234";

/// A store whose every call fails as a missing table does.
pub fn failing_store() -> MemoryStore {
    MemoryStore::failing(AwsError::service(
        "DynamoDB",
        "Query",
        "ResourceNotFoundException",
        &format!("Requested resource not found: Table: {SECRET_TABLE} not found"),
        400,
    ))
}

// ------------------------------------------------------------------ logs

pub use devkit::LogBuffer;

/// Every log line of this process, JSON, with targets, through the filter
/// the functions use (`psc_bridge::logging`) at TRACE: more than a deployed
/// function ever logs.
pub fn capture_logs() -> LogBuffer {
    devkit::capture_logs(|| psc_bridge::logging::filter(tracing_subscriber::filter::LevelFilter::TRACE))
}

/// Contact field values of a CSV (organization, names, phone, email, title,
/// ZIP), at least 4 characters long: none may appear in a log line.
pub fn contact_values(csv: &str) -> Vec<String> {
    devkit::contact_values(csv).into_iter().collect()
}
