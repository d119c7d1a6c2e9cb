//! The Seller Delivery Data Feeds, delivered as AWS delivers them: one CSV
//! per feed and month in the seller's bucket (`AgreementFeed_V1/year=2026/
//! month=12/data.csv`), the history first in `year=2010/month=01`, each month
//! object rewritten daily with more rows, and one SNS notification per feed.
//!
//! The data fits the guide's test set ([`crate::seed`]); each call of
//! [`FeedsData::deliver`] is one more day:
//!
//! | account | day 1 (the backfill and yesterday) | day 2 ("the next day") |
//! |---|---|---|
//! | `000011112222` (delivered as `11112222`: leading zeroes dropped) | ACTIVE agreement for [`seed::PRODUCT_ID_1`], usage yesterday | usage today |
//! | `111122223333` | agreement EXPIRED on 2025-02-28, usage in 2025 | |
//! | `333344445555` (its account row corrected: first delivered as `333344445556`) | ACTIVE for [`seed::PRODUCT_ID_3`], usage two and one days ago | yesterday's usage row soft-deleted |
//! | [`NO_CONTACTS_ACCOUNT`] (no PSC contact) | ACTIVE for [`seed::PRODUCT_ID_1`], usage yesterday | CANCELLED |
//! | [`NEW_ACCOUNT`] | | a new subscriber of [`seed::PRODUCT_ID_2`], usage today |
//!
//! From day 3 on, `000011112222` and [`NEW_ACCOUNT`] use their products daily.
//! Nothing personal is written: the stand-in's rows carry identifiers,
//! statuses and dates only (the real Account feed has more columns, which
//! psc-bridge does not read).

use std::collections::BTreeMap;

use serde::Serialize;
use time::{Date, Duration, OffsetDateTime};

use crate::seed;

/// An account with an agreement and usage in the feeds, and no PSC contact.
pub const NO_CONTACTS_ACCOUNT: &str = "777788889999";
/// The subscriber "the next day" brings.
pub const NEW_ACCOUNT: &str = "888899990000";

/// A feed the stand-in delivers: its folder and its header (in an order of
/// its own: readers go by name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Feed {
    Account,
    Product,
    OfferProduct,
    Agreement,
    DailyUsage,
}

impl Feed {
    pub const ALL: [Feed; 5] = [Feed::Account, Feed::Product, Feed::OfferProduct, Feed::Agreement, Feed::DailyUsage];

    pub fn folder(self) -> &'static str {
        match self {
            Feed::Account => "AccountFeed_V1",
            Feed::Product => "ProductFeed_V1",
            Feed::OfferProduct => "OfferProductFeed_V1",
            Feed::Agreement => "AgreementFeed_V1",
            Feed::DailyUsage => "DailyUsageFeed_V1",
        }
    }

    fn header(self) -> &'static [&'static str] {
        match self {
            Feed::Account => &["account_id", "aws_account_id", "valid_from", "update_date", "delete_date"],
            Feed::Product => &["product_id", "product_code", "title", "valid_from", "update_date", "delete_date"],
            Feed::OfferProduct => &["offer_id", "product_id", "valid_from", "update_date", "delete_date"],
            Feed::Agreement => &[
                "agreement_id",
                "status",
                "start_time",
                "end_time",
                "acceptance_time",
                "offer_id",
                "acceptor_account_id",
                "proposer_account_id",
                "valid_from",
                "update_date",
                "delete_date",
            ],
            Feed::DailyUsage => &[
                "usage_feed_id",
                "usage_date",
                "product_id",
                "end_user_account_id",
                "valid_from",
                "update_date",
                "delete_date",
            ],
        }
    }
}

/// The feeds' opaque id of an AWS account (a seller-specific id, not the number).
pub fn feed_account_id(aws_account_id: &str) -> String {
    format!("fa-{}", aws_account_id.chars().rev().collect::<String>())
}

fn offer_of(product_id: &str) -> String {
    format!("offer-{}", product_id.trim_start_matches("prod-"))
}

