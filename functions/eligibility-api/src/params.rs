//! Request input, parsed and validated at the edge.
//!
//! Every refusal names the field and says what shape is expected; none
//! echoes the value (it may be an email address).

use psc_bridge::api::{ReportFormat, SubscriberStatus};
use psc_bridge::domain::{AwsAccountId, Guid, ProductCode};
use psc_bridge::entitlement::{InstanceId, Region};

/// A 400: the field at fault and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidParameter {
    pub field: String,
    pub message: String,
}

impl InvalidParameter {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self { field: field.to_owned(), message: message.into() }
    }
}

/// Page size of the account listings.
pub const DEFAULT_LIMIT: i32 = 50;
pub const MAX_LIMIT: i32 = 100;
/// The subscriber report's default page (`limit` absent).
pub const DEFAULT_REPORT_LIMIT: i32 = 100;
/// The subscriber report's largest page.
pub const MAX_REPORT_LIMIT: i32 = 500;
/// Exports listed by `GET /sync`.
pub const DEFAULT_EXPORTS: i32 = 10;
pub const MAX_EXPORTS: i32 = 50;
/// Longest email address accepted (RFC 5321 path limit).
pub const MAX_EMAIL_LEN: usize = 254;
/// The store's cursors are a few hundred characters; anything far longer is not one.
pub const MAX_CURSOR_LEN: usize = 2048;

pub fn account_id(raw: &str) -> Result<AwsAccountId, InvalidParameter> {
    AwsAccountId::parse(raw).map_err(|e| InvalidParameter::new("awsAccountId", e.0))
}

pub fn product_code(raw: &str) -> Result<ProductCode, InvalidParameter> {
    ProductCode::parse(raw).map_err(|e| InvalidParameter::new("productCode", e.0))
}

pub fn instance_id(raw: &str) -> Result<InstanceId, InvalidParameter> {
    InstanceId::parse(raw).map_err(|e| InvalidParameter::new("instanceId", e.0))
}

/// `productCode` of the instance check: required.
pub fn required_product_code(raw: Option<&str>) -> Result<ProductCode, InvalidParameter> {
    match raw {
        None | Some("") => Err(InvalidParameter::new(
            "productCode",
            "is required: GET /accounts/{awsAccountId}/instances/{instanceId}?productCode=<code>",
        )),
        Some(raw) => product_code(raw),
    }
}

/// `region`: a known region name; `default` when absent.
pub fn region(raw: Option<&str>, default: &Region) -> Result<Region, InvalidParameter> {
    match raw {
        None => Ok(default.clone()),
        Some(raw) => Region::parse(raw).map_err(|e| InvalidParameter::new("region", e.0)),
    }
}

pub fn customer_guid(raw: &str) -> Result<Guid, InvalidParameter> {
    Guid::parse(raw).map_err(|e| InvalidParameter::new("customerGuid", e.0))
}

/// Basic shape only: one `@` with text on both sides, no spaces, at most 254
/// characters. Whether the address exists is not our question.
pub fn email(raw: Option<&str>) -> Result<&str, InvalidParameter> {
    let bad = |m: &str| InvalidParameter::new("email", m);
    let e = raw.ok_or_else(|| bad("is required: GET /contacts?email=<address>"))?;
    if e.is_empty() {
        return Err(bad("is required: GET /contacts?email=<address>"));
    }
    if e.len() > MAX_EMAIL_LEN {
        return Err(bad("must be at most 254 characters"));
    }
    if e.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("must not contain spaces or control characters"));
    }
    match e.split_once('@') {
        Some((local, domain)) if !local.is_empty() && !domain.is_empty() && !domain.contains('@') => Ok(e),
        _ => Err(bad("must be an email address: exactly one '@' with text on both sides")),
    }
}

/// `limit` of the account listings: 1 to 100, 50 when absent.
pub fn limit(raw: Option<&str>) -> Result<i32, InvalidParameter> {
    bounded("limit", raw, DEFAULT_LIMIT, MAX_LIMIT)
}

/// `limit` of `GET /sync` (exports listed): 1 to 50, 10 when absent.
pub fn exports_limit(raw: Option<&str>) -> Result<i32, InvalidParameter> {
    bounded("limit", raw, DEFAULT_EXPORTS, MAX_EXPORTS)
}

fn bounded(field: &str, raw: Option<&str>, default: i32, max: i32) -> Result<i32, InvalidParameter> {
    let Some(raw) = raw else { return Ok(default) };
    let bad = || InvalidParameter::new(field, format!("must be a whole number from 1 to {max}"));
    if raw.is_empty() || raw.len() > 3 || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match raw.parse::<i32>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(bad()),
    }
}

/// The subscriber report's page size: 1 to [`MAX_REPORT_LIMIT`], default
/// [`DEFAULT_REPORT_LIMIT`].
pub fn report_limit(raw: Option<&str>) -> Result<i32, InvalidParameter> {
    bounded("limit", raw, DEFAULT_REPORT_LIMIT, MAX_REPORT_LIMIT)
}

/// `status=active|all` (default `active`).
pub fn subscriber_status(raw: Option<&str>) -> Result<SubscriberStatus, InvalidParameter> {
    match raw {
        None | Some("active") => Ok(SubscriberStatus::Active),
        Some("all") => Ok(SubscriberStatus::All),
        Some(_) => Err(InvalidParameter::new("status", "must be active or all")),
    }
}

