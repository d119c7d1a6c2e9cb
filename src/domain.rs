//! Domain types, parsed once at the edge.
//!
//! After parsing, the rest of the code cannot hold an invalid account id,
//! guid, product code or timestamp. Contact fields (names, email, phone,
//! organization, title, country, ZIP) are personal data: [`ContactDetails`]
//! never prints them, not even through `Debug`.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Why a value was refused. Never carries the value itself: the value may be
/// personal data, and this text reaches logs, reports and API responses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

fn invalid(what: impl Into<String>) -> Invalid {
    Invalid(what.into())
}

/// A 12-digit AWS account id. Leading zeroes are part of it: it is a string.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct AwsAccountId(String);

impl AwsAccountId {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let s = s.trim();
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(invalid("must be 12 digits (leading zeroes kept)"))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AwsAccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AwsAccountId({})", self.0)
    }
}

impl fmt::Display for AwsAccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A 36-character GUID (8-4-4-4-12 hexadecimal), kept in lower case.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Guid(String);

impl Guid {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let s = s.trim();
        let b = s.as_bytes();
        let shaped = b.len() == 36
            && b.iter().enumerate().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => *c == b'-',
                _ => c.is_ascii_hexdigit(),
            });
        if shaped {
            Ok(Self(s.to_ascii_lowercase()))
        } else {
            Err(invalid("must be a 36-character GUID (8-4-4-4-12 hexadecimal)"))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Guid({})", self.0)
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A 25-character alphanumeric AWS Marketplace product code, lower case.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ProductCode(String);

impl ProductCode {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let s = s.trim();
        if s.len() == 25 && s.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Ok(Self(s.to_ascii_lowercase()))
        } else {
            Err(invalid("must be 25 alphanumeric characters"))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ProductCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProductCode({})", self.0)
    }
}

