//! Streaming reader of a feed's month object (`data.csv`).
//!
//! Takes any [`Read`] and yields one [`Row::Valid`] or one [`Row::Rejected`]
//! per line, in constant memory: one `ByteRecord` is reused for every row,
//! as in [`crate::export_csv`]. Columns are found by header name
//! (case-insensitive, a BOM and surrounding blanks ignored, any order);
//! columns this module does not read are skipped without being copied. An
//! empty field is NULL. A row that fails is rejected with its line and a
//! reason naming the column and the rule, never the value; the rows after it
//! are read as usual.
//!
//! Each feed this module reads has a record type implementing
//! [`FeedRecord`], which lists the only columns it reads. The Address, Tax
//! item and Billing event feeds have none: they cannot be read with this
//! reader at all.

use std::io::Read;

use csv::ByteRecord;
use time::Date;

use super::folder::FeedKind;
use super::values::{AgreementStatus, FeedAccountId, pad_account_id, parse_date, parse_time};
use crate::csv_stream::{self, NoHeader, csv_error_text};
pub use crate::csv_stream::{Position, ReadError};
use crate::domain::{AwsAccountId, Invalid, ProductCode, Timestamp};

/// The file cannot be read at all: nothing in it is applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("the CSV is empty: it has no header row")]
    Empty,
    #[error("the CSV header lacks required column(s): {}", .0.join(", "))]
    MissingColumns(Vec<&'static str>),
    #[error("the CSV header names column '{0}' twice")]
    DuplicateColumn(&'static str),
    #[error("the CSV header could not be read: {0}")]
    Unreadable(String),
}

impl From<NoHeader> for HeaderError {
    fn from(e: NoHeader) -> Self {
        match e {
            NoHeader::Empty => Self::Empty,
            NoHeader::Unreadable(why) => Self::Unreadable(why),
        }
    }
}

/// A row that failed. The reason names columns and rules, never a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// 1-based line of the file where the row starts (the header is line 1).
    pub line: u64,
    pub reason: String,
}

/// The history columns every feed carries (fact sheet §4.1), as this module
/// keeps them. `insert_date` is not read: no rule uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Version {
    /// When this version's values became valid (business time).
    pub valid_from: Timestamp,
    /// When this row was written (system time): a correction of a version
    /// has the same `valid_from` and a later `update_date`.
    pub update_date: Timestamp,
    /// `delete_date` is set: the row is a soft delete of its version. Any
    /// non-empty value counts, as in AWS's queries (`delete_date is null or
    /// delete_date = ''` keeps a row), except a bare `null`, which some doc
    /// examples print for an empty field (⚠ unconfirmed, fact sheet §1.3).
    pub deleted: bool,
}

/// One valid row: its history columns and the record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Versioned<T> {
    pub version: Version,
    pub record: T,
}

/// Valid rows are the common case: boxing them would cost an allocation per row.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Row<T> {
    Valid(Versioned<T>),
    Rejected(Reject),
}

/// The columns of one row, by the names a [`FeedRecord`] declared.
pub struct Fields<'a> {
    record: &'a ByteRecord,
    names: &'a [&'static str],
    at: &'a [Option<usize>],
}

impl Fields<'_> {
    /// The trimmed text of a declared column; `""` when the column is
    /// optional and absent, or the row is short.
    fn text(&self, name: &'static str) -> Result<&str, Invalid> {
        let i = self.names.iter().position(|n| *n == name).expect("the column is declared by the record type");
        let Some(at) = self.at[i] else { return Ok("") };
        let b = self.record.get(at).unwrap_or_default();
        std::str::from_utf8(b).map(str::trim).map_err(|_| Invalid("is not valid UTF-8".into()))
    }

    /// `None` for NULL (an empty field).
    fn optional(&self, name: &'static str) -> Result<Option<&str>, Invalid> {
        self.text(name).map(|s| (!s.is_empty()).then_some(s))
    }

    fn required(&self, name: &'static str) -> Result<&str, Invalid> {
        self.optional(name)?.ok_or_else(|| Invalid("is required".into()))
    }

    fn optional_time(&self, name: &'static str) -> Result<Option<Timestamp>, Invalid> {
        match self.optional(name)? {
            None => Ok(None),
            Some(s) if s.eq_ignore_ascii_case("null") => Ok(None),
            Some(s) => parse_time(s).map(Some),
        }
    }
}

