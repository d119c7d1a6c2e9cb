use super::*;

const GUIDE: &str = include_str!("../../tests/fixtures/guide-sample.csv");
// The account column sits with the other identifiers here (columns are mapped
// by name), so a row is IDS + the 8 contact fields + operation time and type.
const HEADER: &str = "Product Id,Product Code,Customer Guid,Subscription Guid,Subscription Start Date,AWS Customer Id,Organization,Given Name,Surname,Telephone Number,Email,Title,Country Code,ZIP Code,Operation Time,Operation Type";
const IDS_NO_ACCOUNT: &str = "4b898955-84fa-4cfb-8f43-98287ad69c06,4gzp2symm0v9zidfrn9f854w6,ba1d75cc-d984-4f07-bb14-ae04b952afbc,cad371fb-6f2c-4537-a054-1a7afc6312fd,2016-05-27T00:00:00.000Z";
const IDS: &str = "4b898955-84fa-4cfb-8f43-98287ad69c06,4gzp2symm0v9zidfrn9f854w6,ba1d75cc-d984-4f07-bb14-ae04b952afbc,cad371fb-6f2c-4537-a054-1a7afc6312fd,2016-05-27T00:00:00.000Z,000011112222";

fn read_all(input: &str) -> Result<Vec<Row>, HeaderError> {
    let r = ExportReader::new(input.as_bytes())?;
    Ok(r.map(|row| row.expect("no read error")).collect())
}

fn valid(rows: &[Row]) -> Vec<&ContactRecord> {
    rows.iter().filter_map(|r| if let Row::Valid(c) = r { Some(c) } else { None }).collect()
}

fn rejects(rows: &[Row]) -> Vec<&Reject> {
    rows.iter().filter_map(|r| if let Row::Rejected(c) = r { Some(c) } else { None }).collect()
}

/// One CREATE row with the given contact part (Organization .. ZIP Code) and operation.
fn row(contact: &str, op_time: &str, op: &str) -> String {
    format!("{IDS},{contact},{op_time},{op}")
}

fn one(contact: &str) -> Row {
    let csv = format!("{HEADER}\n{}\n", row(contact, "2016-05-12T03:54:46.143Z", "CREATE"));
    let mut rows = read_all(&csv).unwrap();
    assert_eq!(rows.len(), 1);
    rows.pop().unwrap()
}

fn details(r: &Row) -> &ContactDetails {
    match r {
        Row::Valid(ContactRecord { change: Change::Upsert { details, .. }, .. }) => details,
        other => panic!("expected a valid upsert, got {other:?}"),
    }
}

fn reason(r: &Row) -> &str {
    match r {
        Row::Rejected(rej) => &rej.reason,
        other => panic!("expected a reject, got {other:?}"),
    }
}

#[test]
fn guide_sample_rows_all_parse() {
    let rows = read_all(GUIDE).unwrap();
    assert_eq!(rows.len(), 6);
    let ok = valid(&rows);
    assert_eq!(ok.len(), 6, "rejects: {:?}", rejects(&rows));

    let eugene = ok[0];
    assert_eq!(eugene.key.aws_account_id.as_str(), "000011112222");
    assert_eq!(eugene.key.product_code.as_str(), "4gzp2symm0v9zidfrn9f854w6");
    assert_eq!(eugene.operation_time.to_iso(), "2016-05-12T03:54:46.143Z");
    let d = details(&rows[0]);
    assert_eq!(d.organization, "Example Inc -- Service Division");
    assert_eq!((d.given_name.as_str(), d.surname.as_str()), ("Eugene", "Thietmar"));
    assert_eq!(d.title, None);

    // Angela: ZIP code keeps its leading zero.
    assert_eq!(details(&rows[1]).zip_code.as_deref(), Some("02201"));
    assert_eq!(details(&rows[1]).country_code.as_deref(), Some("US"));

    // The DELETE row carries identifiers only.
    assert_eq!(ok[3].change, Change::Delete);
    assert_eq!(ok[3].key.customer_guid.as_str(), "1b4a2b5f-2c5d-4779-b0c7-2878b0f45cfc");

    // The loose phone format of the guide is accepted.
    assert_eq!(details(&rows[4]).telephone_number, "555-2222-1010");
    assert_eq!(ok[5].operation_type(), OperationType::Update);
}

#[test]
fn quoted_fields_with_commas_quotes_and_newlines() {
    let r = one(
        "\"Example, Inc. \"\"West\"\"\",Eugene,\"Thiet\nmar\",555-947-8228,eugethi@example.org,\"Head of IT, EMEA\",,",
    );
    let d = details(&r);
    assert_eq!(d.organization, "Example, Inc. \"West\"");
    assert_eq!(d.surname, "Thiet\nmar");
    assert_eq!(d.title.as_deref(), Some("Head of IT, EMEA"));
}

