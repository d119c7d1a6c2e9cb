//! Contact records (the guide's 16 columns), timestamps, and the guide's static test data set.

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// The guide's timestamp format, `YYYY-MM-DDTHH:mm:ss.sssZ` (UTC, milliseconds).
const MILLIS_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// The timestamp format used in object keys, `YYYY-MM-DDTHH-mm-ssZ` (as in the guide's sample keys).
const KEY_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]-[minute]-[second]Z");

/// Formats a timestamp the way the guide writes them: `2016-04-07T14:05:15.275Z`.
pub fn format_timestamp(t: OffsetDateTime) -> String {
    t.to_offset(UtcOffset::UTC).format(MILLIS_FORMAT).expect("a UTC timestamp always formats")
}

/// Formats a timestamp for an object key: `2016-08-05T03-14-50Z`.
pub fn format_key_timestamp(t: OffsetDateTime) -> String {
    t.to_offset(UtcOffset::UTC).format(KEY_FORMAT).expect("a UTC timestamp always formats")
}

/// Parses an ISO 8601 / RFC 3339 timestamp (`2016-04-07T14:05:15.275Z`, any offset), or a bare
/// date `2016-04-07` (midnight UTC).
pub fn parse_timestamp(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.to_offset(UtcOffset::UTC));
    }
    let date = time::Date::parse(s, format_description!("[year]-[month]-[day]")).ok()?;
    Some(date.midnight().assume_utc())
}

/// Truncates a timestamp to whole milliseconds (the precision of every timestamp the service writes).
pub fn truncate_to_millis(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(UtcOffset::UTC);
    let nanos = t.nanosecond();
    t.replace_nanosecond(nanos - nanos % 1_000_000).expect("a truncated nanosecond is in range")
}

/// serde helpers for `OffsetDateTime` in the guide's format (accepting any RFC 3339 input).
pub mod timestamp_serde {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_timestamp(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        parse_timestamp(&String::deserialize(d)?).ok_or_else(|| serde::de::Error::custom(EXPECTED))
    }

    const EXPECTED: &str = "expected an ISO 8601 timestamp like 2016-04-07T14:05:15.275Z";

    /// The same for `Option<OffsetDateTime>`.
    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
            t.map(format_timestamp).serialize(s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OffsetDateTime>, D::Error> {
            let parse = |s: String| parse_timestamp(&s).ok_or_else(|| serde::de::Error::custom(EXPECTED));
            Option::<String>::deserialize(d)?.map(parse).transpose()
        }
    }
}

/// The `Operation Type` column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, strum::Display, strum::IntoStaticStr)]
#[serde(rename_all = "UPPERCASE")]
#[strum(serialize_all = "UPPERCASE")]
pub enum OperationType {
    Create,
    Update,
    Delete,
}

impl OperationType {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A contact as a customer entered it: the guide's columns without `Operation Time` and
/// `Operation Type`.
///
/// All values are strings written verbatim into the CSV (the stand-in does not validate them, so a
/// test can make it export a malformed row on purpose). `subscription_start_date` should normally
/// be in the guide's format (see [`format_timestamp`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    pub product_id: String,
    pub product_code: String,
    pub customer_guid: String,
    pub subscription_guid: String,
    pub subscription_start_date: String,
    pub organization: Option<String>,
    pub aws_customer_id: String,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub telephone_number: Option<String>,
    pub email: Option<String>,
    pub title: Option<String>,
    pub country_code: Option<String>,
    pub zip_code: Option<String>,
}

/// One state of a contact record: the guide's 16 columns, a [`Contact`] (which it derefs to)
/// with its `Operation Time` and `Operation Type`.
///
/// JSON form (admin endpoints): the contact's camelCase keys, `operationTime` as an ISO 8601
/// string, `operationType` as `CREATE` / `UPDATE` / `DELETE`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    #[serde(flatten)]
    pub contact: Contact,
    #[serde(with = "timestamp_serde")]
    pub operation_time: OffsetDateTime,
    pub operation_type: OperationType,
}

impl std::ops::Deref for Record {
    type Target = Contact;
    fn deref(&self) -> &Contact {
        &self.contact
    }
}

