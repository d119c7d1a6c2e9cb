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
