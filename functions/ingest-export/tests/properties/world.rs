//! The generated world: a log of PSC events over a small universe (four
//! contacts, two accounts, two products, 24 hours), the exports CAS would
//! cut from it (coverage windows with gaps and overlaps), their CSV and
//! metadata, and a direct reading of R3 to compare the ingest with.

use std::collections::BTreeMap;

use proptest::prelude::*;
use psc_bridge::domain::{Guid, Timestamp};
use psc_bridge::memory::MemoryObjects;

pub const INITIAL: &str = "2010-01-01T00:00:00.000Z";
pub const BUCKET: &str = "exports";
pub const CONTACTS: u8 = 4;

const HEADER: &str = "Product Id,Product Code,Customer Guid,Subscription Guid,Subscription Start Date,Organization,\
AWS Customer Id,Given Name,Surname,Telephone Number,Email,Title,Country Code,ZIP Code,Operation Time,Operation Type";

/// Point `u` of the timeline: 0 is the initial from-date, 1..=24 the hours
/// of 2020-01-01 (24: midnight of the 2nd).
pub fn point(u: u8) -> String {
    if u == 0 { INITIAL.to_owned() } else { format!("2020-01-{:02}T{:02}:00:00.000Z", 1 + u / 24, u % 24) }
}

pub fn at(u: u8) -> Timestamp {
    Timestamp::parse(&point(u)).unwrap()
}

pub fn guid_text(contact: u8) -> String {
    format!("0f4a0d6e-0000-4000-8000-00000000000{contact}")
}

pub fn guid(contact: u8) -> Guid {
    Guid::parse(&guid_text(contact)).unwrap()
}

pub fn all_guids() -> Vec<Guid> {
    (0..CONTACTS).map(guid).collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Create,
    Update,
    Delete,
}

/// What makes a bad row bad (each is rejected with a reason and its line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bad {
    Guid,
    OperationType,
    OperationTime,
    LongName,
    Account,
}

/// One event of the log: a row of every export whose window holds `time`.
#[derive(Debug, Clone)]
pub struct Event {
    pub contact: u8,
    /// 1..=24; events of different contacts collide.
    pub time: u8,
    pub op: Op,
    /// Which version of the contact's fields.
    pub variant: u8,
    pub account: u8,
    pub product: u8,
    pub bad: Option<Bad>,
}

impl Event {
    /// The CSV row (no line break).
    pub fn row(&self) -> String {
        let p = self.product;
        let guid = if self.bad == Some(Bad::Guid) { "not-a-guid".to_owned() } else { guid_text(self.contact) };
        let account =
            if self.bad == Some(Bad::Account) { "1234".to_owned() } else { format!("00001111222{}", self.account) };
        let time = if self.bad == Some(Bad::OperationTime) { "05/01/2020".to_owned() } else { point(self.time) };
        let op = match (self.bad, self.op) {
            (Some(Bad::OperationType), _) => "MERGE",
            (_, Op::Create) => "CREATE",
            (_, Op::Update) => "UPDATE",
            (_, Op::Delete) => "DELETE",
        };
        let key = format!(
            "4b898955-84fa-4cfb-8f43-98287ad69c0{p},4gzp2symm0v9zidfrn9f854w{p},{guid},cad371fb-6f2c-4537-a054-1a7afc6312f{p},2016-05-01T00:00:00.000Z"
        );
        if self.op == Op::Delete && self.bad.is_none() {
            return format!("{key},,{account},,,,,,,,{time},{op}");
        }
        let name = match self.bad {
            Some(Bad::LongName) => format!("Longname{}", "x".repeat(120)),
            _ => format!("Given{}v{}", self.contact, self.variant),
        };
        let (c, v) = (self.contact, self.variant);
        format!(
            "{key},\"Org{c} v{v}, Ltd\",{account},{name},Surname{c},555-010-{c}{v:03},person{c}v{v}@example.net,Title{v},US,0{c}{v:03},{time},{op}"
        )
    }
}

/// One export: the events of `(start, end]` (and at `start` too when
/// `inclusive`: an overlap CAS may leave at a boundary), in log order.
#[derive(Debug, Clone)]
pub struct Export {
    pub id: String,
    pub start: u8,
    pub end: u8,
    /// Indices into the log.
    pub events: Vec<usize>,
}

impl Export {
    pub fn csv(&self, log: &[Event]) -> String {
        let mut s = format!("{HEADER}\r\n");
        for &e in &self.events {
            s.push_str(&log[e].row());
            s.push_str("\r\n");
        }
        s
    }

    /// Lines (the header is line 1) of the bad rows.
    pub fn bad_lines(&self, log: &[Event]) -> Vec<u64> {
        (self.events.iter().enumerate()).filter(|(_, e)| log[**e].bad.is_some()).map(|(i, _)| i as u64 + 2).collect()
    }

    pub fn keys(&self) -> (String, String) {
        (format!("psc/{}.csv", self.id), format!("psc/{}.meta.json", self.id))
    }

    /// The CAS notification of this export.
    pub fn notification(&self) -> String {
        let (csv_key, meta_key) = self.keys();
        serde_json::json!({
            "dataSetS3Location": {"bucketName": BUCKET, "key": csv_key},
            "dataSetMetaDataS3Location": {"bucketName": BUCKET, "key": meta_key},
            "dataSetRequestId": self.id,
            "success": true
        })
        .to_string()
    }