impl std::ops::DerefMut for Record {
    fn deref_mut(&mut self) -> &mut Contact {
        &mut self.contact
    }
}

impl Record {
    /// A record from a contact, an operation time and an operation type.
    pub fn from_contact(contact: Contact, operation_time: OffsetDateTime, operation_type: OperationType) -> Self {
        Record { contact, operation_time, operation_type }
    }

    /// The contact part of this record.
    pub fn contact(&self) -> Contact {
        self.contact.clone()
    }

    /// This record with the contact fields removed (what a DELETE row carries: identifiers only).
    pub fn identifiers_only(self) -> Self {
        let c = self.contact;
        let contact = Contact {
            product_id: c.product_id,
            product_code: c.product_code,
            customer_guid: c.customer_guid,
            subscription_guid: c.subscription_guid,
            subscription_start_date: c.subscription_start_date,
            aws_customer_id: c.aws_customer_id,
            ..Contact::default()
        };
        Record { contact, ..self }
    }

    /// The 16 CSV fields in the guide's column order. DELETE rows get empty contact fields
    /// whatever the record holds.
    pub fn csv_fields(&self) -> [String; 16] {
        let c =
            if self.operation_type == OperationType::Delete { self.clone().identifiers_only() } else { self.clone() };
        let o = |v: Option<String>| v.unwrap_or_default();
        let c = c.contact;
        [
            c.product_id,
            c.product_code,
            c.customer_guid,
            c.subscription_guid,
            c.subscription_start_date,
            o(c.organization),
            c.aws_customer_id,
            o(c.given_name),
            o(c.surname),
            o(c.telephone_number),
            o(c.email),
            o(c.title),
            o(c.country_code),
            o(c.zip_code),
            format_timestamp(self.operation_time),
            self.operation_type.to_string(),
        ]
    }
}