#[test]
fn line_numbers_count_embedded_newlines() {
    let csv = format!(
        "{HEADER}\n{}\n{}\n",
        row("\"Multi\nline\nOrg\",A,B,1,a@b.c,,,", "2016-05-12T03:54:46.143Z", "CREATE"),
        row("Org,A,B,1,a@b.c,,,", "2016-05-12T03:54:46.143Z", "BOGUS"),
    );
    let rows = read_all(&csv).unwrap();
    let rej = rejects(&rows);
    assert_eq!(rej.len(), 1);
    assert_eq!(rej[0].line, 5, "the second row starts on line 5");
}

#[test]
fn crlf_line_ends_and_a_utf8_bom() {
    let csv = format!("\u{feff}{}\r\n{}\r\n", HEADER, row("Org,A,B,1,a@b.c,,,", "2016-05-12T03:54:46.143Z", "CREATE"));
    let rows = read_all(&csv).unwrap();
    assert_eq!(valid(&rows).len(), 1);
    assert_eq!(details(&rows[0]).zip_code, None, "no stray \\r in the last contact field");
}

#[test]
fn crlf_line_numbers_and_blank_lines() {
    let bad = row("Org,A,B,1,a@b.c,,,", "2016-05-12T03:54:46.143Z", "BOGUS");
    let good = row("\"Multi\r\nline\",A,B,1,a@b.c,,,", "2016-05-12T03:54:46.143Z", "CREATE");
    let csv = format!("{HEADER}\r\n{good}\r\n\r\n{bad}\r\n\r\n");
    let rows = read_all(&csv).unwrap();
    assert_eq!(rows.len(), 2, "blank lines are not rows");
    assert_eq!(details(&rows[0]).organization, "Multi\r\nline");
    assert_eq!(rejects(&rows)[0].line, 5, "header 1, quoted row 2-3, blank 4, bad row 5");
}

#[test]
fn empty_optional_fields_are_absent_not_empty_strings() {
    let d = details(&one("Org,A,B,1,a@b.c,,,")).clone();
    assert_eq!((d.title, d.country_code, d.zip_code), (None, None, None));
}

#[test]
fn optional_columns_may_be_missing_from_the_header() {
    let header = "Product Id,Product Code,Customer Guid,Subscription Guid,Subscription Start Date,Organization,AWS Account Id,Given Name,Surname,Telephone Number,Email,Operation Time,Operation Type";
    let csv = format!("{header}\n{IDS_NO_ACCOUNT},Org,000011112222,A,B,1,a@b.c,2016-05-12T03:54:46.143Z,CREATE\n");
    let rows = read_all(&csv).unwrap();
    assert_eq!(valid(&rows).len(), 1, "{:?}", rejects(&rows));
}

#[test]
fn columns_are_mapped_by_name_in_any_order_and_case() {
    let header = "operation type,Email,ZIP CODE,AWS Account Id,Product Code,Product Id,Customer Guid,Subscription Guid,Subscription Start Date,Organization,Given Name,Surname,Telephone Number,Title,Country Code,Operation Time,Extra Column";
    let csv = format!(
        "{header}\nDELETE,,,000011112222,4gzp2symm0v9zidfrn9f854w6,4b898955-84fa-4cfb-8f43-98287ad69c06,ba1d75cc-d984-4f07-bb14-ae04b952afbc,cad371fb-6f2c-4537-a054-1a7afc6312fd,2016-05-27T00:00:00.000Z,,,,,,,2016-05-12T03:54:46.143Z,whatever\n"
    );
    let rows = read_all(&csv).unwrap();
    let ok = valid(&rows);
    assert_eq!(ok.len(), 1, "{:?}", rejects(&rows));
    assert_eq!(ok[0].key.aws_account_id.as_str(), "000011112222");
    assert_eq!(ok[0].change, Change::Delete);
}

#[test]
fn leading_zeroes_of_account_ids_are_kept_and_short_ids_rejected() {
    let csv = format!(
        "{HEADER}\n{IDS_NO_ACCOUNT},000000000001,Org,A,B,1,a@b.c,,,,2016-05-12T03:54:46.143Z,CREATE\n{IDS_NO_ACCOUNT},1,Org,A,B,1,a@b.c,,,,2016-05-12T03:54:46.143Z,CREATE\n"
    );
    let rows = read_all(&csv).unwrap();
    let ok = valid(&rows);
    assert_eq!(ok.len(), 1);
    assert_eq!(ok[0].key.aws_account_id.as_str(), "000000000001");
    let rej = rejects(&rows);
    assert_eq!(rej[0].line, 3);
    assert_eq!(rej[0].reason, "AWS Customer Id: must be 12 digits (leading zeroes kept)");
    assert_eq!(rej[0].aws_account_id, None);
}