/// Collects the problems of a row, each as `column: rule`.
pub struct Problems(Vec<String>);

impl Problems {
    fn note<T>(&mut self, column: &str, r: Result<T, Invalid>) -> Option<T> {
        r.map_err(|e| self.0.push(format!("{column}: {e}"))).ok()
    }
}

/// A feed's record: the columns it reads and how a row becomes one.
pub trait FeedRecord: Sized {
    /// The feed it is read from.
    const FEED: FeedKind;
    /// Columns without which the file is refused (besides the history
    /// columns `valid_from`, `update_date`, `delete_date`). Lower case.
    const REQUIRED: &'static [&'static str];
    /// Columns read when present. Lower case.
    const OPTIONAL: &'static [&'static str] = &[];
    /// Other spellings of a column, `(alias, column)`: read when the column
    /// itself is absent. Lower case.
    const ALIASES: &'static [(&'static str, &'static str)] = &[];
    /// The record of a row, or `None` after noting what is wrong.
    fn parse(f: &Fields<'_>, p: &mut Problems) -> Option<Self>;
}

const HISTORY: [&str; 3] = ["valid_from", "update_date", "delete_date"];

/// Account feed (`AccountFeed_V1`): the bridge from a raw AWS account number
/// to the feeds' opaque account id. Only these two columns are read: not the
/// addresses, tax registration or legal name beside them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountRow {
    pub account_id: FeedAccountId,
    /// Zero-padded to 12 digits; `None` when the feed leaves it empty.
    pub aws_account_id: Option<AwsAccountId>,
}

impl FeedRecord for AccountRow {
    const FEED: FeedKind = FeedKind::Account;
    const REQUIRED: &'static [&'static str] = &["account_id", "aws_account_id"];
    fn parse(f: &Fields<'_>, p: &mut Problems) -> Option<Self> {
        let account_id = p.note("account_id", f.required("account_id").map(FeedAccountId::new));
        let aws =
            p.note("aws_account_id", f.optional("aws_account_id").and_then(|s| s.map(pad_account_id).transpose()));
        Some(Self { account_id: account_id?, aws_account_id: aws? })
    }
}

/// Product feed (`ProductFeed_V1`): product id to product code and title.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProductRow {
    pub product_id: String,
    /// The code the Metering Service and entitlements use; `None` if empty.
    pub product_code: Option<ProductCode>,
    pub title: Option<String>,
}

impl FeedRecord for ProductRow {
    const FEED: FeedKind = FeedKind::Product;
    const REQUIRED: &'static [&'static str] = &["product_id", "product_code"];
    const OPTIONAL: &'static [&'static str] = &["title"];
    fn parse(f: &Fields<'_>, p: &mut Problems) -> Option<Self> {
        let product_id = p.note("product_id", f.required("product_id").map(str::to_owned));
        let code =
            p.note("product_code", f.optional("product_code").and_then(|s| s.map(ProductCode::parse).transpose()));
        let title = p.note("title", f.optional("title").map(|s| s.map(str::to_owned)));
        Some(Self { product_id: product_id?, product_code: code?, title: title? })
    }
}

/// Offer product feed (`OfferProductFeed_V1`): which product an offer is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OfferProductRow {
    pub offer_id: String,
    pub product_id: String,
    /// Kept for joins as of a revision; not part of the history key.
    pub offer_revision: Option<String>,
}

impl FeedRecord for OfferProductRow {
    const FEED: FeedKind = FeedKind::OfferProduct;
    const REQUIRED: &'static [&'static str] = &["offer_id", "product_id"];
    const OPTIONAL: &'static [&'static str] = &["offer_revision"];
    fn parse(f: &Fields<'_>, p: &mut Problems) -> Option<Self> {
        let offer_id = p.note("offer_id", f.required("offer_id").map(str::to_owned));
        let product_id = p.note("product_id", f.required("product_id").map(str::to_owned));
        let rev = p.note("offer_revision", f.optional("offer_revision").map(|s| s.map(str::to_owned)));
        Some(Self { offer_id: offer_id?, product_id: product_id?, offer_revision: rev? })
    }
}

