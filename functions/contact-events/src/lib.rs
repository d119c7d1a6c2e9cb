//! contact-events: the contacts table's DynamoDB stream, as change events on
//! the seller's EventBridge bus (issue 13), so a CRM or support desk learns
//! that a contact arrived, changed or must be erased.
//!
//! * [`mapping`]: a stream record of a contact or export to its event, or
//!   to none; [`subscriptions`]: the same for a data-feeds agreement.
//! * [`ContactEvents::handle`]: one stream batch: its events, put in order,
//!   in `PutEvents` calls within EventBridge's limits (10 entries, 256 KB);
//!   entries `PutEvents` refuses are retried with backoff; what still fails
//!   is reported as a batch item failure (`ReportBatchItemFailures`), the
//!   lowest sequence number first, so the stream retries from there and
//!   nothing is dropped. Delivery is at least once: consumers dedupe on the
//!   detail's `eventId`.
//!
//! Events of one contact (or agreement) leave in the order its changes
//! happened: a `PutEvents` call never holds two events of the same key, and
//! no call is made before the one before it was accepted in full.
//!
//! Agreement items of the data feeds (written by ingest-feeds) become
//! `Marketplace Subscription Started`, `Changed` or `Ended` on the same bus
//! ([`subscriptions`]), completed with the buyer's AWS account id and the
//! offer's product read from the table ([`FeedLookup`]). A failed read
//! fails the batch from the first subscription event's record, as a
//! refused `PutEvents` does: nothing is dropped.
//!
//! A manual invoke with `{"backfill": {}}` emits `PSC Contact Created` for
//! every live contact instead ([`ContactEvents::backfill`]): paged and
//! resumable, for a CRM connected after the fact.
//!
//! Logs carry counts, event ids and error codes; never a contact field.

pub mod mapping;
pub mod subscriptions;

use std::time::Duration;

use lambda_runtime::Diagnostic;
use psc_bridge::aws::AwsError;
use psc_bridge::config::{ConfigError, env_or, env_required, parse_var};
use psc_bridge::domain::Timestamp;
use psc_bridge::ports::{BusEvent, ContactScan, EventBus, FeedLookup, LookupError};
use psc_bridge::retry::{self, Backoff};
use serde::Serialize;
use serde_json::Value;
use tracing::{info, warn};

/// No data feeds: subscription events carry null AWS account ids and products.
pub use psc_bridge::feeds::NoFeeds;

use mapping::{ChangeEvent, Detail, SOURCE, StreamChange};
use subscriptions::{Lookups, SubscriptionChange};

/// Everything `main` reads from the environment (`docs/configuration.md`).
#[derive(Debug, Clone)]
pub struct Config {
    /// `TABLE_NAME`: the contacts table (the backfill scans it).
    pub table_name: String,
    /// `EVENT_BUS_NAME`: the stack's bus.
    pub event_bus_name: String,
    /// `EVENT_DETAIL`: `full` (default) or `ids`.
    pub detail: Detail,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: env_required("TABLE_NAME")?,
            event_bus_name: env_required("EVENT_BUS_NAME")?,
            detail: parse_var("EVENT_DETAIL", &env_or("EVENT_DETAIL", "full"), Detail::parse)?,
        })
    }
}

/// EventBridge's limits on one `PutEvents` call.
pub const MAX_ENTRIES: usize = 10;
pub const MAX_BYTES: usize = 256 * 1024;

/// Retries of entries `PutEvents` refused (or of the whole call): four
/// after the first attempt, waits from 50-100 ms doubling to at most 2 s.
pub const RETRY: Backoff = Backoff::new(4, Duration::from_millis(100), Duration::from_secs(2));

/// Why an invocation failed (what Lambda reports as its `errorType`).
#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("bad backfill request ({0}): expected {{\"backfill\": {{\"cursor\"?, \"pages\"?, \"pageSize\"?}}}}")]
    BadBackfillRequest(serde_json::Error),
    #[error("the answer could not be written as JSON: {0}")]
    Answer(serde_json::Error),
}

impl EventsError {
    /// The error type Lambda reports (and logs filter on).
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::BadBackfillRequest(_) => "BadBackfillRequest",
            Self::Answer(_) => "AnswerError",
        }
    }
}