#[test]
fn over_length_fields_are_rejected_by_name_without_the_value() {
    let long_name = "x".repeat(101);
    let r = one(&format!("Org,{long_name},B,1,a@b.c,,,"));
    let why = reason(&r);
    assert_eq!(why, "Given Name: is longer than 100 characters");
    assert!(!why.contains("xxx"));

    // Lengths are in characters, not bytes: 100 two-byte characters fit.
    let accented = "é".repeat(100);
    assert_eq!(details(&one(&format!("Org,{accented},B,1,a@b.c,,,"))).given_name, accented);

    let email = format!("{}@example.com", "a".repeat(250));
    assert_eq!(reason(&one(&format!("Org,A,B,1,{email},,,"))), "Email: is longer than 254 characters");
    assert_eq!(
        reason(&one("Org,A,B,+1 (555) 123-4567 ext. 8901234,a@b.c,,,")),
        "Telephone Number: is longer than 25 characters"
    );
    assert_eq!(
        reason(&one(&format!("{},A,B,1,a@b.c,,,", "o".repeat(256)))),
        "Organization: is longer than 255 characters"
    );
    assert_eq!(reason(&one(&format!("Org,A,B,1,a@b.c,{},,", "t".repeat(256)))), "Title: is longer than 255 characters");
}

#[test]
fn country_and_zip_formats_follow_the_guide() {
    assert_eq!(reason(&one("Org,A,B,1,a@b.c,,USA,")), "Country Code: is longer than 2 characters");
    assert_eq!(reason(&one("Org,A,B,1,a@b.c,,U1,")), "Country Code: must be a 2-letter ISO 3166 country code");
    assert_eq!(reason(&one("Org,A,B,1,a@b.c,,US,2201")), "ZIP Code: must be a 5-digit string");
    assert_eq!(details(&one("Org,A,B,1,a@b.c,,us,00501")).country_code.as_deref(), Some("US"));
}

#[test]
fn required_contact_fields_for_create_and_update() {
    let r = one(",,B,,a@b.c,,,");
    assert_eq!(
        reason(&r),
        "Organization: is required for CREATE and UPDATE; Given Name: is required for CREATE and UPDATE; Telephone Number: is required for CREATE and UPDATE"
    );
}

#[test]
fn bad_timestamps_and_unknown_operation_types() {
    let csv = format!(
        "{HEADER}\n{}\n{}\n{}\n",
        row("Org,A,B,1,a@b.c,,,", "2016-05-12 03:54:46", "CREATE"),
        row("Org,A,B,1,a@b.c,,,", "2016-05-12T03:54:46.143+02:00", "UPDATE"),
        row("Org,A,B,1,a@b.c,,,", "2016-05-12T03:54:46.143Z", "UPSERT"),
    );
    let rows = read_all(&csv).unwrap();
    let rej = rejects(&rows);
    assert_eq!(rej.len(), 3);
    assert!(rej[0].reason.starts_with("Operation Time: must be an ISO 8601"), "{}", rej[0].reason);
    assert_eq!(rej[1].reason, "Operation Time: must be in UTC (end with Z)");
    assert_eq!(rej[2].reason, "Operation Type: must be CREATE, UPDATE or DELETE");
    // The identifiers that parsed travel with the reject, for the report.
    assert_eq!(rej[2].customer_guid.as_ref().unwrap().as_str(), "ba1d75cc-d984-4f07-bb14-ae04b952afbc");
    assert_eq!(rej[2].aws_account_id.as_ref().unwrap().as_str(), "000011112222");
    assert_eq!(rej[2].operation_type, None);
}

#[test]
fn a_short_row_is_rejected_with_its_field_count() {
    let csv = format!("{HEADER}\n{IDS},Org\n");
    let rows = read_all(&csv).unwrap();
    let rej = rejects(&rows);
    assert!(rej[0].reason.starts_with("row has 7 fields, the header has 16"), "{}", rej[0].reason);
}

