//! start-export's configuration (read once, at start) and its CAS client.
//!
//! Variables as in `docs/configuration.md`; read only through
//! `psc_bridge::config::{env_required, env_or, env_optional}`.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_marketplacecommerceanalytics as cas;
use aws_sdk_marketplacecommerceanalytics::config::Region;
use aws_sdk_marketplacecommerceanalytics::config::retry::RetryConfig;
use aws_sdk_marketplacecommerceanalytics::config::timeout::TimeoutConfig;
use psc_bridge::config::{ConfigError, DEFAULT_INITIAL_FROM_DATE, env_or, env_required, parse_var};
use psc_bridge::domain::Timestamp;

/// The only region Commerce Analytics exists in.
pub const CAS_REGION: &str = "us-east-1";

/// The two data sets `StartSupportDataExport` knows.
pub const TEST_DATA_SET: &str = "test_customer_support_contacts_data";
pub const REAL_DATA_SET: &str = "customer_support_contacts_data";

pub const DEFAULT_EXPORT_PREFIX: &str = "psc-exports";
pub const DEFAULT_PENDING_TIMEOUT_MINUTES: &str = "60";

/// What the handler needs besides its clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Where the first export (and a full re-sync) starts.
    pub initial_from_date: Timestamp,
    /// `customer_support_contacts_data` or `test_customer_support_contacts_data`.
    pub data_set_type: String,
    /// The role CAS assumes to write the export (`roleNameArn`).
    pub role_arn: String,
    /// `destinationS3BucketName`.
    pub bucket: String,
    /// `destinationS3Prefix`.
    pub prefix: String,
    /// `snsTopicArn`.
    pub sns_topic_arn: String,
    /// An unanswered export younger than this blocks an unforced run.
    pub pending_timeout: time::Duration,
}

/// Everything `main` reads from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    pub settings: Settings,
    pub metrics_namespace: String,
}

impl Config {
    /// Reads and checks every variable; the error names the first bad one.
    pub fn from_env() -> Result<Self, ConfigError> {
        let initial = env_or("INITIAL_FROM_DATE", DEFAULT_INITIAL_FROM_DATE);
        let data_set_type = env_or("DATA_SET_TYPE", TEST_DATA_SET);
        let role_arn = env_required("CAS_ROLE_ARN")?;
        let bucket = env_required("EXPORT_BUCKET")?;
        let prefix = env_or("EXPORT_PREFIX", DEFAULT_EXPORT_PREFIX);
        let topic = env_required("SNS_TOPIC_ARN")?;
        let pending = env_or("PENDING_TIMEOUT_MINUTES", DEFAULT_PENDING_TIMEOUT_MINUTES);
        Ok(Self {
            table_name: env_required("TABLE_NAME")?,
            settings: Settings {
                initial_from_date: parse_var("INITIAL_FROM_DATE", &initial, Timestamp::parse)?,
                data_set_type: parse_var("DATA_SET_TYPE", &data_set_type, check_data_set_type)?,
                role_arn: parse_var("CAS_ROLE_ARN", &role_arn, check_role_arn)?,
                bucket: parse_var("EXPORT_BUCKET", &bucket, check_bucket)?,
                prefix: parse_var("EXPORT_PREFIX", &prefix, check_prefix)?,
                sns_topic_arn: parse_var("SNS_TOPIC_ARN", &topic, check_topic_arn)?,
                pending_timeout: parse_var("PENDING_TIMEOUT_MINUTES", &pending, parse_pending_minutes)?,
            },
            metrics_namespace: env_or("METRICS_NAMESPACE", "PscBridge"),
        })
    }
}

pub fn check_data_set_type(v: &str) -> Result<String, String> {
    if v == TEST_DATA_SET || v == REAL_DATA_SET {
        Ok(v.to_owned())
    } else {
        Err(format!("must be {TEST_DATA_SET} or {REAL_DATA_SET}"))
    }
}