fn ts(t: OffsetDateTime) -> String {
    // Both spellings the feeds use (by the hour): RFC 3339, and a bare one
    // with a fraction.
    if t.hour().is_multiple_of(2) {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            t.month() as u8,
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    } else {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.0",
            t.year(),
            t.month() as u8,
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }
}

fn date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), d.month() as u8, d.day())
}

fn at(d: Date, hour: u8) -> OffsetDateTime {
    d.with_hms(hour, 0, 0).expect("a valid hour").assume_utc()
}

/// One row: its feed, the month object it goes to, its values in header order.
struct Row {
    feed: Feed,
    month: Date,
    values: Vec<String>,
}

/// The rows a delivery adds.
struct Day {
    /// The day the rows are about (the delivery's day before).
    data: Date,
    rows: Vec<Row>,
}

impl Day {
    fn push(&mut self, feed: Feed, month: Date, values: &[&str]) {
        self.rows.push(Row { feed, month, values: values.iter().map(|v| (*v).to_owned()).collect() });
    }

    /// A row of the day's month, valid from and updated at `hour` of the data day.
    fn daily(&mut self, feed: Feed, values: &[&str], hour: u8, deleted: bool) {
        let stamp = ts(at(self.data, hour));
        let mut v: Vec<&str> = values.to_vec();
        v.extend([stamp.as_str(), stamp.as_str(), if deleted { stamp.as_str() } else { "" }]);
        let month = self.data;
        self.push(feed, month, &v);
    }

    fn usage(&mut self, account: &str, product: &str, day: Date, n: u32, deleted: bool, hour: u8) {
        let id = format!("u-{}-{}-{}-{n}", account, product.trim_start_matches("prod-"), date(day));
        let fa = feed_account_id(account);
        let d = date(day);
        self.daily(Feed::DailyUsage, &[&id, &d, product, &fa], hour, deleted);
    }

    /// A revision valid from the data day (3:00 when ACTIVE, 4:00 otherwise).
    fn agreement(&mut self, id: &str, status: &str, start: Date, end: &str, account: &str, product: &str) {
        let hour = if status == "ACTIVE" { 3 } else { 4 };
        let (start, fa, offer) = (ts(at(start, 0)), feed_account_id(account), offer_of(product));
        let seller = feed_account_id(seed::SELLER_ACCOUNT_ID);
        self.daily(Feed::Agreement, &[id, status, &start, end, &start, &offer, &fa, &seller], hour, false);
    }
}

