//! The contact write ([`ContactStore::apply`](crate::ports::ContactStore)):
//! one conditional `PutItem` sent without the SDK client's orchestrator.
//!
//! The ingest makes one such call per row, and at that rate the SDK's
//! per-request machinery (orchestrator, interceptors, endpoint resolution,
//! retry strategy, the `HashMap` items of its serialiser) was most of the
//! client's CPU (docs/benchmarks-ingest.md). This is the same call on
//! DynamoDB's own wire protocol, JSON 1.0: `POST /` with
//! `X-Amz-Target: DynamoDB_20120810.PutItem`, the body written by
//! `serde_json` straight from the record (the layout of
//! [`contact_attributes`]), signed with SigV4 (service `dynamodb`) by
//! [`Signer`], which signs this one request shape as `aws-sigv4` would,
//! with a signing key kept for the day.
//!
//! It goes out on its own keep-alive connections ([`Conns`]: hyper's
//! HTTP/1.1 client connection, rustls as in the SDK's default client),
//! not through the SDK's HTTP client, whose adapter and pool were a fifth
//! of the client's CPU per row. Everything else is the SDK client's own, so
//! that the write goes where and as the SDK's would: its endpoint, runtime
//! components and credentials (its identity resolver and identity cache),
//! learnt once from a `PutItem` the SDK prepares but never sends
//! ([`SdkParts::resolve`]); its region; its connect, read, attempt and
//! operation timeouts; its retries (the `RetryConfig`'s attempts and
//! backoff, for the faults [`AwsError::is_transient`] names). An HTTP
//! client set on the SDK client (`http_client`) carries this write too
//! ([`Transport::Sdk`]).
//! Answers map to the [`AwsError`] the SDK path made: the error code
//! (`__type` after its `#`), the message, the HTTP status.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sdk_dynamodb::Client;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::auth::AuthSchemeId;
use aws_smithy_runtime_api::client::http::{HttpClient, HttpConnector, HttpConnectorSettings, SharedHttpConnector};
use aws_smithy_runtime_api::client::identity::{Identity, ResolveCachedIdentity, SharedIdentityResolver};
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::{GetIdentityResolver, RuntimeComponents};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::byte_stream::ByteStream;
use aws_smithy_types::config_bag::ConfigBag;
use aws_smithy_types::retry::RetryConfig;
use bytes::Bytes;
use http_body_util::Full;
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use super::conn::{self, Conns};
use super::item::{contact_attributes, s};
use super::sigv4::{self, CONTENT_TYPE, Signer};
use crate::aws::error::{AwsError, Failure};
use crate::domain::ContactRecord;
use crate::retry::{self, Backoff};

const SERVICE: &str = "DynamoDB";
const OPERATION: &str = "PutItem";
const TARGET: &str = "DynamoDB_20120810.PutItem";
/// Room for a contact's `PutItem` body in one allocation.
const BODY_CAPACITY: usize = 1024;
/// The SDK's connect timeout when the client sets none.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_millis(3100);

/// Write units one `PutItem` consumed, as DynamoDB reported them
/// (`ReturnConsumedCapacity=INDEXES`): in all, and the table's own.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WriteUnits {
    pub all: f64,
    pub table: f64,
}

/// The contact write's client: built from the SDK client's configuration.
pub(super) struct PutClient {
    client: Client,
    /// What the SDK resolved for this client, learnt once.
    sdk: tokio::sync::OnceCell<SdkParts>,
    /// The last identity of the SDK's identity cache, while fresh.
    identity: Mutex<Option<Identity>>,
    signer: Signer,
    connect_timeout: Duration,
    read_timeout: Option<Duration>,
    retry: Backoff,
    attempt_timeout: Option<Duration>,
    operation_timeout: Option<Duration>,
}

/// The parts of the SDK client the contact write uses.
struct SdkParts {
    endpoint: Endpoint,
    /// The client's runtime components, as the SDK built them for a `PutItem`.
    components: RuntimeComponents,
    /// The SigV4 identity resolver (the client's credentials provider).
    credentials: SharedIdentityResolver,
    transport: Transport,
}