/// `format=json|csv` (default `json`).
pub fn report_format(raw: Option<&str>) -> Result<ReportFormat, InvalidParameter> {
    match raw {
        None | Some("json") => Ok(ReportFormat::Json),
        Some("csv") => Ok(ReportFormat::Csv),
        Some(_) => Err(InvalidParameter::new("format", "must be json or csv")),
    }
}

/// A cursor must at least look like one (URL-safe base64); the store decides
/// whether it is valid for the query.
pub fn cursor(raw: Option<&str>) -> Result<Option<&str>, InvalidParameter> {
    let Some(c) = raw else { return Ok(None) };
    let looks_right = !c.is_empty()
        && c.len() <= MAX_CURSOR_LEN
        && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if looks_right { Ok(Some(c)) } else { Err(bad_cursor()) }
}

pub fn bad_cursor() -> InvalidParameter {
    InvalidParameter::new("cursor", "is not a cursor of this listing: pass nextCursor from the previous page unchanged")
}

/// Decodes `%XX` escapes (percent-encoding). `+` stays `+` (email
/// addresses contain it; a space is never valid input here). A malformed
/// escape is kept as written. `None` when the result is not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s).decode_utf8().ok().map(|d| d.into_owned())
}

/// The query string of one request: every parameter once, decoded.
#[derive(Debug, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parses a raw query string. Refuses a parameter given twice, one that
    /// is not UTF-8 once decoded, and any parameter not in `allowed`.
    pub fn parse(raw: Option<&str>, allowed: &[&str]) -> Result<Self, InvalidParameter> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for part in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let key = percent_decode(k).unwrap_or_default();
            let Some(&name) = allowed.iter().find(|a| **a == key) else {
                let field = if is_token(&key) { key.as_str() } else { "query" };
                let accepts = if allowed.is_empty() { "none".to_owned() } else { allowed.join(", ") };
                return Err(InvalidParameter::new(
                    field,
                    format!("is not a parameter of this route (it accepts: {accepts})"),
                ));
            };
            if pairs.iter().any(|(k, _)| k == name) {
                return Err(InvalidParameter::new(name, "is given more than once"));
            }
            let value =
                percent_decode(v).ok_or_else(|| InvalidParameter::new(name, "is not valid UTF-8 once decoded"))?;
            pairs.push((name.to_owned(), value));
        }
        Ok(Self { pairs })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A short identifier-like name, safe to echo as a field name.
fn is_token(s: &str) -> bool {
    !s.is_empty() && s.len() <= 40 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_keeps_plus_and_bad_escapes() {
        assert_eq!(percent_decode("a%2Bb%40example.com").unwrap(), "a+b@example.com");
        assert_eq!(percent_decode("a+b@example.com").unwrap(), "a+b@example.com");
        assert_eq!(percent_decode("100%").unwrap(), "100%");
        assert_eq!(percent_decode("%zz%4").unwrap(), "%zz%4");
        assert_eq!(percent_decode("%C3%A9").unwrap(), "é");
        assert!(percent_decode("%FF").is_none());
    }

    #[test]
    fn limits() {
        assert_eq!(limit(None).unwrap(), 50);
        assert_eq!(limit(Some("1")).unwrap(), 1);
        assert_eq!(limit(Some("100")).unwrap(), 100);
        for bad in ["0", "101", "-1", "", "abc", "1.5", "0100", "99999999999"] {
            let e = limit(Some(bad)).unwrap_err();
            assert_eq!(e.field, "limit", "{bad}");
        }
        assert_eq!(exports_limit(Some("50")).unwrap(), 50);
        assert!(exports_limit(Some("51")).is_err());
    }

    #[test]
    fn emails() {
        assert!(email(Some("adoe@example.com")).is_ok());
        assert!(email(Some("a+tag@Example.COM")).is_ok());
        for bad in ["", "adoe", "@example.com", "adoe@", "a@b@c", "a doe@example.com", "a\n@b"] {
            let e = email(Some(bad)).unwrap_err();
            assert_eq!(e.field, "email");
            assert!(bad.is_empty() || !e.message.contains(bad), "{bad}");
        }
        assert!(email(None).is_err());
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(email(Some(&long)).is_err());
    }

    #[test]
    fn cursors_must_look_like_base64url() {
        assert_eq!(cursor(Some("eyJhIjoiYiJ9")).unwrap(), Some("eyJhIjoiYiJ9"));
        assert_eq!(cursor(None).unwrap(), None);
        for bad in ["", "abc=", "a/b", "a b", &"a".repeat(3000)] {
            assert_eq!(cursor(Some(bad)).unwrap_err().field, "cursor");
        }
    }

    #[test]
    fn query_strings() {
        let q = Query::parse(Some("limit=5&cursor=abc"), &["limit", "cursor"]).unwrap();
        assert_eq!(q.get("limit"), Some("5"));
        assert_eq!(q.get("cursor"), Some("abc"));
        assert_eq!(Query::parse(Some("limit=1&limit=2"), &["limit"]).unwrap_err().field, "limit");
        assert_eq!(Query::parse(Some("limt=1"), &["limit"]).unwrap_err().field, "limt");
        assert_eq!(Query::parse(Some("a%40b.com"), &["limit"]).unwrap_err().field, "query");
        assert!(Query::parse(Some(""), &[]).is_ok());
        assert!(Query::parse(None, &[]).is_ok());
        let q = Query::parse(Some("email=A%2Bb%40Example.com"), &["email"]).unwrap();
        assert_eq!(q.get("email"), Some("A+b@Example.com"));
    }
}
