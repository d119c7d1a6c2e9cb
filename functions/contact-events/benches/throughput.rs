//! Events per second and client CPU per event of one contact-events
//! invocation. A measurement, not a test: it prints figures, asserts nothing
//! about them.
//!
//!     cargo run -q --bin with-emulators -- cargo bench -p contact-events --bench throughput
//!
//! One batch of `BENCH_RECORDS` (default 1000) stream records, each a new
//! contact (items written by the table's own codec, in the Lambda event's
//! JSON), through `ContactEvents::invoke`:
//! * to an in-memory bus: the function's own work (reading the stream JSON,
//!   decoding, mapping, the event JSON, batching);
//! * to moto's EventBridge over HTTP (`PutEvents`, signed): the whole client
//!   side of a real invocation, moto's time included in the wall clock, not
//!   in the CPU (moto is another process).
//!
//! CPU is this process's user + system time (getrusage) over the run.

use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_dynamodb::types::AttributeValue;
use contact_events::ContactEvents;
use contact_events::mapping::Detail;
use psc_bridge::aws::EventBridgeBus;
use psc_bridge::aws::dynamodb::item::contact_item;
use psc_bridge::aws::signed::{Request, SignedHttp, Signing};
use psc_bridge::export_csv::{ExportReader, Row};
use psc_bridge::memory::{MemoryBus, MemoryStore};
use serde_json::{Value, json};

fn cpu() -> Duration {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct it is given.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000);
    t(ru.ru_utime) + t(ru.ru_stime)
}

fn ddb_json(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::S(s) => json!({"S": s}),
        AttributeValue::N(n) => json!({"N": n}),
        AttributeValue::Bool(b) => json!({"BOOL": b}),
        other => panic!("unexpected attribute {other:?}"),
    }
}

/// A stream event of `n` new contacts.
fn stream_event(n: usize) -> Value {
    let header = "Product Id,Product Code,Customer Guid,Subscription Guid,Subscription Start Date,Organization,\
AWS Customer Id,Given Name,Surname,Telephone Number,Email,Title,Country Code,ZIP Code,Operation Time,Operation Type";
    let mut csv = format!("{header}\r\n");
    for i in 0..n {
        csv.push_str(&format!(
            "4b898955-84fa-4cfb-8f43-98287ad69c06,4gzp2symm0v9zidfrn9f854w6,00000000-0000-4000-8000-{i:012},\
cad371fb-6f2c-4537-a054-1a7afc6312fd,2016-05-27T00:00:00.000Z,Example Inc,000011112222,Given{i},Surname{i},\
555-0100,user{i}@example.org,,US,,2016-05-12T03:54:46.143Z,CREATE\r\n"
        ));
    }
    let records: Vec<Value> = ExportReader::new(std::io::Cursor::new(csv.into_bytes()))
        .unwrap()
        .enumerate()
        .map(|(i, row)| {
            let Row::Valid(rec) = row.unwrap() else { panic!("bad fixture row") };
            let image: serde_json::Map<String, Value> =
                contact_item(&rec, "bench").iter().map(|(k, v)| (k.clone(), ddb_json(v))).collect();
            json!({"eventID": format!("e{i}"), "eventName": "INSERT",
                   "dynamodb": {"NewImage": image, "SequenceNumber": format!("{i:021}")}})
        })
        .collect();
    json!({"Records": records})
}

async fn run<B: psc_bridge::ports::EventBus>(name: &str, bus: B, event: &Value, n: usize) {
    let handler = ContactEvents::new(bus, Detail::Full);
    let store = MemoryStore::new();
    let (t0, c0) = (Instant::now(), cpu());
    let answer = handler.invoke(&store, event).await.unwrap();
    let (wall, cpu_used) = (t0.elapsed(), cpu() - c0);
    assert_eq!(answer, json!({"batchItemFailures": []}), "{name}: everything delivered");
    println!(
        "| {name} | {n} | {:.0} | {:.1} | {:.1} |",
        n as f64 / wall.as_secs_f64(),
        cpu_used.as_secs_f64() * 1e6 / n as f64,
        wall.as_secs_f64() * 1e3
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n: usize = std::env::var("BENCH_RECORDS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let event = stream_event(n);
    println!("\n| bus | events | events/s | client CPU µs/event | wall ms |\n|---|---:|---:|---:|---:|");
    // Warm-up, then the in-memory bus.
    run("warm-up (in memory)", MemoryBus::new(), &event, n).await;
    run("in memory", MemoryBus::new(), &event, n).await;

    let emu = devkit::Emulators::get().await;
    let endpoint = emu.s3_endpoint().trim_end_matches('/').to_owned();
    let sdk = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new("test", "test", None, None, "b")))
        .endpoint_url(&endpoint)
        .build();
    let bus = devkit::unique_name("bench-bus");
    let http = SignedHttp::new(&sdk, Duration::from_secs(5), Duration::from_secs(30), "bench", "setup");
    let created = http
        .send(Request {
            method: "POST",
            url: &format!("{endpoint}/"),
            headers: vec![
                ("content-type", "application/x-amz-json-1.1".to_owned()),
                ("x-amz-target", "AWSEvents.CreateEventBus".to_owned()),
            ],
            body: json!({"Name": bus}).to_string().into_bytes(),
            signing: Signing::SigV4 { service: "events", region: "us-east-1" },
        })
        .await
        .unwrap();
    assert_eq!(created.status, 200);
    run("moto EventBridge (PutEvents over HTTP)", EventBridgeBus::new(&sdk, &bus), &event, n).await;
}