/// How the contact write's requests travel.
enum Transport {
    /// Its own keep-alive connections: where the SDK client has its
    /// default HTTP client.
    Own(Conns),
    /// The HTTP client set on the SDK client (`http_client`: a test's fake,
    /// a proxy's or a custom TLS set-up), sent as the SDK would, to this URI.
    Sdk { connector: SharedHttpConnector, uri: http::Uri },
}

impl Transport {
    /// Sends `request` (its URI a path) and reads its answer: the status,
    /// `X-Amzn-ErrorType` and body.
    async fn send(&self, request: http::Request<Bytes>) -> Result<(u16, Option<String>, Bytes), AwsError> {
        let failed =
            |failure, status, why: String| AwsError { status, ..AwsError::local(SERVICE, OPERATION, failure, why) };
        let error_type =
            |h: &http::HeaderMap| h.get("x-amzn-errortype").and_then(|v| v.to_str().ok()).map(str::to_owned);
        match self {
            Self::Own(conns) => {
                let (parts, bytes) = conns.send(request.map(Full::new)).await.map_err(|e| {
                    let (failure, status) = match e {
                        conn::Error::Connect { .. } | conn::Error::Exchange(_) => (Failure::Unreachable, None),
                        conn::Error::ReadTimeout(_) => (Failure::Timeout, None),
                        conn::Error::Body { status, .. } => (Failure::BadResponse, Some(status)),
                    };
                    failed(failure, status, e.to_string())
                })?;
                Ok((parts.status.as_u16(), error_type(&parts.headers), bytes))
            }
            Self::Sdk { connector, uri } => {
                let (mut parts, body) = request.into_parts();
                parts.uri = uri.clone();
                let request = HttpRequest::try_from(http::Request::from_parts(parts, SdkBody::from(body)))
                    .map_err(|e| failed(Failure::BadRequest, None, e.to_string()))?;
                let response = connector.call(request).await.map_err(|e| {
                    let failure = if e.is_timeout() { Failure::Timeout } else { Failure::Unreachable };
                    failed(failure, None, e.to_string())
                })?;
                let status = response.status().as_u16();
                let error_type = response.headers().get("x-amzn-errortype").map(str::to_owned);
                let bytes = ByteStream::new(response.into_body())
                    .collect()
                    .await
                    .map_err(|e| failed(Failure::BadResponse, Some(status), format!("reading the answer: {e}")))?;
                Ok((status, error_type, bytes.into_bytes()))
            }
        }
    }
}

impl PutClient {
    pub fn new(client: &Client) -> Self {
        let conf = client.config();
        let timeouts = conf.timeout_config();
        // The SDK's own default when the client sets none: standard, 3 attempts.
        let retries = conf.retry_config().cloned().unwrap_or_else(RetryConfig::standard);
        Self {
            client: client.clone(),
            sdk: tokio::sync::OnceCell::new(),
            identity: Mutex::new(None),
            signer: Signer::new(conf.region().map_or(crate::aws::endpoint::DEFAULT_REGION, |r| r.as_ref())),
            connect_timeout: timeouts.and_then(|t| t.connect_timeout()).unwrap_or(DEFAULT_CONNECT_TIMEOUT),
            read_timeout: timeouts.and_then(|t| t.read_timeout()),
            retry: Backoff::new(
                retries.max_attempts().saturating_sub(1),
                retries.initial_backoff(),
                retries.max_backoff(),
            ),
            attempt_timeout: timeouts.and_then(|t| t.operation_attempt_timeout()),
            operation_timeout: timeouts.and_then(|t| t.operation_timeout()),
        }
    }

    async fn sdk(&self, table: &str) -> Result<&SdkParts, AwsError> {
        self.sdk
            .get_or_try_init(|| SdkParts::resolve(&self.client, table, (self.connect_timeout, self.read_timeout)))
            .await
    }

