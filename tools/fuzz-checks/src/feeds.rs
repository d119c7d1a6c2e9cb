//! The data-feeds CSV reader (`psc_bridge::feeds::FeedReader`) over each
//! feed's row type, all fed every input (the header decides which read it).
//!
//! * Read from memory, no row is a `ReadError`: every row is valid or
//!   rejected with a line past the header's and the previous row's.
//! * A reject's reason is made of fixed texts only (column: rule), so it
//!   quotes no value of its row.
//! * Resuming at any reported position yields the rows of one pass.
//!
//! The data-feeds SNS notification has no parser yet (being written on
//! another branch): it has no target.

use std::fmt::Debug;

use psc_bridge::feeds::{
    AccountRow, AgreementRow, DailyUsageRow, FeedReader, FeedRecord, OfferProductRow, Position, ProductRow, Row,
};

use crate::assert_made_of;

/// The columns a reason names.
const COLUMNS: &[&str] = &[
    "valid_from",
    "update_date",
    "delete_date",
    "account_id",
    "aws_account_id",
    "product_id",
    "product_code",
    "title",
    "offer_id",
    "offer_revision",
    "agreement_id",
    "status",
    "start_time",
    "end_time",
    "acceptance_time",
    "acceptor_account_id",
    "proposer_account_id",
    "usage_feed_id",
    "usage_date",
    "end_user_account_id",
];

/// The rules a reason names (numbers as `N`).
const RULES: &[&str] = &[
    "is not valid UTF-N",
    "is required",
    "must be N alphanumeric characters",
    "must be a date like N-N-N",
    "must be an AWS account number of at most N digits",
    "must be a UTC date-time like N-N-NTN:N:NZ or N-N-N N:N:N.N, or a date",
];

const OTHERS: &[&str] = &["row has N fields, the header has N"];

pub fn check(data: &[u8]) {
    check_feed::<AccountRow>(data);
    check_feed::<ProductRow>(data);
    check_feed::<OfferProductRow>(data);
    check_feed::<AgreementRow>(data);
    check_feed::<DailyUsageRow>(data);
}

fn check_feed<T: FeedRecord + Debug + PartialEq>(data: &[u8]) {
    let Ok(mut reader) = FeedReader::<_, T>::new(data) else { return };
    let header = reader.header().to_vec();
    let mut raw = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(data);
    let mut raw_records =
        raw.byte_records().filter_map(Result::ok).filter(|r| !(r.len() == 1 && r[0].trim_ascii().is_empty()));
    let mut rows: Vec<(Position, Row<T>)> = Vec::new();
    let mut last_line = 1;
    loop {
        let before = reader.position();
        let Some(row) = reader.next_row() else { break };
        let row = row.unwrap_or_else(|e| panic!("a ReadError from memory: {e}"));
        assert!(raw_records.next().is_some(), "the raw reader has fewer rows");
        if let Row::Rejected(r) = &row {
            assert!(r.line > last_line, "reject line {} not after line {last_line}", r.line);
            last_line = r.line;
            assert!(!r.reason.is_empty(), "a reject without a reason (line {})", r.line);
            assert_made_of(&r.reason, COLUMNS, RULES, OTHERS, "a reject's reason");
        }
        rows.push((before, row));
    }
    assert!(raw_records.next().is_none(), "the raw reader has more rows than the feed reader");
    let n = rows.len();
    for i in [0, n / 2, n.saturating_sub(1)].into_iter().filter(|&i| i < n) {
        let from = rows[i].0;
        let resumed = FeedReader::<_, T>::resume(&data[from.byte as usize..], &header, from)
            .expect("the header read once reads again");
        let again: Vec<Row<T>> = resumed.map(|r| r.expect("no ReadError from memory")).collect();
        let expected: Vec<&Row<T>> = rows[i..].iter().map(|(_, r)| r).collect();
        assert_eq!(again.iter().collect::<Vec<_>>(), expected, "resumed at {from:?}");
    }
}
