//! Streaming reader of a PSC export CSV.
//!
//! Takes any [`Read`] (a file, a byte slice, the S3 body bridged from async)
//! and yields one validated [`ContactRecord`] or one [`Reject`] per row, in
//! constant memory: a single `ByteRecord` is reused for every row.
//!
//! Columns are mapped by header name (case-insensitive, a UTF-8 BOM and
//! surrounding blanks ignored, both spellings of the account id column). Every
//! row is checked against the field table of the PSC seller guide. A reject's
//! reason names the column and the rule, never the value: values are personal
//! data.

use std::io::Read;

use csv::ByteRecord;

use crate::csv_stream::{self, NoHeader, csv_error_text};
pub use crate::csv_stream::{Position, ReadError};

use crate::domain::{
    AwsAccountId, Change, ContactDetails, ContactRecord, Guid, Invalid, OperationType, ProductCode, RecordKey,
    Timestamp,
};

/// The export cannot be read at all: the whole export fails with this.
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    #[error("the CSV is empty: it has no header row")]
    Empty,
    #[error("the CSV header lacks required column(s): {}", .0.join(", "))]
    MissingColumns(Vec<&'static str>),
    #[error("the CSV header has both 'AWS Customer Id' and 'AWS Account Id'")]
    AmbiguousAccountColumn,
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

/// A row that failed validation. Carries only non-personal identifiers, and
/// only those that parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reject {
    /// 1-based line of the file where the row starts (the header is line 1).
    pub line: u64,
    pub reason: String,
    pub customer_guid: Option<Guid>,
    pub subscription_guid: Option<Guid>,
    pub product_code: Option<ProductCode>,
    pub aws_account_id: Option<AwsAccountId>,
    pub operation_type: Option<OperationType>,
}

/// Valid rows are the common case: boxing them would cost an allocation per row.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Row {
    Valid(ContactRecord),
    Rejected(Reject),
}

#[derive(Debug, Clone, Copy)]
struct Columns {
    product_id: usize,
    product_code: usize,
    customer_guid: usize,
    subscription_guid: usize,
    subscription_start_date: usize,
    organization: usize,
    aws_account_id: usize,
    given_name: usize,
    surname: usize,
    telephone_number: usize,
    email: usize,
    title: Option<usize>,
    country_code: Option<usize>,
    zip_code: Option<usize>,
    operation_time: usize,
    operation_type: usize,
}

fn normalise_header(raw: &[u8]) -> String {
    let raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
    String::from_utf8_lossy(raw).split_whitespace().collect::<Vec<_>>().join(" ").to_ascii_lowercase()
}

impl Columns {
    fn from_header(header: &ByteRecord) -> Result<Self, HeaderError> {
        let names: Vec<String> = header.iter().map(normalise_header).collect();
        let find = |canonical: &'static str| -> Result<Option<usize>, HeaderError> {
            let wanted = canonical.to_ascii_lowercase();
            let mut hits = names.iter().enumerate().filter(|(_, n)| **n == wanted).map(|(i, _)| i);
            let first = hits.next();
            if hits.next().is_some() {
                return Err(HeaderError::DuplicateColumn(canonical));
            }
            Ok(first)
        };
        let customer_id = find("AWS Customer Id")?;
        let account_id = find("AWS Account Id")?;
        let aws_account_id = match (customer_id, account_id) {
            (Some(_), Some(_)) => return Err(HeaderError::AmbiguousAccountColumn),
            (a, b) => a.or(b),
        };
        let mut missing = Vec::new();
        let mut need = |name: &'static str, found: Option<usize>| {
            if found.is_none() {
                missing.push(name);
            }
            found.unwrap_or(usize::MAX)
        };
        let cols = Columns {
            product_id: need("Product Id", find("Product Id")?),
            product_code: need("Product Code", find("Product Code")?),
            customer_guid: need("Customer Guid", find("Customer Guid")?),
            subscription_guid: need("Subscription Guid", find("Subscription Guid")?),
            subscription_start_date: need("Subscription Start Date", find("Subscription Start Date")?),
            organization: need("Organization", find("Organization")?),
            aws_account_id: need("AWS Customer Id (or AWS Account Id)", aws_account_id),
            given_name: need("Given Name", find("Given Name")?),
            surname: need("Surname", find("Surname")?),
            telephone_number: need("Telephone Number", find("Telephone Number")?),
            email: need("Email", find("Email")?),
            title: find("Title")?,
            country_code: find("Country Code")?,
            zip_code: find("ZIP Code")?,
            operation_time: need("Operation Time", find("Operation Time")?),
            operation_type: need("Operation Type", find("Operation Type")?),
        };
        if missing.is_empty() { Ok(cols) } else { Err(HeaderError::MissingColumns(missing)) }
    }
}