/// The backfill (`year=2010/month=01`): the history up to the day before
/// `yesterday`.
fn backfill(yesterday: Date) -> Vec<Row> {
    let backfill = Date::from_calendar_date(2010, time::Month::January, 1).expect("a date");
    let mut day = Day { data: yesterday, rows: Vec::new() };
    let b = |s: &str| s.to_owned();
    let (v1, u1, v2) = (b("2024-01-02T00:00:00Z"), b("2024-01-02T00:00:00Z"), b("2024-01-03 08:00:00.0"));
    let account = |day: &mut Day, aws: &str, delivered: &str, update: &str| {
        let fa = feed_account_id(aws);
        day.push(Feed::Account, backfill, &[&fa, delivered, &v1, update, ""]);
    };
    account(&mut day, seed::ACCOUNT_ACTIVE, "11112222", &u1);
    account(&mut day, seed::ACCOUNT_EXPIRED, seed::ACCOUNT_EXPIRED, &u1);
    // Delivered wrong, then corrected: same valid_from, a later update_date.
    account(&mut day, seed::ACCOUNT_ACTIVE_2, "333344445556", &u1);
    account(&mut day, seed::ACCOUNT_ACTIVE_2, seed::ACCOUNT_ACTIVE_2, &v2);
    account(&mut day, NO_CONTACTS_ACCOUNT, NO_CONTACTS_ACCOUNT, &u1);
    account(&mut day, seed::SELLER_ACCOUNT_ID, seed::SELLER_ACCOUNT_ID, &u1);
    for (id, code, title) in [
        (seed::PRODUCT_ID_1, seed::PRODUCT_CODE_1, "Example Product One"),
        (seed::PRODUCT_ID_2, seed::PRODUCT_CODE_2, "Example Product Two"),
        (seed::PRODUCT_ID_3, seed::PRODUCT_CODE_3, "Example Product Three"),
    ] {
        day.push(Feed::Product, backfill, &[id, code, title, &v1, &u1, ""]);
        day.push(Feed::OfferProduct, backfill, &[&offer_of(id), id, &v1, &u1, ""]);
    }
    let seller = feed_account_id(seed::SELLER_ACCOUNT_ID);
    let agreement = |day: &mut Day, id: &str, status: &str, from: &str, end: &str, aws: &str, product: &str| {
        let (fa, offer) = (feed_account_id(aws), offer_of(product));
        let start = "2024-03-01T00:00:00Z";
        day.push(Feed::Agreement, backfill, &[id, status, start, end, start, &offer, &fa, &seller, from, from, ""]);
    };
    let end = "2030-12-31T23:59:59Z";
    agreement(
        &mut day,
        seed::AGREEMENT_ACTIVE,
        "ACTIVE",
        "2024-03-01T00:00:00Z",
        end,
        seed::ACCOUNT_ACTIVE,
        seed::PRODUCT_ID_1,
    );
    let ended = "2025-02-28T23:59:59Z";
    agreement(
        &mut day,
        seed::AGREEMENT_EXPIRED,
        "ACTIVE",
        "2024-03-01T00:00:00Z",
        ended,
        seed::ACCOUNT_EXPIRED,
        seed::PRODUCT_ID_2,
    );
    agreement(&mut day, seed::AGREEMENT_EXPIRED, "EXPIRED", ended, ended, seed::ACCOUNT_EXPIRED, seed::PRODUCT_ID_2);
    agreement(
        &mut day,
        seed::AGREEMENT_ACTIVE_2,
        "ACTIVE",
        "2024-03-01T00:00:00Z",
        "2031-06-30T23:59:59Z",
        seed::ACCOUNT_ACTIVE_2,
        seed::PRODUCT_ID_3,
    );
    agreement(
        &mut day,
        "agmt-nocontacts0777788889999",
        "ACTIVE",
        "2024-03-01T00:00:00Z",
        end,
        NO_CONTACTS_ACCOUNT,
        seed::PRODUCT_ID_1,
    );
    // Usage history: 111122223333 before its agreement ended, and the
    // others up to the day before yesterday.
    let in_2025 = Date::from_calendar_date(2025, time::Month::February, 20).expect("a date");
    let mut usage = Day { data: in_2025, rows: Vec::new() };
    usage.usage(seed::ACCOUNT_EXPIRED, seed::PRODUCT_ID_2, in_2025, 1, false, 6);
    usage.data = yesterday - Duration::days(1);
    usage.usage(seed::ACCOUNT_ACTIVE_2, seed::PRODUCT_ID_3, usage.data, 1, false, 6);
    usage.usage(seed::ACCOUNT_ACTIVE, seed::PRODUCT_ID_1, usage.data, 1, false, 6);
    day.rows.extend(usage.rows.into_iter().map(|r| Row { month: backfill, ..r }));
    day.rows
}

