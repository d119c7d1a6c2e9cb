#![doc = include_str!("../README.md")]
//!
//! ## Library
//!
//! [`StandIn::start`] starts one; [`Running`] changes its data and reads its request log. The
//! protocols are in [`wire`] (Commerce Analytics, and SigV4 header checks: the signature is not
//! verified), [`ec2`] and [`agreements`]; the seed data in [`seed`]. It does not use the
//! `psc-bridge` library (the system under test).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use std::time::Duration;
//! use aws_standin::{Delivery, StandIn};
//! let (delivery, mut notifications) = Delivery::channel();
//! let s3 = Some(aws_standin::s3_client_for_endpoint("http://127.0.0.1:5000"));
//! let running = StandIn { lag: Duration::ZERO, delivery, s3, ..Default::default() }.start("127.0.0.1:0").await?;
//! running.store().delete("ba1d75cc-d984-4f07-bb14-ae04b952afbc", None).unwrap();
//! // ... call StartSupportDataExport with the SDK pointed at running.endpoint_url(), then:
//! let event: aws_lambda_events::sns::SnsEvent = notifications.recv().await.unwrap().sns_event();
//! # let _ = event;
//! running.shutdown().await;
//! # Ok(()) }
//! ```

pub mod agreements;
pub mod delivery;
pub mod ec2;
pub mod export;
pub mod feeds;
pub mod record;
pub mod seed;
pub mod server;
pub mod service;
pub mod store;
pub mod wire;

pub use agreements::{Agreement, AgreementsError, Resource};
pub use delivery::{Callback, Delivery, DeliveryStatus, Notification};
pub use ec2::{Ec2Error, Instance, InstanceState};
pub use export::{
    DataSetType, ExportPlan, ExportRequest, NotificationMessage, S3Location, object_keys, sns_event_json, write_csv,
};
pub use feeds::{FeedsData, FeedsDelivery};
pub use record::{
    CSV_HEADER, Contact, GUIDE_SAMPLE_CSV, OperationType, Record, format_timestamp, guide_sample_records,
    parse_timestamp,
};
pub use server::{DEFAULT_LAG, ExportSummary, FeedsAnswer, FeedsTarget, InjectedError, RequestEntry, Running, StandIn};
pub use service::{Protocol, Service};
pub use store::{Store, StoreError};
pub use wire::ApiError;

/// The environment variable the SDK reads for this service's endpoint (service id
/// "Marketplace Commerce Analytics", upper-cased with spaces as underscores).
pub const ENDPOINT_ENV_VAR: &str = "AWS_ENDPOINT_URL_MARKETPLACE_COMMERCE_ANALYTICS";

/// The environment variable `aws-sdk-marketplaceagreement` reads for its endpoint (service id
/// "Marketplace Agreement").
pub const AGREEMENT_ENDPOINT_ENV_VAR: &str = "AWS_ENDPOINT_URL_MARKETPLACE_AGREEMENT";

/// The environment variable the EC2 SDKs read for EC2's endpoint (service id "EC2").
pub const EC2_ENDPOINT_ENV_VAR: &str = "AWS_ENDPOINT_URL_EC2";

/// An S3 client from the standard AWS configuration (env vars, profile): honours
/// `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`, and uses path-style addressing when either is set
/// (local S3-compatible servers). Region defaults to us-east-1 when none is configured.
pub async fn s3_client_from_env() -> aws_sdk_s3::Client {
    let region = aws_config::meta::region::RegionProviderChain::default_provider().or_else("us-east-1");
    let sdk_config = aws_config::defaults(aws_config::BehaviorVersion::latest()).region(region).load().await;
    let local = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|s| !s.trim().is_empty()));
    let conf = aws_sdk_s3::config::Builder::from(&sdk_config).force_path_style(local).build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// An S3 client for a local S3-compatible server at `endpoint_url`: dummy credentials,
/// us-east-1, path-style addressing.
pub fn s3_client_for_endpoint(endpoint_url: &str) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new("test", "test", None, None, "aws-standin"))
        .endpoint_url(endpoint_url)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}
