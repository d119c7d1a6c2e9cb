//! Pure generation of what one export produces: object keys, the CSV, the metadata JSON, the
//! notification message and the SNS Lambda event. Nothing here does I/O.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::record::{CSV_HEADER, Record, format_key_timestamp, format_timestamp, timestamp_serde, truncate_to_millis};

/// The two data set types `StartSupportDataExport` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum DataSetType {
    CustomerSupportContactsData,
    TestCustomerSupportContactsData,
}

impl DataSetType {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A validated `StartSupportDataExport` request; serialized as the metadata file's
/// `dataSetRequestParameters` (the guide's field order).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportRequest {
    #[serde(with = "timestamp_serde")]
    pub from_date: OffsetDateTime,
    pub data_set_type: DataSetType,
    pub role_name_arn: String,
    pub destination_s3_bucket_name: String,
    /// `None` (or empty) writes to the bucket root.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_s3_prefix: Option<String>,
    pub sns_topic_arn: String,
    #[serde(skip)]
    pub customer_defined_values: Option<BTreeMap<String, String>>,
}

/// A bucket and key, as in the notification and the metadata file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3Location {
    pub bucket_name: String,
    pub key: String,
}

/// Everything decided about one export when its request is received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportPlan {
    pub data_set_request_id: String,
    pub request: ExportRequest,
    /// When the request was received (milliseconds precision).
    pub received_at: OffsetDateTime,
    /// `fromDate` of the request.
    pub coverage_start: OffsetDateTime,
    /// `received_at - lag`. Not clamped: a `fromDate` later than this gives a range whose end
    /// precedes its start (as in the guide's sample metadata) and an empty data set.
    pub coverage_end: OffsetDateTime,
    pub data_set: S3Location,
    pub metadata: S3Location,
}

impl ExportPlan {
    pub fn new(
        data_set_request_id: impl Into<String>,
        request: ExportRequest,
        received_at: OffsetDateTime,
        lag: Duration,
    ) -> Self {
        let received_at = truncate_to_millis(received_at);
        let coverage_start = truncate_to_millis(request.from_date);
        let coverage_end = truncate_to_millis(received_at - lag);
        let (data_set_key, metadata_key) =
            object_keys(request.destination_s3_prefix.as_deref(), request.data_set_type, coverage_start, coverage_end);
        let bucket = request.destination_s3_bucket_name.clone();
        ExportPlan {
            data_set_request_id: data_set_request_id.into(),
            coverage_start,
            coverage_end,
            data_set: S3Location { bucket_name: bucket.clone(), key: data_set_key },
            metadata: S3Location { bucket_name: bucket, key: metadata_key },
            request,
            received_at,
        }
    }

    /// The metadata file's content (pretty-printed JSON, the guide's field order).
    pub fn metadata_json(&self, completed_at: OffsetDateTime) -> Vec<u8> {
        let meta = Metadata {
            data_set_request_id: &self.data_set_request_id,
            data_set_coverage_range: CoverageRange {
                start_date_time: format_timestamp(self.coverage_start),
                end_date_time: format_timestamp(self.coverage_end),
            },
            data_set_request_parameters: &self.request,
            data_set_s3_location: &self.data_set,
            data_set_meta_data_s3_location: &self.metadata,
            request_received_date_time: format_timestamp(self.received_at),
            request_completed_date_time: format_timestamp(completed_at),
            customer_defined_values: self.request.customer_defined_values.as_ref(),
        };
        serde_json::to_vec_pretty(&meta).expect("metadata serializes")
    }

    /// The notification of a published data set.
    pub fn success_message(&self) -> NotificationMessage {
        NotificationMessage {
            data_set_s3_location: Some(self.data_set.clone()),
            data_set_meta_data_s3_location: Some(self.metadata.clone()),
            success: true,
            message: None,
            ..self.failure_message("")
        }
    }

