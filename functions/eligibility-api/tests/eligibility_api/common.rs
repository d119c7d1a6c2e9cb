//! Shared by the handler tests: fixture events from `events/`, in-memory
//! lookups built by the library's own CSV reader, a failing store, and a
//! capture of the log lines.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use eligibility_api::Lookups;
use lambda_http::{Body, Request, Response};
use psc_bridge::domain::{AwsAccountId, Change, Guid, ProductCode, Timestamp, email_lookup_key};
use psc_bridge::export_csv::{ExportReader, Row};
use psc_bridge::store::{BadCursor, Counts, ExportRecord, ExportStatus, Page, StoreError, StoredContact};
use psc_bridge::sync::{Coverage, SyncState};
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

/// A Lambda event (JSON) as `lambda_http` hands it to the handler.
pub fn request(event: &Value) -> Request {
    lambda_http::request::from_str(&event.to_string()).expect("an API Gateway v2 event")
}

/// The fixture with another query string (raw, as API Gateway passes it).
pub fn with_query(mut event: Value, raw: &str) -> Value {
    event["rawQueryString"] = Value::String(raw.to_owned());
    event.as_object_mut().unwrap().remove("queryStringParameters");
    event
}

/// The fixture with another request id (to find its audit line).
pub fn with_request_id(mut event: Value, id: &str) -> Value {
    event["requestContext"]["requestId"] = Value::String(id.to_owned());
    event
}

/// The fixture with another method and raw path.
pub fn with_path(mut event: Value, method: &str, path: &str) -> Value {
    event["rawPath"] = Value::String(path.to_owned());
    event["requestContext"]["http"]["path"] = Value::String(path.to_owned());
    event["requestContext"]["http"]["method"] = Value::String(method.to_owned());
    event
}

pub struct Answer {
    pub status: u16,
    pub headers: lambda_http::http::HeaderMap,
    pub body: Value,
    pub text: String,
}

pub fn answer(r: Response<Body>) -> Answer {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = match r.body() {
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8(b.clone()).expect("UTF-8 body"),
        Body::Empty => String::new(),
        _ => panic!("unexpected body type"),
    };
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("body is not JSON ({e}): {text}"));
    Answer { status, headers, body, text }
}

