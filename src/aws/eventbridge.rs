//! EventBridge `PutEvents`, the one EventBridge call psc-bridge makes, as an
//! [`EventBus`]: AWS JSON 1.1 (`X-Amz-Target: AWSEvents.PutEvents`), signed
//! with `aws-sigv4` (service `events`) and sent through the SDK's HTTP
//! connector ([`super::signed`]), like EC2's `ConfirmProductInstance`. No
//! `aws-sdk-eventbridge`: for one operation it would add its 114 to every
//! clean build. Retries are the caller's (contact-events retries refused
//! entries and failed calls alike).
//!
//! The endpoint is `https://events.<region>.amazonaws.com` unless
//! `AWS_ENDPOINT_URL_EVENTBRIDGE` or `AWS_ENDPOINT_URL` is set.

use std::time::Duration;

use aws_config::SdkConfig;
use serde_json::{Value, json};

use crate::aws::endpoint::endpoint_and_region;
use crate::aws::error::{AwsError, Failure};
use crate::aws::signed::{Request, SignedHttp, Signing};
use crate::ports::{BusEvent, EventBus};

const SERVICE: &str = "EventBridge";
const OPERATION: &str = "PutEvents";

/// `PutEvents` to one bus.
pub struct EventBridgeBus {
    http: SignedHttp,
    endpoint: String,
    region: String,
    bus_name: String,
}

impl EventBridgeBus {
    pub fn new(sdk: &SdkConfig, bus_name: impl Into<String>) -> Self {
        let (endpoint, region) = endpoint_and_region(sdk, "EVENTBRIDGE", "events");
        Self {
            http: SignedHttp::new(sdk, Duration::from_secs(2), Duration::from_secs(10), SERVICE, OPERATION),
            endpoint,
            region,
            bus_name: bus_name.into(),
        }
    }
}

impl EventBus for EventBridgeBus {
    async fn put_events(&self, events: &[BusEvent]) -> Result<Vec<Option<String>>, AwsError> {
        let entries: Vec<Value> = events
            .iter()
            .map(|e| {
                let mut entry = json!({
                    "Source": e.source,
                    "DetailType": e.detail_type,
                    "Detail": e.detail,
                    "EventBusName": self.bus_name,
                });
                if let Some(t) = e.time {
                    entry["Time"] = json!(t.unix_seconds());
                }
                entry
            })
            .collect();
        let url = format!("{}/", self.endpoint);
        let answer = self
            .http
            .send(Request {
                method: "POST",
                url: &url,
                headers: vec![
                    ("content-type", "application/x-amz-json-1.1".to_owned()),
                    ("x-amz-target", "AWSEvents.PutEvents".to_owned()),
                ],
                body: json!({ "Entries": entries }).to_string().into_bytes(),
                signing: Signing::SigV4 { service: "events", region: &self.region },
            })
            .await?;
        parse_answer(answer.status, &answer.body, events.len())
    }
}

/// `PutEvents`' answer: one outcome per entry, or the call's error.
pub fn parse_answer(status: u16, body: &[u8], sent: usize) -> Result<Vec<Option<String>>, AwsError> {
    let v: Value = serde_json::from_slice(body).map_err(|_| AwsError {
        status: Some(status),
        ..AwsError::local(SERVICE, OPERATION, Failure::BadResponse, "the answer is not JSON".into())
    })?;
    if !(200..300).contains(&status) {
        let code = v.get("__type").and_then(Value::as_str).unwrap_or("UnknownError");
        let code = code.rsplit('#').next().unwrap_or(code);
        let message = v.get("message").or_else(|| v.get("Message")).and_then(Value::as_str).unwrap_or("");
        return Err(AwsError::service(SERVICE, OPERATION, code, message, status));
    }
    let entries = v.get("Entries").and_then(Value::as_array).cloned().unwrap_or_default();
    if entries.len() != sent {
        return Err(AwsError {
            status: Some(status),
            ..AwsError::local(
                SERVICE,
                OPERATION,
                Failure::BadResponse,
                format!("{} entries answered for {sent} sent", entries.len()),
            )
        });
    }
    Ok(entries
        .iter()
        .map(|e| e.get("ErrorCode").and_then(Value::as_str).filter(|c| !c.is_empty()).map(str::to_owned))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_entrys_outcome_and_the_calls_errors() {
        let ok = br#"{"FailedEntryCount":1,"Entries":[{"EventId":"a"},{"ErrorCode":"InternalFailure","ErrorMessage":"x"},{"EventId":"c"}]}"#;
        assert_eq!(parse_answer(200, ok, 3).unwrap(), vec![None, Some("InternalFailure".to_owned()), None]);
        let throttled = br#"{"__type":"com.amazonaws.events#ThrottlingException","message":"Rate exceeded"}"#;
        let e = parse_answer(400, throttled, 1).unwrap_err();
        assert!(e.has_code("ThrottlingException") && e.is_throttling() && e.retryable);
        let e = parse_answer(200, br#"{"Entries":[]}"#, 2).unwrap_err();
        assert_eq!(e.failure, Failure::BadResponse);
        assert!(parse_answer(502, b"<html>", 1).is_err());
    }
}
