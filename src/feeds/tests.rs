//! Tests of the data feeds' domain, on the fact sheet's synthetic fixtures
//! (tests/fixtures/feeds, all values invented).

use super::*;
use crate::domain::{AwsAccountId, ProductCode, Timestamp};

mod proptests;

const ACCOUNT: &str = include_str!("../../tests/fixtures/feeds/account.csv");
const AGREEMENTS: &str = include_str!("../../tests/fixtures/feeds/agreements.csv");
const OFFER_PRODUCT: &str = include_str!("../../tests/fixtures/feeds/offer_product.csv");
const PRODUCT: &str = include_str!("../../tests/fixtures/feeds/product.csv");
const DAILY_USAGE: &str = include_str!("../../tests/fixtures/feeds/daily_usage.csv");

const BUYER_1: &str = "Qw3rTy7uIo1pAs5dFg9hJk2lZx6cVb0nMq4wEr8tYu";
const BUYER_2: &str = "Mn8bVc2xZl5kJh9gFd3sAp7oIu1yTr6eWq4mNb0vCx";
const PRODUCT_ID: &str = "prod-syn0000000001";
const AGMT_1: &str = "agmt-aaaa1111bbbb2222cccc3333d";
const AGMT_2: &str = "agmt-zzzz9999yyyy8888xxxx7777w";

fn ts(s: &str) -> Timestamp {
    parse_time(s).expect("a valid time")
}

fn aws(s: &str) -> AwsAccountId {
    AwsAccountId::parse(s).expect("12 digits")
}

fn read<T: FeedRecord>(csv: &str) -> Result<Vec<Row<T>>, HeaderError> {
    FeedReader::<_, T>::new(csv.as_bytes()).map(|r| r.map(|row| row.expect("no read error")).collect())
}

fn valid<T: FeedRecord>(csv: &str) -> Vec<Versioned<T>> {
    read::<T>(csv)
        .expect("header is fine")
        .into_iter()
        .map(|r| match r {
            Row::Valid(v) => v,
            Row::Rejected(r) => panic!("unexpected reject {r:?}"),
        })
        .collect()
}

fn rejects<T: FeedRecord>(rows: &[Row<T>]) -> Vec<&Reject> {
    rows.iter().filter_map(|r| if let Row::Rejected(r) = r { Some(r) } else { None }).collect()
}

/// The same file with its columns in another order (`order[i]` = old index
/// of new column i), upper-cased header names and an unknown `catalog`
/// column inserted first.
fn reshuffle(csv: &str, order: &[usize]) -> String {
    let mut rdr = ::csv::ReaderBuilder::new().has_headers(false).from_reader(csv.as_bytes());
    let mut w = ::csv::Writer::from_writer(Vec::new());
    for (n, rec) in rdr.records().enumerate() {
        let rec = rec.unwrap();
        let extra = if n == 0 { "CATALOG".to_owned() } else { "AWSMarketplace".to_owned() };
        let mut out = vec![extra];
        for &i in order {
            let f = &rec[i];
            out.push(if n == 0 { f.to_ascii_uppercase() } else { f.to_owned() });
        }
        w.write_record(&out).unwrap();
    }
    String::from_utf8(w.into_inner().unwrap()).unwrap()
}

fn reversed(n: usize) -> Vec<usize> {
    (0..n).rev().collect()
}

// ---- values ---------------------------------------------------------------

#[test]
fn both_timestamp_spellings_and_dates_parse_to_the_same_instants() {
    let t = ts("2025-03-04T09:15:00Z");
    assert_eq!(ts("2025-03-04 09:15:00.0"), t);
    assert_eq!(ts("2025-03-04 09:15:00.000000"), t);
    assert_eq!(ts("2025-03-04T09:15:00"), t);
    assert_eq!(ts("2025-03-04T10:15:00+01:00"), t);
    assert_eq!(ts("2025-03-04 10:15:00+01:00"), t);
    assert_eq!(ts("2025-03-04 09:15:00 UTC"), t);
    assert_eq!(ts(" 2025-03-04T09:15:00.000Z "), t);
    assert_eq!(ts("2025-03-04"), ts("2025-03-04T00:00:00Z"));
    assert_eq!(ts("2025-11-06 00:00:00.123456").to_iso(), "2025-11-06T00:00:00.123Z");
    assert_eq!(parse_date("2025-01-15").unwrap().to_string(), "2025-01-15");
    assert_eq!(parse_date("2025-01-15 00:00:00.0").unwrap().to_string(), "2025-01-15");
}