/// The one place contact-events' errors become Lambda's.
impl From<EventsError> for Diagnostic {
    fn from(e: EventsError) -> Self {
        Diagnostic { error_type: e.error_type().to_owned(), error_message: e.to_string() }
    }
}

/// `{"batchItemFailures": [{"itemIdentifier": "<sequence number>"}]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse {
    pub batch_item_failures: Vec<ItemFailure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemFailure {
    pub item_identifier: String,
}

/// What one batch did (also logged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub records: usize,
    pub events: usize,
    pub sent: usize,
    /// Entries retried after `PutEvents` refused them, or after a failed call.
    pub retried: usize,
    pub response: BatchResponse,
}

/// The handler, over an event bus and what it reads of the data feeds to
/// complete the subscription events.
pub struct ContactEvents<B, F = NoFeeds> {
    bus: B,
    feeds: F,
    detail: Detail,
    retry: Backoff,
}

impl<B: EventBus> ContactEvents<B> {
    /// Without the feeds' lookups ([`NoFeeds`]): subscription events go out
    /// with their AWS account id and product null. `main` gives the table
    /// ([`ContactEvents::with_feeds`]).
    pub fn new(bus: B, detail: Detail) -> Self {
        Self { bus, feeds: NoFeeds, detail, retry: RETRY }
    }
}

impl<B: EventBus, F: FeedLookup> ContactEvents<B, F> {
    /// Completes the subscription events from `feeds` (the table).
    pub fn with_feeds<G: FeedLookup>(self, feeds: G) -> ContactEvents<B, G> {
        ContactEvents { bus: self.bus, feeds, detail: self.detail, retry: self.retry }
    }

    pub fn with_retry(mut self, retry: Backoff) -> Self {
        self.retry = retry;
        self
    }

    pub fn bus(&self) -> &B {
        &self.bus
    }

    /// One invocation: a stream batch (its answer: the batch item
    /// failures), or a manual `{"backfill": {...}}` (its answer: the
    /// [`BackfillReport`]; a malformed request is an error).
    pub async fn invoke<S: ContactScan>(&self, store: &S, payload: &Value) -> Result<Value, EventsError> {
        if let Some(request) = payload.get("backfill") {
            let request: BackfillRequest =
                serde_json::from_value(request.clone()).map_err(EventsError::BadBackfillRequest)?;
            let report = self.backfill(store, &request).await;
            return serde_json::to_value(report).map_err(EventsError::Answer);
        }
        let report = self.handle(payload).await;
        serde_json::to_value(report.response).map_err(EventsError::Answer)
    }

    /// One Lambda event (the stream batch, as JSON).
    pub async fn handle(&self, event: &Value) -> Report {
        match mapping::stream_changes(event) {
            Ok(changes) => self.deliver(&changes).await,
            Err(bad) => {
                // Unreadable as a whole: fail it, so the stream's retries and
                // its on-failure destination take it.
                warn!(record = %bad.record, reason = %bad.reason, "unreadable stream batch");
                let ids = event
                    .get("Records")
                    .and_then(Value::as_array)
                    .and_then(|r| r.first())
                    .and_then(|r| r.pointer("/dynamodb/SequenceNumber"))
                    .and_then(Value::as_str)
                    .map(|s| vec![ItemFailure { item_identifier: s.to_owned() }])
                    .unwrap_or_default();
                Report { response: BatchResponse { batch_item_failures: ids }, ..Report::default() }
            }
        }
    }