impl fmt::Display for ProductCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A UTC instant with millisecond precision.
///
/// Its canonical text, `YYYY-MM-DDTHH:mm:ss.sssZ`, has a fixed width, so text
/// order is time order: DynamoDB compares operation times as strings.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// Parses ISO 8601 / RFC 3339 in UTC (`Z` or `+00:00`). Fractions finer
    /// than a millisecond are truncated.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let s = s.trim();
        if let Some(t) = Self::parse_canonical(s.as_bytes()) {
            return Ok(t);
        }
        let t = OffsetDateTime::parse(s, &Rfc3339)
            .map_err(|_| invalid("must be an ISO 8601 date-time in UTC, like 2016-04-07T14:05:15.275Z"))?;
        if t.offset() != UtcOffset::UTC {
            return Err(invalid("must be in UTC (end with Z)"));
        }
        Ok(Self::from_datetime(t))
    }

    /// Fast path for the exact form the exports use: `2016-04-07T14:05:15.275Z`.
    fn parse_canonical(b: &[u8]) -> Option<Self> {
        if b.len() != 24
            || b[4] != b'-'
            || b[7] != b'-'
            || b[10] != b'T'
            || b[13] != b':'
            || b[16] != b':'
            || b[19] != b'.'
            || b[23] != b'Z'
        {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<u32> {
            b[r].iter().try_fold(0u32, |acc, c| c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0')))
        };
        let year = num(0..4)? as i32;
        let month = Month::try_from(num(5..7)? as u8).ok()?;
        let date = Date::from_calendar_date(year, month, num(8..10)? as u8).ok()?;
        let time =
            Time::from_hms_milli(num(11..13)? as u8, num(14..16)? as u8, num(17..19)? as u8, num(20..23)? as u16)
                .ok()?;
        Some(Self(PrimitiveDateTime::new(date, time).assume_utc()))
    }

    pub fn from_datetime(t: OffsetDateTime) -> Self {
        let t = t.to_offset(UtcOffset::UTC);
        let t = t.replace_nanosecond(t.millisecond() as u32 * 1_000_000).expect("valid");
        Self(t)
    }

    pub fn now() -> Self {
        Self::from_datetime(OffsetDateTime::now_utc())
    }

    pub fn from_unix_seconds(secs: i64) -> Result<Self, Invalid> {
        OffsetDateTime::from_unix_timestamp(secs)
            .map(Self::from_datetime)
            .map_err(|_| invalid("timestamp out of range"))
    }

    pub fn datetime(&self) -> OffsetDateTime {
        self.0
    }

    /// The instant `t` (to the millisecond).
    pub fn from_system_time(t: std::time::SystemTime) -> Self {
        Self::from_datetime(OffsetDateTime::from(t))
    }

    /// `secs` seconds later (earlier when negative).
    pub fn plus_seconds(&self, secs: i64) -> Self {
        Self(self.0 + time::Duration::seconds(secs))
    }

    pub fn unix_seconds(&self) -> i64 {
        self.0.unix_timestamp()
    }

    /// Milliseconds since the Unix epoch (all a timestamp holds).
    pub fn unix_millis(&self) -> i64 {
        (self.0.unix_timestamp_nanos() / 1_000_000) as i64
    }

    pub fn from_unix_millis(ms: i64) -> Result<Self, Invalid> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
            .map(Self::from_datetime)
            .map_err(|_| invalid("timestamp out of range"))
    }

    /// Canonical text, fixed width: `2016-04-07T14:05:15.275Z`.
    ///
    /// Written digit by digit into a fixed buffer rather than with
    /// `format!`: every contact item carries two of these, and the
    /// formatting machinery was a measurable share of building an item
    /// (benches/ingest_parse.rs). Years are 0000-9999 (parsing refuses
    /// others).
    pub fn to_iso(&self) -> String {
        let t = self.0;
        let mut b = *b"0000-00-00T00:00:00.000Z";
        let mut put = |at: usize, width: usize, mut v: u32| {
            for i in (at..at + width).rev() {
                b[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, 4, t.year().clamp(0, 9999) as u32);
        put(5, 2, u32::from(t.month() as u8));
        put(8, 2, u32::from(t.day()));
        put(11, 2, u32::from(t.hour()));
        put(14, 2, u32::from(t.minute()));
        put(17, 2, u32::from(t.second()));
        put(20, 3, u32::from(t.millisecond()));
        b.iter().map(|&c| char::from(c)).collect()
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_iso())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_iso())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_iso())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Timestamp::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// What happened to a PSC record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum OperationType {
    Create,
    Update,
    Delete,
}

impl OperationType {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s.trim() {
            "CREATE" => Ok(Self::Create),
            "UPDATE" => Ok(Self::Update),
            "DELETE" => Ok(Self::Delete),
            _ => Err(invalid("must be CREATE, UPDATE or DELETE")),
        }
    }
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Create => "CREATE",
            Self::Update => "UPDATE",
            Self::Delete => "DELETE",
        }
    }
}

/// The identifiers every PSC record carries, DELETE included. None of them is
/// a contact field, so they may appear in logs and reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordKey {
    pub product_id: Guid,
    pub product_code: ProductCode,
    pub customer_guid: Guid,
    pub subscription_guid: Guid,
    pub subscription_start_date: Timestamp,
    pub aws_account_id: AwsAccountId,
}

/// The personal part of a contact. `Debug` prints no value.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ContactDetails {
    pub organization: String,
    pub given_name: String,
    pub surname: String,
    pub telephone_number: String,
    pub email: String,
    pub title: Option<String>,
    pub country_code: Option<String>,
    pub zip_code: Option<String>,
}

impl fmt::Debug for ContactDetails {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ContactDetails(<redacted>)")
    }
}

/// One validated row of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRecord {
    pub key: RecordKey,
    pub operation_time: Timestamp,
    pub change: Change,
}

/// CREATE and UPDATE carry the contact; DELETE carries only the identifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Upsert { op: OperationType, details: ContactDetails },
    Delete,
}