    /// Puts the item of `rec` into `table` if it is newer (`condition`,
    /// with `:t` the record's operation time and `:rid` the export), with
    /// the client's retries and timeouts. The write units it consumed, or
    /// the error that stopped it (a false condition is
    /// `ConditionalCheckFailedException`, as from the SDK).
    pub async fn put(
        &self,
        table: &str,
        rec: &ContactRecord,
        request_id: &str,
        condition: &str,
    ) -> Result<WriteUnits, AwsError> {
        let sdk = self.sdk(table).await?;
        let time = rec.operation_time.to_iso();
        let body = PutBody {
            table,
            item: ItemJson(rec, request_id),
            condition,
            values: Values { t: S { s: &time }, rid: S { s: request_id } },
            consumed: "INDEXES",
        };
        // A contact's body is 0.6-1 KB: one allocation, not the doublings of an empty Vec.
        let mut buf = Vec::with_capacity(BODY_CAPACITY);
        serde_json::to_writer(&mut buf, &body)
            .map_err(|e| AwsError::local(SERVICE, OPERATION, Failure::BadRequest, format!("request body: {e}")))?;
        let body = Bytes::from(buf);
        let attempts = self.retry.run(retry::seed(), AwsError::is_transient, || self.attempt(sdk, &body));
        match self.operation_timeout {
            Some(limit) => tokio::time::timeout(limit, attempts).await.map(|(r, _)| r).unwrap_or_else(|_| {
                Err(AwsError::local(SERVICE, OPERATION, Failure::Timeout, "operation timed out".into()))
            }),
            None => attempts.await.0,
        }
    }

    /// Resolves the endpoint and opens a connection to it (a `DescribeTable`
    /// of `table` on the same path): the first writes do not pay for the
    /// TLS handshake. Errors are ignored: this is a warm-up.
    pub async fn warm_up(&self, table: &str) {
        let Ok(sdk) = self.sdk(table).await else { return };
        let body = Bytes::from(serde_json::json!({ "TableName": table }).to_string());
        let _ = self.exchange(sdk, "DynamoDB_20120810.DescribeTable", &body).await;
    }

    /// One signed attempt and its answer.
    async fn attempt(&self, sdk: &SdkParts, body: &Bytes) -> Result<WriteUnits, AwsError> {
        let (status, error_type, answer) = self.exchange(sdk, TARGET, body).await?;
        parse_answer(status, error_type.as_deref(), &answer)
    }

    /// One signed request of `target`, within the attempt timeout: the
    /// answer's status, `X-Amzn-ErrorType` and body.
    async fn exchange(
        &self,
        sdk: &SdkParts,
        target: &str,
        body: &Bytes,
    ) -> Result<(u16, Option<String>, Bytes), AwsError> {
        let request = self.signed_request(sdk, target, body).await?;
        let exchange = sdk.transport.send(request);
        match self.attempt_timeout {
            Some(limit) => tokio::time::timeout(limit, exchange).await.unwrap_or_else(|_| {
                Err(AwsError::local(SERVICE, OPERATION, Failure::Timeout, "attempt timed out".into()))
            }),
            None => exchange.await,
        }
    }

    /// The request, signed now ([`Signer`]: SigV4, `dynamodb`, the client's
    /// region).
    async fn signed_request(
        &self,
        sdk: &SdkParts,
        target: &str,
        body: &Bytes,
    ) -> Result<http::Request<Bytes>, AwsError> {
        let bad = |e: &dyn std::fmt::Display| AwsError::local(SERVICE, OPERATION, Failure::BadRequest, format!("{e}"));
        let endpoint = &sdk.endpoint;
        let identity = self.identity(sdk).await?;
        let credentials = identity
            .data::<Credentials>()
            .ok_or_else(|| bad(&"the DynamoDB client's identity is not AWS credentials"))?;
        let signature =
            self.signer.sign(credentials, &endpoint.host, endpoint.uri.path(), target, body, SystemTime::now());
        let mut request = http::Request::post(endpoint.uri.path())
            .header("host", &endpoint.host)
            .header("content-type", CONTENT_TYPE)
            .header("x-amz-target", target)
            .header("x-amz-date", signature.amz_date)
            .header("authorization", signature.authorization);
        if let Some(token) = signature.token {
            request = request.header("x-amz-security-token", token);
        }
        request.body(body.clone()).map_err(|e| bad(&e))
    }
}