    /// Puts the CSV and metadata where CAS would.
    pub fn stage(&self, objects: &MemoryObjects, log: &[Event]) {
        let (csv_key, meta_key) = self.keys();
        objects.put(BUCKET, &csv_key, self.csv(log).into_bytes());
        let meta = serde_json::json!({
            "dataSetRequestId": self.id,
            "dataSetCoverageRange": {"startDateTime": point(self.start), "endDateTime": point(self.end)},
            "dataSetRequestParameters": {
                "fromDate": point(self.start),
                "dataSetType": "test_customer_support_contacts_data",
                "roleNameArn": "arn:aws:iam::123456789012:role/MarketplaceCommerceAnalyticsRole",
                "destinationS3BucketName": BUCKET,
                "destinationS3Prefix": "psc",
                "snsTopicArn": "arn:aws:sns:us-east-1:123456789012:psc"
            },
            "dataSetS3Location": {"bucketName": BUCKET, "key": csv_key},
            "dataSetMetaDataS3Location": {"bucketName": BUCKET, "key": meta_key}
        });
        objects.put(BUCKET, &meta_key, meta.to_string().into_bytes());
    }
}

/// The log and the exports cut from it.
#[derive(Debug, Clone)]
pub struct World {
    pub log: Vec<Event>,
    pub exports: Vec<Export>,
}

fn event() -> impl Strategy<Value = Event> {
    let op = prop_oneof![Just(Op::Create), Just(Op::Update), Just(Op::Delete)];
    let bad = prop_oneof![
        8 => Just(None),
        1 => prop_oneof![
            Just(Bad::Guid),
            Just(Bad::OperationType),
            Just(Bad::OperationTime),
            Just(Bad::LongName),
            Just(Bad::Account)
        ]
        .prop_map(Some),
    ];
    (0..CONTACTS, 1..=24u8, op, 0..4u8, 0..2u8, 0..2u8, bad).prop_map(
        |(contact, time, op, variant, account, product, bad)| {
            // A DELETE carries no contact field: a long name makes an UPDATE bad.
            let op = if bad == Some(Bad::LongName) && op == Op::Delete { Op::Update } else { op };
            Event { contact, time, op, variant, account, product, bad }
        },
    )
}

/// A coverage window on a coarse grid (so that exports often meet, overlap
/// or repeat one another), now and then shifted by an hour (a gap or an
/// overlap off the grid).
fn window() -> impl Strategy<Value = (u8, u8, bool)> {
    (0..=5u8, 0..=3u8, prop_oneof![4 => Just(0u8), 1 => Just(1u8)], any::<bool>(), prop::bool::weighted(0.2)).prop_map(
        |(a, b, shift, later, inclusive)| {
            let start = (a * 4).saturating_sub(if later { 0 } else { shift }).min(24);
            let end = (start + b * 4 + if later { shift } else { 0 }).min(24);
            (start, end.max(start), inclusive)
        },
    )
}

pub fn world() -> impl Strategy<Value = World> {
    (prop::collection::vec(event(), 0..24), prop::collection::vec(window(), 1..5)).prop_map(|(mut log, windows)| {
        // Events of different contacts collide in time; one contact's do
        // not (see `two_rows_of_one_contact_at_the_same_time_in_overlapping_exports`
        // in main.rs: with them the table depends on the order).
        let mut seen = std::collections::BTreeSet::new();
        log.retain(|e| seen.insert((e.contact, e.time)));
        let exports = windows
            .into_iter()
            .enumerate()
            .map(|(i, (start, end, inclusive))| Export {
                id: format!("req-{i}"),
                start,
                end,
                events: (0..log.len())
                    .filter(|&e| {
                        let t = log[e].time;
                        (t > start || (inclusive && t == start)) && t <= end
                    })
                    .collect(),
            })
            .collect();
        World { log, exports }
    })
}

/// What a contact is in the table: the time of its newest record and, when
/// live, what a lookup shows of it.
pub type Table = BTreeMap<Guid, (Timestamp, Option<(String, String, String)>)>;

impl World {
    /// R3 read directly: every event delivered in some export is applied
    /// once, newest wins; bad rows change nothing.
    pub fn expected_table(&self) -> Table {
        let mut delivered: Vec<usize> = self.exports.iter().flat_map(|x| x.events.iter().copied()).collect();
        delivered.sort();
        delivered.dedup();
        let mut table = Table::new();
        for e in delivered.into_iter().map(|i| &self.log[i]).filter(|e| e.bad.is_none()) {
            let t = at(e.time);
            if table.get(&guid(e.contact)).is_some_and(|(held, _)| *held > t) {
                continue;
            }
            let live = (e.op != Op::Delete).then(|| {
                (
                    format!("Given{}v{}", e.contact, e.variant),
                    format!("00001111222{}", e.account),
                    format!("4gzp2symm0v9zidfrn9f854w{}", e.product),
                )
            });
            table.insert(guid(e.contact), (t, live));
        }
        table
    }

    /// The watermark of every export applied: the end of the coverage
    /// contiguous from the initial from-date (`None` when none starts there).
    pub fn expected_watermark(&self) -> Option<Timestamp> {
        reach(self.exports.iter().map(|x| (x.start, x.end)))
    }
}

/// The end of the coverage contiguous from point 0, if any range touches it.
pub fn reach(ranges: impl IntoIterator<Item = (u8, u8)>) -> Option<Timestamp> {
    let mut ranges: Vec<(u8, u8)> = ranges.into_iter().collect();
    ranges.sort();
    let mut w: Option<u8> = None;
    for (s, e) in ranges {
        if s <= w.unwrap_or(0) {
            w = Some(w.unwrap_or(0).max(e));
        }
    }
    w.map(at)
}