#[test]
fn a_bad_timestamp_is_refused_without_its_value() {
    for bad in ["2025-13-01T00:00:00Z", "yesterday", "2025-03-04T25:00:00Z", "04/03/2025", ""] {
        let e = parse_time(bad).unwrap_err();
        assert!(e.0.starts_with("must be a UTC date-time"), "{bad}: {e}");
        assert!(bad.is_empty() || !e.0.contains(bad));
    }
    assert!(parse_date("2025-02-30").is_err());
}

#[test]
fn raw_account_numbers_get_their_leading_zeroes_back() {
    assert_eq!(pad_account_id("012345678901").unwrap().as_str(), "012345678901");
    assert_eq!(pad_account_id("12345678901").unwrap().as_str(), "012345678901");
    assert_eq!(pad_account_id("73739998888").unwrap().as_str(), "073739998888");
    assert_eq!(pad_account_id(" 11112222 ").unwrap().as_str(), "000011112222");
    for bad in ["1234567890123", "12345678901a", "", "-12345678901", "1.2345678901E10"] {
        let e = pad_account_id(bad).unwrap_err();
        assert_eq!(e.0, "must be an AWS account number of at most 12 digits", "{bad}");
    }
}

#[test]
fn agreement_statuses_are_read_in_any_spelling() {
    assert_eq!(AgreementStatus::parse("ACTIVE").unwrap(), AgreementStatus::Active);
    assert_eq!(AgreementStatus::parse("active").unwrap(), AgreementStatus::Active);
    assert_eq!(AgreementStatus::parse("Rolled back").unwrap(), AgreementStatus::RolledBack);
    assert_eq!(AgreementStatus::parse("ROLLED_BACK").unwrap(), AgreementStatus::RolledBack);
    assert_eq!(AgreementStatus::parse("SUPERCEDED").unwrap(), AgreementStatus::Superseded);
    assert_eq!(AgreementStatus::parse("Cancelled").unwrap(), AgreementStatus::Cancelled);
    let other = AgreementStatus::parse("pending acceptance").unwrap();
    assert_eq!(other, AgreementStatus::Other("PENDING_ACCEPTANCE".into()));
    assert_eq!(RevisionClass::of(&other), RevisionClass::Effective);
    assert!(AgreementStatus::parse(" ").is_err());
}

// ---- folders --------------------------------------------------------------

#[test]
fn feed_folders_are_recognised_in_any_case() {
    assert_eq!(FeedKind::from_folder("AccountFeed_V1"), Some(FeedKind::Account));
    assert_eq!(FeedKind::from_folder("accountfeed_v1"), Some(FeedKind::Account));
    assert_eq!(FeedKind::from_folder("AGREEMENTFEED_V1/"), Some(FeedKind::Agreement));
    assert_eq!(FeedKind::from_folder("AgreementFeed"), Some(FeedKind::AgreementPreview));
    assert_eq!(FeedKind::from_folder("dailyusagefeed_v1"), Some(FeedKind::DailyUsage));
    assert_eq!(FeedKind::from_folder("Example-Report"), None);
    for kind in FeedKind::ALL {
        assert_eq!(FeedKind::from_folder(kind.folder()), Some(kind));
        assert_eq!(FeedKind::from_folder(&kind.folder().to_lowercase()), Some(kind));
    }
    let read: Vec<FeedKind> = FeedKind::ALL.into_iter().filter(|k| k.is_read()).collect();
    assert_eq!(
        read,
        [FeedKind::Account, FeedKind::Agreement, FeedKind::DailyUsage, FeedKind::OfferProduct, FeedKind::Product]
    );
    assert!(!FeedKind::Address.is_read());
}

