//! Change events in the local run (issue 13): what Lambda's event source
//! mapping does on AWS, and a queue that shows what a CRM would receive.
//!
//! * [`Events::start`]: a bus and a queue on moto, with a rule that sends
//!   every `psc-bridge` event on the bus to the queue (as a seller's own
//!   rule would send them to a CRM); then two background tasks:
//! * the stream poller, standing in for the event source mapping: it reads
//!   the table's DynamoDB stream on DynamoDB Local (`DescribeStream`,
//!   `GetShardIterator`, `GetRecords`, four polls a second per shard, as
//!   Lambda polls), hands each batch, in the Lambda event's shape, to the
//!   real `contact-events` binary through `cargo lambda watch`'s Invoke API,
//!   and retries from the first record the function reports in
//!   `batchItemFailures` (`ReportBatchItemFailures`);
//! * the queue reader: every message the rule delivers, with its lag from
//!   the table write.
//!
//! **Lag.** DynamoDB Local rounds a record's `ApproximateCreationDateTime`
//! down to the minute, so the write time is bounded instead: a record first
//! seen by a poll was written after the start of the last poll of its shard
//! that came back caught up (fewer records than the limit). The lag shown is
//! from that instant to the queue's `SentTimestamp`: an upper bound, which
//! includes up to one poll interval (250 ms) of waiting for the poll.
//!
//! The calls carry a SigV4-shaped `Authorization` header with a dummy
//! signature: DynamoDB Local and moto route on its credential scope and
//! verify nothing. What is printed is identifiers and counts, never a
//! contact field.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::http::{Http, preview};
use crate::run::REGION;
use crate::ui::{self, say};

/// The local run's bus (the function's `EVENT_BUS_NAME`) and queue.
pub const EVENT_BUS: &str = "psc-bridge-local-events";
pub const EVENTS_QUEUE: &str = "psc-bridge-local-events";
const RULE: &str = "psc-bridge-local-to-queue";

pub const CREATED: &str = "PSC Contact Created";
pub const UPDATED: &str = "PSC Contact Updated";
pub const DELETED: &str = "PSC Contact Deleted";
pub const EXPORT_FINISHED: &str = "PSC Export Finished";

/// Lambda polls each shard four times a second.
const POLL: Duration = Duration::from_millis(250);
/// `GetRecords`' limit, the template's `BatchSize` of the mapping.
const BATCH: usize = 100;
/// Attempts of one batch before the poller gives up on it (on AWS: the
/// mapping's retries, then `ContactEventsFailureQueue`).
const ATTEMPTS: u32 = 3;
/// The first invocation may wait for `cargo run` to find the binary fresh.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(600);
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the stream is described again, for new shards.
const DESCRIBE_EVERY: Duration = Duration::from_secs(1);

/// One event that reached the queue.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub detail_type: String,
    pub detail: Value,
    /// From the table write to the queue (an upper bound; see the module
    /// docs); none for events of no stream record the poller handed over.
    pub lag: Option<Duration>,
}

impl Delivered {
    /// Identifiers only: the contact's Customer Guid and account, or the
    /// export's id and status.
    pub fn describe(&self) -> String {
        let d = &self.detail;
        let s = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("?");
        let what = if self.detail_type == EXPORT_FINISHED {
            format!("export {} {}", s("exportRequestId"), s("status"))
        } else {
            format!("contact {} of account {}", s("customerGuid"), s("awsAccountId"))
        };
        match self.lag {
            Some(l) => format!("{} {what} (table write to queue: at most {} ms)", self.detail_type, l.as_millis()),
            None => format!("{} {what}", self.detail_type),
        }
    }
}

#[derive(Default)]
struct Shared {
    delivered: Vec<Delivered>,
    /// Stream record `eventID` → an instant before its write (module docs).
    written_after: HashMap<String, SystemTime>,
    /// Print each event as it arrives (while serving).
    live: bool,
}

/// The bus, the queue and the two tasks; the tasks end with [`Events::stop`]
/// or when this drops.
pub struct Events {
    shared: Arc<Mutex<Shared>>,
    tasks: Vec<JoinHandle<()>>,
}

/// Where the pieces are.
pub struct Endpoints<'a> {
    pub dynamodb: &'a str,
    pub moto: &'a str,
    pub stream_arn: &'a str,
    /// `cargo lambda watch`'s Invoke API URL of contact-events.
    pub invoke_url: &'a str,
}

