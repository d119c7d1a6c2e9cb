//! Reading configuration from the environment, once, at start.
//!
//! The functions read every variable through these three calls, so a test can
//! check that `template.yaml` sets each one (see `tests/template.rs`).

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {0} is required but not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// A variable that must be set (and not empty).
pub fn env_required(name: &'static str) -> Result<String, ConfigError> {
    env_optional(name).ok_or(ConfigError::Missing(name))
}

/// A variable that may be unset; empty counts as unset.
pub fn env_optional(name: &'static str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// A variable with a default.
pub fn env_or(name: &'static str, default: &str) -> String {
    env_optional(name).unwrap_or_else(|| default.to_owned())
}

/// Parses a variable's text with `parse`, naming the variable on failure.
pub fn parse_var<T, E: std::fmt::Display>(
    name: &'static str,
    value: &str,
    parse: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, ConfigError> {
    parse(value).map_err(|e| ConfigError::Invalid { name, reason: e.to_string() })
}

/// The default `INITIAL_FROM_DATE`: before AWS Marketplace existed, so the
/// first export is the full data set.
pub const DEFAULT_INITIAL_FROM_DATE: &str = "2010-01-01T00:00:00.000Z";

/// Shared AWS configuration: region and credentials from the environment,
/// endpoints from `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>`, and
/// patient retries (throttling, 5xx and timeouts are retried with backoff).
pub async fn aws_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry_config())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(10))
                .operation_timeout(Duration::from_secs(60))
                .build(),
        )
        .load()
        .await
}

/// Standard retry mode with more attempts than the default three: a write
/// given up on fails the whole export, so it is worth waiting for.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(8)
        .with_initial_backoff(Duration::from_millis(50))
        .with_max_backoff(Duration::from_secs(5))
}

/// True when an endpoint override for `service` (its env var suffix, like
/// `S3`) or for all services is set: a local server, not AWS.
pub fn endpoint_overridden(service_suffix: &str) -> bool {
    ["AWS_ENDPOINT_URL".to_owned(), format!("AWS_ENDPOINT_URL_{service_suffix}")]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|v| !v.trim().is_empty()))
}

/// S3 client; path-style addressing when the endpoint is overridden, since
/// local S3 servers do not resolve bucket names as host names.
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(sdk).force_path_style(endpoint_overridden("S3")).build();
    aws_sdk_s3::Client::from_conf(conf)
}