/// The guide's CSV header (with the `AWS Customer Id` spelling).
pub const CSV_HEADER: [&str; 16] = [
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

/// The guide's example output file (its six sample rows), verbatim apart from line ends.
pub const GUIDE_SAMPLE_CSV: &str = "\
Product Id,Product Code,Customer Guid,Subscription Guid,Subscription Start Date,Organization,AWS Customer Id,Given Name,Surname,Telephone Number,Email,Title,Country Code,ZIP Code,Operation Time,Operation Type\r
4b898955-84fa-4cfb-8f43-98287ad69c06,4gzp2symm0v9zidfrn9f854w6,ba1d75cc-d984-4f07-bb14-ae04b952afbc,cad371fb-6f2c-4537-a054-1a7afc6312fd,2016-05-27T00:00:00.000Z,Example Inc -- Service Division,000011112222,Eugene,Thietmar,555-947-8228,eugethi@example.org,,,,2016-05-12T03:54:46.143Z,CREATE\r
4b898955-84fa-4cfb-8f43-98287ad69c06,4gzp2symm0v9zidfrn9f854w6,1b4a2b5f-2c5d-4779-b0c7-2878b0f45cfc,cad371fb-6f2c-4537-a054-1a7afc6312fd,2016-05-19T00:00:00.000Z,Example Inc -- Service Division,000011112222,Angela,Doe,555-294-4528,adoe@example.com,,US,02201,2016-05-19T18:21:06.834Z,CREATE\r
cade58ff-ff82-4770-b84b-0bd399bf1c6d,c0dcyyqczbk5uc62acmp6450t,6c83ff14-5167-43cc-bb9f-24865a78db72,c2f40319-8fc2-409a-884b-2f85adf9e29c,2015-12-01T00:00:00.000Z,Example Inc -- European Sales Division,111122223333,Ravi,Smith,555-111-1010,ravis@example.com,Head of IT,ES,,2016-04-07T14:05:15.145Z,CREATE\r
4b898955-84fa-4cfb-8f43-98287ad69c06,4gzp2symm0v9zidfrn9f854w6,1b4a2b5f-2c5d-4779-b0c7-2878b0f45cfc,cad371fb-6f2c-4537-a054-1a7afc6312fd,2016-05-01T00:00:00.000Z,,000011112222,,,,,,,,2016-04-22T14:36:24.054Z,DELETE\r
3f4300eb-bfa0-4610-8d68-d8ba71baaa50,3qtu9xydxldrj8c5jyldy1lqo,91c72621-6cf4-4d69-8ebe-073ff4f8ab9e,d118eb96-55ce-4752-909c-eedcfdcd6647,2015-11-30T00:00:00.000Z,Example Inc -- Design Division,333344445555,Nathan,Zhenyuan,555-2222-1010,nathanz@example.com,Sr. Program Manager,US,98109,2016-04-07T14:05:15.275Z,CREATE\r
3f4300eb-bfa0-4610-8d68-d8ba71baaa50,3qtu9xydxldrj8c5jyldy1lqo,2ae0be12-7397-4fdb-a1c7-ead17967002c,d118eb96-55ce-4752-909c-eedcfdcd6647,2016-05-01T00:00:00.000Z,Example Inc -- Design Division,333344445555,Abdul,Alves,555-676-8989,abdal@example.com,,,,2016-05-11T05:26:51.000Z,UPDATE\r
";

/// The six sample rows of the guide's example file, as records, in the file's order.
pub fn guide_sample_records() -> Vec<Record> {
    let mut reader = csv::Reader::from_reader(GUIDE_SAMPLE_CSV.as_bytes());
    type Opt = Option<String>;
    type Row =
        (String, String, String, String, String, Opt, String, Opt, Opt, Opt, Opt, Opt, Opt, Opt, String, OperationType);
    let rows = reader.deserialize::<Row>().map(|row| row.expect("the embedded sample is valid CSV"));
    rows.map(|(f0, f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, f11, f12, f13, f14, operation_type)| {
        let contact = Contact {
            product_id: f0,
            product_code: f1,
            customer_guid: f2,
            subscription_guid: f3,
            subscription_start_date: f4,
            organization: f5,
            aws_customer_id: f6,
            given_name: f7,
            surname: f8,
            telephone_number: f9,
            email: f10,
            title: f11,
            country_code: f12,
            zip_code: f13,
        };
        Record::from_contact(contact, parse_timestamp(&f14).expect("sample timestamps parse"), operation_type)
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn timestamps_use_the_guides_format() {
        assert_eq!(format_timestamp(datetime!(2016-04-07 14:05:15.275 UTC)), "2016-04-07T14:05:15.275Z");
        assert_eq!(format_timestamp(datetime!(2016-04-07 14:05:15 UTC)), "2016-04-07T14:05:15.000Z");
        assert_eq!(format_timestamp(datetime!(2016-04-07 16:05:15.2759 +02:00)), "2016-04-07T14:05:15.275Z");
        assert_eq!(format_key_timestamp(datetime!(2016-08-05 03:14:50.334 UTC)), "2016-08-05T03-14-50Z");
        assert_eq!(parse_timestamp("2016-04-07"), Some(datetime!(2016-04-07 00:00 UTC)));
        assert_eq!(parse_timestamp("2016-04-07T16:05:15+02:00"), Some(datetime!(2016-04-07 14:05:15 UTC)));
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(
            truncate_to_millis(datetime!(2016-04-07 14:05:15.275999 UTC)),
            datetime!(2016-04-07 14:05:15.275 UTC)
        );
    }

    #[test]
    fn guide_sample_has_six_rows_with_leading_zeroes_kept() {
        let rows = guide_sample_records();
        assert_eq!(rows.len(), 6);
        assert_eq!(rows[0].aws_customer_id, "000011112222");
        assert_eq!(rows[1].zip_code.as_deref(), Some("02201"));
        assert_eq!(rows[3].operation_type, OperationType::Delete);
        assert_eq!(rows[3].customer_guid, rows[1].customer_guid);
        assert_eq!(rows[5].operation_type, OperationType::Update);
    }

    #[test]
    fn record_json_round_trips() {
        let r = guide_sample_records().remove(1);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["customerGuid"], "1b4a2b5f-2c5d-4779-b0c7-2878b0f45cfc");
        assert_eq!(json["operationTime"], "2016-05-19T18:21:06.834Z");
        assert_eq!(json["operationType"], "CREATE");
        let back: Record = serde_json::from_value(json).unwrap();
        assert_eq!(back, r);
    }
}