    /// The notification of a failed export (no locations).
    pub fn failure_message(&self, message: impl Into<String>) -> NotificationMessage {
        NotificationMessage {
            data_set_s3_location: None,
            data_set_meta_data_s3_location: None,
            data_set_request_id: self.data_set_request_id.clone(),
            success: false,
            message: Some(message.into()),
            customer_defined_values: self.request.customer_defined_values.clone(),
        }
    }
}

/// The object keys of a data set and its metadata:
/// `<prefix>/<dataSetType>_<from>_to_<end>.csv` and `.meta.json`, timestamps as
/// `YYYY-MM-DDTHH-mm-ssZ` (the guide's sample keys). No prefix (or an empty one): bucket root.
pub fn object_keys(
    prefix: Option<&str>,
    data_set_type: DataSetType,
    from: OffsetDateTime,
    end: OffsetDateTime,
) -> (String, String) {
    let base = format!("{}_{}_to_{}", data_set_type.as_str(), format_key_timestamp(from), format_key_timestamp(end));
    let dir = match prefix.map(|p| p.trim_end_matches('/')) {
        Some(p) if !p.is_empty() => format!("{p}/"),
        _ => String::new(),
    };
    (format!("{dir}{base}.csv"), format!("{dir}{base}.meta.json"))
}

/// The CSV of an export: RFC 4180 (CRLF line ends, fields quoted where needed), the guide's
/// header, one row per record (DELETE rows with empty contact fields).
pub fn write_csv(rows: &[Record]) -> Vec<u8> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .quote_style(csv::QuoteStyle::Necessary)
        .from_writer(Vec::new());
    w.write_record(CSV_HEADER).expect("writing to memory");
    for r in rows {
        w.write_record(r.csv_fields()).expect("writing to memory");
    }
    w.into_inner().expect("flushing to memory")
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Metadata<'a> {
    data_set_request_id: &'a str,
    data_set_coverage_range: CoverageRange,
    data_set_request_parameters: &'a ExportRequest,
    data_set_s3_location: &'a S3Location,
    data_set_meta_data_s3_location: &'a S3Location,
    request_received_date_time: String,
    request_completed_date_time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    customer_defined_values: Option<&'a BTreeMap<String, String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CoverageRange {
    start_date_time: String,
    end_date_time: String,
}

/// The JSON message CAS publishes to the SNS topic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationMessage {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub data_set_s3_location: Option<S3Location>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub data_set_meta_data_s3_location: Option<S3Location>,
    pub data_set_request_id: String,
    pub success: bool,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub customer_defined_values: Option<BTreeMap<String, String>>,
}

impl NotificationMessage {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("notification serializes")
    }
}

