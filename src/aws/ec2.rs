//! EC2 `ConfirmProductInstance`, the one EC2 call psc-bridge makes, without
//! `aws-sdk-ec2` (the largest SDK crate: many minutes on every clean build).
//!
//! The request is the EC2 Query protocol: a form-encoded `POST /` with
//! `Action=ConfirmProductInstance&Version=2016-11-15`, signed with SigV4
//! (`aws-sigv4`, signing name `ec2`, the instance's region) with the
//! credentials of the shared [`SdkConfig`], and sent through the HTTP
//! connector the SDK clients use (`aws-smithy-http-client`: hyper, rustls,
//! connection pool, connect and read timeouts). The XML answer is read with
//! `aws-smithy-xml`, the SDK's own XML reader.
//!
//! The endpoint is `https://ec2.<region>.amazonaws.com` unless
//! `AWS_ENDPOINT_URL_EC2` or `AWS_ENDPOINT_URL` (or a profile's
//! `endpoint_url`) is set, like every other client. Throttling
//! (`RequestLimitExceeded`), 5xx and timeouts are retried a few times with
//! backoff; what still fails is an [`AwsError`] with EC2's code.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_smithy_xml::decode::{Document, ScopedDecoder, try_data};

use crate::aws::endpoint::{aws_endpoint, endpoint_override};
use crate::aws::error::{AwsError, Failure};
use crate::aws::signed::{Request, SignedHttp, Signing};
use crate::domain::{AwsAccountId, ProductCode};
use crate::entitlement::{InstanceCheck, InstanceId, Region};
use crate::ports::InstanceConfirmer;
use crate::retry::{self, Backoff};

const SERVICE: &str = "EC2";
const OPERATION: &str = "ConfirmProductInstance";
/// EC2's error code for an instance id unknown in the region.
pub const INSTANCE_NOT_FOUND: &str = "InvalidInstanceID.NotFound";
/// The IAM action the caller needs (named in the log line when EC2 refuses).
pub const PERMISSION: &str = "ec2:ConfirmProductInstance";

/// How the client retries and how long it waits.
#[derive(Debug, Clone, Copy)]
pub struct Ec2Settings {
    /// Retries of a throttled, failed (5xx) or timed-out call.
    pub retry: Backoff,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Time for one attempt's whole answer.
    pub attempt_timeout: Duration,
}

impl Default for Ec2Settings {
    fn default() -> Self {
        Self {
            retry: Backoff::new(2, Duration::from_millis(100), Duration::from_secs(1)),
            connect_timeout: Duration::from_secs(2),
            attempt_timeout: Duration::from_secs(3),
        }
    }
}

/// The EC2 Query client of `ConfirmProductInstance`.
pub struct Ec2Client {
    http: SignedHttp,
    endpoint: Option<String>,
    settings: Ec2Settings,
}

impl Ec2Client {
    /// Credentials and endpoint override from `sdk`, default settings.
    pub fn new(sdk: &SdkConfig) -> Self {
        Self::with_settings(sdk, Ec2Settings::default())
    }

    pub fn with_settings(sdk: &SdkConfig, settings: Ec2Settings) -> Self {
        let endpoint = endpoint_override(Some(sdk), "EC2");
        let http = SignedHttp::new(sdk, settings.connect_timeout, settings.attempt_timeout, SERVICE, OPERATION);
        Self { http, endpoint, settings }
    }

    /// Sends every request to `url` instead (a local stand-in).
    pub fn with_endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// The endpoint for `region`.
    pub fn endpoint_for(&self, region: &Region) -> String {
        match &self.endpoint {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => aws_endpoint("ec2", region.as_str()),
        }
    }

    /// One signed request, its status and body.
    async fn attempt(&self, region: &Region, body: &str) -> Result<(u16, Vec<u8>), AwsError> {
        let url = format!("{}/", self.endpoint_for(region));
        let answer = self
            .http
            .send(Request {
                method: "POST",
                url: &url,
                headers: vec![("content-type", "application/x-www-form-urlencoded; charset=utf-8".to_owned())],
                body: body.as_bytes().to_vec(),
                signing: Signing::SigV4 { service: "ec2", region: region.as_str() },
            })
            .await?;
        Ok((answer.status, answer.body))
    }
}

impl InstanceConfirmer for Ec2Client {
    async fn confirm_product_instance(
        &self,
        region: &Region,
        instance: &InstanceId,
        product: &ProductCode,
    ) -> Result<InstanceCheck, AwsError> {
        let body = format!(
            "Action=ConfirmProductInstance&Version=2016-11-15&InstanceId={}&ProductCode={}",
            instance.as_str(),
            product.as_str()
        );
        let attempt = || async {
            let (status, bytes) = self.attempt(region, &body).await?;
            parse_answer(status, &bytes)
        };
        let (result, _) = self.settings.retry.run(retry::seed(), |e: &AwsError| e.retryable, attempt).await;
        match result {
            Err(e) if e.has_code(INSTANCE_NOT_FOUND) => Ok(InstanceCheck::NotFound),
            other => other,
        }
    }
}

