//! Which feed an S3 key belongs to, and which month it holds.
//!
//! AWS delivers one object per feed and calendar month:
//! `<feed folder>/year=YYYY/month=MM/data.csv` (fact sheet §1.1), the same
//! key rewritten daily with more rows (§1.2). History from before a feed's
//! launch sits in the backfill month `year=2010/month=01`. Folder names are
//! matched case-insensitively (AWS's own queries only know the Glue table
//! names, which are the folder names lower-cased); a folder this module does
//! not know is reported as unknown, never as an error: the bucket may also
//! receive other deliveries.

use std::fmt;

/// A feed, by its delivery folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FeedKind {
    Account,
    /// Known so that it is recognised and left alone: this module never
    /// reads it (personal data: names, addresses).
    Address,
    /// The preview-era agreements feed (`AgreementFeed`, no `_V1`), an older
    /// schema (`origin_offer_id`, `start_date`, ...): recognised, not read.
    AgreementPreview,
    Agreement,
    AgreementTerm,
    BillingEvent,
    DailyUsage,
    LegacyIdMapping,
    Offer,
    OfferProduct,
    OfferTarget,
    Product,
    /// Tax data: recognised, never read.
    TaxItem,
}

impl FeedKind {
    /// Every feed, in folder-name order.
    pub const ALL: [FeedKind; 13] = [
        Self::Account,
        Self::Address,
        Self::AgreementPreview,
        Self::Agreement,
        Self::AgreementTerm,
        Self::BillingEvent,
        Self::DailyUsage,
        Self::LegacyIdMapping,
        Self::Offer,
        Self::OfferProduct,
        Self::OfferTarget,
        Self::Product,
        Self::TaxItem,
    ];

    /// The folder name as this module expects it. Only `AccountFeed_V1`,
    /// `AddressFeed_V1`, `AgreementFeed`, `OfferFeed_V1`,
    /// `OfferProductFeed_V1` and `ProductFeed_V1` have been seen in code
    /// reading real buckets; the others are the lower-case Glue table names
    /// of AWS's queries with the same capitalisation (⚠ unconfirmed, fact
    /// sheet §1.1). Matching is case-insensitive, so only the letters
    /// matter.
    pub fn folder(self) -> &'static str {
        match self {
            Self::Account => "AccountFeed_V1",
            Self::Address => "AddressFeed_V1",
            Self::AgreementPreview => "AgreementFeed",
            Self::Agreement => "AgreementFeed_V1",
            Self::AgreementTerm => "AgreementTermFeed_V1",
            Self::BillingEvent => "BillingEventFeed_V1",
            Self::DailyUsage => "DailyUsageFeed_V1",
            Self::LegacyIdMapping => "LegacyIdMappingFeed_V1",
            Self::Offer => "OfferFeed_V1",
            Self::OfferProduct => "OfferProductFeed_V1",
            Self::OfferTarget => "OfferTargetFeed_V1",
            Self::Product => "ProductFeed_V1",
            Self::TaxItem => "TaxItemFeed_V1",
        }
    }

    /// The feed of a folder name, case-insensitively (surrounding blanks and
    /// a trailing `/` ignored); `None` for a folder no feed uses.
    pub fn from_folder(name: &str) -> Option<Self> {
        let name = name.trim().trim_end_matches('/');
        Self::ALL.into_iter().find(|k| k.folder().eq_ignore_ascii_case(name))
    }

    /// Whether this module reads the feed (fact sheet §6: the five feeds the
    /// lookups need). The others are recognised and left alone.
    pub fn is_read(self) -> bool {
        matches!(self, Self::Account | Self::Agreement | Self::OfferProduct | Self::Product | Self::DailyUsage)
    }
}

impl fmt::Display for FeedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.folder())
    }
}

/// One month object of one feed: `<folder>/year=YYYY/month=MM/data.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MonthObject {
    pub feed: FeedKind,
    pub year: u16,
    /// 1..=12.
    pub month: u8,
}

impl MonthObject {
    /// The month that holds the backfill (2010-01-01 to 2020-04-30 for the
    /// feeds launched in May 2020): `year=2010/month=01`.
    pub const BACKFILL: (u16, u8) = (2010, 1);

    pub fn is_backfill(&self) -> bool {
        (self.year, self.month) == Self::BACKFILL
    }

    /// The object's key, as AWS writes it (two-digit month).
    pub fn key(&self) -> String {
        format!("{}/year={:04}/month={:02}/data.csv", self.feed.folder(), self.year, self.month)
    }
}

/// What an S3 key of the feeds bucket is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedKey {
    /// A month object of a known feed.
    Month(MonthObject),
    /// A month object (`.../year=YYYY/month=MM/data.csv`) under a folder no
    /// feed uses: to be listed in the run's record and left alone. The
    /// folder name is an S3 prefix of the seller's bucket, not personal data.
    UnknownFeed { folder: String },
    /// Anything else (a folder marker, another file, a malformed month):
    /// not a feed object.
    Other,
}

impl FeedKey {
    /// Parses a key. The feed folder is the segment just above
    /// `year=YYYY/month=MM/data.csv`; segments before it (a prefix the seller
    /// may have chosen) are ignored. `year=` and `month=` are matched
    /// case-insensitively, `month` takes one or two digits (AWS writes two),
    /// and the file name is `data.csv` in any case.
    pub fn parse(key: &str) -> Self {
        let mut parts = key.trim_start_matches('/').rsplit('/');
        let (Some(file), Some(month), Some(year), Some(folder)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Self::Other;
        };
        if !file.eq_ignore_ascii_case("data.csv") || folder.is_empty() {
            return Self::Other;
        }
        let (Some(year), Some(month)) = (number(year, "year=", 4, 4), number(month, "month=", 1, 2)) else {
            return Self::Other;
        };
        let (Ok(year), Ok(month)) = (u16::try_from(year), u8::try_from(month)) else { return Self::Other };
        if !(1..=12).contains(&month) {
            return Self::Other;
        }
        match FeedKind::from_folder(folder) {
            Some(feed) => Self::Month(MonthObject { feed, year, month }),
            None => Self::UnknownFeed { folder: folder.to_owned() },
        }
    }
}

/// `name=digits`, the name matched case-insensitively, `min..=max` digits.
fn number(segment: &str, name: &str, min: usize, max: usize) -> Option<u32> {
    let head = segment.get(..name.len())?;
    let digits = &segment[name.len()..];
    if !head.eq_ignore_ascii_case(name)
        || !(min..=max).contains(&digits.len())
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    digits.parse().ok()
}