#[test]
fn month_object_keys_give_feed_year_and_month() {
    let m = |feed, year, month| FeedKey::Month(MonthObject { feed, year, month });
    assert_eq!(FeedKey::parse("ProductFeed_V1/year=2021/month=08/data.csv"), m(FeedKind::Product, 2021, 8));
    assert_eq!(FeedKey::parse("agreementfeed_v1/YEAR=2025/Month=6/DATA.CSV"), m(FeedKind::Agreement, 2025, 6));
    assert_eq!(FeedKey::parse("feeds/AccountFeed_V1/year=2025/month=03/data.csv"), m(FeedKind::Account, 2025, 3));
    let FeedKey::Month(backfill) = FeedKey::parse("AccountFeed_V1/year=2010/month=01/data.csv") else { panic!() };
    assert!(backfill.is_backfill());
    assert_eq!(backfill.key(), "AccountFeed_V1/year=2010/month=01/data.csv");
    assert!(!MonthObject { feed: FeedKind::Account, year: 2010, month: 2 }.is_backfill());
    assert_eq!(
        FeedKey::parse("Example-Report/year=2025/month=01/data.csv"),
        FeedKey::UnknownFeed { folder: "Example-Report".into() }
    );
    for other in [
        "AccountFeed_V1/",
        "AccountFeed_V1/year=2025/month=03/",
        "AccountFeed_V1/year=2025/month=13/data.csv",
        "AccountFeed_V1/year=2025/month=00/data.csv",
        "AccountFeed_V1/year=25/month=03/data.csv",
        "AccountFeed_V1/year=2025/month=003/data.csv",
        "AccountFeed_V1/year=2025/month=03/data.csv.gz",
        "AccountFeed_V1/y=2025/month=03/data.csv",
        "year=2025/month=03/data.csv",
        "",
    ] {
        assert_eq!(FeedKey::parse(other), FeedKey::Other, "{other}");
    }
}

// ---- the reader -----------------------------------------------------------

#[test]
fn account_rows_keep_the_bridge_and_nothing_personal() {
    let rows = valid::<AccountRow>(ACCOUNT);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0].record.account_id.as_str(), BUYER_1);
    assert_eq!(rows[0].record.aws_account_id, Some(aws("012345678901")));
    assert_eq!(rows[0].version.valid_from, ts("2025-03-04T09:12:44Z"));
    assert!(!rows[0].version.deleted);
    assert_eq!(rows[2].version.update_date, ts("2025-03-20T00:00:00Z"));
    // The tax and address columns are not kept anywhere in what was read.
    let printed = format!("{rows:?}");
    for never in ["Beispiel", "DE123456789", "AdDr", "Xy7Kp2Lm9Qr4"] {
        assert!(!printed.contains(never), "{never} was kept");
    }
}

#[test]
fn an_account_number_that_lost_its_leading_zero_is_padded() {
    let csv = "account_id,aws_account_id,valid_from,update_date,delete_date\nacct-1,12345678901,2025-03-04T09:12:44Z,2025-03-05T00:00:00Z,\nacct-2,,2025-03-04T09:12:44Z,2025-03-05T00:00:00Z,\n";
    let rows = valid::<AccountRow>(csv);
    assert_eq!(rows[0].record.aws_account_id, Some(aws("012345678901")));
    assert_eq!(rows[1].record.aws_account_id, None);
}

#[test]
fn agreement_rows_read_both_spellings_and_open_ended_agreements() {
    let rows = valid::<AgreementRow>(AGREEMENTS);
    assert_eq!(rows.len(), 3);
    let first = &rows[0].record;
    assert_eq!(first.agreement_id, AGMT_1);
    assert_eq!(first.status, AgreementStatus::Active);
    assert_eq!(first.start_time, Some(ts("2025-03-04T09:15:00Z")));
    assert_eq!(first.end_time, Some(ts("2026-03-03T23:59:59Z")));
    assert_eq!(first.offer_id.as_deref(), Some("offer-abcd1234efgh5"));
    assert_eq!(first.acceptor_account_id.as_ref().map(FeedAccountId::as_str), Some(BUYER_1));
    assert_eq!(rows[1].record.status, AgreementStatus::Cancelled);
    // The second row spells the same instants with a T and a Z.
    assert_eq!(rows[1].record.start_time, first.start_time);
    assert_eq!(rows[2].record.end_time, None, "pay-as-you-go: no end");
}