pub fn check_role_arn(v: &str) -> Result<String, String> {
    if v.starts_with("arn:") && v.contains(":iam::") && v.contains(":role/") && v.len() <= 2048 {
        Ok(v.to_owned())
    } else {
        Err("must be an IAM role ARN (arn:aws:iam::<account>:role/<name>), at most 2048 characters".to_owned())
    }
}

pub fn check_bucket(v: &str) -> Result<String, String> {
    let b = v.as_bytes();
    let ok = (3..=63).contains(&b.len())
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-' || *c == b'.')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric();
    if ok { Ok(v.to_owned()) } else { Err("must be an S3 bucket name (3-63 of a-z 0-9 . -)".to_owned()) }
}

pub fn check_prefix(v: &str) -> Result<String, String> {
    if v.starts_with('/') || v.ends_with('/') || v.contains("//") || v.len() > 512 {
        Err("must be S3 key segments separated by single slashes, no leading or trailing slash".to_owned())
    } else {
        Ok(v.to_owned())
    }
}

pub fn check_topic_arn(v: &str) -> Result<String, String> {
    if v.starts_with("arn:") && v.contains(":sns:") && v.len() <= 256 {
        Ok(v.to_owned())
    } else {
        Err("must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>), at most 256 characters".to_owned())
    }
}

pub fn parse_pending_minutes(v: &str) -> Result<time::Duration, String> {
    match v.parse::<i64>() {
        Ok(n) if (1..=10080).contains(&n) => Ok(time::Duration::minutes(n)),
        _ => Err("must be a whole number of minutes from 1 to 10080".to_owned()),
    }
}

/// The `StartSupportDataExport` client.
///
/// Built from the shared configuration (credentials, and the endpoint
/// override `AWS_ENDPOINT_URL_MARKETPLACE_COMMERCE_ANALYTICS` or
/// `AWS_ENDPOINT_URL`, which the SDK reads into it), with the region pinned
/// to us-east-1 whatever region the function runs in: the service exists
/// there only. Without an override that gives the real endpoint
/// `marketplacecommerceanalytics.us-east-1.amazonaws.com`; with one, the
/// override is the endpoint (requests are still signed for us-east-1).
///
/// Retries and timeouts fit the function's 30-second Lambda timeout, so a
/// failing call ends as a `CasError` rather than a Lambda timeout.
pub fn cas_client(sdk: &SdkConfig) -> cas::Client {
    let conf = cas::config::Builder::from(sdk)
        .region(Region::new(CAS_REGION))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(4)
                .with_initial_backoff(Duration::from_millis(200))
                .with_max_backoff(Duration::from_secs(4)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_attempt_timeout(Duration::from_secs(8))
                .operation_timeout(Duration::from_secs(20))
                .build(),
        )
        .build();
    cas::Client::from_conf(conf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks() {
        assert!(check_data_set_type(TEST_DATA_SET).is_ok());
        assert!(check_data_set_type(REAL_DATA_SET).is_ok());
        assert!(check_data_set_type("customer_subscriber_hourly_monthly_subscriptions").is_err());
        assert!(check_role_arn("arn:aws:iam::123456789012:role/psc-cas").is_ok());
        assert!(check_role_arn("psc-cas").is_err());
        assert!(check_bucket("psc-exports-123").is_ok());
        for b in ["Psc", "ab", "-abc", "abc-", "a_b_c"] {
            assert!(check_bucket(b).is_err(), "{b}");
        }
        assert!(check_prefix("psc-exports/raw").is_ok());
        for p in ["/x", "x/", "a//b"] {
            assert!(check_prefix(p).is_err(), "{p}");
        }
        assert!(check_topic_arn("arn:aws:sns:eu-west-1:123456789012:psc").is_ok());
        assert!(check_topic_arn("arn:aws:sqs:eu-west-1:123456789012:psc").is_err());
        assert_eq!(parse_pending_minutes("60").unwrap(), time::Duration::hours(1));
        for m in ["0", "-1", "10081", "1.5", "soon"] {
            assert!(parse_pending_minutes(m).is_err(), "{m}");
        }
    }
}