/// The rows of delivery `n` (1 is the first), whose data day is `data`.
fn day_rows(n: u32, data: Date) -> Vec<Row> {
    let mut day = Day { data, rows: Vec::new() };
    match n {
        1 => {
            day.rows = backfill(data);
            for (account, product, dimension) in [
                (seed::ACCOUNT_ACTIVE, seed::PRODUCT_ID_1, 1),
                (seed::ACCOUNT_ACTIVE, seed::PRODUCT_ID_1, 2),
                (seed::ACCOUNT_ACTIVE_2, seed::PRODUCT_ID_3, 1),
                (NO_CONTACTS_ACCOUNT, seed::PRODUCT_ID_1, 1),
            ] {
                day.usage(account, product, data, dimension, false, 5);
            }
        }
        2 => {
            let fa = feed_account_id(NEW_ACCOUNT);
            day.daily(Feed::Account, &[&fa, NEW_ACCOUNT], 3, false);
            day.agreement("agmt-newsubscriber888899990000", "ACTIVE", data, "", NEW_ACCOUNT, seed::PRODUCT_ID_2);
            let end = ts(at(data, 4));
            day.agreement(
                "agmt-nocontacts0777788889999",
                "CANCELLED",
                Date::from_calendar_date(2024, time::Month::March, 1).expect("a date"),
                &end,
                NO_CONTACTS_ACCOUNT,
                seed::PRODUCT_ID_1,
            );
            // Yesterday's row of 333344445555, soft-deleted: same version,
            // a later update_date, a delete_date.
            let yesterday = data - Duration::days(1);
            let id = format!("u-{}-{}-{}-1", seed::ACCOUNT_ACTIVE_2, "3qtu9xydxldr", date(yesterday));
            let (from, update) = (ts(at(yesterday, 5)), ts(at(data, 6)));
            let row = [id.as_str(), &date(yesterday), seed::PRODUCT_ID_3, &feed_account_id(seed::ACCOUNT_ACTIVE_2)];
            let mut v: Vec<&str> = row.to_vec();
            v.extend([from.as_str(), update.as_str(), update.as_str()]);
            day.push(Feed::DailyUsage, yesterday, &v);
            day.usage(seed::ACCOUNT_ACTIVE, seed::PRODUCT_ID_1, data, 1, false, 5);
            day.usage(NEW_ACCOUNT, seed::PRODUCT_ID_2, data, 1, false, 5);
        }
        _ => {
            day.usage(seed::ACCOUNT_ACTIVE, seed::PRODUCT_ID_1, data, 1, false, 5);
            day.usage(NEW_ACCOUNT, seed::PRODUCT_ID_2, data, 1, false, 5);
        }
    }
    day.rows
}

/// One object as delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveredObject {
    pub key: String,
    pub rows: usize,
    pub bytes: usize,
}

/// What one delivery wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedsDelivery {
    /// 1 for the first delivery.
    pub day: u32,
    /// The day the new rows are about.
    pub data_date: String,
    /// The objects rewritten (each whole, longer than before).
    pub objects: Vec<DeliveredObject>,
    /// One SNS message per feed: `COMPLETED` with its files, or `SKIPPED`.
    pub notifications: Vec<serde_json::Value>,
}

/// The feeds delivered so far: every month object's rows.
#[derive(Debug, Default)]
pub struct FeedsData {
    day: u32,
    objects: BTreeMap<(Feed, String), Vec<Vec<String>>>,
}

impl FeedsData {
    pub fn day(&self) -> u32 {
        self.day
    }