/// Streaming, validating reader of one export.
pub struct ExportReader<R: Read> {
    rdr: csv::Reader<R>,
    cols: Columns,
    width: usize,
    record: ByteRecord,
    header: Vec<String>,
    /// Where the input starts in the object (0 unless resumed).
    base: Position,
}

impl<R: Read> ExportReader<R> {
    /// Reads and checks the header.
    pub fn new(input: R) -> Result<Self, HeaderError> {
        let (rdr, header, base) = csv_stream::open(input)?;
        Self::with_header(rdr, &header, base)
    }

    /// Goes on reading an export part-way: `input` starts at `from` (a
    /// [`Position`] this reader reported), and `header` is the export's
    /// header ([`ExportReader::header`]). Lines and positions count from the
    /// start of the file, as they would in one pass.
    pub fn resume(input: R, header: &[String], from: Position) -> Result<Self, HeaderError> {
        let (rdr, header, base) = csv_stream::reopen(input, header, from)?;
        Self::with_header(rdr, &header, base)
    }

    fn with_header(rdr: csv::Reader<R>, header: &ByteRecord, base: Position) -> Result<Self, HeaderError> {
        let cols = Columns::from_header(header)?;
        let fields = header.iter().map(|f| String::from_utf8_lossy(f).into_owned()).collect();
        Ok(Self { rdr, cols, width: header.len(), record: ByteRecord::new(), header: fields, base })
    }

    /// The header's fields (no personal data): what [`ExportReader::resume`]
    /// needs besides the position.
    pub fn header(&self) -> &[String] {
        &self.header
    }

    /// Where the next row starts (after the last one returned).
    pub fn position(&self) -> Position {
        let p = self.rdr.position();
        Position { byte: self.base.byte + p.byte(), line: self.base.line + p.line() }
    }

    /// The next row, `None` at the end of the file.
    pub fn next_row(&mut self) -> Option<Result<Row, ReadError>> {
        match self.rdr.read_byte_record(&mut self.record) {
            Ok(false) => None,
            Ok(true) if self.record.len() == 1 && self.record[0].trim_ascii().is_empty() => self.next_row(),
            Ok(true) => {
                let line = self.base.line + self.record.position().map_or(0, |p| p.line());
                Some(Ok(validate(&self.record, &self.cols, self.width, line)))
            }
            Err(e) => {
                let line = self.base.line + e.position().map_or(0, |p| p.line());
                Some(Err(ReadError { line, message: csv_error_text(&e) }))
            }
        }
    }
}

impl<R: Read> Iterator for ExportReader<R> {
    type Item = Result<Row, ReadError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_row()
    }
}

struct Problems(Vec<String>);

impl Problems {
    fn note<T>(&mut self, column: &str, r: Result<T, Invalid>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(format!("{column}: {e}"));
                None
            }
        }
    }
}

fn field(rec: &ByteRecord, i: usize) -> Result<&str, Invalid> {
    let b = rec.get(i).unwrap_or_default();
    std::str::from_utf8(b).map(str::trim).map_err(|_| Invalid("is not valid UTF-8".into()))
}

fn required(rec: &ByteRecord, i: usize, max: usize) -> Result<String, Invalid> {
    let s = field(rec, i)?;
    if s.is_empty() {
        return Err(Invalid("is required for CREATE and UPDATE".into()));
    }
    within(s, max).map(str::to_owned)
}

fn optional(rec: &ByteRecord, i: Option<usize>, max: usize) -> Result<Option<String>, Invalid> {
    let Some(i) = i else { return Ok(None) };
    let s = field(rec, i)?;
    if s.is_empty() { Ok(None) } else { within(s, max).map(|s| Some(s.to_owned())) }
}

fn within(s: &str, max: usize) -> Result<&str, Invalid> {
    // Bytes >= chars, so only count chars when the byte length is over.
    if s.len() <= max || s.chars().count() <= max {
        Ok(s)
    } else {
        Err(Invalid(format!("is longer than {max} characters")))
    }
}