pub const ACCOUNT: &str = "000011112222";
pub const PRODUCT: &str = "4gzp2symm0v9zidfrn9f854w6";
pub const GUID: &str = "ba1d75cc-d984-4f07-bb14-ae04b952afbc";
pub const WATERMARK: &str = "2026-11-20T17:00:00.000Z";
/// Monday 17:00, one business day after the watermark (Friday 17:00).
pub fn now() -> Timestamp {
    Timestamp::parse("2026-11-23T17:00:00.000Z").unwrap()
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

pub fn guide_csv() -> String {
    std::fs::read_to_string(repo_root().join("tests/fixtures/guide-sample.csv")).unwrap()
}

/// In-memory lookups, filled by applying export CSVs with the library's
/// reader and the same newer-wins rule the table enforces.
#[derive(Default)]
pub struct FakeLookups {
    contacts: BTreeMap<Guid, (Timestamp, Option<StoredContact>)>,
    pub state: SyncState,
    pub exports: Vec<ExportRecord>,
    /// How many times the sync state was read.
    pub sync_reads: std::sync::atomic::AtomicUsize,
}

impl FakeLookups {
    pub fn from_csv(csv: &str) -> Self {
        let mut f = Self::default();
        f.apply_csv(csv);
        f.state = SyncState { watermark: Some(Timestamp::parse(WATERMARK).unwrap()), ..Default::default() };
        f.exports = vec![ExportRecord {
            request_id: "c3c84ee0-5aba-11e6-8d9c-235dc080841d".into(),
            status: ExportStatus::Applied,
            data_set_type: Some("test_customer_support_contacts_data".into()),
            from_date: Some(Timestamp::parse("2010-01-01T00:00:00.000Z").unwrap()),
            requested_at: Some(Timestamp::parse("2026-11-20T16:00:00.000Z").unwrap()),
            forced: false,
            received_at: Some(Timestamp::parse("2026-11-20T17:05:00.000Z").unwrap()),
            coverage: Some(
                Coverage::new(
                    Timestamp::parse("2010-01-01T00:00:00.000Z").unwrap(),
                    Timestamp::parse(WATERMARK).unwrap(),
                )
                .unwrap(),
            ),
            finished_at: Some(Timestamp::parse("2026-11-20T17:05:01.000Z").unwrap()),
            counts: Counts { created: 5, updated: 1, deleted: 0, skipped_stale: 0, rejected: 0 },
            rejects_report: None,
            message: None,
        }];
        f
    }

    pub fn apply_csv(&mut self, csv: &str) {
        let reader = ExportReader::new(std::io::Cursor::new(csv.as_bytes().to_vec())).expect("CSV header");
        for row in reader {
            let Row::Valid(rec) = row.expect("readable CSV") else { continue };
            let guid = rec.key.customer_guid.clone();
            if self.contacts.get(&guid).is_some_and(|(t, _)| *t >= rec.operation_time) {
                continue;
            }
            let value = match rec.change {
                Change::Delete => None,
                Change::Upsert { details, .. } => Some(StoredContact {
                    customer_guid: rec.key.customer_guid.clone(),
                    aws_account_id: rec.key.aws_account_id.clone(),
                    product_id: rec.key.product_id.clone(),
                    product_code: rec.key.product_code.clone(),
                    subscription_guid: rec.key.subscription_guid.clone(),
                    subscription_start_date: rec.key.subscription_start_date,
                    details,
                    operation_time: rec.operation_time,
                }),
            };
            self.contacts.insert(guid, (rec.operation_time, value));
        }
    }

    fn live(&self) -> impl Iterator<Item = &StoredContact> {
        self.contacts.values().filter_map(|(_, c)| c.as_ref())
    }
}

/// Fake cursors: `o<offset>`.
impl Lookups for FakeLookups {
    async fn contacts_by_account(
        &self,
        account: &AwsAccountId,
        product: Option<&ProductCode>,
        cursor: Option<&str>,
        limit: i32,
    ) -> Result<Result<Page<StoredContact>, BadCursor>, StoreError> {
        let offset = match cursor {
            None => 0,
            Some(c) => match c.strip_prefix('o').and_then(|n| n.parse::<usize>().ok()) {
                Some(n) => n,
                None => return Ok(Err(BadCursor)),
            },
        };
        let mut all: Vec<StoredContact> = self
            .live()
            .filter(|c| &c.aws_account_id == account && product.is_none_or(|p| &c.product_code == p))
            .cloned()
            .collect();
        all.sort_by(|a, b| {
            (&a.product_code, &a.subscription_guid, &a.customer_guid).cmp(&(
                &b.product_code,
                &b.subscription_guid,
                &b.customer_guid,
            ))
        });
        let items: Vec<StoredContact> = all.into_iter().skip(offset).take(limit as usize).collect();
        // Like DynamoDB: a full page has a next cursor, even when nothing follows.
        let next_cursor = (items.len() == limit as usize).then(|| format!("o{}", offset + items.len()));
        Ok(Ok(Page { items, next_cursor }))
    }

    async fn contacts_by_email(&self, email: &str) -> Result<Vec<StoredContact>, StoreError> {
        let key = email_lookup_key(email);
        Ok(self.live().filter(|c| email_lookup_key(&c.details.email) == key).cloned().collect())
    }

    async fn contact_by_guid(&self, guid: &Guid) -> Result<Option<StoredContact>, StoreError> {
        Ok(self.contacts.get(guid).and_then(|(_, c)| c.clone()))
    }

    async fn sync_state(&self) -> Result<SyncState, StoreError> {
        self.sync_reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(self.state.clone())
    }

    async fn recent_exports(&self, limit: i32) -> Result<Vec<ExportRecord>, StoreError> {
        Ok(self.exports.iter().take(limit as usize).cloned().collect())
    }
}

/// What a failing DynamoDB call looks like: its text names the table.
pub const SECRET_TABLE: &str = "psc-bridge-ContactsTable-SECRET1234";

pub struct FailingLookups;

fn failure() -> StoreError {
    StoreError {
        operation: "Query",
        detail: format!("ResourceNotFoundException: Requested resource not found: Table: {SECRET_TABLE} not found"),
        transient: false,
    }
}

impl Lookups for FailingLookups {
    async fn contacts_by_account(
        &self,
        _: &AwsAccountId,
        _: Option<&ProductCode>,
        _: Option<&str>,
        _: i32,
    ) -> Result<Result<Page<StoredContact>, BadCursor>, StoreError> {
        Err(failure())
    }
    async fn contacts_by_email(&self, _: &str) -> Result<Vec<StoredContact>, StoreError> {
        Err(failure())
    }
    async fn contact_by_guid(&self, _: &Guid) -> Result<Option<StoredContact>, StoreError> {
        Err(failure())
    }
    async fn sync_state(&self) -> Result<SyncState, StoreError> {
        Err(failure())
    }
    async fn recent_exports(&self, _: i32) -> Result<Vec<ExportRecord>, StoreError> {
        Err(failure())
    }
}

// ------------------------------------------------------------------ logs

#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogBuffer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }

    /// The JSON log lines that carry `request_id`.
    pub fn lines_with(&self, request_id: &str) -> Vec<Value> {
        self.text()
            .lines()
            .filter(|l| l.contains(request_id))
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("log line is not JSON ({e}): {l}")))
            .collect()
    }

    /// The one audit line of `request_id`.
    pub fn audit_line(&self, request_id: &str) -> Value {
        let lines: Vec<Value> = self.lines_with(request_id).into_iter().filter(|l| l["target"] == "audit").collect();
        assert_eq!(lines.len(), 1, "one audit line for {request_id}: {lines:?}");
        lines.into_iter().next().unwrap()
    }
}

static LOGS: OnceLock<LogBuffer> = OnceLock::new();

/// Every log line of this process, JSON, with targets, through the filter
/// the functions use (`psc_bridge::logging`) at TRACE: more than a deployed
/// function ever logs.
pub fn capture_logs() -> LogBuffer {
    LOGS.get_or_init(|| {
        let buf = LogBuffer::default();
        let writer = buf.clone();
        tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_target(true)
            .with_env_filter(psc_bridge::logging::filter(tracing_subscriber::filter::LevelFilter::TRACE))
            .with_writer(move || writer.clone())
            .init();
        buf
    })
    .clone()
}

/// Contact field values of a CSV (organization, names, phone, email, title,
/// ZIP), at least 4 characters long: none may appear in a log line.
pub fn contact_values(csv: &str) -> Vec<String> {
    let mut rdr = csv::ReaderBuilder::new().from_reader(csv.as_bytes());
    let headers = rdr.headers().unwrap().clone();
    let cols = ["Organization", "Given Name", "Surname", "Telephone Number", "Email", "Title", "ZIP Code"];
    let idx: Vec<usize> = headers.iter().enumerate().filter(|(_, h)| cols.contains(h)).map(|(i, _)| i).collect();
    let mut out = Vec::new();
    for rec in rdr.records() {
        let rec = rec.unwrap();
        for &i in &idx {
            let v = rec.get(i).unwrap_or("").trim();
            if v.len() >= 4 {
                out.push(v.to_owned());
            }
        }
    }
    out
}