#[test]
fn invalid_utf8_in_a_field_rejects_that_row_only() {
    let mut bytes = format!("{HEADER}\n").into_bytes();
    bytes.extend_from_slice(
        row("Org,A,B,1,a@b.c,,,", "2016-05-12T03:54:46.143Z", "CREATE").replace("Org", "O\u{1}g").as_bytes(),
    );
    bytes.extend_from_slice(b"\n");
    let bad = row("Org,A,B,1,a@b.c,,,", "2016-05-12T03:54:46.143Z", "CREATE").replace("Org", "O\u{fffd}g");
    let mut bad = bad.into_bytes();
    let pos = bad.windows(3).position(|w| w == "\u{fffd}".as_bytes()).unwrap();
    bad.splice(pos..pos + 3, [0xff]);
    bytes.extend_from_slice(&bad);
    bytes.extend_from_slice(b"\n");
    let rows: Vec<Row> = ExportReader::new(&bytes[..]).unwrap().map(Result::unwrap).collect();
    assert_eq!(valid(&rows).len(), 1);
    assert_eq!(rejects(&rows)[0].reason, "Organization: is not valid UTF-8");
}

#[test]
fn header_only_file_has_no_rows() {
    assert_eq!(read_all(&format!("{HEADER}\r\n")).unwrap().len(), 0);
}

#[test]
fn empty_file_is_a_header_error() {
    assert!(matches!(ExportReader::new(&b""[..]), Err(HeaderError::Empty)));
}

#[test]
fn wrong_header_names_the_missing_columns() {
    let err = ExportReader::new(&b"id,name,email\n1,2,3\n"[..]).err().unwrap();
    let text = err.to_string();
    assert!(
        text.starts_with("the CSV header lacks required column(s): Product Id, Product Code, Customer Guid"),
        "{text}"
    );
    assert!(text.contains("AWS Customer Id (or AWS Account Id)"), "{text}");
    assert!(!text.contains("Title"), "optional columns are not required: {text}");
}

#[test]
fn both_account_column_spellings_at_once_is_ambiguous() {
    let header = format!("{HEADER},AWS Account Id");
    assert!(matches!(ExportReader::new(header.as_bytes()), Err(HeaderError::AmbiguousAccountColumn)));
}

/// What a pass reports of each row: its line, and validity with the reason.
fn digest(rows: &[Row]) -> Vec<(u64, String)> {
    rows.iter()
        .map(|r| match r {
            Row::Valid(c) => (0, format!("valid {}", c.key.customer_guid.as_str())),
            Row::Rejected(j) => (j.line, format!("rejected {}", j.reason)),
        })
        .collect()
}

#[test]
fn resuming_at_any_row_boundary_reads_the_rest_as_one_pass_would() {
    // CRLF and LF, a quoted field with an embedded newline, a bad row, a BOM.
    let csv = format!(
        "\u{feff}{HEADER}\r\n{}\r\n{}\n{}\r\n{}\n",
        row("Org,\"Eugene\",Thietmar,555-947-8228,eugethi@example.org,,,", "2016-05-12T03:54:46.143Z", "CREATE"),
        row("\"Multi\nline Org\",Angela,Doe,555-0100,adoe@example.com,,,", "2016-05-13T00:00:00.000Z", "UPDATE"),
        row("Org,Bad,Row,555-0102,bad@example.com,,,", "2016-05-14T00:00:00.000Z", "FROB"),
        row("Org,Ravi,Smith,555-0101,ravis@example.com,,,", "2016-05-15T00:00:00.000Z", "CREATE"),
    );
    let whole = read_all(&csv).unwrap();
    assert_eq!(whole.len(), 4);
    assert_eq!(rejects(&whole).iter().map(|r| r.line).collect::<Vec<_>>(), [5], "the bad row is on line 5");

    // Positions after each row, from one pass.
    let mut reader = ExportReader::new(csv.as_bytes()).unwrap();
    let header = reader.header().to_vec();
    let mut positions = vec![reader.position()];
    while reader.next_row().is_some() {
        positions.push(reader.position());
    }
    assert_eq!(positions.last().unwrap().byte, csv.len() as u64, "the last position is the end of the file");
    assert_eq!(positions.iter().map(|p| p.line).collect::<Vec<_>>(), [2, 3, 5, 6, 7]);

    for (i, at) in positions.iter().enumerate() {
        let rest = &csv.as_bytes()[at.byte as usize..];
        let resumed: Vec<Row> = ExportReader::resume(rest, &header, *at).unwrap().map(|r| r.unwrap()).collect();
        assert_eq!(digest(&resumed), digest(&whole[i..]), "resumed at {at:?}");
    }
    assert!(matches!(ExportReader::resume(&b""[..], &[], Position::default()), Err(HeaderError::Empty)));
}