#[test]
fn columns_in_any_order_any_case_with_unknown_ones_read_the_same() {
    fn same<T: FeedRecord + PartialEq + std::fmt::Debug>(csv: &str) {
        let width = csv.lines().next().unwrap().split(',').count();
        assert_eq!(valid::<T>(&reshuffle(csv, &reversed(width))), valid::<T>(csv));
        let rotated: Vec<usize> = (0..width).map(|i| (i + 3) % width).collect();
        assert_eq!(valid::<T>(&reshuffle(csv, &rotated)), valid::<T>(csv));
    }
    same::<AccountRow>(ACCOUNT);
    same::<AgreementRow>(AGREEMENTS);
    same::<OfferProductRow>(OFFER_PRODUCT);
    same::<ProductRow>(PRODUCT);
    same::<DailyUsageRow>(DAILY_USAGE);
}

#[test]
fn a_file_missing_a_column_is_a_header_error_naming_it() {
    let without = |csv: &str, column: &str| -> String {
        let width = csv.lines().next().unwrap().split(',').count();
        let at = csv.lines().next().unwrap().split(',').position(|c| c == column).unwrap();
        let keep: Vec<usize> = (0..width).filter(|&i| i != at).collect();
        reshuffle(csv, &keep)
    };
    let e = read::<ProductRow>(&without(PRODUCT, "product_code")).unwrap_err();
    assert_eq!(e, HeaderError::MissingColumns(vec!["product_code"]));
    assert_eq!(e.to_string(), "the CSV header lacks required column(s): product_code");
    let e = read::<DailyUsageRow>(&without(DAILY_USAGE, "delete_date")).unwrap_err();
    assert_eq!(e, HeaderError::MissingColumns(vec!["delete_date"]));
    let e = read::<AgreementRow>(&without(AGREEMENTS, "acceptor_account_id")).unwrap_err();
    assert_eq!(e, HeaderError::MissingColumns(vec!["acceptor_account_id"]));
    // An optional column may be absent.
    assert_eq!(valid::<AgreementRow>(&without(AGREEMENTS, "proposer_account_id")).len(), 3);
    assert_eq!(valid::<ProductRow>(&without(PRODUCT, "title"))[0].record.title, None);
    // The doc example's misspelt acceptance column is read too.
    let typo = AGREEMENTS.replacen("acceptance_time", "acceptancet_time", 1);
    assert_eq!(valid::<AgreementRow>(&typo), valid::<AgreementRow>(AGREEMENTS));
    // The preview-era agreements schema is not the GA one.
    let preview = "agreement_id,origin_offer_id,acceptor_account_id,start_date,end_date,acceptance_date,valid_from,update_date,delete_date\n";
    assert_eq!(
        read::<AgreementRow>(preview).unwrap_err(),
        HeaderError::MissingColumns(vec!["status", "offer_id", "start_time", "end_time", "acceptance_time"])
    );
}

#[test]
fn empty_duplicate_and_header_only_files() {
    assert_eq!(read::<ProductRow>("").unwrap_err(), HeaderError::Empty);
    let dup = "product_id,PRODUCT_ID,product_code,valid_from,update_date,delete_date\n";
    assert_eq!(read::<ProductRow>(dup).unwrap_err(), HeaderError::DuplicateColumn("product_id"));
    // A duplicate column that is not read does not matter.
    let dup_unread = "product_id,product_code,catalog,catalog,valid_from,update_date,delete_date\n";
    assert!(read::<ProductRow>(dup_unread).unwrap().is_empty());
    // A month with no new entries holds the header only.
    assert!(read::<ProductRow>(PRODUCT.lines().next().unwrap()).unwrap().is_empty());
}

