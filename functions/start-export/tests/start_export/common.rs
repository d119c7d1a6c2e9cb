//! Shared by the integration tests: a fresh table, bucket and stand-in per test.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_marketplacecommerceanalytics::config::Region;
use aws_standin::{Delivery, Notification, RequestEntry, Running, StandIn};
use ingest_export::{ExportSummary, Ingest, Settings as IngestSettings};
use psc_bridge::aws::DynamoStore as Store;
use psc_bridge::domain::Timestamp;
use psc_bridge::metrics::Metrics;
use serde_json::Value;
use start_export::config::TEST_DATA_SET;
use start_export::{CasSource, Report, Settings, StartExport, cas_client};
use tokio::sync::mpsc::UnboundedReceiver;

pub const INITIAL: &str = "2010-01-01T00:00:00.000Z";
pub const ROLE: &str = "arn:aws:iam::123456789012:role/psc-bridge-CasRole";
pub const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:psc-bridge-exports";
pub const PREFIX: &str = "psc-exports";
/// The region the function "runs in": CAS calls must still be signed for us-east-1.
pub const FUNCTION_REGION: &str = "eu-west-1";

pub const SCHEDULE: &str = include_str!("../../../../events/schedule.json");
pub const MANUAL: &str = include_str!("../../../../events/start-export-manual.json");
pub const FORCE: &str = include_str!("../../../../events/start-export-force.json");
pub const FULL_RESYNC: &str = include_str!("../../../../events/start-export-full-resync.json");
pub const FROM_DATE: &str = include_str!("../../../../events/start-export-from-date.json");
pub const BAD_UNKNOWN_KEY: &str = include_str!("../../../../events/start-export-bad-unknown-key.json");
pub const BAD_WRONG_TYPE: &str = include_str!("../../../../events/start-export-bad-wrong-type.json");
pub const BAD_BOTH: &str = include_str!("../../../../events/start-export-bad-both.json");
pub const BAD_FUTURE_DATE: &str = include_str!("../../../../events/start-export-bad-future-date.json");
pub const BAD_UNPARSEABLE_DATE: &str = include_str!("../../../../events/start-export-bad-unparseable-date.json");
pub const BAD_OTHER_EVENT: &str = include_str!("../../../../events/start-export-bad-other-event.json");

/// The guide's static test data set: its six rows hold five records.
pub const GUIDE_GUIDS: [&str; 5] = [
    "ba1d75cc-d984-4f07-bb14-ae04b952afbc",
    "1b4a2b5f-2c5d-4779-b0c7-2878b0f45cfc",
    "6c83ff14-5167-43cc-bb9f-24865a78db72",
    "91c72621-6cf4-4d69-8ebe-073ff4f8ab9e",
    "2ae0be12-7397-4fdb-a1c7-ead17967002c",
];

pub const WAIT: Duration = Duration::from_secs(60);

pub fn json(text: &str) -> Value {
    serde_json::from_str(text).expect("fixture is JSON")
}

pub fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

pub fn settings(bucket: &str) -> Settings {
    Settings {
        initial_from_date: ts(INITIAL),
        data_set_type: TEST_DATA_SET.to_owned(),
        role_arn: ROLE.to_owned(),
        bucket: bucket.to_owned(),
        prefix: PREFIX.to_owned(),
        sns_topic_arn: TOPIC.to_owned(),
        pending_timeout: time::Duration::minutes(60),
    }
}

pub fn ingest_settings() -> IngestSettings {
    IngestSettings { initial_from_date: ts(INITIAL), write_concurrency: 8, ..IngestSettings::default() }
}

/// The CAS client as `main` builds it, from a shared configuration for
/// `FUNCTION_REGION` whose endpoint is the stand-in.
pub fn cas_client_for(endpoint: &str) -> aws_sdk_marketplacecommerceanalytics::Client {
    let sdk = devkit::sdk_config(endpoint).to_builder().region(Region::new(FUNCTION_REGION)).build();
    cas_client(&sdk)
}

/// A stand-in seeded with the guide's data set, lag 0, writing to the
/// fresh bucket, accepting only requests signed for us-east-1.
pub async fn standin(delivery: Delivery, f: &Fresh) -> Running {
    StandIn {
        lag: Duration::ZERO,
        delivery,
        s3: Some(f.s3.clone()),
        seed: true,
        required_region: Some("us-east-1".into()),
        ..Default::default()
    }
    .start("127.0.0.1:0")
    .await
    .expect("stand-in starts")
}

/// A fresh table and bucket on the emulators.
pub struct Fresh {
    pub ddb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub table: String,
    pub bucket: String,
}

pub async fn fresh() -> Fresh {
    let emu = devkit::Emulators::get().await;
    let ddb = emu.dynamodb_client();
    let s3 = emu.s3_client();
    let table = devkit::unique_name("start-export");
    let bucket = devkit::unique_name("psc-exports");
    let (t, b) = tokio::join!(devkit::create_table_from_template(&ddb, &table), devkit::create_bucket(&s3, &bucket));
    t.expect("table");
    b.expect("bucket");
    Fresh { ddb, s3, table, bucket }
}