/// Agreements feed (GA, `AgreementFeed_V1`): one revision of an agreement.
/// Value, currency, licences, terms and reason codes are not read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgreementRow {
    pub agreement_id: String,
    pub status: AgreementStatus,
    pub start_time: Option<Timestamp>,
    /// `None` for pay-as-you-go agreements.
    pub end_time: Option<Timestamp>,
    pub acceptance_time: Option<Timestamp>,
    pub offer_id: Option<String>,
    /// The buyer.
    pub acceptor_account_id: Option<FeedAccountId>,
    /// The seller of record (a reseller for channel-partner offers).
    pub proposer_account_id: Option<FeedAccountId>,
}

impl FeedRecord for AgreementRow {
    const FEED: FeedKind = FeedKind::Agreement;
    const REQUIRED: &'static [&'static str] =
        &["agreement_id", "status", "offer_id", "acceptor_account_id", "start_time", "end_time", "acceptance_time"];
    const OPTIONAL: &'static [&'static str] = &["proposer_account_id"];
    /// The doc's example header spells `acceptancet_time` (fact sheet §5.2,
    /// most likely a typo of the doc only).
    const ALIASES: &'static [(&'static str, &'static str)] = &[("acceptancet_time", "acceptance_time")];
    fn parse(f: &Fields<'_>, p: &mut Problems) -> Option<Self> {
        let id = p.note("agreement_id", f.required("agreement_id").map(str::to_owned));
        let status = p.note("status", f.text("status").and_then(AgreementStatus::parse));
        let start = p.note("start_time", f.optional_time("start_time"));
        let end = p.note("end_time", f.optional_time("end_time"));
        let accepted = p.note("acceptance_time", f.optional_time("acceptance_time"));
        let offer = p.note("offer_id", f.optional("offer_id").map(|s| s.map(str::to_owned)));
        let account = |name| p_opt_account(f, name);
        let acceptor = p.note("acceptor_account_id", account("acceptor_account_id"));
        let proposer = p.note("proposer_account_id", account("proposer_account_id"));
        Some(Self {
            agreement_id: id?,
            status: status?,
            start_time: start?,
            end_time: end?,
            acceptance_time: accepted?,
            offer_id: offer?,
            acceptor_account_id: acceptor?,
            proposer_account_id: proposer?,
        })
    }
}

fn p_opt_account(f: &Fields<'_>, name: &'static str) -> Result<Option<FeedAccountId>, Invalid> {
    f.optional(name).map(|s| s.map(FeedAccountId::new))
}

/// Daily usage feed (`DailyUsageFeed_V1`): who used which product on which
/// day. Quantities, prices, regions and dimensions are not read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DailyUsageRow {
    pub usage_feed_id: String,
    pub usage_date: Date,
    pub product_id: String,
    pub end_user_account_id: FeedAccountId,
}

impl FeedRecord for DailyUsageRow {
    const FEED: FeedKind = FeedKind::DailyUsage;
    const REQUIRED: &'static [&'static str] = &["usage_feed_id", "usage_date", "product_id", "end_user_account_id"];
    fn parse(f: &Fields<'_>, p: &mut Problems) -> Option<Self> {
        let id = p.note("usage_feed_id", f.required("usage_feed_id").map(str::to_owned));
        let date = p.note("usage_date", f.required("usage_date").and_then(parse_date));
        let product = p.note("product_id", f.required("product_id").map(str::to_owned));
        let user = p.note("end_user_account_id", f.required("end_user_account_id").map(FeedAccountId::new));
        Some(Self { usage_feed_id: id?, usage_date: date?, product_id: product?, end_user_account_id: user? })
    }
}

/// Streaming reader of one month object of the feed of `T`.
pub struct FeedReader<R: Read, T: FeedRecord> {
    rdr: csv::Reader<R>,
    /// The columns read (history first, then `T`'s) and the index of each
    /// in the file, `None` for an absent optional one.
    names: Vec<&'static str>,
    at: Vec<Option<usize>>,
    width: usize,
    record: ByteRecord,
    header: Vec<String>,
    base: Position,
    _record: std::marker::PhantomData<fn() -> T>,
}

fn normalise_header(raw: &[u8]) -> String {
    let raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
    String::from_utf8_lossy(raw).trim().to_ascii_lowercase()
}