#[test]
fn bad_rows_are_rejected_with_their_line_and_no_value_and_good_rows_go_on() {
    let mut lines: Vec<String> = DAILY_USAGE.lines().map(str::to_owned).collect();
    // Line 3 (the second data row): a usage date that is not one, a
    // valid_from that is not a time, and no end user.
    lines[2] = lines[2]
        .replace(",2025-06-02,", ",SECRET-2025-99-99,")
        .replacen("2025-06-03 00:00:00.0", "SECRET-when", 1)
        .replace(",Mn8bVc2xZl5kJh9gFd3sAp7oIu1yTr6eWq4mNb0vCx,Mn8b", ",,Mn8b");
    lines.push(lines[1].replace("h4sh0000", "h4sh1111")); // line 4: fine
    lines.push("only,three,fields".to_owned()); // line 5: short
    lines.push(lines[1].replace("h4sh0000", "h4sh2222")); // line 6: fine
    let csv = lines.join("\n") + "\n";
    let rows = read::<DailyUsageRow>(&csv).unwrap();
    assert_eq!(rows.len(), 5);
    let rejected = rejects(&rows);
    assert_eq!(rejected.len(), 2);
    assert_eq!(rejected[0].line, 3);
    assert_eq!(
        rejected[0].reason,
        "valid_from: must be a UTC date-time like 2025-03-04T09:12:44Z or 2025-03-04 09:12:44.0, or a date; \
         usage_date: must be a date like 2025-01-15; end_user_account_id: is required"
    );
    assert_eq!(rejected[1].line, 5);
    assert!(rejected[1].reason.starts_with("row has 3 fields, the header has 20"), "{}", rejected[1].reason);
    for r in &rejected {
        for value in ["SECRET", "only", "three", "Mn8b"] {
            assert!(!r.reason.contains(value), "{value} in {}", r.reason);
        }
    }
    assert_eq!(rows.iter().filter(|r| matches!(r, Row::Valid(_))).count(), 3);
}

#[test]
fn empty_quoted_and_null_fields_are_null() {
    let header = AGREEMENTS.lines().next().unwrap();
    let first = AGREEMENTS.lines().nth(1).unwrap();
    let quoted = first.replace("2026-03-03 23:59:59.0", "\"\"");
    let null = first.replacen(",,ACTIVE", ",null,ACTIVE", 1);
    let rows = valid::<AgreementRow>(&format!("{header}\n{quoted}\n{null}\n"));
    assert_eq!(rows[0].record.end_time, None, "a quoted empty field is null");
    assert_eq!(rows[1].record.end_time, Some(ts("2026-03-03T23:59:59Z")));
    assert!(!rows[1].version.deleted, "a bare null delete_date is no delete");
    let usage = valid::<DailyUsageRow>(DAILY_USAGE);
    assert!(!usage[0].version.deleted);
    assert!(usage[1].version.deleted);
    assert_eq!(usage[1].record.usage_date.to_string(), "2025-06-02");
}

#[test]
fn a_bom_and_crlf_line_ends_are_tolerated() {
    let csv = format!("\u{feff}{}", PRODUCT.replace('\n', "\r\n"));
    assert_eq!(valid::<ProductRow>(&csv), valid::<ProductRow>(PRODUCT));
}

#[test]
fn reading_resumes_from_a_position_with_the_same_lines() {
    let mut lines: Vec<&str> = DAILY_USAGE.lines().collect();
    lines.push("x,y");
    let csv = lines.join("\n") + "\n";
    let all = read::<DailyUsageRow>(&csv).unwrap();
    let mut first = FeedReader::<_, DailyUsageRow>::new(csv.as_bytes()).unwrap();
    let _ = first.next_row().unwrap().unwrap();
    let at = first.position();
    assert_eq!(at.line, 3);
    let header = first.header().to_vec();
    let rest: Vec<_> = FeedReader::<_, DailyUsageRow>::resume(&csv.as_bytes()[at.byte as usize..], &header, at)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rest, all[1..]);
    assert_eq!(rejects(&rest)[0].line, 4);
}

/// A Daily usage month generated on demand, never whole in memory.
struct GeneratedUsage {
    rows: u32,
    next: u32,
    pending: Vec<u8>,
}

impl std::io::Read for GeneratedUsage {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pending.is_empty() {
            if self.next > self.rows {
                return Ok(0);
            }
            self.pending = if self.next == 0 {
                b"valid_from,update_date,delete_date,usage_feed_id,usage_date,product_id,end_user_account_id\n".to_vec()
            } else {
                let n = self.next;
                format!(
                    "2025-06-02 00:00:00.0,2025-06-02 03:10:00.0,,h4sh{n:060},2025-06-01,prod-{},acct-{}\n",
                    n % 5,
                    n % 997
                )
                .into_bytes()
            };
            self.next += 1;
        }
        let n = buf.len().min(self.pending.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(n)
    }
}