    /// The next day's delivery: the objects to write (key under `prefix`,
    /// body) and what to report. Day 1's data day is `today - 1`.
    pub fn deliver(&mut self, today: Date, prefix: &str) -> (Vec<(String, Vec<u8>)>, FeedsDelivery) {
        self.day += 1;
        let data = today - Duration::days(1) + Duration::days(i64::from(self.day) - 1);
        let mut touched: BTreeMap<(Feed, String), ()> = BTreeMap::new();
        for row in day_rows(self.day, data) {
            let month = format!("year={:04}/month={:02}", row.month.year(), row.month.month() as u8);
            touched.insert((row.feed, month.clone()), ());
            self.objects.entry((row.feed, month)).or_default().push(row.values);
        }
        let prefix = prefix.trim_matches('/');
        let mut writes = Vec::new();
        let mut report = Vec::new();
        for (feed, month) in touched.keys() {
            let key = if prefix.is_empty() {
                format!("{}/{month}/data.csv", feed.folder())
            } else {
                format!("{prefix}/{}/{month}/data.csv", feed.folder())
            };
            let rows = &self.objects[&(*feed, month.clone())];
            let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
            w.write_record(feed.header()).expect("writes to memory");
            for r in rows {
                w.write_record(r).expect("writes to memory");
            }
            let body = w.into_inner().expect("writes to memory");
            report.push(DeliveredObject { key: key.clone(), rows: rows.len(), bytes: body.len() });
            writes.push((key, body));
        }
        let notifications = Feed::ALL
            .iter()
            .map(|feed| {
                let files: Vec<&str> =
                    report.iter().filter(|o| o.key.contains(feed.folder())).map(|o| o.key.as_str()).collect();
                serde_json::json!({
                    "mainExecutionId": format!("standin-{}", self.day),
                    "executionId": format!("standin-{}-{}", self.day, feed.folder()),
                    "subscriptionId": "standin",
                    "processedFiles": files,
                    "executionStatus": if files.is_empty() { "SKIPPED" } else { "COMPLETED" },
                    "errors": [],
                    "feedType": feed.folder(),
                })
            })
            .collect();
        let delivery = FeedsDelivery { day: self.day, data_date: date(data), objects: report, notifications };
        (writes, delivery)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> Date {
        Date::from_calendar_date(2026, time::Month::December, 6).unwrap()
    }

    fn text(writes: &[(String, Vec<u8>)], key: &str) -> String {
        let (_, body) = writes.iter().find(|(k, _)| k == key).unwrap_or_else(|| panic!("{key} not written"));
        String::from_utf8(body.clone()).unwrap()
    }

    #[test]
    fn the_first_day_writes_the_backfill_and_yesterdays_month_and_one_notification_per_feed() {
        let mut feeds = FeedsData::default();
        let (writes, report) = feeds.deliver(today(), "feeds/");
        let keys: Vec<&str> = writes.iter().map(|(k, _)| k.as_str()).collect();
        assert!(keys.contains(&"feeds/AccountFeed_V1/year=2010/month=01/data.csv"), "{keys:?}");
        assert!(keys.contains(&"feeds/DailyUsageFeed_V1/year=2026/month=12/data.csv"), "{keys:?}");
        assert_eq!(report.data_date, "2026-12-05");
        assert_eq!(report.notifications.len(), 5);
        assert!(report.notifications.iter().all(|n| n["executionStatus"] == "COMPLETED"));
        let accounts = text(&writes, "feeds/AccountFeed_V1/year=2010/month=01/data.csv");
        assert!(accounts.starts_with("account_id,aws_account_id,valid_from"), "{accounts}");
        assert!(accounts.contains(",11112222,"), "leading zeroes dropped as a spreadsheet would: {accounts}");
    }

    #[test]
    fn the_next_day_rewrites_a_month_object_longer_with_its_first_bytes_unchanged() {
        let mut feeds = FeedsData::default();
        let (first, _) = feeds.deliver(today(), "");
        let (second, report) = feeds.deliver(today(), "");
        assert_eq!(report.day, 2);
        assert_eq!(report.data_date, "2026-12-06");
        let key = "DailyUsageFeed_V1/year=2026/month=12/data.csv";
        let (before, after) = (text(&first, key), text(&second, key));
        assert!(after.len() > before.len() && after.starts_with(&before), "grown by appending");
        assert!(after.contains(&feed_account_id(NEW_ACCOUNT)));
        let agreements = text(&second, "AgreementFeed_V1/year=2026/month=12/data.csv");
        assert!(agreements.contains("CANCELLED") && agreements.contains("agmt-newsubscriber"), "{agreements}");
        let skipped: Vec<_> =
            report.notifications.iter().filter(|n| n["executionStatus"] == "SKIPPED").map(|n| &n["feedType"]).collect();
        assert_eq!(skipped, ["ProductFeed_V1", "OfferProductFeed_V1"]);
    }
}
