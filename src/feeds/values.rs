//! The values of the feeds' columns: timestamps in every spelling AWS has
//! shown, dates, account ids (raw and opaque) and agreement statuses.
//!
//! Like [`crate::domain`], a refusal ([`Invalid`]) says which rule failed,
//! never the value.

use std::fmt;

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, PrimitiveDateTime};

use crate::domain::{AwsAccountId, Invalid, Timestamp};

const TIME_RULE: &str = "must be a UTC date-time like 2025-03-04T09:12:44Z or 2025-03-04 09:12:44.0, or a date";

/// Parses a feed timestamp (fact sheet §1.3) into a UTC [`Timestamp`]
/// (millisecond precision; the feeds promise one second):
///
/// * RFC 3339 with `Z` or an offset: `2018-12-12T02:00:00Z`;
/// * the same with a space instead of `T`;
/// * `YYYY-MM-DD[T| ]HH:MM:SS[.fraction]` without a zone, which is UTC:
///   `2024-12-24 11:31:47.0`, `2025-11-06 00:00:00.000000`;
/// * a date alone, `2025-01-15`: midnight UTC.
pub fn parse_time(s: &str) -> Result<Timestamp, Invalid> {
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(Timestamp::from_datetime(t));
    }
    let local =
        format_description!("[year]-[month]-[day][first [T][ ]][hour]:[minute]:[second][optional [.[subsecond]]]");
    let bare = s.strip_suffix(['Z', 'z']).or_else(|| s.strip_suffix(" UTC")).unwrap_or(s);
    if let Ok(t) = PrimitiveDateTime::parse(bare, &local) {
        return Ok(Timestamp::from_datetime(t.assume_utc()));
    }
    if let Ok(d) = parse_date_only(s) {
        return Ok(Timestamp::from_datetime(d.midnight().assume_utc()));
    }
    // A space-separated time with an offset: RFC 3339 once the space is a T.
    if s.len() > 10 && s.as_bytes()[10] == b' ' {
        let t = format!("{}T{}", &s[..10], &s[11..]);
        if let Ok(t) = OffsetDateTime::parse(&t, &Rfc3339) {
            return Ok(Timestamp::from_datetime(t));
        }
    }
    Err(Invalid(TIME_RULE.into()))
}

fn parse_date_only(s: &str) -> Result<Date, time::error::Parse> {
    Date::parse(s, format_description!("[year]-[month]-[day]"))
}

/// Parses a day (`usage_date`): `2025-01-15`, or any timestamp
/// [`parse_time`] takes, of which the UTC date is kept.
pub fn parse_date(s: &str) -> Result<Date, Invalid> {
    let s = s.trim();
    parse_date_only(s)
        .or_else(|_| parse_time(s).map(|t| t.datetime().date()))
        .map_err(|_| Invalid("must be a date like 2025-01-15".into()))
}

/// A raw AWS account number (the Account feed's `aws_account_id`), with the
/// leading zeroes a typed import may have dropped put back: `73739998888`
/// becomes `073739998888` (fact sheet §1.3; AWS's own queries pad the same
/// way). Only for columns that hold a raw account number; the feeds' opaque
/// ids are [`FeedAccountId`]s and are never padded.
pub fn pad_account_id(s: &str) -> Result<AwsAccountId, Invalid> {
    let s = s.trim();
    if s.is_empty() || s.len() > 12 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Invalid("must be an AWS account number of at most 12 digits".into()));
    }
    AwsAccountId::parse(&format!("{s:0>12}"))
}

/// An account as the feeds name it: the Account feed's `account_id` and
/// every `*_account_id` that refers to it (acceptor, proposer, end user).
/// Opaque and per seller (a GUID or a salted hash, fact sheet §6.2): kept
/// exactly as delivered (surrounding blanks trimmed), never padded.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FeedAccountId(String);

impl FeedAccountId {
    pub fn new(s: &str) -> Self {
        Self(s.trim().to_owned())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for FeedAccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FeedAccountId({})", self.0)
    }
}

impl fmt::Display for FeedAccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An agreement revision's `status` (fact sheet §5.2).
///
/// Read case-insensitively, with blanks and hyphens as underscores, so the
/// data's `ROLLED_BACK` and the prose's "Rolled back" are one value; the
/// prose's `SUPERCEDED` is an alias of `SUPERSEDED`. A value not listed is
/// kept as [`AgreementStatus::Other`] (upper case): the rule of
/// [`crate::feeds::history::effective_revision`] counts it as effective,
/// as AWS's query does.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AgreementStatus {
    Active,
    Terminated,
    Cancelled,
    Expired,
    Replaced,
    Renewed,
    Archived,
    RolledBack,
    Superseded,
    Other(String),
}

impl AgreementStatus {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let norm: String =
            s.trim().chars().map(|c| if c == ' ' || c == '-' { '_' } else { c.to_ascii_uppercase() }).collect();
        Ok(match norm.as_str() {
            "" => return Err(Invalid("is required".into())),
            "ACTIVE" => Self::Active,
            "TERMINATED" => Self::Terminated,
            "CANCELLED" | "CANCELED" => Self::Cancelled,
            "EXPIRED" => Self::Expired,
            "REPLACED" => Self::Replaced,
            "RENEWED" => Self::Renewed,
            "ARCHIVED" => Self::Archived,
            "ROLLED_BACK" | "ROLLEDBACK" => Self::RolledBack,
            "SUPERSEDED" | "SUPERCEDED" => Self::Superseded,
            _ => Self::Other(norm),
        })
    }

    /// The status as the feed spells it (upper case, underscores).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Active => "ACTIVE",
            Self::Terminated => "TERMINATED",
            Self::Cancelled => "CANCELLED",
            Self::Expired => "EXPIRED",
            Self::Replaced => "REPLACED",
            Self::Renewed => "RENEWED",
            Self::Archived => "ARCHIVED",
            Self::RolledBack => "ROLLED_BACK",
            Self::Superseded => "SUPERSEDED",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Display for AgreementStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