#[test]
fn a_month_is_read_as_a_stream() {
    let input = GeneratedUsage { rows: 20_000, next: 0, pending: Vec::new() };
    let mut reader = FeedReader::<_, DailyUsageRow>::new(input).unwrap();
    let mut last = None;
    let mut count = 0;
    while let Some(row) = reader.next_row() {
        let Row::Valid(v) = row.unwrap() else { panic!("a generated row was rejected") };
        count += 1;
        last = Some(v.record.usage_feed_id);
    }
    assert_eq!(count, 20_000);
    assert_eq!(last.unwrap(), format!("h4sh{:060}", 20_000));
    assert_eq!(reader.position().line, 20_002);
}

// ---- history --------------------------------------------------------------

fn history<T: FeedRecord + Keyed>(csv: &str) -> History<T> {
    valid::<T>(csv).into_iter().collect()
}

#[test]
fn a_correction_wins_and_a_new_valid_from_is_a_new_version() {
    let accounts = history::<AccountRow>(ACCOUNT);
    assert_eq!(accounts.entries(), 2, "the correction collapses into its version");
    let current = accounts.current(&FeedAccountId::new(BUYER_2)).unwrap();
    assert_eq!(current.version.update_date, ts("2025-03-20T00:00:00Z"));

    let products = history::<ProductRow>(PRODUCT);
    let p = &products.current(&PRODUCT_ID.to_owned()).unwrap().record;
    assert_eq!(p.title.as_deref(), Some("Synthetic Analytics Platform"));
    assert_eq!(p.product_code, Some(ProductCode::parse("1a2b3c4d5e6f7g8h9i0jklmno").unwrap()));
    assert_eq!(products.versions(&PRODUCT_ID.to_owned()).count(), 2);
}

/// A Product row, for the history rules.
fn product(valid_from: &str, update_date: &str, deleted: bool, title: &str) -> Versioned<ProductRow> {
    Versioned {
        version: Version { valid_from: ts(valid_from), update_date: ts(update_date), deleted },
        record: ProductRow { product_id: PRODUCT_ID.into(), product_code: None, title: Some(title.into()) },
    }
}

fn current_title(h: &History<ProductRow>) -> Option<String> {
    h.current(&PRODUCT_ID.to_owned()).and_then(|v| v.record.title.clone())
}

#[test]
fn a_soft_delete_brings_the_earlier_version_back() {
    let v1 = product("2024-01-01", "2024-01-02", false, "v1");
    let v2 = product("2024-06-01", "2024-06-02", false, "v2");
    let v2_fixed = product("2024-06-01", "2024-06-05", false, "v2 corrected");
    let v2_deleted = product("2024-06-01", "2024-06-09", true, "v2 corrected");
    let h: History<_> = [v1.clone(), v2.clone(), v2_fixed.clone()].into_iter().collect();
    assert_eq!(current_title(&h).as_deref(), Some("v2 corrected"));
    let h: History<_> = [v1.clone(), v2.clone(), v2_fixed.clone(), v2_deleted.clone()].into_iter().collect();
    assert_eq!(current_title(&h).as_deref(), Some("v1"), "the newest version is deleted: v1 is current again");
    // A delete older than the latest correction deletes nothing.
    let stale = product("2024-06-01", "2024-06-03", true, "v2");
    let h: History<_> = [v1.clone(), v2_fixed.clone(), stale].into_iter().collect();
    assert_eq!(current_title(&h).as_deref(), Some("v2 corrected"));
    // Every version deleted: no current row, but the key is known.
    let h: History<_> = [v2_deleted].into_iter().collect();
    assert_eq!(current_title(&h), None);
    assert_eq!(h.current_all().count(), 0);
    assert_eq!(h.entries(), 1);
    // On an exact tie of update_date, the delete wins.
    let tie = product("2024-01-01", "2024-01-02", true, "v1");
    let h: History<_> = [tie, v1].into_iter().collect();
    assert_eq!(current_title(&h), None);
}