impl ContactRecord {
    pub fn operation_type(&self) -> OperationType {
        match &self.change {
            Change::Upsert { op, .. } => *op,
            Change::Delete => OperationType::Delete,
        }
    }
}

/// An email address normalised for case-insensitive lookup.
pub fn email_lookup_key(email: &str) -> String {
    email.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_id_keeps_leading_zeroes_and_refuses_other_shapes() {
        assert_eq!(AwsAccountId::parse("000011112222").unwrap().as_str(), "000011112222");
        for bad in ["11112222", "0000111122223", "00001111222a", "", "-00011112222"] {
            assert!(AwsAccountId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn guid_is_lower_cased_and_shape_checked() {
        let g = Guid::parse("4B898955-84FA-4CFB-8F43-98287AD69C06").unwrap();
        assert_eq!(g.as_str(), "4b898955-84fa-4cfb-8f43-98287ad69c06");
        for bad in [
            "4b89895584fa4cfb8f4398287ad69c06",
            "4b898955-84fa-4cfb-8f43-98287ad69c0g",
            "{4b898955-84fa-4cfb-8f43-98287ad69c06}",
            "4b898955-84fa-4cfb-8f4398287ad69c0-6",
        ] {
            assert!(Guid::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn product_code_is_25_alphanumerics() {
        assert!(ProductCode::parse("4gzp2symm0v9zidfrn9f854w6").is_ok());
        assert!(ProductCode::parse("4gzp2symm0v9zidfrn9f854w").is_err());
        assert!(ProductCode::parse("4gzp2symm0v9zidfrn9f854w6x").is_err());
        assert!(ProductCode::parse("4gzp2symm0v9zidfrn9f854w-").is_err());
    }

    #[test]
    fn timestamps_parse_in_utc_and_print_fixed_width() {
        let t = Timestamp::parse("2016-04-07T14:05:15.275Z").unwrap();
        assert_eq!(t.to_iso(), "2016-04-07T14:05:15.275Z");
        assert_eq!(Timestamp::parse("2016-04-07T14:05:15Z").unwrap().to_iso(), "2016-04-07T14:05:15.000Z");
        assert_eq!(Timestamp::parse("2016-04-07T14:05:15.2759Z").unwrap().to_iso(), "2016-04-07T14:05:15.275Z");
        // Every field zero-padded to its width, so text order is time order.
        assert_eq!(Timestamp::parse("0999-01-02T03:04:05.006Z").unwrap().to_iso(), "0999-01-02T03:04:05.006Z");
        assert_eq!(Timestamp::parse("2016-12-31T23:59:59.999+00:00").unwrap().to_iso(), "2016-12-31T23:59:59.999Z");
        assert_eq!(Timestamp::parse("2016-04-07T14:05:15.275+00:00").unwrap(), t);
        for bad in [
            "2016-04-07 14:05:15",
            "2016-04-07T14:05:15.275+02:00",
            "2016-13-07T14:05:15.275Z",
            "2016-02-30T14:05:15.275Z",
            "yesterday",
            "",
        ] {
            assert!(Timestamp::parse(bad).is_err(), "{bad}");
        }
        let a = Timestamp::parse("2016-04-07T14:05:15.275Z").unwrap();
        let b = Timestamp::parse("2016-04-07T14:05:15.276Z").unwrap();
        assert!(a < b && a.to_iso() < b.to_iso());
    }

    #[test]
    fn contact_details_debug_prints_no_personal_data() {
        let d = ContactDetails { email: "adoe@example.com".into(), given_name: "Angela".into(), ..Default::default() };
        let s = format!("{d:?}");
        assert!(!s.contains("adoe") && !s.contains("Angela"), "{s}");
    }

    #[test]
    fn errors_never_echo_the_value() {
        let e = AwsAccountId::parse("secret-value").unwrap_err();
        assert!(!e.to_string().contains("secret"));
    }
}
