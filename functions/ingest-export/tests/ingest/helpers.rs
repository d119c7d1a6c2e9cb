//! Test harness: DynamoDB Local and an S3 server (moto) via devkit, a fresh
//! table and bucket per test, and a capture of every log line the test
//! produces, checked for contact data.

use std::collections::BTreeSet;
use std::sync::Mutex;

use ingest_export::{ExportSummary, Ingest, IngestError, Settings};
use psc_bridge::aws::DynamoStore as Store;
use psc_bridge::domain::Timestamp;
use psc_bridge::metrics::Metrics;

pub const INITIAL: &str = "2010-01-01T00:00:00.000Z";

pub use devkit::LogBuffer;

/// Captures logs at TRACE, the most a deployed function can be set to, with
/// the functions' own filter (which holds the SDK at DEBUG: at TRACE it logs
/// request bodies, contact data included).
pub fn capture_logs() -> LogBuffer {
    devkit::capture_logs(|| psc_bridge::logging::filter(tracing_subscriber::filter::LevelFilter::TRACE))
}

/// The contact field values of every CSV fixture and every CSV a test
/// wrote: none may appear in a log line.
static CONTACT_VALUES: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

pub fn remember_contact_values(csv_text: &str) {
    // The first rows of a big export: every value of 50k rows would make
    // the scan of the logs quadratic, and a leak shows on any row.
    let head: String = csv_text.split_inclusive('\n').take(REMEMBERED_ROWS + 1).collect();
    CONTACT_VALUES.lock().unwrap().extend(devkit::contact_values(&head));
}

/// Rows of each export whose values the log check looks for.
const REMEMBERED_ROWS: usize = 500;

/// Fails the test if any remembered contact value is in the logs.
pub fn assert_no_contact_data_in(text: &str, what: &str) {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures");
    for fixture in std::fs::read_dir(fixtures).unwrap() {
        let path = fixture.unwrap().path();
        if path.extension().is_some_and(|e| e == "csv") {
            remember_contact_values(&std::fs::read_to_string(path).unwrap());
        }
    }
    let values = CONTACT_VALUES.lock().unwrap();
    assert!(values.len() > 20, "the check must have values to look for");
    let leaked = devkit::leaked(text, values.iter());
    assert!(leaked.is_empty(), "contact data found in {what}: {} value(s), e.g. {:?}", leaked.len(), leaked.first());
}

pub struct TestEnv {
    pub store: Store,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
    pub ingest: Ingest<Store, aws_sdk_s3::Client>,
    pub logs: LogBuffer,
}

impl TestEnv {
    pub async fn new() -> Self {
        Self::with_settings(|s| s).await
    }

    /// A fresh table and bucket, with the tests' settings as `change` leaves them.
    pub async fn with_settings(change: impl FnOnce(Settings) -> Settings) -> Self {
        let logs = capture_logs();
        let emu = devkit::Emulators::get().await;
        let ddb = emu.dynamodb_client();
        let table = devkit::unique_name("contacts");
        devkit::create_table_from_template(&ddb, &table).await.expect("table from template.yaml");
        let s3 = emu.s3_client();
        let bucket = devkit::unique_name("exports");
        devkit::create_bucket(&s3, &bucket).await.expect("bucket");
        let store = Store::new(ddb, table);
        let settings = change(Settings { initial_from_date: t(INITIAL), write_concurrency: 8, ..Settings::default() });
        let ingest = Ingest::new(s3.clone(), store.clone(), settings, Metrics::new("PscBridgeTest"));
        Self { store, s3, bucket, ingest, logs }
    }

    pub async fn put_object(&self, key: &str, body: impl Into<Vec<u8>>) {
        self.s3.put_object().bucket(&self.bucket).key(key).body(body.into().into()).send().await.expect("put object");
    }

    pub async fn get_object(&self, key: &str) -> Option<String> {
        let out = self.s3.get_object().bucket(&self.bucket).key(key).send().await.ok()?;
        Some(String::from_utf8(out.body.collect().await.unwrap().to_vec()).unwrap())
    }

    /// Uploads an export as CAS would (CSV and metadata) and returns the
    /// notification CAS would publish.
    pub async fn stage_export(&self, request_id: &str, csv: &str, start: &str, end: &str) -> String {
        remember_contact_values(csv);
        let csv_key = format!("psc/{request_id}.csv");
        let meta_key = format!("psc/{request_id}.meta.json");
        self.put_object(&csv_key, csv.as_bytes().to_vec()).await;
        self.put_object(&meta_key, metadata(request_id, start, end, &self.bucket, &csv_key, &meta_key)).await;
        notification(request_id, &self.bucket, &csv_key, &meta_key)
    }

    pub async fn deliver(&self, message: &str) -> Result<ExportSummary, IngestError> {
        self.ingest.handle_message(message, "sns-message-id").await
    }

    /// Stages and delivers; the export must be applied.
    pub async fn apply(&self, request_id: &str, csv: &str, start: &str, end: &str) -> ExportSummary {
        let msg = self.stage_export(request_id, csv, start, end).await;
        self.deliver(&msg).await.expect("export applied")
    }

    /// The check every test ends with.
    pub fn assert_logs_clean(&self) {
        assert_no_contact_data_in(&self.logs.text(), "the logs");
    }
}

pub use devkit::export_metadata_json as metadata;

pub fn notification(request_id: &str, bucket: &str, csv_key: &str, meta_key: &str) -> String {
    serde_json::json!({
        "dataSetS3Location": {"bucketName": bucket, "key": csv_key},
        "dataSetMetaDataS3Location": {"bucketName": bucket, "key": meta_key},
        "dataSetRequestId": request_id,
        "success": true
    })
    .to_string()
}

pub fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

pub const HEADER: &str = "Product Id,Product Code,Customer Guid,Subscription Guid,Subscription Start Date,Organization,AWS Customer Id,Given Name,Surname,Telephone Number,Email,Title,Country Code,ZIP Code,Operation Time,Operation Type";

pub const PRODUCT_ID: &str = "4b898955-84fa-4cfb-8f43-98287ad69c06";
pub const PRODUCT_CODE: &str = "4gzp2symm0v9zidfrn9f854w6";
pub const SUBSCRIPTION: &str = "cad371fb-6f2c-4537-a054-1a7afc6312fd";

/// A CREATE/UPDATE row for account 000011112222 with a contact whose values
/// are derived from `name`.
pub fn upsert_row(guid: &str, name: &str, op_time: &str, op: &str) -> String {
    format!(
        "{PRODUCT_ID},{PRODUCT_CODE},{guid},{SUBSCRIPTION},2016-05-01T00:00:00.000Z,\"{name} Holdings, Ltd\",000011112222,{name},Testperson,555-010-{n:04},{name}@example.net,Chief {name} Officer,US,0{n:04},{op_time},{op}",
        n = name.len() * 37 % 10000
    )
}

pub fn delete_row(guid: &str, op_time: &str) -> String {
    format!(
        "{PRODUCT_ID},{PRODUCT_CODE},{guid},{SUBSCRIPTION},2016-05-01T00:00:00.000Z,,000011112222,,,,,,,,{op_time},DELETE"
    )
}

pub fn csv(rows: &[String]) -> String {
    let mut s = String::from(HEADER);
    s.push_str("\r\n");
    for r in rows {
        s.push_str(r);
        s.push_str("\r\n");
    }
    s
}

/// The attributes a deleted record may keep: identifiers and times only.
pub const TOMBSTONE_ATTRIBUTES: [&str; 6] = ["pk", "sk", "kind", "customerGuid", "operationTime", "exportRequestId"];