#[test]
fn rows_and_files_in_any_order_give_the_same_state() {
    fn both<T: FeedRecord + Keyed + Clone + std::fmt::Debug>(csv: &str)
    where
        T::Key: std::fmt::Debug,
    {
        let rows = valid::<T>(csv);
        let forward: History<T> = rows.iter().cloned().collect();
        let backward: History<T> = rows.iter().rev().cloned().collect();
        assert_eq!(forward, backward);
    }
    both::<AccountRow>(ACCOUNT);
    both::<AgreementRow>(AGREEMENTS);
    both::<OfferProductRow>(OFFER_PRODUCT);
    both::<ProductRow>(PRODUCT);
    both::<DailyUsageRow>(DAILY_USAGE);
    // Two "months" applied in either order.
    let (a, b) = PRODUCT.split_at(PRODUCT.match_indices('\n').nth(1).unwrap().0 + 1);
    let header = PRODUCT.lines().next().unwrap();
    let later = format!("{header}\n{b}");
    let mut one = History::<ProductRow>::new();
    one.add_rows(read::<ProductRow>(a).unwrap());
    one.add_rows(read::<ProductRow>(&later).unwrap());
    let mut other = History::<ProductRow>::new();
    other.add_rows(read::<ProductRow>(&later).unwrap());
    other.add_rows(read::<ProductRow>(a).unwrap());
    assert_eq!(one, other);
    assert_eq!(current_title(&one).as_deref(), Some("Synthetic Analytics Platform"));
}

/// An agreement revision, for the revision rule.
fn revision(valid_from: &str, status: &str, deleted: bool) -> Versioned<AgreementRow> {
    Versioned {
        version: Version { valid_from: ts(valid_from), update_date: ts(valid_from), deleted },
        record: AgreementRow {
            agreement_id: AGMT_1.into(),
            status: AgreementStatus::parse(status).unwrap(),
            start_time: Some(ts("2025-01-01")),
            end_time: None,
            acceptance_time: Some(ts("2025-01-01")),
            offer_id: Some("offer-1".into()),
            acceptor_account_id: Some(FeedAccountId::new(BUYER_1)),
            proposer_account_id: None,
        },
    }
}

fn in_force(revisions: &[Versioned<AgreementRow>]) -> Option<(String, String)> {
    let h: History<AgreementRow> = revisions.iter().cloned().collect();
    h.effective(AGMT_1).map(|r| (r.version.valid_from.to_iso()[..10].to_owned(), r.record.status.to_string()))
}

#[test]
fn the_agreement_revision_in_force() {
    let r = |d: &str, s: &str| revision(d, s, false);
    let pick = |d: &str, s: &str| Some((d.to_owned(), s.to_owned()));
    // The fixture: ACTIVE, then CANCELLED.
    let fixture = history::<AgreementRow>(AGREEMENTS);
    assert_eq!(fixture.effective(AGMT_1).unwrap().record.status, AgreementStatus::Cancelled);
    assert_eq!(fixture.effective(AGMT_2).unwrap().record.status, AgreementStatus::Active);
    assert_eq!(fixture.effective_all().count(), 2);
    // A superseded revision gives way to the later one in force.
    assert_eq!(in_force(&[r("2025-01-01", "SUPERSEDED"), r("2025-02-01", "ACTIVE")]), pick("2025-02-01", "ACTIVE"));
    // A rolled-back revision gives way to the earlier one in force.
    assert_eq!(in_force(&[r("2025-01-01", "ACTIVE"), r("2025-02-01", "ROLLED_BACK")]), pick("2025-01-01", "ACTIVE"));
    // The latest effective one, whatever its status.
    assert_eq!(
        in_force(&[r("2025-01-01", "ACTIVE"), r("2025-02-01", "EXPIRED"), r("2025-03-01", "SUPERSEDED")]),
        pick("2025-02-01", "EXPIRED")
    );
    // None effective: all rolled back, the latest; all superseded, the
    // latest; a mix, the latest rolled back.
    assert_eq!(
        in_force(&[r("2025-01-01", "ROLLED_BACK"), r("2025-02-01", "ROLLED_BACK")]),
        pick("2025-02-01", "ROLLED_BACK")
    );
    assert_eq!(
        in_force(&[r("2025-01-01", "SUPERSEDED"), r("2025-02-01", "SUPERSEDED")]),
        pick("2025-02-01", "SUPERSEDED")
    );
    assert_eq!(
        in_force(&[r("2025-01-01", "ROLLED_BACK"), r("2025-02-01", "SUPERSEDED")]),
        pick("2025-01-01", "ROLLED_BACK")
    );
    // A deleted revision does not count: the earlier one is in force again.
    assert_eq!(
        in_force(&[r("2025-01-01", "ACTIVE"), revision("2025-02-01", "CANCELLED", true)]),
        pick("2025-01-01", "ACTIVE")
    );
    assert_eq!(in_force(&[revision("2025-02-01", "ACTIVE", true)]), None);
    assert_eq!(in_force(&[]), None);
}