impl Events {
    /// Creates the bus, the queue and the rule on moto, then starts the
    /// poller and the reader.
    pub async fn start(http: &Http, at: Endpoints<'_>) -> Result<Self> {
        let moto = at.moto.trim_end_matches('/');
        aws_json(http, moto, "events", "1.1", "AWSEvents.CreateEventBus", json!({"Name": EVENT_BUS})).await?;
        let q = aws_json(http, moto, "sqs", "1.0", "AmazonSQS.CreateQueue", json!({"QueueName": EVENTS_QUEUE})).await?;
        let queue_url = q["QueueUrl"].as_str().ok_or_else(|| anyhow!("CreateQueue: no QueueUrl in {q}"))?.to_owned();
        let attrs = aws_json(
            http,
            moto,
            "sqs",
            "1.0",
            "AmazonSQS.GetQueueAttributes",
            json!({"QueueUrl": queue_url, "AttributeNames": ["QueueArn"]}),
        )
        .await?;
        let queue_arn = attrs["Attributes"]["QueueArn"].as_str().ok_or_else(|| anyhow!("no QueueArn in {attrs}"))?;
        let pattern = json!({"source": ["psc-bridge"]}).to_string();
        aws_json(
            http,
            moto,
            "events",
            "1.1",
            "AWSEvents.PutRule",
            json!({"Name": RULE, "EventBusName": EVENT_BUS, "EventPattern": pattern}),
        )
        .await?;
        aws_json(
            http,
            moto,
            "events",
            "1.1",
            "AWSEvents.PutTargets",
            json!({"Rule": RULE, "EventBusName": EVENT_BUS, "Targets": [{"Id": "queue", "Arn": queue_arn}]}),
        )
        .await?;

        let shared = Arc::new(Mutex::new(Shared::default()));
        let poller = Poller {
            http: http.clone(),
            dynamodb: at.dynamodb.trim_end_matches('/').to_owned(),
            stream_arn: at.stream_arn.to_owned(),
            invoke_url: at.invoke_url.to_owned(),
            shared: shared.clone(),
        };
        let reader = Reader { http: http.clone(), moto: moto.to_owned(), queue_url, shared: shared.clone() };
        Ok(Self { shared, tasks: vec![tokio::spawn(poller.run()), tokio::spawn(reader.run())] })
    }

    /// Print every event as it arrives from now on.
    pub fn set_live(&self, live: bool) {
        self.shared.lock().expect("events state").live = live;
    }

    /// Every event that has arrived so far.
    pub fn delivered(&self) -> Vec<Delivered> {
        self.shared.lock().expect("events state").delivered.clone()
    }

    /// How many events have arrived so far.
    pub fn count(&self) -> usize {
        self.shared.lock().expect("events state").delivered.len()
    }