/// The handler under test, the ingest, and a stand-in delivering to a channel.
pub struct Harness {
    pub standin: Running,
    pub notifications: UnboundedReceiver<Notification>,
    /// Notifications received while waiting for another one.
    pub early: Vec<Notification>,
    pub handler: StartExport<CasSource, Store>,
    pub ingest: Ingest<Store, aws_sdk_s3::Client>,
    pub store: Store,
    pub s3: aws_sdk_s3::Client,
    pub bucket: String,
}

impl Harness {
    pub async fn new() -> Self {
        Self::with_settings(|s| s).await
    }

    pub async fn with_settings(adjust: impl FnOnce(Settings) -> Settings) -> Self {
        let f = fresh().await;
        let (delivery, notifications) = Delivery::channel();
        let standin = standin(delivery, &f).await;
        let store = Store::new(f.ddb.clone(), f.table.clone());
        let handler = StartExport::new(
            CasSource(cas_client_for(&standin.endpoint_url())),
            store.clone(),
            adjust(settings(&f.bucket)),
            Metrics::new("PscBridgeTest"),
        );
        let ingest = Ingest::new(f.s3.clone(), store.clone(), ingest_settings(), Metrics::new("PscBridgeTest"));
        Self { standin, notifications, early: Vec::new(), handler, ingest, store, s3: f.s3, bucket: f.bucket }
    }

    pub async fn run(&self, payload: &str) -> Report {
        self.handler.run(json(payload)).await
    }

    /// Runs and expects an export to start; returns (report, request id).
    pub async fn started(&self, payload: &str) -> (Report, String) {
        let report = self.run(payload).await;
        let id = match &report.outcome {
            Ok(start_export::Outcome::Started { request_id, .. }) => request_id.clone(),
            other => panic!("expected an export to start, got {other:?}"),
        };
        (report, id)
    }

    /// The notification the stand-in delivered for `request_id` (others
    /// that arrive first are kept for later).
    pub async fn notification(&mut self, request_id: &str) -> Notification {
        if let Some(i) = self.early.iter().position(|n| n.data_set_request_id == request_id) {
            return self.early.remove(i);
        }
        loop {
            let n = tokio::time::timeout(WAIT, self.notifications.recv())
                .await
                .expect("a notification within the timeout")
                .expect("the stand-in is running");
            if n.data_set_request_id == request_id {
                return n;
            }
            self.early.push(n);
        }
    }

    /// Hands the next notification (for `request_id`) to the ingest.
    pub async fn deliver(&mut self, request_id: &str) -> ExportSummary {
        let n = self.notification(request_id).await;
        let mut out = self.ingest.handle_event(n.sns_event()).await.expect("ingest succeeds");
        assert_eq!(out.len(), 1);
        out.remove(0)
    }

    /// The stand-in's log entry of an accepted request, once its export is done.
    pub async fn entry(&self, request_id: &str) -> RequestEntry {
        self.standin.wait_for_delivery(request_id, WAIT).await.expect("the export finishes")
    }

    /// The rows of the CSV an export wrote: header name -> value, in file order.
    pub async fn csv(&self, request_id: &str) -> Vec<BTreeMap<String, String>> {
        let entry = self.entry(request_id).await;
        let export = entry.export.expect("an accepted request has an export");
        read_csv(&self.s3, &export.bucket_name, &export.data_set_key).await
    }
}

pub async fn read_csv(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<BTreeMap<String, String>> {
    let out = s3.get_object().bucket(bucket).key(key).send().await.expect("the CSV exists");
    let bytes = out.body.collect().await.unwrap().into_bytes();
    let mut reader = csv::Reader::from_reader(bytes.as_ref());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    reader.records().map(|r| header.iter().cloned().zip(r.unwrap().iter().map(str::to_owned)).collect()).collect()
}

/// (Customer Guid, Operation Type) of each CSV row, sorted.
pub fn guid_ops(rows: &[BTreeMap<String, String>]) -> Vec<(String, String)> {
    let mut v: Vec<_> = rows.iter().map(|r| (r["Customer Guid"].clone(), r["Operation Type"].clone())).collect();
    v.sort();
    v
}

/// A new contact for the stand-in (not in the guide's data).
pub fn new_contact(guid: &str) -> aws_standin::Contact {
    aws_standin::Contact {
        product_id: "4b898955-84fa-4cfb-8f43-98287ad69c06".into(),
        product_code: "4gzp2symm0v9zidfrn9f854w6".into(),
        customer_guid: guid.into(),
        subscription_guid: "0e3c1a3c-6b8e-4f0e-9d51-2f4f1c0c0a01".into(),
        subscription_start_date: "2026-01-05T00:00:00.000Z".into(),
        organization: Some("Example Inc -- Support Desk".into()),
        aws_customer_id: "000099998888".into(),
        given_name: Some("Mary".into()),
        surname: Some("Major".into()),
        telephone_number: Some("555-010-0199".into()),
        email: Some("Mary.Major@Example.com".into()),
        title: Some("Support Lead".into()),
        country_code: Some("US".into()),
        zip_code: Some("02110".into()),
    }
}
