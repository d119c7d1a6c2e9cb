//! The CAS client is pinned to us-east-1 whatever region the function runs
//! in, unless an endpoint override is set, in which case the override is the
//! endpoint. No network: an interceptor captures the signed request and
//! stops it before it is sent.

use crate::capture::captured;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_marketplacecommerceanalytics::config::{Credentials, Region, SharedCredentialsProvider};
use start_export::cas_client;

fn shared_config(region: &str, endpoint: Option<&str>) -> SdkConfig {
    let b = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIDTEST", "secret", None, None, "test",
        )));
    match endpoint {
        Some(e) => b.endpoint_url(e).build(),
        None => b.build(),
    }
}

#[tokio::test]
async fn pinned_to_us_east_1_when_the_shared_config_says_eu_west_1() {
    let client = cas_client(&shared_config("eu-west-1", None));
    assert_eq!(client.config().region(), Some(&Region::new("us-east-1")));
    let (uri, auth) = captured(&client).await;
    assert_eq!(uri, "https://marketplacecommerceanalytics.us-east-1.amazonaws.com/");
    assert!(auth.contains("/us-east-1/marketplacecommerceanalytics/aws4_request"), "{auth}");
}

#[tokio::test]
async fn an_endpoint_override_wins() {
    let client = cas_client(&shared_config("eu-west-1", Some("http://127.0.0.1:4599")));
    let (uri, auth) = captured(&client).await;
    assert!(uri.starts_with("http://127.0.0.1:4599"), "{uri}");
    // Still signed for the only region the service has.
    assert!(auth.contains("/us-east-1/marketplacecommerceanalytics/aws4_request"), "{auth}");
}