impl<R: Read, T: FeedRecord> FeedReader<R, T> {
    /// Reads and checks the header.
    pub fn new(input: R) -> Result<Self, HeaderError> {
        let (rdr, header, base) = csv_stream::open(input)?;
        Self::with_header(rdr, &header, base)
    }

    /// Goes on reading a file part-way: `input` starts at `from` (a
    /// [`Position`] this reader reported) and `header` is the file's header
    /// ([`FeedReader::header`]). Lines count from the start of the file.
    pub fn resume(input: R, header: &[String], from: Position) -> Result<Self, HeaderError> {
        let (rdr, header, base) = csv_stream::reopen(input, header, from)?;
        Self::with_header(rdr, &header, base)
    }

    fn with_header(rdr: csv::Reader<R>, header: &ByteRecord, base: Position) -> Result<Self, HeaderError> {
        let found: Vec<String> = header.iter().map(normalise_header).collect();
        let names: Vec<&'static str> = HISTORY.iter().chain(T::REQUIRED).chain(T::OPTIONAL).copied().collect();
        let optional_from = HISTORY.len() + T::REQUIRED.len();
        let mut at = Vec::with_capacity(names.len());
        let mut missing = Vec::new();
        let find = |name: &'static str| -> Result<Option<usize>, HeaderError> {
            let mut hits = found.iter().enumerate().filter(|(_, f)| *f == name).map(|(j, _)| j);
            let first = hits.next();
            if hits.next().is_some() {
                return Err(HeaderError::DuplicateColumn(name));
            }
            Ok(first)
        };
        for (i, name) in names.iter().enumerate() {
            let mut first = find(name)?;
            for (alias, _) in T::ALIASES.iter().filter(|(_, column)| column == name) {
                first = first.or(find(alias)?);
            }
            if first.is_none() && i < optional_from {
                missing.push(*name);
            }
            at.push(first);
        }
        if !missing.is_empty() {
            return Err(HeaderError::MissingColumns(missing));
        }
        let header = header.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect();
        Ok(Self {
            rdr,
            at,
            names,
            width: found.len(),
            record: ByteRecord::new(),
            header,
            base,
            _record: std::marker::PhantomData,
        })
    }

    /// The header's fields: what [`FeedReader::resume`] needs besides the
    /// position.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// Where the next row starts (after the last one returned).
    pub fn position(&self) -> Position {
        let p = self.rdr.position();
        Position { byte: self.base.byte + p.byte(), line: self.base.line + p.line() }
    }

    /// The next row, `None` at the end of the file.
    pub fn next_row(&mut self) -> Option<Result<Row<T>, ReadError>> {
        loop {
            return match self.rdr.read_byte_record(&mut self.record) {
                Ok(false) => None,
                Ok(true) if self.record.len() == 1 && self.record[0].trim_ascii().is_empty() => continue,
                Ok(true) => {
                    let line = self.base.line + self.record.position().map_or(0, |p| p.line());
                    Some(Ok(self.validate(line)))
                }
                Err(e) => {
                    let line = self.base.line + e.position().map_or(0, |p| p.line());
                    Some(Err(ReadError { line, message: csv_error_text(&e) }))
                }
            };
        }
    }

    fn validate(&self, line: u64) -> Row<T> {
        let mut p = Problems(Vec::new());
        if self.record.len() != self.width {
            p.0.push(format!("row has {} fields, the header has {}", self.record.len(), self.width));
        }
        let f = Fields { record: &self.record, names: &self.names, at: &self.at };
        let valid_from = p.note("valid_from", f.required("valid_from").and_then(parse_time));
        let update_date = p.note("update_date", f.required("update_date").and_then(parse_time));
        let deleted = f.optional("delete_date").map(|d| d.is_some_and(|d| !d.eq_ignore_ascii_case("null")));
        let deleted = p.note("delete_date", deleted);
        let record = T::parse(&f, &mut p);
        match (valid_from, update_date, deleted, record) {
            (Some(valid_from), Some(update_date), Some(deleted), Some(record)) if p.0.is_empty() => {
                Row::Valid(Versioned { version: Version { valid_from, update_date, deleted }, record })
            }
            _ => Row::Rejected(Reject { line, reason: p.0.join("; ") }),
        }
    }
}

impl<R: Read, T: FeedRecord> Iterator for FeedReader<R, T> {
    type Item = Result<Row<T>, ReadError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_row()
    }
}