/// The SNS Lambda event (the JSON shape of `aws_lambda_events::sns::SnsEvent`) that delivers
/// `message` published to `topic_arn`. The signature fields are placeholders (not verifiable).
pub fn sns_event_json(
    topic_arn: &str,
    message: &str,
    message_id: &str,
    subscription_id: &str,
    timestamp: OffsetDateTime,
) -> serde_json::Value {
    let region = topic_arn.split(':').nth(3).filter(|r| !r.is_empty()).unwrap_or("us-east-1");
    let subscription_arn = format!("{topic_arn}:{subscription_id}");
    serde_json::json!({
        "Records": [{
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": subscription_arn,
            "Sns": {
                "Type": "Notification",
                "MessageId": message_id,
                "TopicArn": topic_arn,
                "Subject": null,
                "Message": message,
                "Timestamp": format_timestamp(timestamp),
                "SignatureVersion": "1",
                // base64("aws-standin: not signed")
                "Signature": "YXdzLXN0YW5kaW46IG5vdCBzaWduZWQ=",
                "SigningCertUrl": format!("https://sns.{region}.amazonaws.com/SimpleNotificationService-aws-standin.pem"),
                "UnsubscribeUrl": format!("https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription_arn}"),
                "MessageAttributes": {}
            }
        }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{OperationType, guide_sample_records};
    use crate::store::Store;
    use time::macros::datetime;

    fn request() -> ExportRequest {
        ExportRequest {
            data_set_type: DataSetType::TestCustomerSupportContactsData,
            from_date: datetime!(2016-01-01 00:00 UTC),
            role_name_arn: "arn:aws:iam::123456789012:role/MarketplaceCommerceAnalyticsRole".into(),
            destination_s3_bucket_name: "mybucket".into(),
            destination_s3_prefix: Some("mydata".into()),
            sns_topic_arn: "arn:aws:sns:us-west-2:123456789012:mynotification".into(),
            customer_defined_values: None,
        }
    }

    const HEADER: &str = "Product Id,Product Code,Customer Guid,Subscription Guid,Subscription Start Date,Organization,AWS Customer Id,Given Name,Surname,Telephone Number,Email,Title,Country Code,ZIP Code,Operation Time,Operation Type\r\n";

    #[test]
    fn empty_export_is_the_header_alone() {
        assert_eq!(String::from_utf8(write_csv(&[])).unwrap(), HEADER);
    }

    #[test]
    fn csv_of_the_guide_data_matches_the_guide_rows_with_latest_state_winning() {
        let store = Store::with_guide_data();
        let rows = store.export_rows(datetime!(2015-01-01 00:00 UTC), datetime!(2016-08-05 03:14:50.334 UTC));
        let csv = String::from_utf8(write_csv(&rows)).unwrap();
        let guide_lines: Vec<&str> = crate::record::GUIDE_SAMPLE_CSV.split("\r\n").collect();
        // the guide's rows minus the superseded DELETE of 1b4a2b5f (guide_lines[4]), same order.
        let expected = [guide_lines[0], guide_lines[1], guide_lines[2], guide_lines[3], guide_lines[5], guide_lines[6]]
            .iter()
            .map(|l| format!("{l}\r\n"))
            .collect::<String>();
        assert_eq!(csv, expected);
    }

    #[test]
    fn csv_quotes_commas_quotes_and_newlines_and_uses_crlf() {
        let mut r = guide_sample_records().remove(0);
        r.organization = Some("Example, Inc.".into());
        r.given_name = Some("Eu\"gene\"".into());
        r.title = Some("Head\nof IT".into());
        r.surname = Some("Smith\r\nJones".into());
        let csv = String::from_utf8(write_csv(&[r])).unwrap();
        assert!(csv.starts_with(HEADER));
        let row = &csv[HEADER.len()..];
        assert!(row.contains(",\"Example, Inc.\","), "{row}");
        assert!(row.contains(",\"Eu\"\"gene\"\"\","), "{row}");
        assert!(row.contains(",\"Head\nof IT\","), "{row}");
        assert!(row.contains(",\"Smith\r\nJones\","), "{row}");
        assert!(row.ends_with(",2016-05-12T03:54:46.143Z,CREATE\r\n"));
        // a standard reader gets the values back.
        let mut rd = csv::Reader::from_reader(csv.as_bytes());
        let rec = rd.records().next().unwrap().unwrap();
        assert_eq!(&rec[5], "Example, Inc.");
        assert_eq!(&rec[7], "Eu\"gene\"");
        assert_eq!(&rec[11], "Head\nof IT");
    }

    #[test]
    fn delete_rows_carry_identifiers_only_even_if_the_record_holds_contact_fields() {
        let mut r = guide_sample_records().remove(1);
        r.operation_type = OperationType::Delete;
        let csv = String::from_utf8(write_csv(&[r])).unwrap();
        assert_eq!(
            &csv[HEADER.len()..],
            "4b898955-84fa-4cfb-8f43-98287ad69c06,4gzp2symm0v9zidfrn9f854w6,1b4a2b5f-2c5d-4779-b0c7-2878b0f45cfc,cad371fb-6f2c-4537-a054-1a7afc6312fd,2016-05-19T00:00:00.000Z,,000011112222,,,,,,,,2016-05-19T18:21:06.834Z,DELETE\r\n"
        );
    }

    #[test]
    fn from_date_filtering_and_lag() {
        let store = Store::new();
        let c = guide_sample_records().remove(0).contact();
        store.upsert(c.clone(), Some(datetime!(2024-01-01 12:00 UTC)));
        let received = datetime!(2024-01-01 12:10 UTC);
        // with the real 15 minute lag, a change 10 minutes ago is not exported yet.
        let plan = ExportPlan::new("id", request(), received, Duration::from_secs(900));
        assert_eq!(plan.coverage_end, datetime!(2024-01-01 11:55 UTC));
        assert!(store.export_rows(plan.coverage_start, plan.coverage_end).is_empty());
        // with no lag it is.
        let plan = ExportPlan::new("id", request(), received, Duration::ZERO);
        assert_eq!(store.export_rows(plan.coverage_start, plan.coverage_end).len(), 1);
        // from after the change: nothing; from exactly at the change: included.
        assert!(store.export_rows(datetime!(2024-01-01 12:00:00.001 UTC), received).is_empty());
        assert_eq!(store.export_rows(datetime!(2024-01-01 12:00 UTC), received).len(), 1);
    }

    #[test]
    fn keys_follow_the_guides_pattern() {
        let plan = ExportPlan::new("id", request(), datetime!(2016-08-05 03:14:50.108 UTC), Duration::ZERO);
        assert_eq!(
            plan.data_set.key,
            "mydata/test_customer_support_contacts_data_2016-01-01T00-00-00Z_to_2016-08-05T03-14-50Z.csv"
        );
        assert_eq!(
            plan.metadata.key,
            "mydata/test_customer_support_contacts_data_2016-01-01T00-00-00Z_to_2016-08-05T03-14-50Z.meta.json"
        );
        let t = datetime!(2016-08-05 03:14:50 UTC);
        let (k, _) = object_keys(None, DataSetType::CustomerSupportContactsData, t, t);
        assert_eq!(k, "customer_support_contacts_data_2016-08-05T03-14-50Z_to_2016-08-05T03-14-50Z.csv");
        let (k, _) = object_keys(Some("a/b/"), DataSetType::CustomerSupportContactsData, t, t);
        assert!(k.starts_with("a/b/customer_"));
        let (k, _) = object_keys(Some(""), DataSetType::CustomerSupportContactsData, t, t);
        assert!(k.starts_with("customer_"));
    }

    #[test]
    fn metadata_has_the_guides_shape() {
        let mut req = request();
        req.from_date = datetime!(2016-08-01 00:00:00.123456 UTC);
        let plan = ExportPlan::new(
            "c3c84ee0-5aba-11e6-8d9c-235dc080841d",
            req,
            datetime!(2016-08-05 03:14:50.108 UTC),
            Duration::from_secs(900),
        );
        let meta: serde_json::Value =
            serde_json::from_slice(&plan.metadata_json(datetime!(2016-08-05 03:14:50.334 UTC))).unwrap();
        let expected = serde_json::json!({
            "dataSetRequestId": "c3c84ee0-5aba-11e6-8d9c-235dc080841d",
            "dataSetCoverageRange": {
                "startDateTime": "2016-08-01T00:00:00.123Z",
                "endDateTime": "2016-08-05T02:59:50.108Z"
            },
            "dataSetRequestParameters": {
                "fromDate": "2016-08-01T00:00:00.123Z",
                "dataSetType": "test_customer_support_contacts_data",
                "roleNameArn": "arn:aws:iam::123456789012:role/MarketplaceCommerceAnalyticsRole",
                "destinationS3BucketName": "mybucket",
                "destinationS3Prefix": "mydata",
                "snsTopicArn": "arn:aws:sns:us-west-2:123456789012:mynotification"
            },
            "dataSetS3Location": {
                "bucketName": "mybucket",
                "key": "mydata/test_customer_support_contacts_data_2016-08-01T00-00-00Z_to_2016-08-05T02-59-50Z.csv"
            },
            "dataSetMetaDataS3Location": {
                "bucketName": "mybucket",
                "key": "mydata/test_customer_support_contacts_data_2016-08-01T00-00-00Z_to_2016-08-05T02-59-50Z.meta.json"
            },
            "requestReceivedDateTime": "2016-08-05T03:14:50.108Z",
            "requestCompletedDateTime": "2016-08-05T03:14:50.334Z"
        });
        assert_eq!(meta, expected);
        // field order as in the guide.
        let text = String::from_utf8(plan.metadata_json(datetime!(2016-08-05 03:14:50.334 UTC))).unwrap();
        let pos = |k: &str| text.find(&format!("\"{k}\"")).unwrap();
        assert!(pos("dataSetRequestId") < pos("dataSetCoverageRange"));
        assert!(pos("dataSetRequestParameters") < pos("dataSetS3Location"));
        assert!(pos("requestReceivedDateTime") < pos("requestCompletedDateTime"));

        // no prefix: no destinationS3Prefix; customer defined values appear when given.
        let mut req = request();
        req.destination_s3_prefix = None;
        req.customer_defined_values = Some(BTreeMap::from([("env".to_string(), "local".to_string())]));
        let plan = ExportPlan::new("id", req, datetime!(2016-08-05 03:14:50 UTC), Duration::ZERO);
        let meta: serde_json::Value =
            serde_json::from_slice(&plan.metadata_json(datetime!(2016-08-05 03:14:51 UTC))).unwrap();
        assert!(meta["dataSetRequestParameters"].get("destinationS3Prefix").is_none());
        assert_eq!(meta["customerDefinedValues"], serde_json::json!({"env": "local"}));
        assert!(!meta["dataSetS3Location"]["key"].as_str().unwrap().contains('/'));
    }

    #[test]
    fn notification_messages_and_sns_event() {
        let plan = ExportPlan::new("rid", request(), datetime!(2016-08-05 03:14:50 UTC), Duration::ZERO);
        let ok: serde_json::Value = serde_json::from_str(&plan.success_message().to_json()).unwrap();
        assert_eq!(
            ok,
            serde_json::json!({
                "dataSetS3Location": {"bucketName": "mybucket", "key": plan.data_set.key},
                "dataSetMetaDataS3Location": {"bucketName": "mybucket", "key": plan.metadata.key},
                "dataSetRequestId": "rid",
                "success": true
            })
        );
        let failed: serde_json::Value = serde_json::from_str(&plan.failure_message("boom").to_json()).unwrap();
        assert_eq!(failed, serde_json::json!({"dataSetRequestId": "rid", "success": false, "message": "boom"}));

        let msg = plan.success_message().to_json();
        let event = sns_event_json(&plan.request.sns_topic_arn, &msg, "mid", "sub", datetime!(2016-08-05 03:14:51 UTC));
        let typed: aws_lambda_events::sns::SnsEvent = serde_json::from_value(event.clone()).unwrap();
        assert_eq!(typed.records.len(), 1);
        let sns = &typed.records[0].sns;
        assert_eq!(sns.topic_arn, "arn:aws:sns:us-west-2:123456789012:mynotification");
        assert_eq!(sns.sns_message_type, "Notification");
        assert_eq!(sns.message, msg);
        assert_eq!(typed.records[0].event_source, "aws:sns");
        assert_eq!(event["Records"][0]["Sns"]["Timestamp"], "2016-08-05T03:14:51.000Z");
        assert!(event["Records"][0]["Sns"]["UnsubscribeUrl"].as_str().unwrap().starts_with("https://sns.us-west-2."));
    }
}