    /// The events from the `from`-th on, once `done` holds for them (or an
    /// error naming what arrived when `timeout` passes first).
    pub async fn wait_for(
        &self,
        from: usize,
        timeout: Duration,
        what: &str,
        done: impl Fn(&[Delivered]) -> bool,
    ) -> Result<Vec<Delivered>> {
        let started = Instant::now();
        let mut noted = Instant::now();
        loop {
            let got = self.shared.lock().expect("events state").delivered.get(from..).unwrap_or_default().to_vec();
            if done(&got) {
                return Ok(got);
            }
            if started.elapsed() > timeout {
                bail!(
                    "{what}: not in the queue within {}s; arrived: {}",
                    timeout.as_secs(),
                    if got.is_empty() { "nothing".to_owned() } else { summary(&got) }
                );
            }
            if noted.elapsed() > Duration::from_secs(10) {
                say(format!("waiting for {what} in the queue ({:.0}s)", started.elapsed().as_secs_f64()));
                noted = Instant::now();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn stop(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `5 PSC Contact Created, 1 PSC Export Finished`: the count of each detail
/// type, in the order of the lifecycle.
pub fn summary(events: &[Delivered]) -> String {
    let mut counts: BTreeMap<(usize, &str), usize> = BTreeMap::new();
    for e in events {
        let rank = [CREATED, UPDATED, DELETED, EXPORT_FINISHED].iter().position(|t| *t == e.detail_type).unwrap_or(4);
        *counts.entry((rank, e.detail_type.as_str())).or_default() += 1;
    }
    counts.iter().map(|((_, t), n)| format!("{n} {t}")).collect::<Vec<_>>().join(", ")
}

/// `p50 310 ms, max 420 ms over 6 events`, of the events with a lag.
pub fn lag_summary(events: &[Delivered]) -> Option<String> {
    let mut lags: Vec<u128> = events.iter().filter_map(|e| e.lag).map(|l| l.as_millis()).collect();
    if lags.is_empty() {
        return None;
    }
    lags.sort_unstable();
    let p50 = lags[(lags.len() - 1) / 2];
    let max = lags[lags.len() - 1];
    Some(format!("p50 {p50} ms, max {max} ms over {} events", lags.len()))
}

/// A SigV4-shaped `Authorization` header for `service` (dummy signature).
pub fn local_auth(service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=local/20250101/{REGION}/{service}/aws4_request, SignedHeaders=host, Signature=0"
    )
}

/// One AWS JSON call (`target` like `AWSEvents.PutRule`) to a local
/// emulator; its answer, or an error with the emulator's.
pub async fn aws_json(
    http: &Http,
    endpoint: &str,
    service: &str,
    version: &str,
    target: &str,
    body: Value,
) -> Result<Value> {
    let content_type = format!("application/x-amz-json-{version}");
    let auth = local_auth(service);
    let headers = [("content-type", content_type.as_str()), ("x-amz-target", target), ("authorization", auth.as_str())];
    let answer = http
        .send("POST", &format!("{endpoint}/"), &headers, Bytes::from(body.to_string()), CALL_TIMEOUT)
        .await
        .with_context(|| target.to_owned())?;
    if answer.status >= 300 {
        bail!("{target}: HTTP {}: {}", answer.status, preview(&answer.body));
    }
    if answer.body.trim().is_empty() {
        return Ok(Value::Null);
    }
    answer.json().with_context(|| target.to_owned())
}

/// A record of `GetRecords` as Lambda hands it to the function.
pub fn lambda_record(mut record: Value, stream_arn: &str) -> Value {
    if let Some(r) = record.as_object_mut() {
        r.insert("eventSource".into(), json!("aws:dynamodb"));
        r.insert("awsRegion".into(), json!(REGION));
        r.insert("eventSourceARN".into(), json!(stream_arn));
    }
    record
}

/// What to retry after an invocation's answer: `None` when the batch is
/// done, else the index of the first record to send again and why.
pub fn retry_from(records: &[Value], answer: &Value) -> Option<(usize, String)> {
    if let Some(t) = answer.get("errorType").and_then(Value::as_str) {
        let message = answer.get("errorMessage").and_then(Value::as_str).unwrap_or("");
        return Some((0, format!("the function failed: {t}: {message}")));
    }
    let failed: Vec<&str> = answer
        .get("batchItemFailures")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|f| f.get("itemIdentifier").and_then(Value::as_str))
        .collect();
    if failed.is_empty() {
        return None;
    }
    let first = records
        .iter()
        .position(|r| {
            r.pointer("/dynamodb/SequenceNumber").and_then(Value::as_str).is_some_and(|s| failed.contains(&s))
        })
        // An identifier of no record in the batch: the whole batch, as Lambda does.
        .unwrap_or(0);
    Some((first, format!("the function reported {} batch item failure(s)", failed.len())))
}

struct Poller {
    http: Http,
    dynamodb: String,
    stream_arn: String,
    invoke_url: String,
    shared: Arc<Mutex<Shared>>,
}

enum Shard {
    Active {
        iterator: String,
        /// The start of the last poll that came back caught up.
        caught_up_at: SystemTime,
    },
    Done,
}

impl Poller {
    async fn call(&self, target: &str, body: Value) -> Result<Value> {
        aws_json(&self.http, &self.dynamodb, "dynamodb", "1.0", &format!("DynamoDBStreams_20120810.{target}"), body)
            .await
    }

    async fn run(self) {
        let mut shards: BTreeMap<String, Shard> = BTreeMap::new();
        let mut described: Option<Instant> = None;
        let mut last_error = String::new();
        loop {
            if described.is_none_or(|d| d.elapsed() > DESCRIBE_EVERY) {
                described = Some(Instant::now());
                if let Err(e) = self.new_shards(&mut shards).await {
                    report(&mut last_error, format!("the stream poller: {e:#}"));
                }
            }
            let ids: Vec<String> = shards.keys().cloned().collect();
            for id in ids {
                let Some(Shard::Active { iterator, caught_up_at }) = shards.get(&id) else { continue };
                let (iterator, caught_up_at) = (iterator.clone(), *caught_up_at);
                let started = SystemTime::now();
                let page = match self.call("GetRecords", json!({"ShardIterator": iterator, "Limit": BATCH})).await {
                    Ok(p) => p,
                    Err(e) => {
                        report(&mut last_error, format!("the stream poller: shard {id}: {e:#}"));
                        continue;
                    }
                };
                let records = page["Records"].as_array().cloned().unwrap_or_default();
                if !records.is_empty() {
                    {
                        let mut shared = self.shared.lock().expect("events state");
                        for r in &records {
                            if let Some(e) = r["eventID"].as_str() {
                                shared.written_after.insert(e.to_owned(), caught_up_at);
                            }
                        }
                    }
                    self.deliver(records.iter().map(|r| lambda_record(r.clone(), &self.stream_arn)).collect()).await;
                }
                let caught_up_at = if records.len() < BATCH { started } else { caught_up_at };
                let next = match page["NextShardIterator"].as_str() {
                    Some(i) => Shard::Active { iterator: i.to_owned(), caught_up_at },
                    None => Shard::Done,
                };
                shards.insert(id, next);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Starts reading every shard not seen yet whose parent, if known, is
    /// read to its end (a contact's changes stay in order across a split).
    async fn new_shards(&self, shards: &mut BTreeMap<String, Shard>) -> Result<()> {
        let described = self.call("DescribeStream", json!({"StreamArn": self.stream_arn})).await?;
        for shard in described["StreamDescription"]["Shards"].as_array().into_iter().flatten() {
            let Some(id) = shard["ShardId"].as_str() else { continue };
            let parent_open =
                shard["ParentShardId"].as_str().is_some_and(|p| matches!(shards.get(p), Some(Shard::Active { .. })));
            if shards.contains_key(id) || parent_open {
                continue;
            }
            let it = self
                .call(
                    "GetShardIterator",
                    json!({"StreamArn": self.stream_arn, "ShardId": id, "ShardIteratorType": "TRIM_HORIZON"}),
                )
                .await?;
            let iterator = it["ShardIterator"].as_str().ok_or_else(|| anyhow!("GetShardIterator: no iterator"))?;
            shards.insert(id.to_owned(), Shard::Active { iterator: iterator.to_owned(), caught_up_at: UNIX_EPOCH });
        }
        Ok(())
    }

    /// Invokes contact-events with `records` until it reports no failure,
    /// from the first failed record on, at most [`ATTEMPTS`] times.
    async fn deliver(&self, records: Vec<Value>) {
        let mut batch = records;
        let mut why = String::new();
        for attempt in 1..=ATTEMPTS {
            let event = json!({"Records": batch});
            match self.http.post_json(&self.invoke_url, &event, INVOKE_TIMEOUT).await.and_then(|a| a.json()) {
                Ok(answer) => match retry_from(&batch, &answer) {
                    None => return,
                    Some((from, reason)) => {
                        batch.drain(..from);
                        why = reason;
                    }
                },
                Err(e) => why = format!("{e:#}"),
            }
            if attempt < ATTEMPTS {
                tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
            }
        }
        ui::error(format!(
            "contact-events: {} stream record(s) not delivered after {ATTEMPTS} attempts ({why}); on AWS the \
             mapping retries them, then sends their position to ContactEventsFailureQueue",
            batch.len()
        ));
    }
}

struct Reader {
    http: Http,
    moto: String,
    queue_url: String,
    shared: Arc<Mutex<Shared>>,
}

impl Reader {
    async fn run(self) {
        let mut last_error = String::new();
        loop {
            let body = json!({
                "QueueUrl": self.queue_url,
                "MaxNumberOfMessages": 10,
                "WaitTimeSeconds": 1,
                "AttributeNames": ["SentTimestamp"],
            });
            let got = match aws_json(&self.http, &self.moto, "sqs", "1.0", "AmazonSQS.ReceiveMessage", body).await {
                Ok(g) => g,
                Err(e) => {
                    report(&mut last_error, format!("the queue reader: {e:#}"));
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            let messages = got["Messages"].as_array().cloned().unwrap_or_default();
            let mut receipts = Vec::new();
            for (i, m) in messages.iter().enumerate() {
                let Some(event) = m["Body"].as_str().and_then(|b| serde_json::from_str::<Value>(b).ok()) else {
                    report(&mut last_error, "the queue reader: a message that is not an event".to_owned());
                    continue;
                };
                let sent: Option<u128> =
                    m.pointer("/Attributes/SentTimestamp").and_then(Value::as_str).and_then(|t| t.parse().ok());
                let delivered = {
                    let mut shared = self.shared.lock().expect("events state");
                    let lag = match (sent, event.pointer("/detail/eventId").and_then(Value::as_str)) {
                        (Some(sent_ms), Some(id)) => shared.written_after.get(id).and_then(|after| {
                            let after_ms = after.duration_since(UNIX_EPOCH).ok()?.as_millis();
                            Some(Duration::from_millis(u64::try_from(sent_ms.checked_sub(after_ms)?).ok()?))
                        }),
                        _ => None,
                    };
                    let d = Delivered {
                        detail_type: event["detail-type"].as_str().unwrap_or("?").to_owned(),
                        detail: event["detail"].clone(),
                        lag,
                    };
                    shared.delivered.push(d.clone());
                    shared.live.then_some(d)
                };
                if let Some(d) = delivered {
                    say(format!("event: {}", d.describe()));
                }
                if let Some(r) = m["ReceiptHandle"].as_str() {
                    receipts.push(json!({"Id": i.to_string(), "ReceiptHandle": r}));
                }
            }
            if !receipts.is_empty() {
                let body = json!({"QueueUrl": self.queue_url, "Entries": receipts});
                if let Err(e) =
                    aws_json(&self.http, &self.moto, "sqs", "1.0", "AmazonSQS.DeleteMessageBatch", body).await
                {
                    report(&mut last_error, format!("the queue reader: {e:#}"));
                }
            }
        }
    }
}

/// Prints a background task's error, once until it changes.
fn report(last: &mut String, error: String) {
    if *last != error {
        ui::error(&error);
        *last = error;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivered(detail_type: &str, lag_ms: Option<u64>) -> Delivered {
        Delivered {
            detail_type: detail_type.to_owned(),
            detail: json!({"customerGuid": "g", "awsAccountId": "000011112222"}),
            lag: lag_ms.map(Duration::from_millis),
        }
    }

    #[test]
    fn sums_up_the_events_in_lifecycle_order() {
        let events = [
            delivered(EXPORT_FINISHED, None),
            delivered(CREATED, None),
            delivered(DELETED, None),
            delivered(CREATED, None),
            delivered(UPDATED, None),
        ];
        assert_eq!(
            summary(&events),
            "2 PSC Contact Created, 1 PSC Contact Updated, 1 PSC Contact Deleted, 1 PSC Export Finished"
        );
        assert_eq!(summary(&[]), "");
    }

    #[test]
    fn gives_the_median_and_the_worst_lag_of_the_events_that_have_one() {
        let events = [
            delivered(CREATED, Some(300)),
            delivered(CREATED, Some(100)),
            delivered(CREATED, None),
            delivered(EXPORT_FINISHED, Some(900)),
        ];
        assert_eq!(lag_summary(&events).as_deref(), Some("p50 300 ms, max 900 ms over 3 events"));
        assert_eq!(lag_summary(&[delivered(CREATED, None)]), None);
    }

    #[test]
    fn describes_an_event_by_its_identifiers() {
        let d = delivered(DELETED, Some(42));
        assert_eq!(
            d.describe(),
            "PSC Contact Deleted contact g of account 000011112222 (table write to queue: at most 42 ms)"
        );
        let e = Delivered {
            detail_type: EXPORT_FINISHED.into(),
            detail: json!({"exportRequestId": "r-1", "status": "APPLIED", "counts": {"created": 5}}),
            lag: None,
        };
        assert_eq!(e.describe(), "PSC Export Finished export r-1 APPLIED");
    }

    fn record(seq: &str) -> Value {
        json!({"eventID": format!("e{seq}"), "dynamodb": {"SequenceNumber": seq}})
    }

    #[test]
    fn retries_from_the_first_failed_record_or_the_whole_batch_on_an_error() {
        let batch = [record("1"), record("2"), record("3")];
        assert_eq!(retry_from(&batch, &json!({"batchItemFailures": []})), None);
        let (from, why) = retry_from(&batch, &json!({"batchItemFailures": [{"itemIdentifier": "2"}]})).unwrap();
        assert_eq!((from, why.as_str()), (1, "the function reported 1 batch item failure(s)"));
        let (from, why) =
            retry_from(&batch, &json!({"errorType": "Runtime", "errorMessage": "bad backfill request"})).unwrap();
        assert_eq!((from, why.as_str()), (0, "the function failed: Runtime: bad backfill request"));
        assert_eq!(retry_from(&batch, &json!({"batchItemFailures": [{"itemIdentifier": "9"}]})).unwrap().0, 0);
    }

    #[test]
    fn hands_a_record_over_as_lambda_does() {
        let r = lambda_record(json!({"eventID": "e1", "awsRegion": "ddblocal"}), "arn:stream");
        assert_eq!(r["eventSource"], "aws:dynamodb");
        assert_eq!(r["awsRegion"], REGION);
        assert_eq!(r["eventSourceARN"], "arn:stream");
    }
}
