//! SigV4-signed HTTP requests for the AWS calls psc-bridge makes without an
//! SDK client: EC2's `ConfirmProductInstance` ([`super::ec2`]), and the `psc`
//! command line's calls to the eligibility API (`execute-api`), CloudFormation
//! and Lambda.
//!
//! Requests are signed with `aws-sigv4` using the credentials of the shared
//! [`SdkConfig`] (aws-config's chain), and sent through the HTTP connector the
//! SDK clients use (`aws-smithy-http-client`: hyper, rustls, connection pool,
//! connect and read timeouts). Unsigned requests (a local server, a bearer
//! token) go through the same connector.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorSettings, SharedHttpConnector};
use aws_smithy_runtime_api::client::identity::Identity;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;

use crate::aws::error::{AwsError, Failure};

/// How a request is authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing<'a> {
    /// SigV4 for `service` in `region`.
    SigV4 { service: &'a str, region: &'a str },
    /// Sent as it is (a local server, or a bearer token in the headers).
    None,
}

/// One request: method, URL, headers, body and how to sign it.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: Vec<(&'a str, String)>,
    pub body: Vec<u8>,
    pub signing: Signing<'a>,
}

/// An answer: status, headers and the whole body.
#[derive(Debug, Clone)]
pub struct SignedResponse {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

/// A signing HTTP client. `service` and `operation` name it in its errors.
pub struct SignedHttp {
    connector: SharedHttpConnector,
    credentials: Option<SharedCredentialsProvider>,
    cached: Mutex<Option<Credentials>>,
    attempt_timeout: Duration,
    service: &'static str,
    operation: &'static str,
}

impl SignedHttp {
    pub fn new(
        sdk: &SdkConfig,
        connect_timeout: Duration,
        attempt_timeout: Duration,
        service: &'static str,
        operation: &'static str,
    ) -> Self {
        let settings =
            HttpConnectorSettings::builder().connect_timeout(connect_timeout).read_timeout(attempt_timeout).build();
        let connector =
            aws_smithy_http_client::default_connector(&settings, aws_smithy_async::rt::sleep::default_async_sleep())
                .expect("aws-smithy-http-client is built with rustls-aws-lc, so it has a default connector");
        Self {
            connector,
            credentials: sdk.credentials_provider(),
            cached: Mutex::new(None),
            attempt_timeout,
            service,
            operation,
        }
    }

    fn error(&self, failure: Failure, message: String) -> AwsError {
        AwsError::local(self.service, self.operation, failure, message)
    }

    /// The credentials of the chain, reused until five minutes before they expire.
    pub async fn credentials(&self) -> Result<Credentials, AwsError> {
        let fresh = |c: &Credentials| c.expiry().is_none_or(|t| t > SystemTime::now() + Duration::from_secs(300));
        if let Some(c) = self.cached.lock().ok().and_then(|c| c.clone()).filter(fresh) {
            return Ok(c);
        }
        let provider = self
            .credentials
            .as_ref()
            .ok_or_else(|| self.error(Failure::BadRequest, "no AWS credentials are configured".into()))?;
        let creds = provider
            .provide_credentials()
            .await
            .map_err(|e| self.error(Failure::BadRequest, format!("no AWS credentials: {e}")))?;
        if let Ok(mut c) = self.cached.lock() {
            *c = Some(creds.clone());
        }
        Ok(creds)
    }

    /// Sends one request (no retry) and reads the whole answer.
    pub async fn send(&self, req: Request<'_>) -> Result<SignedResponse, AwsError> {
        let mut builder = http::Request::builder().method(req.method).uri(req.url);
        for (k, v) in &req.headers {
            builder = builder.header(*k, v.as_str());
        }
        let mut request = builder
            .body(req.body.clone())
            .map_err(|e| self.error(Failure::BadRequest, format!("bad request to {}: {e}", req.url)))?;
        if let Some(host) = request.uri().authority().map(|a| a.as_str().to_owned())
            && let Ok(v) = http::HeaderValue::from_str(&host)
        {
            request.headers_mut().insert(http::header::HOST, v);
        }
        if let Signing::SigV4 { service, region } = req.signing {
            let identity: Identity = self.credentials().await?.into();
            let params = v4::SigningParams::builder()
                .identity(&identity)
                .region(region)
                .name(service)
                .time(SystemTime::now())
                .settings(SigningSettings::default())
                .build()
                .map_err(|e| self.error(Failure::BadRequest, format!("signing: {e}")))?
                .into();
            let headers = request.headers().iter().filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)));
            let signable = SignableRequest::new(req.method, req.url, headers, SignableBody::Bytes(&req.body))
                .map_err(|e| self.error(Failure::BadRequest, format!("signing: {e}")))?;
            let (instructions, _) = sign(signable, &params)
                .map_err(|e| self.error(Failure::BadRequest, format!("signing: {e}")))?
                .into_parts();
            instructions.apply_to_request_http1x(&mut request);
        }
        let request = HttpRequest::try_from(request.map(SdkBody::from))
            .map_err(|e| self.error(Failure::BadRequest, format!("request: {e}")))?;
        let answer = tokio::time::timeout(self.attempt_timeout, async {
            let response = self.connector.call(request).await.map_err(|e| {
                let failure = if e.is_timeout() { Failure::Timeout } else { Failure::Unreachable };
                self.error(failure, format!("{e}"))
            })?;
            let status = response.status().as_u16();
            let mut headers = http::HeaderMap::new();
            for (k, v) in response.headers() {
                if let (Ok(k), Ok(v)) = (http::HeaderName::from_bytes(k.as_bytes()), http::HeaderValue::from_str(v)) {
                    headers.append(k, v);
                }
            }
            let bytes = ByteStream::new(response.into_body())
                .collect()
                .await
                .map_err(|e| self.error(Failure::BadResponse, format!("reading the answer: {e}")))?;
            Ok::<_, AwsError>(SignedResponse { status, headers, body: bytes.into_bytes().to_vec() })
        })
        .await;
        answer.unwrap_or_else(|_| Err(self.error(Failure::Timeout, "no answer in time".into())))
    }
}

/// RFC 3986's unreserved characters: kept as they are by
/// [`encode_component`], every other byte percent-encoded.
pub const UNRESERVED: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// A path segment, or a query or form value, percent-encoded.
pub fn encode_component(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, UNRESERVED).to_string()
}
