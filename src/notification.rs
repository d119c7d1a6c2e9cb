//! The CAS SNS notification and the export's metadata file.
//!
//! Both are parsed leniently (unknown fields ignored, `success` as a boolean
//! or its text) and rejected clearly: every error names the field at fault.
//! Neither document holds contact data, so field values may appear in errors.

use serde::Deserialize;
use serde_json::Value;

use crate::domain::Timestamp;
use crate::sync::Coverage;

/// Where CAS put an object.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct S3Location {
    pub bucket_name: String,
    pub key: String,
}

impl S3Location {
    pub fn uri(&self) -> String {
        format!("s3://{}/{}", self.bucket_name, self.key)
    }
}

/// A data set request id: used in table keys and logs, so its shape is checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if !s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            Ok(Self(s.to_owned()))
        } else {
            Err("dataSetRequestId must be 1-128 letters, digits, '-' or '_'".to_owned())
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What CAS told us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notification {
    Delivered { request_id: RequestId, data_set: S3Location, metadata: S3Location },
    Failed { request_id: Option<RequestId>, message: String },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DocumentError {
    #[error("the notification is not JSON: {0}")]
    NotJson(String),
    #[error("the notification lacks '{0}'")]
    MissingField(&'static str),
    #[error("the notification's '{field}' is invalid: {reason}")]
    InvalidField { field: &'static str, reason: String },
    #[error("the metadata file is invalid: {0}")]
    Metadata(String),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawNotification {
    data_set_s3_location: Option<S3Location>,
    data_set_meta_data_s3_location: Option<S3Location>,
    data_set_request_id: Option<String>,
    success: Option<Value>,
    message: Option<Value>,
}

/// Longest failure message kept; CAS's own text, shortened.
const MAX_MESSAGE: usize = 1024;

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// Parses the SNS `Message` string CAS publishes.
pub fn parse_notification(message: &str) -> Result<Notification, DocumentError> {
    let raw: RawNotification = serde_json::from_str(message)
        .map_err(|e| DocumentError::NotJson(format!("line {} column {}", e.line(), e.column())))?;
    let success = match raw.success {
        Some(Value::Bool(b)) => b,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
        Some(_) => {
            return Err(DocumentError::InvalidField { field: "success", reason: "must be true or false".into() });
        }
        None => return Err(DocumentError::MissingField("success")),
    };
    let request_id = raw
        .data_set_request_id
        .as_deref()
        .map(|s| {
            RequestId::parse(s).map_err(|reason| DocumentError::InvalidField { field: "dataSetRequestId", reason })
        })
        .transpose()?;
    if !success {
        let message = match raw.message {
            Some(Value::String(s)) if !s.trim().is_empty() => truncate(s.trim(), MAX_MESSAGE),
            Some(Value::Null) | None => "CAS reported a failure without a message".to_owned(),
            Some(other) => truncate(&other.to_string(), MAX_MESSAGE),
        };
        return Ok(Notification::Failed { request_id, message });
    }
    let request_id = request_id.ok_or(DocumentError::MissingField("dataSetRequestId"))?;
    let data_set = raw.data_set_s3_location.ok_or(DocumentError::MissingField("dataSetS3Location"))?;
    let metadata =
        raw.data_set_meta_data_s3_location.ok_or(DocumentError::MissingField("dataSetMetaDataS3Location"))?;
    for (field, loc) in [("dataSetS3Location", &data_set), ("dataSetMetaDataS3Location", &metadata)] {
        if loc.bucket_name.is_empty() || loc.key.is_empty() {
            return Err(DocumentError::InvalidField { field, reason: "bucketName and key must not be empty".into() });
        }
    }
    Ok(Notification::Delivered { request_id, data_set, metadata })
}

/// The metadata file beside each export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub request_id: RequestId,
    pub coverage: Coverage,
    pub data_set: Option<S3Location>,
    pub data_set_type: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMetadata {
    data_set_request_id: Option<String>,
    data_set_coverage_range: Option<RawRange>,
    data_set_s3_location: Option<S3Location>,
    data_set_request_parameters: Option<RawParams>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRange {
    start_date_time: Option<String>,
    end_date_time: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawParams {
    data_set_type: Option<String>,
}

pub fn parse_metadata(bytes: &[u8]) -> Result<Metadata, DocumentError> {
    let bad = |s: String| DocumentError::Metadata(s);
    let raw: RawMetadata = serde_json::from_slice(bytes)
        .map_err(|e| bad(format!("not JSON (line {} column {})", e.line(), e.column())))?;
    let request_id =
        RequestId::parse(raw.data_set_request_id.as_deref().ok_or_else(|| bad("lacks dataSetRequestId".into()))?)
            .map_err(bad)?;
    let range = raw.data_set_coverage_range.ok_or_else(|| bad("lacks dataSetCoverageRange".into()))?;
    let time = |name: &str, v: Option<String>| -> Result<Timestamp, DocumentError> {
        let v = v.ok_or_else(|| bad(format!("lacks dataSetCoverageRange.{name}")))?;
        Timestamp::parse(&v).map_err(|e| bad(format!("dataSetCoverageRange.{name} {e}")))
    };
    let start = time("startDateTime", range.start_date_time)?;
    let end = time("endDateTime", range.end_date_time)?;
    let coverage = Coverage::new(start, end).map_err(bad)?;
    Ok(Metadata {
        request_id,
        coverage,
        data_set: raw.data_set_s3_location,
        data_set_type: raw.data_set_request_parameters.and_then(|p| p.data_set_type),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_success_notification() {
        let n = parse_notification(
            r#"{"dataSetS3Location": {"bucketName": "demo-bucket", "key": "demo-prefix/x.csv"},
                "dataSetMetaDataS3Location": {"bucketName": "demo-bucket", "key": "demo-prefix/x.meta.json"},
                "dataSetRequestId": "f65b7244-6806-11e5-a6d8-fd5dbcaa74ab",
                "success": true}"#,
        )
        .unwrap();
        let Notification::Delivered { request_id, data_set, metadata } = n else { panic!("{n:?}") };
        assert_eq!(request_id.as_str(), "f65b7244-6806-11e5-a6d8-fd5dbcaa74ab");
        assert_eq!(data_set.uri(), "s3://demo-bucket/demo-prefix/x.csv");
        assert_eq!(metadata.key, "demo-prefix/x.meta.json");
    }

    #[test]
    fn failure_with_and_without_message_and_locations() {
        let n = parse_notification(r#"{"dataSetRequestId":"abc","success":false,"message":"Access denied to bucket"}"#)
            .unwrap();
        assert_eq!(
            n,
            Notification::Failed {
                request_id: Some(RequestId::parse("abc").unwrap()),
                message: "Access denied to bucket".into()
            }
        );
        let n = parse_notification(r#"{"success":"false"}"#).unwrap();
        assert_eq!(
            n,
            Notification::Failed { request_id: None, message: "CAS reported a failure without a message".into() }
        );
        let long = "x".repeat(5000);
        let Notification::Failed { message, .. } =
            parse_notification(&format!(r#"{{"success":false,"message":"{long}"}}"#)).unwrap()
        else {
            panic!()
        };
        assert_eq!(message.len(), 1024 + 3);
    }

    #[test]
    fn clear_errors_for_bad_notifications() {
        assert!(matches!(parse_notification("not json"), Err(DocumentError::NotJson(_))));
        assert_eq!(parse_notification(r#"{"dataSetRequestId":"a"}"#), Err(DocumentError::MissingField("success")));
        assert_eq!(
            parse_notification(r#"{"dataSetRequestId":"a","success":true}"#),
            Err(DocumentError::MissingField("dataSetS3Location"))
        );
        assert_eq!(
            parse_notification(r#"{"success":true,"dataSetS3Location":{"bucketName":"b","key":"k"}}"#),
            Err(DocumentError::MissingField("dataSetRequestId"))
        );
        let e = parse_notification(r#"{"dataSetRequestId":"a/../b","success":true}"#).unwrap_err();
        assert!(e.to_string().contains("dataSetRequestId"), "{e}");
        let e = parse_notification(r#"{"success":1}"#).unwrap_err();
        assert_eq!(e.to_string(), "the notification's 'success' is invalid: must be true or false");
    }

    #[test]
    fn metadata_from_the_guide_shape() {
        let m = parse_metadata(include_bytes!("../tests/fixtures/guide-sample.meta.json")).unwrap();
        assert_eq!(m.request_id.as_str(), "c3c84ee0-5aba-11e6-8d9c-235dc080841d");
        assert_eq!(m.coverage.start.to_iso(), "2010-01-01T00:00:00.000Z");
        assert_eq!(m.coverage.end.to_iso(), "2016-08-05T03:14:50.334Z");
        assert_eq!(m.data_set_type.as_deref(), Some("test_customer_support_contacts_data"));
    }

    #[test]
    fn the_guides_own_sample_range_ends_before_it_starts_and_is_refused() {
        let json = br#"{"dataSetRequestId": "c3c84ee0-5aba-11e6-8d9c-235dc080841d",
            "dataSetCoverageRange": {"startDateTime": "2016-08-18T00:00:00.000Z", "endDateTime": "2016-08-05T03:14:50.334Z"}}"#;
        let e = parse_metadata(json).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the metadata file is invalid: coverage ends (2016-08-05T03:14:50.334Z) before it starts (2016-08-18T00:00:00.000Z)"
        );
    }

    #[test]
    fn metadata_missing_parts() {
        assert!(parse_metadata(b"{}").unwrap_err().to_string().contains("lacks dataSetRequestId"));
        assert!(
            parse_metadata(br#"{"dataSetRequestId":"a"}"#)
                .unwrap_err()
                .to_string()
                .contains("lacks dataSetCoverageRange")
        );
        let e = parse_metadata(br#"{"dataSetRequestId":"a","dataSetCoverageRange":{"startDateTime":"x","endDateTime":"2016-08-05T03:14:50.334Z"}}"#)
            .unwrap_err();
        assert!(e.to_string().contains("startDateTime must be an ISO 8601"), "{e}");
    }
}