impl PutClient {
    /// The client's credentials: from the SDK's identity cache, kept here
    /// until five minutes before they expire.
    async fn identity(&self, sdk: &SdkParts) -> Result<Identity, AwsError> {
        let fresh = |i: &Identity| i.expiration().is_none_or(|t| t > SystemTime::now() + Duration::from_secs(300));
        if let Some(i) = self.identity.lock().ok().and_then(|i| i.clone()).filter(fresh) {
            return Ok(i);
        }
        let bag = ConfigBag::base();
        let identity = sdk
            .components
            .identity_cache()
            .resolve_cached_identity(sdk.credentials.clone(), &sdk.components, &bag)
            .await
            .map_err(|e| {
                AwsError::local(SERVICE, OPERATION, Failure::BadRequest, format!("no AWS credentials: {e}"))
            })?;
        if let Ok(mut i) = self.identity.lock() {
            *i = Some(identity.clone());
        }
        Ok(identity)
    }
}

impl SdkParts {
    /// The endpoint and credentials the SDK client would use for this
    /// table's `PutItem` (its endpoint URL override, else AWS's endpoint for
    /// its region, as the SDK's own rules resolve it), learnt from a
    /// `PutItem` that the SDK prepares but never sends ([`SeenBySdk`] stops
    /// it before it is signed); connections to that endpoint.
    async fn resolve(client: &Client, table: &str, timeouts: (Duration, Option<Duration>)) -> Result<Self, AwsError> {
        let seen = Arc::new(OnceLock::new());
        let dry = client
            .put_item()
            .table_name(table)
            .item("pk", s("endpoint"))
            .customize()
            .interceptor(SeenBySdk(seen.clone()))
            .send()
            .await;
        let Some((uri, components)) = seen.get() else {
            return Err(match dry {
                Err(e) => AwsError::from_sdk(SERVICE, OPERATION, &e),
                Ok(_) => AwsError::local(SERVICE, OPERATION, Failure::BadRequest, "no endpoint resolved".into()),
            });
        };
        let bad = |why: String| AwsError::local(SERVICE, OPERATION, Failure::BadRequest, why);
        let credentials = components
            .identity_resolver(AuthSchemeId::new("sigv4"))
            .ok_or_else(|| bad("the DynamoDB client has no SigV4 credentials".into()))?;
        let endpoint = Endpoint::of(uri)?;
        let transport = match client.config().http_client() {
            Some(http) => {
                let mut settings = HttpConnectorSettings::builder().connect_timeout(timeouts.0);
                settings.set_read_timeout(timeouts.1);
                Transport::Sdk {
                    connector: http.http_connector(&settings.build(), components),
                    uri: endpoint.uri.clone(),
                }
            }
            None => Transport::Own(Conns::new(endpoint.origin(), (Some(timeouts.0), timeouts.1), None).map_err(bad)?),
        };
        Ok(Self { endpoint, components: components.clone(), credentials, transport })
    }
}

/// Where the writes go: the URI of the `POST` and its `Host`.
#[derive(Debug, Clone)]
struct Endpoint {
    uri: http::Uri,
    host: String,
}

impl Endpoint {
    /// The endpoint of `uri`, the URI of the SDK's request. Its path must be
    /// plain ([`sigv4::is_plain_path`]), as DynamoDB's endpoints are.
    fn of(uri: &str) -> Result<Self, AwsError> {
        let bad = |why: String| AwsError::local(SERVICE, OPERATION, Failure::BadRequest, why);
        let parsed: http::Uri = uri.parse().map_err(|e| bad(format!("endpoint {uri}: {e}")))?;
        let host = parsed
            .authority()
            .map(|a| a.as_str().to_owned())
            .ok_or_else(|| bad(format!("endpoint {uri} has no host")))?;
        let scheme = parsed.scheme_str().unwrap_or("https");
        let path = match parsed.path() {
            "" => "/",
            p => p,
        };
        if !sigv4::is_plain_path(path) {
            return Err(bad(format!(
                "endpoint {uri}: the contact write signs paths of letters, digits, '-', '_', '~' and '/' only"
            )));
        }
        let url = format!("{scheme}://{host}{path}");
        let uri = url.parse().map_err(|e| bad(format!("endpoint {url}: {e}")))?;
        Ok(Self { uri, host })
    }