fn country_code(rec: &ByteRecord, i: Option<usize>) -> Result<Option<String>, Invalid> {
    match optional(rec, i, 2)? {
        Some(c) if c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()) => Ok(Some(c.to_ascii_uppercase())),
        Some(_) => Err(Invalid("must be a 2-letter ISO 3166 country code".into())),
        None => Ok(None),
    }
}

fn zip_code(rec: &ByteRecord, i: Option<usize>) -> Result<Option<String>, Invalid> {
    match optional(rec, i, 5)? {
        Some(z) if z.len() == 5 && z.bytes().all(|b| b.is_ascii_digit()) => Ok(Some(z)),
        Some(_) => Err(Invalid("must be a 5-digit string".into())),
        None => Ok(None),
    }
}

fn validate(rec: &ByteRecord, c: &Columns, width: usize, line: u64) -> Row {
    let mut p = Problems(Vec::new());
    if rec.len() != width {
        p.0.push(format!("row has {} fields, the header has {width}", rec.len()));
    }
    let product_id = p.note("Product Id", field(rec, c.product_id).and_then(Guid::parse));
    let product_code = p.note("Product Code", field(rec, c.product_code).and_then(ProductCode::parse));
    let customer_guid = p.note("Customer Guid", field(rec, c.customer_guid).and_then(Guid::parse));
    let subscription_guid = p.note("Subscription Guid", field(rec, c.subscription_guid).and_then(Guid::parse));
    let subscription_start_date =
        p.note("Subscription Start Date", field(rec, c.subscription_start_date).and_then(Timestamp::parse));
    let aws_account_id = p.note("AWS Customer Id", field(rec, c.aws_account_id).and_then(AwsAccountId::parse));
    let operation_time = p.note("Operation Time", field(rec, c.operation_time).and_then(Timestamp::parse));
    let operation_type = p.note("Operation Type", field(rec, c.operation_type).and_then(OperationType::parse));

    let change = match operation_type {
        Some(OperationType::Delete) => Some(Change::Delete),
        Some(op) => {
            let organization = p.note("Organization", required(rec, c.organization, 255));
            let given_name = p.note("Given Name", required(rec, c.given_name, 100));
            let surname = p.note("Surname", required(rec, c.surname, 100));
            let telephone_number = p.note("Telephone Number", required(rec, c.telephone_number, 25));
            let email = p.note("Email", required(rec, c.email, 254));
            let title = p.note("Title", optional(rec, c.title, 255));
            let country_code = p.note("Country Code", country_code(rec, c.country_code));
            let zip_code = p.note("ZIP Code", zip_code(rec, c.zip_code));
            match (organization, given_name, surname, telephone_number, email, title, country_code, zip_code) {
                (
                    Some(organization),
                    Some(given_name),
                    Some(surname),
                    Some(telephone_number),
                    Some(email),
                    Some(title),
                    Some(country_code),
                    Some(zip_code),
                ) => Some(Change::Upsert {
                    op,
                    details: ContactDetails {
                        organization,
                        given_name,
                        surname,
                        telephone_number,
                        email,
                        title,
                        country_code,
                        zip_code,
                    },
                }),
                _ => None,
            }
        }
        None => None,
    };

    let problems_free = p.0.is_empty();
    match (
        product_id,
        product_code,
        customer_guid,
        subscription_guid,
        subscription_start_date,
        aws_account_id,
        operation_time,
        change,
    ) {
        (
            Some(product_id),
            Some(product_code),
            Some(customer_guid),
            Some(subscription_guid),
            Some(subscription_start_date),
            Some(aws_account_id),
            Some(operation_time),
            Some(change),
        ) if problems_free => Row::Valid(ContactRecord {
            key: RecordKey {
                product_id,
                product_code,
                customer_guid,
                subscription_guid,
                subscription_start_date,
                aws_account_id,
            },
            operation_time,
            change,
        }),
        (_, product_code, customer_guid, subscription_guid, _, aws_account_id, _, _) => Row::Rejected(Reject {
            line,
            reason: p.0.join("; "),
            customer_guid,
            subscription_guid,
            product_code,
            aws_account_id,
            operation_type,
        }),
    }
}

#[cfg(test)]
mod tests;
