//! Lambda's `Invoke` with `InvocationType: Event`, the one Lambda call
//! psc-bridge makes: an ingest that runs out of time goes on in a new
//! invocation of its own function ([`Continuation`]). REST-JSON
//! (`POST /2015-03-31/functions/{name}/invocations`, header
//! `X-Amz-Invocation-Type: Event`, answer 202), signed with `aws-sigv4`
//! (service `lambda`) through the SDK's HTTP connector ([`super::signed`]),
//! as EC2's and EventBridge's calls are: `aws-sdk-lambda` would bring its
//! 80-odd operations into every clean build for this one.
//!
//! The endpoint is `https://lambda.<region>.amazonaws.com` unless
//! `AWS_ENDPOINT_URL_LAMBDA` or `AWS_ENDPOINT_URL` is set (`cargo lambda
//! watch` serves the Invoke API locally). Throttling and 5xx answers are
//! retried here, three attempts with backoff: the export waits on this call.

use std::time::Duration;

use aws_config::SdkConfig;
use serde_json::Value;

use crate::aws::endpoint::endpoint_and_region;
use crate::aws::error::{AwsError, Failure};
use crate::aws::signed::{Request, SignedHttp, Signing, UNRESERVED};
use crate::ports::Continuation;
use crate::retry::{self, Backoff};

const SERVICE: &str = "Lambda";
const OPERATION: &str = "Invoke";
/// Three attempts: the export waits on this call.
const RETRY: Backoff = Backoff::new(2, Duration::from_millis(200), Duration::from_secs(2));

/// Asynchronous invokes of one function.
pub struct LambdaInvoker {
    http: SignedHttp,
    endpoint: String,
    region: String,
    function: String,
}

impl LambdaInvoker {
    /// Invokes `function` (a name or an ARN): usually this function's own,
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub fn new(sdk: &SdkConfig, function: impl Into<String>) -> Self {
        let (endpoint, region) = endpoint_and_region(sdk, "LAMBDA", "lambda");
        Self {
            http: SignedHttp::new(sdk, Duration::from_secs(2), Duration::from_secs(10), SERVICE, OPERATION),
            endpoint,
            region,
            function: function.into(),
        }
    }

    /// The function it invokes.
    pub fn function(&self) -> &str {
        &self.function
    }

    async fn invoke_once(&self, payload: &[u8]) -> Result<(), AwsError> {
        let url = format!("{}/2015-03-31/functions/{}/invocations", self.endpoint, encode(&self.function));
        let answer = self
            .http
            .send(Request {
                method: "POST",
                url: &url,
                headers: vec![
                    ("content-type", "application/json".to_owned()),
                    ("x-amz-invocation-type", "Event".to_owned()),
                ],
                body: payload.to_vec(),
                signing: Signing::SigV4 { service: "lambda", region: &self.region },
            })
            .await?;
        let error_type = answer.headers.get("x-amzn-errortype").and_then(|v| v.to_str().ok());
        check_answer(answer.status, error_type, &answer.body)
    }
}

impl Continuation for LambdaInvoker {
    async fn continue_later(&self, payload: &Value) -> Result<(), AwsError> {
        let body = payload.to_string().into_bytes();
        RETRY.run(retry::seed(), |e: &AwsError| e.retryable, || self.invoke_once(&body)).await.0
    }
}

/// An `Invoke` answer: 202 (queued) or 200 (`cargo lambda watch` runs the
/// invocation before it answers), or Lambda's error: its code in the
/// `x-amzn-errortype` header (`TooManyRequestsException:...`) or the body's
/// `__type`, its message in the body's `message`.
pub fn check_answer(status: u16, error_type: Option<&str>, body: &[u8]) -> Result<(), AwsError> {
    if (200..300).contains(&status) {
        return Ok(());
    }
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let code = error_type
        .map(|t| t.split(':').next().unwrap_or(t).trim().to_owned())
        .filter(|t| !t.is_empty())
        .or_else(|| v.get("__type").and_then(Value::as_str).map(|c| c.rsplit('#').next().unwrap_or(c).to_owned()));
    let message = v.get("message").or_else(|| v.get("Message")).and_then(Value::as_str).unwrap_or("");
    match code {
        Some(code) => Err(AwsError::service(SERVICE, OPERATION, &code, message, status)),
        None => Err(AwsError {
            status: Some(status),
            retryable: status >= 500 || status == 429,
            ..AwsError::local(SERVICE, OPERATION, Failure::BadResponse, format!("HTTP {status}: {message}"))
        }),
    }
}

/// A function name or ARN as a path segment (`:` of an ARN is kept: Lambda
/// takes it as is).
fn encode(s: &str) -> String {
    const FUNCTION: &percent_encoding::AsciiSet = &UNRESERVED.remove(b':');
    percent_encoding::utf8_percent_encode(s, FUNCTION).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_answer_of_an_asynchronous_invoke() {
        assert!(check_answer(202, None, b"").is_ok());
        let body = br#"{"Type":"User","message":"Rate exceeded"}"#;
        let e = check_answer(429, Some("TooManyRequestsException:http://internal.amazon.com/"), body).unwrap_err();
        assert!(e.has_code("TooManyRequestsException") && e.is_throttling() && e.retryable, "{e:?}");
        let denied = br#"{"Type":"User","message":"not authorized to perform: lambda:InvokeFunction"}"#;
        let e = check_answer(403, Some("AccessDeniedException"), denied).unwrap_err();
        assert!(e.has_code("AccessDeniedException") && !e.retryable, "{e:?}");
        let e = check_answer(404, None, br#"{"__type":"ResourceNotFoundException","message":"Function not found"}"#)
            .unwrap_err();
        assert!(e.has_code("ResourceNotFoundException") && !e.retryable, "{e:?}");
        let e = check_answer(502, None, b"<html>").unwrap_err();
        assert!(e.retryable && e.failure == Failure::BadResponse, "{e:?}");
    }

    #[test]
    fn names_the_function_in_the_path() {
        assert_eq!(encode("psc-bridge-IngestExportFunction-Ab1"), "psc-bridge-IngestExportFunction-Ab1");
        assert_eq!(encode("arn:aws:lambda:us-east-1:1:function:f"), "arn:aws:lambda:us-east-1:1:function:f");
        assert_eq!(encode("a b/c"), "a%20b%2Fc");
    }
}