    /// Maps and puts the events of `changes`, in order. The subscription
    /// events are completed first, with one round of lookups for the whole
    /// batch; when a lookup fails, the events before the first subscription
    /// event are sent and the batch fails from its record.
    pub async fn deliver(&self, changes: &[StreamChange]) -> Report {
        let mapped: Vec<(&StreamChange, Mapped)> = changes
            .iter()
            .filter_map(|c| {
                if let Some(e) = mapping::event_of(c, self.detail) {
                    return Some((c, Mapped::Ready(e)));
                }
                if let Some(s) = subscriptions::subscription_change(c) {
                    return Some((c, Mapped::Subscription(Box::new(s))));
                }
                if c.event_name == "REMOVE" && subscriptions::is_agreement(c) {
                    warn!(event_id = %c.event_id, "an agreement item was removed from the table: no event");
                }
                None
            })
            .collect();
        let pending: Vec<&SubscriptionChange> = mapped
            .iter()
            .filter_map(|(_, m)| match m {
                Mapped::Subscription(s) => Some(&**s),
                Mapped::Ready(_) => None,
            })
            .collect();
        let subscription_events = pending.len();
        let (lookups, lookup_failure) = match Lookups::load(&self.feeds, &pending).await {
            Ok(l) => (l, None),
            Err(e) => {
                let first = mapped.iter().position(|(_, m)| matches!(m, Mapped::Subscription(_))).unwrap_or(0);
                (Lookups::default(), Some((first, describe(&e))))
            }
        };
        let cut = lookup_failure.as_ref().map_or(mapped.len(), |(i, _)| *i);
        let outgoing: Vec<Outgoing<'_>> = mapped[..cut]
            .iter()
            .map(|(c, m)| Outgoing {
                item: &c.sequence_number,
                event_id: &c.event_id,
                event: match m {
                    Mapped::Ready(e) => e.clone(),
                    Mapped::Subscription(s) => subscriptions::subscription_event(c, s, &lookups),
                },
            })
            .collect();
        let mut report = Report { records: changes.len(), events: outgoing.len(), ..Report::default() };
        let (sent, failed) = self.send(&outgoing, &mut report.retried).await;
        report.sent = sent;
        if let Some((failed, why)) = failed {
            warn!(
                event_id = %failed.event_id,
                sequence_number = %failed.item,
                error = %why,
                sent,
                "events not accepted after retries: the stream retries from this record"
            );
            report.response.batch_item_failures = vec![ItemFailure { item_identifier: failed.item.to_owned() }];
        } else if let Some((i, why)) = lookup_failure {
            let (c, _) = &mapped[i];
            warn!(
                event_id = %c.event_id,
                sequence_number = %c.sequence_number,
                error = %why,
                sent,
                "the feeds could not be read to complete a subscription event: the stream retries from this record"
            );
            report.response.batch_item_failures = vec![ItemFailure { item_identifier: c.sequence_number.clone() }];
        }
        info!(
            records = report.records,
            events = report.events,
            subscriptions = subscription_events,
            sent = report.sent,
            retried = report.retried,
            failed = report.response.batch_item_failures.len(),
            "stream batch"
        );
        report
    }

    /// Emits `PSC Contact Created` (with `backfill: true`) for every live
    /// contact, `request.pages` pages of `request.page_size` at a time from
    /// `request.cursor`: for a CRM connected after the fact. Resumable: the
    /// answer's `cursor` continues (null when done); a failure names the
    /// cursor to resume from, whose page is sent again (at least once).
    pub async fn backfill<S: ContactScan>(&self, store: &S, request: &BackfillRequest) -> BackfillReport {
        let mut out = BackfillReport { cursor: request.cursor.clone(), ..BackfillReport::default() };
        let mut retried = 0;
        for _ in 0..request.pages.max(1) {
            let page = match store.scan_contacts(out.cursor.as_deref(), request.page_size.clamp(1, 1000)).await {
                Ok(p) => p,
                Err(e) => {
                    out.error = Some(match e {
                        LookupError::BadCursor => {
                            out.bad_cursor = true;
                            "the cursor is not one this backfill handed out".to_owned()
                        }
                        LookupError::Aws(e) => e.summary(),
                    });
                    break;
                }
            };
            let ids: Vec<String> = page
                .items
                .iter()
                .map(|c| format!("backfill-{}-{}", c.customer_guid, c.operation_time.to_iso()))
                .collect();
            let outgoing: Vec<Outgoing<'_>> = page
                .items
                .iter()
                .zip(&ids)
                .map(|(c, id)| Outgoing {
                    item: c.customer_guid.as_str(),
                    event_id: id,
                    event: mapping::backfill_event(c, id, self.detail),
                })
                .collect();
            let (sent, failed) = self.send(&outgoing, &mut retried).await;
            out.backfilled += sent;
            if let Some((_, why)) = failed {
                out.error = Some(why);
                break;
            }
            out.cursor = page.next_cursor;
            if out.cursor.is_none() {
                break;
            }
        }
        out.done = out.cursor.is_none() && out.error.is_none();
        info!(backfilled = out.backfilled, done = out.done, failed = out.error.is_some(), "backfill");
        out
    }

