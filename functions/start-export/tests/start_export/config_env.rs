//! Configuration from the real environment: `Config::from_env` and the
//! endpoint override variables the SDK reads. One test in this binary, so
//! changing the process environment cannot race another test.

use crate::capture::captured;
use psc_bridge::config::ConfigError;
use start_export::config::{REAL_DATA_SET, TEST_DATA_SET};
use start_export::{Config, cas_client};

fn set(name: &str, value: &str) {
    // SAFETY: the only test of this binary; no other thread reads the environment.
    unsafe { std::env::set_var(name, value) }
}

fn unset(name: &str) {
    // SAFETY: as above.
    unsafe { std::env::remove_var(name) }
}

async fn endpoint_of(client: &aws_sdk_marketplacecommerceanalytics::Client) -> String {
    let (uri, auth) = captured(client).await;
    assert!(auth.contains("/us-east-1/marketplacecommerceanalytics/aws4_request"), "{auth}");
    uri.trim_end_matches('/').to_owned()
}

#[tokio::test]
async fn configuration_and_endpoint_overrides_from_the_environment() {
    for v in [
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_MARKETPLACE_COMMERCE_ANALYTICS",
        "AWS_PROFILE",
        "DATA_SET_TYPE",
        "EXPORT_PREFIX",
        "PENDING_TIMEOUT_MINUTES",
        "INITIAL_FROM_DATE",
        "METRICS_NAMESPACE",
    ] {
        unset(v);
    }
    set("AWS_CONFIG_FILE", "/nonexistent/psc-bridge-test/config");
    set("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/psc-bridge-test/credentials");
    set("AWS_EC2_METADATA_DISABLED", "true");
    set("AWS_REGION", "eu-west-1");
    set("AWS_ACCESS_KEY_ID", "AKIDTEST");
    set("AWS_SECRET_ACCESS_KEY", "secret");

    // --- Config::from_env: required variables, defaults, checks.
    unset("CAS_ROLE_ARN");
    set("TABLE_NAME", "contacts");
    set("EXPORT_BUCKET", "psc-exports-123");
    set("SNS_TOPIC_ARN", "arn:aws:sns:eu-west-1:123456789012:psc");
    assert_eq!(Config::from_env().unwrap_err(), ConfigError::Missing("CAS_ROLE_ARN"));
    set("CAS_ROLE_ARN", "arn:aws:iam::123456789012:role/psc-cas");
    let c = Config::from_env().unwrap();
    assert_eq!(c.table_name, "contacts");
    assert_eq!(c.settings.data_set_type, TEST_DATA_SET);
    assert_eq!(c.settings.prefix, "psc-exports");
    assert_eq!(c.settings.pending_timeout, time::Duration::minutes(60));
    assert_eq!(c.settings.initial_from_date.to_iso(), "2010-01-01T00:00:00.000Z");
    assert_eq!(c.metrics_namespace, "PscBridge");

    set("DATA_SET_TYPE", REAL_DATA_SET);
    set("EXPORT_PREFIX", "raw/psc");
    set("PENDING_TIMEOUT_MINUTES", "15");
    set("INITIAL_FROM_DATE", "2020-06-01T00:00:00Z");
    let c = Config::from_env().unwrap();
    assert_eq!(c.settings.data_set_type, REAL_DATA_SET);
    assert_eq!(c.settings.prefix, "raw/psc");
    assert_eq!(c.settings.pending_timeout, time::Duration::minutes(15));
    assert_eq!(c.settings.initial_from_date.to_iso(), "2020-06-01T00:00:00.000Z");

    for (name, bad) in [
        ("DATA_SET_TYPE", "customer_support_contacts"),
        ("PENDING_TIMEOUT_MINUTES", "0"),
        ("INITIAL_FROM_DATE", "2020-06-01"),
        ("EXPORT_BUCKET", "Not_A_Bucket"),
        ("SNS_TOPIC_ARN", "psc-topic"),
        ("CAS_ROLE_ARN", "psc-cas"),
        ("EXPORT_PREFIX", "/leading"),
    ] {
        let good = std::env::var(name).ok();
        set(name, bad);
        match Config::from_env() {
            Err(ConfigError::Invalid { name: n, .. }) => assert_eq!(n, name),
            other => panic!("{name}={bad}: {other:?}"),
        }
        match good {
            Some(v) => set(name, &v),
            None => unset(name),
        }
    }

    // --- The CAS client from the shared configuration the functions load.
    let client = cas_client(&psc_bridge::aws::sdk_config().await);
    assert_eq!(client.config().region().map(|r| r.to_string()).as_deref(), Some("us-east-1"));
    assert_eq!(endpoint_of(&client).await, "https://marketplacecommerceanalytics.us-east-1.amazonaws.com");

    // The service's own override (the exact name the SDK reads).
    set("AWS_ENDPOINT_URL_MARKETPLACE_COMMERCE_ANALYTICS", "http://127.0.0.1:4599");
    let client = cas_client(&psc_bridge::aws::sdk_config().await);
    assert_eq!(endpoint_of(&client).await, "http://127.0.0.1:4599");
    assert_eq!(client.config().region().map(|r| r.to_string()).as_deref(), Some("us-east-1"));
    unset("AWS_ENDPOINT_URL_MARKETPLACE_COMMERCE_ANALYTICS");

    // The override for every service.
    set("AWS_ENDPOINT_URL", "http://127.0.0.1:4566");
    let client = cas_client(&psc_bridge::aws::sdk_config().await);
    assert_eq!(endpoint_of(&client).await, "http://127.0.0.1:4566");
    unset("AWS_ENDPOINT_URL");
}
