//! # cas-standin
//!
//! A local stand-in of the retired AWS Marketplace Commerce Analytics operation
//! `StartSupportDataExport` (Product Support Connection exports), for local runs and tests only.
//! It emulates AWS on its own and does not use the `psc-bridge` library (the system under test).
//!
//! The unmodified `aws-sdk-marketplacecommerceanalytics` client talks to it when
//! [`ENDPOINT_ENV_VAR`] (`AWS_ENDPOINT_URL_MARKETPLACE_COMMERCE_ANALYTICS`) is set to
//! [`Running::endpoint_url`] and the client is built from `aws_config` (the SDK reads the variable
//! in `From<&SdkConfig>`; a client built with `Config::builder()` alone does not). `AWS_ENDPOINT_URL`
//! works too, for every service at once.
//!
//! ## Wire protocol (AWS JSON 1.1)
//! `POST /` with `Content-Type: application/x-amz-json-1.1`,
//! `X-Amz-Target: MarketplaceCommerceAnalytics20150701.StartSupportDataExport` and a SigV4
//! `Authorization` header whose shape and credential scope service (`marketplacecommerceanalytics`)
//! are checked (the signature is not verified). Request validation as in [`wire::parse_request`].
//! Errors: status, `x-amzn-ErrorType` header and `{"__type": ..., "message": ...}` body:
//! `ValidationException` (400) for bad input, `SerializationException` (400) for a body that is
//! not the operation's JSON, `MissingAuthenticationTokenException` / `IncompleteSignatureException`
//! / `InvalidSignatureException` (403) for the `Authorization` header, `UnknownOperationException`
//! (400) for other targets, and injected errors (default: the modelled
//! `MarketplaceCommerceAnalyticsException`, 500). Success: `{"dataSetRequestId": "<uuid>"}`.
//!
//! ## What an accepted request does
//! After the answer, in the background: exports the latest state of every record whose operation
//! time is in `[fromDate, request time - lag]` (lag 15 minutes by default), writes
//! `<prefix>/<dataSetType>_<from>_to_<end>.csv` (RFC 4180, the guide's header, CRLF) and
//! `.meta.json` (the guide's metadata shape) to S3, then delivers the notification
//! (`{"dataSetS3Location", "dataSetMetaDataS3Location", "dataSetRequestId", "success"}`, or
//! `success:false` with `message` and no locations when the export failed or was told to fail)
//! wrapped in an SNS Lambda event, through the configured [`Delivery`].
//!
//! ## Library API
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use std::time::Duration;
//! use cas_standin::{Delivery, StandIn};
//! let (delivery, mut notifications) = Delivery::channel();
//! let running = StandIn::builder()
//!     .lag(Duration::ZERO)
//!     .delivery(delivery)
//!     .s3_client(cas_standin::s3_client_for_endpoint("http://127.0.0.1:5000"))
//!     .seed_guide_data(true)
//!     .start("127.0.0.1:0")
//!     .await?;
//! // Point the SDK at it: AWS_ENDPOINT_URL_MARKETPLACE_COMMERCE_ANALYTICS=<running.endpoint_url()>
//! // (or `.endpoint_url(running.endpoint_url())` on the client's config builder).
//! running.store().delete("ba1d75cc-d984-4f07-bb14-ae04b952afbc", None).unwrap();
//! running.fail_next("simulated failure");
//! // ... call StartSupportDataExport with the SDK, then:
//! let n = notifications.recv().await.unwrap();
//! let event: aws_lambda_events::sns::SnsEvent = n.sns_event(); // hand it to the ingest handler
//! # let _ = event;
//! running.shutdown().await;
//! # Ok(()) }
//! ```
//! - [`StandIn::builder`] → [`StandInBuilder`]: `lag`, `delivery`, `s3_client`,
//!   `seed_guide_data`, `store`, `require_region`, `account_id_header`, `start(addr)` →
//!   [`Running`]: `addr`, `endpoint_url`, `store`, `fail_next`, `inject_error`, `lag`/`set_lag`,
//!   `requests`/`request`/`clear_requests`, `wait_for_delivery`, `wait_idle`, `shutdown`.
//! - [`Store`]: `insert(Record)` (raw, explicit type and time), `upsert(Contact, Option<time>)`
//!   (CREATE/UPDATE derived, time default now), `delete(guid, Option<time>)`, `latest`, `history`,
//!   `latest_all`, `export_rows(from, end)`, `clear`, `seed_guide_data`.
//! - [`Record`] (the guide's 16 columns), [`Contact`] (the 14 without operation time/type).
//! - Pure generation in [`export`]: [`ExportPlan`] (keys, coverage, metadata JSON, notification
//!   messages), [`write_csv`], [`sns_event_json`].
//! - [`Delivery`]: `None` (record only), `Http { url, timeout }`, `Channel`, `Callback`.
//!
//! ## Admin endpoints (same server; JSON in and out)
//! | method and path | what |
//! | --- | --- |
//! | `GET /_admin/health` | `{"status":"ok"}` |
//! | `GET /_admin/records` | latest state of every record |
//! | `POST /_admin/records` | body: a record or an array of records (camelCase fields of [`Record`]; `operationTime` optional, default now; `operationType` optional: when absent CREATE/UPDATE is derived) → 201 with the stored record(s) |
//! | `GET /_admin/records/{customerGuid}` | history of one record (404 when unknown) |
//! | `DELETE /_admin/records/{customerGuid}` | DELETE state at `?operationTime=ISO` or body `{"operationTime": ...}` (default now); 404 when unknown |
//! | `POST /_admin/reset` | body `{"seed": bool}` optional: empty the store, reseed with the guide data (default: as started) |
//! | `POST /_admin/fail-next` | body `{"message": "..."}`: the next accepted request delivers `success:false` with that message, no files; `DELETE` cancels |
//! | `POST /_admin/error-next` | body `{"type", "message", "status", "count"}` (all optional; default one 500 `MarketplaceCommerceAnalyticsException`): the next API requests answer that error; `DELETE` cancels |
//! | `GET /_admin/requests` | every API request received, with its outcome, export and delivery status; `GET /_admin/requests/{id}`; `DELETE` clears |
//! | `GET /_admin/config`, `PUT /_admin/config` | `{"lagSeconds": N}` |
//!
//! ## Not emulated
//! `GenerateDataSet`; signature verification, IAM (the role ARN is not assumed; the caller's
//! permissions and the role's trust/external id are not checked); S3 bucket region checks;
//! publishing to a real SNS topic (the event goes straight to the configured endpoint, unsigned
//! with placeholder signature fields); throttling (unless injected); the real data set contents
//! and the real service's exact error messages; object keys are second precision, so two exports
//! with the same `fromDate` in the same second write the same keys.

pub mod agreements;
pub mod delivery;
pub mod ec2;
pub mod export;
pub mod record;
pub mod seed;
pub mod server;
pub mod service;
pub mod store;
pub mod wire;

pub use agreements::{Agreement, AgreementInput, AgreementsError, Resource};
pub use delivery::{Callback, Delivery, DeliveryStatus, Notification};
pub use ec2::{Ec2Error, Instance, InstanceState};
pub use export::{
    AccountIdHeader, DataSetType, ExportPlan, ExportRequest, NotificationMessage, S3Location, object_keys,
    sns_event_json, write_csv, write_csv_with_header,
};
pub use record::{
    CSV_HEADER, Contact, GUIDE_SAMPLE_CSV, OperationType, Record, format_timestamp, guide_sample_records,
    parse_timestamp,
};
pub use server::{DEFAULT_LAG, ExportSummary, InjectedError, RequestEntry, Running, StandIn, StandInBuilder};
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
        .credentials_provider(aws_sdk_s3::config::Credentials::new("test", "test", None, None, "cas-standin"))
        .endpoint_url(endpoint_url)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}