    /// `scheme://host[:port]/`: what a connection dials.
    fn origin(&self) -> http::Uri {
        let mut parts = http::uri::Parts::default();
        parts.scheme = self.uri.scheme().cloned();
        parts.authority = self.uri.authority().cloned();
        parts.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
        http::Uri::from_parts(parts).expect("a scheme, an authority and a path make a URI")
    }
}

/// Notes the URI of a request about to be signed, and the runtime
/// components of the client, and stops the request there.
#[derive(Debug)]
struct SeenBySdk(Arc<OnceLock<(String, RuntimeComponents)>>);

impl Intercept for SeenBySdk {
    fn name(&self) -> &'static str {
        "psc-bridge: endpoint of the contact write"
    }

    fn read_before_signing(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        components: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let _ = self.0.set((context.request().uri().to_owned(), components.clone()));
        Err("the endpoint is known; this request is not sent".into())
    }
}

/// The JSON of the conditional `PutItem` of one contact.
#[derive(Serialize)]
struct PutBody<'a> {
    #[serde(rename = "TableName")]
    table: &'a str,
    #[serde(rename = "Item")]
    item: ItemJson<'a>,
    #[serde(rename = "ConditionExpression")]
    condition: &'a str,
    #[serde(rename = "ExpressionAttributeValues")]
    values: Values<'a>,
    #[serde(rename = "ReturnConsumedCapacity")]
    consumed: &'static str,
}

/// A string attribute value, `{"S": "..."}`.
#[derive(Serialize)]
struct S<'a> {
    #[serde(rename = "S")]
    s: &'a str,
}

/// The condition's values: the record's operation time and the export.
#[derive(Serialize)]
struct Values<'a> {
    #[serde(rename = ":t")]
    t: S<'a>,
    #[serde(rename = ":rid")]
    rid: S<'a>,
}

/// The contact item ([`contact_attributes`]) as a JSON object of `S` values.
struct ItemJson<'a>(&'a ContactRecord, &'a str);

impl Serialize for ItemJson<'_> {
    fn serialize<Z: Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
        let mut map = serializer.serialize_map(None)?;
        let mut result = Ok(());
        contact_attributes(self.0, self.1, |name, v| {
            if result.is_ok() {
                result = map.serialize_entry(name, &S { s: v });
            }
        });
        result?;
        map.end()
    }
}

#[derive(Deserialize)]
struct Answer {
    #[serde(rename = "ConsumedCapacity")]
    consumed: Option<Consumed>,
}

#[derive(Deserialize)]
struct Consumed {
    #[serde(rename = "CapacityUnits")]
    units: Option<f64>,
    #[serde(rename = "Table")]
    table: Option<Units>,
}

#[derive(Deserialize)]
struct Units {
    #[serde(rename = "CapacityUnits")]
    units: Option<f64>,
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(rename = "__type", alias = "code")]
    kind: Option<String>,
    #[serde(alias = "Message", alias = "errorMessage")]
    message: Option<String>,
}

