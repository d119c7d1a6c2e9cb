//! SDK clients for an emulator endpoint.
//!
//! The configuration is built by hand, not loaded from the environment: the
//! `AWS_ENDPOINT_URL_*`, `AWS_PROFILE`, real credentials and so on of the
//! shell running the tests must not redirect a test's client elsewhere.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};

/// The region every emulator client uses.
pub const REGION: &str = "us-east-1";

/// An [`SdkConfig`] for `endpoint`: dummy static credentials, region
/// `us-east-1`, latest behavior version, and nothing from the environment.
pub fn sdk_config(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIDEVKITTEST",
            "devkit-test-secret",
            None,
            None,
            "devkit-static",
        )))
        .endpoint_url(endpoint)
        .build()
}

/// A DynamoDB client for `endpoint` (see [`sdk_config`]).
pub fn dynamodb_client(endpoint: &str) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(&sdk_config(endpoint))
}

/// An S3 client for `endpoint` (see [`sdk_config`]), with path-style
/// addressing (`http://host:port/bucket/key`).
pub fn s3_client(endpoint: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(&sdk_config(endpoint)).force_path_style(true).build();
    aws_sdk_s3::Client::from_conf(config)
}