/// EC2's answer: `ConfirmProductInstanceResponse` with `return` and
/// `ownerId`, or an error document `Response/Errors/Error/{Code,Message}`.
pub fn parse_answer(status: u16, body: &[u8]) -> Result<InstanceCheck, AwsError> {
    let bad = |why: &str| AwsError {
        status: Some(status),
        ..AwsError::local(SERVICE, OPERATION, Failure::BadResponse, why.to_owned())
    };
    if (200..300).contains(&status) {
        let text = std::str::from_utf8(body).map_err(|_| bad("the answer is not UTF-8"))?;
        let mut doc = Document::new(text);
        let mut root = doc.root_element().map_err(|_| bad("the answer is not XML"))?;
        if !root.start_el().matches("ConfirmProductInstanceResponse") {
            return Err(bad("the answer is not a ConfirmProductInstanceResponse"));
        }
        let (mut ret, mut owner) = (None, None);
        while let Some(mut tag) = root.next_tag() {
            if tag.start_el().matches("return") {
                ret = Some(text_of(&mut tag) == "true");
            } else if tag.start_el().matches("ownerId") {
                owner = AwsAccountId::parse(&text_of(&mut tag)).ok();
            }
        }
        let product_running = ret.ok_or_else(|| bad("the answer has no <return>"))?;
        return Ok(InstanceCheck::Found { product_running, owner });
    }
    // Any other status is judged by EC2's code, or by the status itself when
    // the body has none (or an empty one) or is no XML at all (a proxy's or load balancer's
    // page): a 5xx stays retryable, a 4xx does not.
    let (code, message) = std::str::from_utf8(body).map(error_of).unwrap_or_default();
    let code = code.filter(|c| !c.is_empty()).unwrap_or_else(|| format!("HTTP{status}"));
    Err(AwsError::service(SERVICE, OPERATION, &code, message.as_deref().unwrap_or(""), status))
}

/// `Code` and `Message` of EC2's error document `Response/Errors/Error`.
fn error_of(text: &str) -> (Option<String>, Option<String>) {
    let (mut code, mut message) = (None, None);
    let mut doc = Document::new(text);
    let Ok(mut root) = doc.root_element() else { return (code, message) };
    while let Some(mut errors) = root.next_tag() {
        if !errors.start_el().matches("Errors") {
            continue;
        }
        while let Some(mut error) = errors.next_tag() {
            while let Some(mut field) = error.next_tag() {
                if field.start_el().matches("Code") {
                    code = Some(text_of(&mut field));
                } else if field.start_el().matches("Message") {
                    message = Some(text_of(&mut field));
                }
            }
        }
    }
    (code, message)
}

fn text_of(tag: &mut ScopedDecoder<'_, '_>) -> String {
    try_data(tag).map(|s| s.trim().to_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_true_false_and_the_owner() {
        let ok = br#"<?xml version="1.0" encoding="UTF-8"?>
<ConfirmProductInstanceResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>59dbff89-35bd-4eac-99ed-be587EXAMPLE</requestId>
  <return>true</return>
  <ownerId>000011112222</ownerId>
</ConfirmProductInstanceResponse>"#;
        assert_eq!(
            parse_answer(200, ok).unwrap(),
            InstanceCheck::Found { product_running: true, owner: Some(AwsAccountId::parse("000011112222").unwrap()) }
        );
        let no = br#"<ConfirmProductInstanceResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>x</requestId><return>false</return></ConfirmProductInstanceResponse>"#;
        assert_eq!(parse_answer(200, no).unwrap(), InstanceCheck::Found { product_running: false, owner: None });
    }

    #[test]
    fn reads_ec2_errors_and_refuses_garbage() {
        let throttled = br#"<?xml version="1.0" encoding="UTF-8"?>
<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>r</RequestID></Response>"#;
        let e = parse_answer(503, throttled).unwrap_err();
        assert!(e.has_code("RequestLimitExceeded") && e.is_throttling() && e.retryable);
        assert_eq!(e.message.as_deref(), Some("Request limit exceeded."));
        let denied = br#"<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors><RequestID>r</RequestID></Response>"#;
        let e = parse_answer(403, denied).unwrap_err();
        assert!(e.has_code("UnauthorizedOperation") && !e.retryable);
        let e = parse_answer(502, b"<html>bad gateway</html>").unwrap_err();
        assert_eq!((e.code(), e.status, e.retryable), (Some("HTTP502"), Some(502), true));
        let e = parse_answer(200, b"not xml").unwrap_err();
        assert_eq!(e.failure, Failure::BadResponse);
        let e = parse_answer(200, b"\xff").unwrap_err();
        assert_eq!(e.failure, Failure::BadResponse);
        let e = parse_answer(200, b"<ConfirmProductInstanceResponse></ConfirmProductInstanceResponse>").unwrap_err();
        assert_eq!(e.failure, Failure::BadResponse);
    }

    /// Found by fuzzing (fuzz/regressions/ec2_answer/): a non-2xx answer
    /// whose body is not UTF-8 or not XML (a proxy's page, an empty 503) was a
    /// code-less BadResponse, retried even for a 4xx; an unreadable `Code`
    /// was an empty code. Both are judged by the status, as an XML body
    /// without a code always was.
    #[test]
    fn a_non_2xx_answer_without_xml_is_judged_by_its_status() {
        let empty_code = b"<Response><Errors><Error><Code><x/></Code></Error></Errors></Response>";
        for (status, body) in
            [(503, &b""[..]), (502, b"Bad Gateway"), (400, b"<Response>\x99</Response>"), (503, empty_code)]
        {
            let e = parse_answer(status, body).unwrap_err();
            assert_eq!(e.failure, Failure::Service, "{status}");
            assert_eq!(e.code(), Some(format!("HTTP{status}").as_str()));
            assert_eq!(e.retryable, status >= 500, "{status}");
        }
    }
}
