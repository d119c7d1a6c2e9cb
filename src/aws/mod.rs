//! The AWS adapters: the ports of [`crate::ports`] implemented with the AWS
//! SDK, and the shared SDK configuration.
//!
//! * [`error`]: [`AwsError`], the one error of every AWS call.
//! * [`dynamodb`]: the contacts table ([`DynamoStore`]): contacts, the sync
//!   state and the export records.
//! * [`s3`]: the export bucket (the S3 client is the object store).
//! * [`ec2`]: `ConfirmProductInstance`, signed with `aws-sigv4` (no EC2 SDK).
//! * [`agreements`]: the Agreement API's `SearchAgreements`.
//! * [`eventbridge`]: `PutEvents` (contact-events' bus), signed by hand too.
//! * [`lambda`]: `Invoke` (asynchronous), ingest-export's continuation of
//!   itself, signed by hand too.
//! * [`signed`]: SigV4-signed HTTP requests through the SDK's connector, for
//!   the calls made without an SDK client: EC2, Lambda `Invoke`, EventBridge
//!   `PutEvents`, and the `psc` command line's (CloudFormation
//!   `DescribeStacks`, Lambda `Invoke`, the API with IAM auth).
//! * [`endpoint`]: where each of those calls goes, resolved as the SDK
//!   clients resolve theirs (and the S3 client's addressing style).
//!
//! Nothing outside this module names an SDK type, except the functions'
//! `main`s (which build the clients) and the CAS adapter of start-export.

pub mod agreements;
pub mod dynamodb;
pub mod ec2;
pub mod endpoint;
pub mod error;
pub mod eventbridge;
pub mod lambda;
pub mod s3;
pub mod signed;

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};

pub use agreements::AgreementClient;
pub use dynamodb::DynamoStore;
pub use ec2::Ec2Client;
pub use endpoint::endpoint_overridden;
pub use error::{AwsError, Failure, codes};
pub use eventbridge::EventBridgeBus;
pub use lambda::LambdaInvoker;

/// Shared AWS configuration: region and credentials from the environment,
/// endpoints from `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>`, and
/// patient retries (throttling, 5xx and timeouts are retried with backoff).
pub async fn sdk_config() -> SdkConfig {
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

/// The DynamoDB client of the functions that write in bulk (ingest-export):
/// [`sdk_config`]'s retries and timeouts, without the standard retry
/// strategy's retry quota. That quota (a token bucket shared by every
/// call of the client: 500 tokens, 5 to 14 spent per retried attempt, by
/// aws-smithy-runtime 1.16) is spent by a burst of 5xx or timeouts across the writes in
/// flight, after which every failed attempt fails at once, without the
/// retries it is configured for. An unlimited bucket keeps every call's
/// attempts; the callers' own rounds ([`crate::retry`]) and an adaptive
/// limit on the writes in flight ([`crate::retry::AdaptiveLimit`]) keep
/// the load down instead. (The contact write itself, `DynamoStore::apply`,
/// leaves the SDK's orchestrator out, retry strategy and quota with it: it
/// takes this client's endpoint, credentials, HTTP connector, timeouts and
/// `RetryConfig`, and retries on its own; see [`dynamodb::put`].)
///
/// Nor has it the SDK's stalled-stream protection, which wraps every
/// request and answer body in a throughput monitor with its own timer: a
/// contact write's body is under 2 KB and its answer smaller, and the
/// attempt timeout of [`sdk_config`] bounds one that stalls (the ingest's
/// profile, docs/benchmarks-ingest.md).
pub fn dynamodb_client(sdk: &SdkConfig) -> aws_sdk_dynamodb::Client {
    dynamodb_client_from(aws_sdk_dynamodb::config::Builder::from(sdk))
}

/// [`dynamodb_client`] from a configuration of its own (the end-to-end
/// benchmark's, against the emulator).
pub fn dynamodb_client_from(conf: aws_sdk_dynamodb::config::Builder) -> aws_sdk_dynamodb::Client {
    use aws_sdk_dynamodb::config::StalledStreamProtectionConfig;
    aws_sdk_dynamodb::Client::from_conf(
        conf.retry_partition(unlimited_retry_partition())
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
            .build(),
    )
}

/// A retry partition of its own (one per client built with it) whose
/// token bucket never runs out (see [`dynamodb_client`]).
pub fn unlimited_retry_partition() -> aws_sdk_dynamodb::config::retry::RetryPartition {
    use aws_sdk_dynamodb::config::retry::{RetryPartition, TokenBucket};
    RetryPartition::custom("psc-bridge-unlimited").token_bucket(TokenBucket::unlimited()).build()
}

/// S3 client; path-style addressing when the endpoint is overridden, since
/// local S3 servers do not resolve bucket names as host names.
pub fn s3_client(sdk: &SdkConfig) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::config::Builder::from(sdk).force_path_style(endpoint_overridden("S3")).build();
    aws_sdk_s3::Client::from_conf(conf)
}