    /// Puts `outgoing` in order, a chunk at a time; the number sent (of
    /// fully accepted chunks) and, on giving up, the first entry still
    /// refused with the last error.
    async fn send<'a>(
        &self,
        outgoing: &'a [Outgoing<'a>],
        retried: &mut usize,
    ) -> (usize, Option<(&'a Outgoing<'a>, String)>) {
        let mut sent = 0;
        for chunk in chunks(outgoing) {
            match self.put_all(chunk, retried).await {
                Ok(()) => sent += chunk.len(),
                Err((i, why)) => return (sent, Some((&chunk[i], why))),
            }
        }
        (sent, None)
    }

    /// Puts one chunk until every entry is accepted, retrying the refused
    /// ones; on giving up, the index of the first one still refused.
    async fn put_all(&self, chunk: &[Outgoing<'_>], retried: &mut usize) -> Result<(), (usize, String)> {
        let entries: Vec<BusEvent> = chunk.iter().map(|o| bus_event(&o.event)).collect();
        let mut pending: Vec<usize> = (0..entries.len()).collect();
        let mut last_error = String::new();
        let seed = retry::seed();
        for attempt in 1..=self.retry.attempts() {
            if attempt > 1 {
                tokio::time::sleep(self.retry.delay(attempt - 1, seed)).await;
                *retried += pending.len();
            }
            let batch: Vec<BusEvent> = pending.iter().map(|&i| entries[i].clone()).collect();
            match self.bus.put_events(&batch).await {
                Ok(outcome) => {
                    let mut still = Vec::new();
                    for (&i, o) in pending.iter().zip(outcome.iter().chain(std::iter::repeat(&None))) {
                        if let Some(code) = o {
                            last_error = code.clone();
                            still.push(i);
                        }
                    }
                    if outcome.len() < pending.len() {
                        last_error = "PutEvents answered fewer entries than it was given".into();
                        still = pending[outcome.len()..].to_vec();
                    }
                    pending = still;
                }
                Err(e) => last_error = describe(&e),
            }
            if pending.is_empty() {
                return Ok(());
            }
        }
        Err((pending[0], last_error))
    }
}

/// A stream record's event: ready, or a subscription change still to be
/// completed by the lookups.
enum Mapped {
    Ready(ChangeEvent),
    Subscription(Box<SubscriptionChange>),
}

/// One event on its way, with what identifies its source record.
struct Outgoing<'a> {
    /// The batch item identifier (a stream record's sequence number), or the
    /// contact's guid in a backfill.
    item: &'a str,
    event_id: &'a str,
    event: ChangeEvent,
}

/// `{"backfill": {"cursor"?, "pages"?, "pageSize"?}}`, the payload of a
/// manual invoke.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackfillRequest {
    #[serde(default)]
    pub cursor: Option<String>,
    /// Pages per invocation (default 50).
    #[serde(default = "default_pages")]
    pub pages: u32,
    /// Items read per page (default 100, at most 1000).
    #[serde(default = "default_page_size")]
    pub page_size: i32,
}

fn default_pages() -> u32 {
    50
}

fn default_page_size() -> i32 {
    100
}

/// What a backfill invocation did: `{"backfilled", "cursor", "done", "error"?}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackfillReport {
    pub backfilled: usize,
    /// Where to go on (`null`: the end of the table was reached).
    pub cursor: Option<String>,
    pub done: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The request's cursor was refused (the caller's mistake, not a
    /// failure to retry).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub bad_cursor: bool,
}

fn describe(e: &AwsError) -> String {
    e.summary()
}

fn bus_event(e: &ChangeEvent) -> BusEvent {
    BusEvent {
        source: SOURCE.to_owned(),
        detail_type: e.detail_type.to_owned(),
        detail: e.detail.to_string(),
        time: Some(Timestamp::now()),
    }
}

/// Consecutive runs of events within EventBridge's limits, and with no two
/// events of the same key in one run.
fn chunks<'a>(events: &'a [Outgoing<'a>]) -> Vec<&'a [Outgoing<'a>]> {
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, o) in events.iter().enumerate() {
        let size = bus_event(&o.event).size();
        let same_key = events[start..i].iter().any(|p| p.event.key == o.event.key);
        if i > start && (i - start == MAX_ENTRIES || bytes + size > MAX_BYTES || same_key) {
            out.push(&events[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < events.len() {
        out.push(&events[start..]);
    }
    out
}
