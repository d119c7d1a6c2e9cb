//! The PSC export reader (`psc_bridge::export_csv`, over `csv_stream`).
//!
//! * Read from memory, no row is a `ReadError`: every row is valid or
//!   rejected, with a line past the header's and past the previous row's.
//! * A reject's reason is made of fixed texts only (column: rule), so it
//!   quotes no value of its row.
//! * A valid row holds what the field table allows (trimmed, within its
//!   length, country and ZIP shapes), and written back as CSV under the
//!   canonical header it reads as the same record.
//! * Resuming at any reported position yields the rows of one pass.

use csv::ByteRecord;
use psc_bridge::domain::{Change, ContactRecord};
use psc_bridge::export_csv::{ExportReader, Position, Row};

use crate::assert_made_of;

/// The columns a reason names: the guide's, as [`write_row`] writes them.
const COLUMNS: &[&str] = &CANONICAL;

/// The rules a reason names (numbers as `N`).
const RULES: &[&str] = &[
    "is not valid UTF-N",
    "must be N alphanumeric characters",
    "is required for CREATE and UPDATE",
    "must be an ISO N date-time in UTC, like N-N-NTN:N:N.NZ",
    "must be in UTC (end with Z)",
    "is longer than N characters",
    "must be a N-letter ISO N country code",
    "must be a N-digit string",
    "must be CREATE, UPDATE or DELETE",
    "must be N digits (leading zeroes kept)",
    "must be a N-character GUID (N-N-N-N-N hexadecimal)",
];

const OTHERS: &[&str] = &["row has N fields, the header has N"];

/// The header [`write_row`] writes under.
const CANONICAL: [&str; 16] = [
    "Product Id",
    "Product Code",
    "Customer Guid",
    "Subscription Guid",
    "Subscription Start Date",
    "Organization",
    "AWS Customer Id",
    "Given Name",
    "Surname",
    "Telephone Number",
    "Email",
    "Title",
    "Country Code",
    "ZIP Code",
    "Operation Time",
    "Operation Type",
];

/// One row as the reader returned it, comparable.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Valid(Box<ContactRecord>),
    Rejected { line: u64, reason: String },
}

pub fn check(data: &[u8]) {
    let Ok(mut reader) = ExportReader::new(data) else { return };
    let header = reader.header().to_vec();
    // The same records, read raw with the reader's settings: as many.
    let mut raw = raw_records(data);
    let mut rows: Vec<(Position, Seen)> = Vec::new();
    let mut last_line = 1;
    loop {
        let before = reader.position();
        let Some(row) = reader.next_row() else { break };
        let row = row.unwrap_or_else(|e| panic!("a ReadError from memory: {e}"));
        assert!(raw.next().is_some(), "the raw reader has fewer rows");
        match row {
            Row::Valid(rec) => {
                check_valid(&rec);
                rows.push((before, Seen::Valid(Box::new(rec))));
            }
            Row::Rejected(r) => {
                assert!(r.line > last_line, "reject line {} not after line {last_line}", r.line);
                last_line = r.line;
                assert!(!r.reason.is_empty(), "a reject without a reason (line {})", r.line);
                assert_made_of(&r.reason, COLUMNS, RULES, OTHERS, "a reject's reason");
                rows.push((before, Seen::Rejected { line: r.line, reason: r.reason }));
            }
        }
    }
    assert!(raw.next().is_none(), "the raw reader has more rows than the export reader");
    // Resume at the first, a middle and the last row: the rest is as in one pass.
    let n = rows.len();
    for i in [0, n / 2, n.saturating_sub(1)].into_iter().filter(|&i| i < n) {
        let from = rows[i].0;
        let rest = &data[from.byte as usize..];
        let resumed = ExportReader::resume(rest, &header, from).expect("the header read once reads again");
        let again: Vec<Seen> = resumed
            .map(|r| match r.expect("no ReadError from memory") {
                Row::Valid(rec) => Seen::Valid(Box::new(rec)),
                Row::Rejected(r) => Seen::Rejected { line: r.line, reason: r.reason },
            })
            .collect();
        let expected: Vec<&Seen> = rows[i..].iter().map(|(_, s)| s).collect();
        assert_eq!(again.iter().collect::<Vec<_>>(), expected, "resumed at {from:?}");
    }
}

/// The records as the reader's csv settings split them, blank lines skipped.
fn raw_records(data: &[u8]) -> impl Iterator<Item = ByteRecord> + '_ {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(data);
    std::iter::from_fn(move || {
        let mut r = ByteRecord::new();
        loop {
            match rdr.read_byte_record(&mut r) {
                Ok(true) if r.len() == 1 && r[0].trim_ascii().is_empty() => continue,
                Ok(true) => return Some(r),
                _ => return None,
            }
        }
    })
}

fn check_valid(rec: &ContactRecord) {
    if let Change::Upsert { details: d, .. } = &rec.change {
        for (v, max) in [
            (&d.organization, 255),
            (&d.given_name, 100),
            (&d.surname, 100),
            (&d.telephone_number, 25),
            (&d.email, 254),
        ] {
            assert!(!v.is_empty() && v.trim() == v && v.chars().count() <= max, "a required field out of its rule");
        }
        if let Some(t) = &d.title {
            assert!(!t.is_empty() && t.trim() == t && t.chars().count() <= 255, "the title out of its rule");
        }
        if let Some(c) = &d.country_code {
            assert!(c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()), "country code {c:?}");
        }
        if let Some(z) = &d.zip_code {
            assert!(z.len() == 5 && z.bytes().all(|b| b.is_ascii_digit()), "ZIP code {z:?}");
        }
    }
    let written = write_row(rec);
    let mut again = ExportReader::new(written.as_slice()).expect("the canonical header");
    match again.next_row() {
        Some(Ok(Row::Valid(back))) => assert_eq!(&back, rec, "parse → write → parse changed the record"),
        other => panic!("a valid record written back does not read as valid: {other:?}"),
    }
    assert!(again.next_row().is_none(), "one record written, more read");
}

/// `rec` as an export of one row under [`CANONICAL`].
pub fn write_row(rec: &ContactRecord) -> Vec<u8> {
    let k = &rec.key;
    let (op, d) = match &rec.change {
        Change::Upsert { op, details } => (op.as_str(), Some(details)),
        Change::Delete => ("DELETE", None),
    };
    let text = |f: fn(&psc_bridge::domain::ContactDetails) -> &str| d.map(f).unwrap_or("").to_owned();
    let opt = |f: fn(&psc_bridge::domain::ContactDetails) -> Option<&str>| d.and_then(f).unwrap_or("").to_owned();
    let row = [
        k.product_id.as_str().to_owned(),
        k.product_code.as_str().to_owned(),
        k.customer_guid.as_str().to_owned(),
        k.subscription_guid.as_str().to_owned(),
        k.subscription_start_date.to_iso(),
        text(|d| &d.organization),
        k.aws_account_id.as_str().to_owned(),
        text(|d| &d.given_name),
        text(|d| &d.surname),
        text(|d| &d.telephone_number),
        text(|d| &d.email),
        opt(|d| d.title.as_deref()),
        opt(|d| d.country_code.as_deref()),
        opt(|d| d.zip_code.as_deref()),
        rec.operation_time.to_iso(),
        op.to_owned(),
    ];
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CANONICAL).expect("to memory");
    w.write_record(&row).expect("to memory");
    w.into_inner().expect("to memory")
}
