//! Helpers shared by the test modules.

use std::time::Duration;

use aws_sdk_marketplacecommerceanalytics as mca;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};

pub const ROLE: &str = "arn:aws:iam::123456789012:role/MarketplaceCommerceAnalyticsRole";
pub const TOPIC: &str = "arn:aws:sns:us-west-2:123456789012:psc-exports";

/// The real SDK client pointed at `endpoint` with dummy credentials in us-east-1.
pub fn sdk_client(endpoint: &str, retries: bool) -> mca::Client {
    let retry =
        if retries { mca::config::retry::RetryConfig::standard() } else { mca::config::retry::RetryConfig::disabled() };
    let conf = mca::Config::builder()
        .behavior_version(mca::config::BehaviorVersion::latest())
        .region(mca::config::Region::new("us-east-1"))
        .credentials_provider(mca::config::Credentials::new("AKIDSTANDINTEST", "secret", None, None, "test"))
        .endpoint_url(endpoint)
        .retry_config(retry)
        .build();
    mca::Client::from_conf(conf)
}

/// A request with every required field set.
pub fn export_request(
    client: &mca::Client,
    bucket: &str,
    from_epoch_millis: i64,
) -> mca::operation::start_support_data_export::builders::StartSupportDataExportFluentBuilder {
    client
        .start_support_data_export()
        .data_set_type(mca::types::SupportDataSetType::TestCustomerSupportContactsData)
        .from_date(mca::primitives::DateTime::from_millis(from_epoch_millis))
        .role_name_arn(ROLE)
        .destination_s3_bucket_name(bucket)
        .sns_topic_arn(TOPIC)
}

/// An S3 client that fails fast (nothing listens on port 9 of loopback; no retries).
pub fn unreachable_s3() -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new("test", "test", None, None, "test"))
        .endpoint_url("http://127.0.0.1:9")
        .force_path_style(true)
        .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// Plain HTTP request; returns status and body.
pub async fn http(method: &str, url: &str, body: Option<serde_json::Value>) -> (u16, serde_json::Value) {
    let client =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http::<Full<Bytes>>();
    let bytes = body.map(|b| serde_json::to_vec(&b).unwrap()).unwrap_or_default();
    let req = http::Request::builder()
        .method(method)
        .uri(url)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(bytes)))
        .unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(30), client.request(req)).await.unwrap().unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    let value = if body.is_empty() { serde_json::Value::Null } else { serde_json::from_slice(&body).unwrap() };
    (status, value)
}

/// The real Agreement API SDK client pointed at `endpoint` with dummy credentials in us-east-1
/// (it speaks RPC v2 CBOR).
pub fn agreement_client(endpoint: &str, retries: bool) -> aws_sdk_marketplaceagreement::Client {
    use aws_sdk_marketplaceagreement as mpa;
    let retry =
        if retries { mpa::config::retry::RetryConfig::standard() } else { mpa::config::retry::RetryConfig::disabled() };
    let conf = mpa::Config::builder()
        .behavior_version(mpa::config::BehaviorVersion::latest())
        .region(mpa::config::Region::new("us-east-1"))
        .credentials_provider(mpa::config::Credentials::new("AKIDSTANDINTEST", "secret", None, None, "test"))
        .endpoint_url(endpoint)
        .retry_config(retry)
        .build();
    mpa::Client::from_conf(conf)
}

/// A SigV4 `Authorization` header of the right shape (the stand-in does not verify signatures),
/// and the matching `X-Amz-Date`.
pub fn fake_sigv4(region: &str, service: &str) -> (String, String) {
    let now = time::OffsetDateTime::now_utc();
    let date = format!("{:04}{:02}{:02}", now.year(), now.month() as u8, now.day());
    (
        format!(
            "AWS4-HMAC-SHA256 Credential=AKIDSTANDINTEST/{date}/{region}/{service}/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature={}",
            "0".repeat(64)
        ),
        format!("{date}T000000Z"),
    )
}

/// Any HTTP request; returns status, headers and body.
pub async fn raw(method: &str, url: &str, headers: &[(&str, &str)], body: Vec<u8>) -> (u16, http::HeaderMap, Bytes) {
    let client =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http::<Full<Bytes>>();
    let mut req = http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req.body(Full::new(Bytes::from(body))).unwrap();
    send(&client, req).await
}

async fn send(
    client: &hyper_util::client::legacy::Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    req: http::Request<Full<Bytes>>,
) -> (u16, http::HeaderMap, Bytes) {
    let resp = tokio::time::timeout(Duration::from_secs(30), client.request(req)).await.unwrap().unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, body)
}

/// An EC2 Query request: `POST /` with the form-encoded `params`, signed with aws-sigv4 for
/// `service` in `region` (unsigned when `region` is `None`). Returns status and XML body.
pub async fn ec2_call(endpoint: &str, region: Option<&str>, service: &str, params: &[(&str, &str)]) -> (u16, String) {
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
    let mut req = http::Request::builder()
        .method("POST")
        .uri(format!("{endpoint}/"))
        .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
        .body(Full::new(Bytes::from(body.clone())))
        .unwrap();
    if let Some(region) = region {
        sign(&mut req, region, service, body.as_bytes());
    }
    let client =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http::<Full<Bytes>>();
    let (status, _, body) = send(&client, req).await;
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// Signs `req` (SigV4, headers) with test credentials, as an SDK would.
pub fn sign(req: &mut http::Request<Full<Bytes>>, region: &str, service: &str, body: &[u8]) {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
    let identity = aws_credential_types::Credentials::new("AKIDSTANDINTEST", "secret", None, None, "test").into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(std::time::SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let uri = req.uri().to_string();
    let headers: Vec<(String, String)> =
        req.headers().iter().map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap().to_string())).collect();
    let signable = SignableRequest::new(
        req.method().as_str(),
        &uri,
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .unwrap();
    let (instructions, _signature) = sign(signable, &params).unwrap().into_parts();
    instructions.apply_to_request_http1x(req);
}

/// The text of the first `<tag>` in an XML document.
pub fn xml_text<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(&xml[start..end])
}