#[test]
fn last_usage_skips_deleted_rows() {
    let usage = history::<DailyUsageRow>(DAILY_USAGE);
    let last = last_usage(&usage);
    assert_eq!(last.len(), 1);
    let day = last[&(FeedAccountId::new(BUYER_2), PRODUCT_ID.to_owned())];
    assert_eq!(day.to_string(), "2025-06-01", "the 2025-06-02 row is soft-deleted");

    // A later version of a usage row moves its date; deleting that version
    // brings the earlier one back.
    let mut rows = valid::<DailyUsageRow>(DAILY_USAGE);
    let mut moved = rows[0].clone();
    moved.version.valid_from = ts("2025-06-10");
    moved.version.update_date = ts("2025-06-10");
    moved.record.usage_date = parse_date("2025-06-09").unwrap();
    rows.push(moved.clone());
    let h: History<_> = rows.iter().cloned().collect();
    assert_eq!(last_usage(&h).values().next().unwrap().to_string(), "2025-06-09");
    moved.version.update_date = ts("2025-06-11");
    moved.version.deleted = true;
    rows.push(moved);
    let h: History<_> = rows.into_iter().collect();
    assert_eq!(last_usage(&h).values().next().unwrap().to_string(), "2025-06-01");
}

fn state() -> FeedState {
    FeedState {
        accounts: history(ACCOUNT),
        products: history(PRODUCT),
        offer_products: history(OFFER_PRODUCT),
        agreements: history(AGREEMENTS),
        usage: history(DAILY_USAGE),
    }
}

#[test]
fn the_lookups_from_a_raw_account_number() {
    let s = state();
    let ids: Vec<&str> = s.account_ids(&aws("012345678901")).into_iter().map(FeedAccountId::as_str).collect();
    assert_eq!(ids, [BUYER_1]);
    assert!(s.account_ids(&aws("123456789010")).is_empty());
    assert_eq!(s.bridge().len(), 2);

    let code = ProductCode::parse("1a2b3c4d5e6f7g8h9i0jklmno").unwrap();
    assert_eq!(s.product_ids_of_code(&code).into_iter().collect::<Vec<_>>(), [PRODUCT_ID]);
    assert_eq!(s.products_of_offer("offer-payg0000000001").into_iter().collect::<Vec<_>>(), [PRODUCT_ID]);

    // 012345678901: one agreement, cancelled in its latest revision.
    let subs = s.subscriptions(&aws("012345678901"));
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].product_id, PRODUCT_ID);
    assert_eq!(subs[0].agreement.agreement_id, AGMT_1);
    assert_eq!(subs[0].agreement.status, AgreementStatus::Cancelled);
    assert_eq!(subs[0].revision_from, ts("2025-09-01T12:00:00Z"));
    assert_eq!(s.last_usage(&aws("012345678901"), PRODUCT_ID), None);

    // 210987654321: pay-as-you-go, active, last used on 2025-06-01.
    let subs = s.subscriptions(&aws("210987654321"));
    assert_eq!(subs.len(), 1);
    assert_eq!(subs[0].agreement.agreement_id, AGMT_2);
    assert_eq!(subs[0].agreement.status, AgreementStatus::Active);
    assert_eq!(subs[0].agreement.end_time, None);
    assert_eq!(s.last_usage(&aws("210987654321"), PRODUCT_ID).unwrap().to_string(), "2025-06-01");
}