/// DynamoDB's answer to a `PutItem`: the write units of a 2xx, or the
/// error as [`AwsError`] (the code from `X-Amzn-ErrorType` or `__type`, as
/// the SDK reads it; a 2xx that is not the JSON of an answer is an
/// unreadable answer, an error status without a code is judged by the
/// status).
pub fn parse_answer(status: u16, error_type: Option<&str>, body: &[u8]) -> Result<WriteUnits, AwsError> {
    if (200..300).contains(&status) {
        let answer: Answer = serde_json::from_slice(body).map_err(|_| AwsError {
            status: Some(status),
            ..AwsError::local(SERVICE, OPERATION, Failure::BadResponse, "the answer is not DynamoDB's JSON".into())
        })?;
        let c = answer.consumed;
        return Ok(WriteUnits {
            all: c.as_ref().and_then(|c| c.units).unwrap_or(0.0),
            table: c.and_then(|c| c.table).and_then(|t| t.units).unwrap_or(0.0),
        });
    }
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let (kind, message) = match parsed {
        Some(b) => (b.kind, b.message),
        None => (None, None),
    };
    let code = error_type.map(str::to_owned).or(kind).map(|c| error_code(&c).to_owned()).filter(|c| !c.is_empty());
    Err(match code {
        Some(code) => AwsError::service(SERVICE, OPERATION, &code, message.as_deref().unwrap_or(""), status),
        // As the SDK's unmodelled error: no code, retryable when the server failed.
        None => AwsError {
            code: None,
            message,
            retryable: status >= 500,
            ..AwsError::service(SERVICE, OPERATION, "", "", status)
        },
    })
}

/// The error code of a `__type` or `X-Amzn-ErrorType`: without the
/// namespace before `#` and anything after `:` (the SDK's reading).
fn error_code(raw: &str) -> &str {
    let raw = raw.split(':').next().unwrap_or(raw);
    raw.rsplit('#').next().unwrap_or(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_units_are_read_from_the_consumed_capacity() {
        let body = br#"{"ConsumedCapacity":{"TableName":"contacts","CapacityUnits":3.0,"Table":{"CapacityUnits":1.0},
            "GlobalSecondaryIndexes":{"ByAccount":{"CapacityUnits":1.0},"ByEmail":{"CapacityUnits":1.0}}}}"#;
        assert_eq!(parse_answer(200, None, body).unwrap(), WriteUnits { all: 3.0, table: 1.0 });
        assert_eq!(parse_answer(200, None, b"{}").unwrap(), WriteUnits::default());
        let e = parse_answer(200, None, b"<html>gateway</html>").unwrap_err();
        assert_eq!((e.failure, e.status), (Failure::BadResponse, Some(200)));
        assert!(e.is_transient());
    }

    #[test]
    fn errors_carry_dynamodbs_code_and_status_and_only_passing_faults_are_transient() {
        let answer = |status, kind: &str| {
            let body = format!(r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{kind}","message":"m"}}"#);
            parse_answer(status, None, body.as_bytes()).unwrap_err()
        };
        let stale = answer(400, "ConditionalCheckFailedException");
        assert!(stale.has_code(crate::aws::codes::CONDITIONAL_CHECK_FAILED));
        assert_eq!(stale.to_string(), "DynamoDB PutItem failed: ConditionalCheckFailedException (HTTP 400): m");
        for transient in [
            answer(400, "ProvisionedThroughputExceededException"),
            answer(400, "ThrottlingException"),
            answer(400, "RequestLimitExceeded"),
            answer(500, "InternalServerError"),
            answer(503, "ServiceUnavailable"),
        ] {
            assert!(transient.is_transient() && transient.retryable, "{transient}");
        }
        for permanent in [
            answer(400, "ValidationException"),
            answer(400, "AccessDeniedException"),
            answer(400, "ResourceNotFoundException"),
            stale,
        ] {
            assert!(!permanent.is_transient() && !permanent.retryable, "{permanent}");
        }
    }

    #[test]
    fn the_error_type_header_wins_and_an_answer_without_a_code_is_judged_by_its_status() {
        let e = parse_answer(400, Some("ThrottlingException:http://internal.amazon.com/"), b"{}").unwrap_err();
        assert_eq!(e.code(), Some("ThrottlingException"));
        assert!(e.is_throttling());
        let proxy_page = parse_answer(502, None, b"<html>bad gateway</html>").unwrap_err();
        assert_eq!((proxy_page.failure, proxy_page.code(), proxy_page.status), (Failure::Service, None, Some(502)));
        assert!(proxy_page.is_transient());
        let refused = parse_answer(403, None, b"").unwrap_err();
        assert!(!refused.is_transient());
    }
}
