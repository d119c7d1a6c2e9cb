//! The CAS notification and the export's metadata file
//! (`psc_bridge::notification`), both fed every input.
//!
//! * What parses is well formed: a request id of the allowed shape, bucket
//!   and key non-empty, a failure message within its bound, coverage that
//!   does not end before it starts.
//! * Written back as JSON, it parses to the same value.
//! * An error's text is bounded and never empty.

use psc_bridge::notification::{Metadata, Notification, S3Location, parse_metadata, parse_notification};
use serde_json::{Value, json};

pub fn check(data: &[u8]) {
    check_metadata(data);
    if let Ok(text) = std::str::from_utf8(data) {
        match parse_notification(text) {
            Ok(n) => {
                check_notification(&n);
                // A message cut at 1024 bytes ends in "...": cut again, it changes.
                if matches!(&n, Notification::Failed { message, .. } if message.len() > 1024) {
                    return;
                }
                let again = parse_notification(&notification_json(&n).to_string());
                assert_eq!(again.as_ref(), Ok(&n), "notification → JSON → notification changed it");
            }
            Err(e) => check_error(&e.to_string(), data),
        }
    }
}

fn check_metadata(data: &[u8]) {
    match parse_metadata(data) {
        Ok(m) => {
            assert!(m.coverage.start <= m.coverage.end, "coverage ends before it starts");
            let again = parse_metadata(metadata_json(&m).to_string().as_bytes());
            assert_eq!(again.as_ref(), Ok(&m), "metadata → JSON → metadata changed it");
        }
        Err(e) => check_error(&e.to_string(), data),
    }
}

fn check_error(text: &str, input: &[u8]) {
    assert!(!text.is_empty(), "an empty error");
    // Errors name a field and a rule; the longest value one quotes is a
    // request id (128) or a coverage time.
    assert!(text.len() <= 400 || text.len() < input.len(), "an error of {} bytes", text.len());
}

fn check_notification(n: &Notification) {
    let id_ok = |id: &str| {
        !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    match n {
        Notification::Delivered { request_id, data_set, metadata } => {
            assert!(id_ok(request_id.as_str()), "request id {request_id}");
            for loc in [data_set, metadata] {
                assert!(!loc.bucket_name.is_empty() && !loc.key.is_empty(), "an empty location");
            }
        }
        Notification::Failed { request_id, message } => {
            assert!(request_id.as_ref().is_none_or(|r| id_ok(r.as_str())));
            assert!(!message.is_empty() && message.len() <= 1024 + 3, "a message of {} bytes", message.len());
        }
    }
}

fn location(l: &S3Location) -> Value {
    json!({"bucketName": l.bucket_name, "key": l.key})
}

/// `n` as CAS would publish it.
pub fn notification_json(n: &Notification) -> Value {
    match n {
        Notification::Delivered { request_id, data_set, metadata } => json!({
            "dataSetRequestId": request_id.as_str(),
            "dataSetS3Location": location(data_set),
            "dataSetMetaDataS3Location": location(metadata),
            "success": true,
        }),
        Notification::Failed { request_id, message } => json!({
            "dataSetRequestId": request_id.as_ref().map(|r| r.as_str()),
            "success": false,
            "message": message,
        }),
    }
}

/// `m` as CAS writes it beside the export.
pub fn metadata_json(m: &Metadata) -> Value {
    json!({
        "dataSetRequestId": m.request_id.as_str(),
        "dataSetCoverageRange": {"startDateTime": m.coverage.start.to_iso(), "endDateTime": m.coverage.end.to_iso()},
        "dataSetS3Location": m.data_set.as_ref().map(location),
        "dataSetRequestParameters": {"dataSetType": m.data_set_type},
    })
}
