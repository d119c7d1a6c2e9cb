//! Where a service is reached, resolved as the SDK clients resolve it, for
//! the calls made without an SDK client (EC2, Lambda `Invoke`, EventBridge,
//! and `psc`'s CloudFormation and Lambda calls) and for the S3 client's
//! addressing style.
//!
//! `AWS_ENDPOINT_URL_<SERVICE>` (e.g. `AWS_ENDPOINT_URL_EC2`), else
//! `AWS_ENDPOINT_URL` or a profile's `endpoint_url` (the shared
//! [`SdkConfig`]'s), else AWS's own `https://<host>.<region>.<suffix>`.

use aws_config::SdkConfig;

/// The region when none is configured.
pub const DEFAULT_REGION: &str = "us-east-1";

/// The override of `service_env`'s endpoint (its variable's suffix, like
/// `S3` or `LAMBDA`), if any: a local server, not AWS.
pub fn endpoint_override(sdk: Option<&SdkConfig>, service_env: &str) -> Option<String> {
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    set(&format!("AWS_ENDPOINT_URL_{service_env}"))
        .or_else(|| sdk.and_then(|s| s.endpoint_url().map(str::to_owned)))
        .or_else(|| set("AWS_ENDPOINT_URL"))
        .map(|url| url.trim().trim_end_matches('/').to_owned())
}

/// True when an endpoint override for `service_env` or for all services is
/// set.
pub fn endpoint_overridden(service_env: &str) -> bool {
    endpoint_override(None, service_env).is_some()
}

/// The endpoint of `host` (`ec2`, `lambda`, `events`, ...) in `region`,
/// without a trailing slash.
pub fn endpoint(sdk: &SdkConfig, service_env: &str, host: &str, region: &str) -> String {
    endpoint_override(Some(sdk), service_env).unwrap_or_else(|| aws_endpoint(host, region))
}

/// AWS's own endpoint of `host` in `region`.
pub fn aws_endpoint(host: &str, region: &str) -> String {
    let suffix = if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
    format!("https://{host}.{region}.{suffix}")
}

/// The configured region, or [`DEFAULT_REGION`].
pub fn region(sdk: &SdkConfig) -> String {
    sdk.region().map_or_else(|| DEFAULT_REGION.to_owned(), |r| r.to_string())
}

/// The endpoint of `host` in the configured region, and that region.
pub fn endpoint_and_region(sdk: &SdkConfig, service_env: &str, host: &str) -> (String, String) {
    let region = region(sdk);
    (endpoint(sdk, service_env, host, &region), region)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_endpoints_by_region() {
        assert_eq!(aws_endpoint("ec2", "cn-north-1"), "https://ec2.cn-north-1.amazonaws.com.cn");
        assert_eq!(aws_endpoint("lambda", "eu-west-1"), "https://lambda.eu-west-1.amazonaws.com");
    }

    #[test]
    fn the_shared_configs_endpoint_overrides_aws_and_its_region_is_used() {
        // A service no variable names: the shared config decides.
        let local = SdkConfig::builder()
            .endpoint_url("http://127.0.0.1:4566/")
            .region(aws_config::Region::new("eu-central-1"))
            .build();
        assert_eq!(
            endpoint_and_region(&local, "PSC_BRIDGE_TEST_NONE", "lambda"),
            ("http://127.0.0.1:4566".to_owned(), "eu-central-1".to_owned())
        );
        assert_eq!(region(&SdkConfig::builder().build()), DEFAULT_REGION);
    }
}
