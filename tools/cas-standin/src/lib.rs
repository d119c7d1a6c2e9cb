//! # cas-standin
//!
//! A local stand-in of the AWS calls psc-bridge makes, for local runs and tests only, all on one
//! port and dispatched on the request:
//! - the retired AWS Marketplace Commerce Analytics operation `StartSupportDataExport` (Product
//!   Support Connection exports), AWS JSON 1.1;
//! - Amazon EC2 `ConfirmProductInstance`, EC2 Query;
//! - AWS Marketplace Agreement Service `SearchAgreements`, Smithy RPC v2 CBOR (what the current
//!   SDK sends) and AWS JSON 1.0.
//!
//! It emulates AWS on its own and does not use the `psc-bridge` library (the system under test).
//!
//! The unmodified SDK clients talk to it when their endpoint variable is set to
//! [`Running::endpoint_url`] and the client is built from `aws_config` (the SDKs read the variable
//! in `From<&SdkConfig>`; a client built with `Config::builder()` alone does not):
//! [`ENDPOINT_ENV_VAR`] (`AWS_ENDPOINT_URL_MARKETPLACE_COMMERCE_ANALYTICS`),
//! [`AGREEMENT_ENDPOINT_ENV_VAR`] (`AWS_ENDPOINT_URL_MARKETPLACE_AGREEMENT`, service id
//! "Marketplace Agreement"), [`EC2_ENDPOINT_ENV_VAR`] (`AWS_ENDPOINT_URL_EC2`).
//! `AWS_ENDPOINT_URL` works too, for every service at once.
//!
//! ## Dispatch
//! | request | service |
//! | --- | --- |
//! | `/` with `Content-Type: application/x-www-form-urlencoded`, or `GET /?Action=...` | EC2 (Query) |
//! | `POST /` with `X-Amz-Target: AWSMPCommerceService_v20200301.*` | Agreement API (JSON 1.0) |
//! | `POST /service/AWSMPCommerceService_v20200301/operation/*` | Agreement API (RPC v2 CBOR) |
//! | any other `/` | Commerce Analytics (JSON 1.1) |
//! | `/_admin/...` | the admin endpoints below |
//!
//! ## Wire protocol of StartSupportDataExport (AWS JSON 1.1)
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
//! ## Wire protocol of ConfirmProductInstance (EC2 Query)
//! `POST /` with a form-encoded body (any charset parameter), or `GET /` with the same parameters
//! in the query string: `Action=ConfirmProductInstance&Version=2016-11-15&InstanceId=i-...&ProductCode=...`.
//! SigV4 is required (an `Authorization` header, or presigned `X-Amz-*` query parameters), its
//! shape checked and its credential scope service `ec2`; the signature is not verified. Missing
//! or wrong → `AuthFailure` (401). Then, each 400: `MissingAction`, `InvalidAction` (another
//! action), `MissingParameter` (`InstanceId` / `ProductCode`), `InvalidInstanceID.Malformed`
//! (not `i-` + 8 or 17 lowercase hex digits), `InvalidInstanceID.NotFound` (no such instance in
//! the region of the credential scope: an instance lives in one region). Success (200,
//! `text/xml`): `<ConfirmProductInstanceResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
//! <requestId>uuid</requestId><return>true|false</return><ownerId>account</ownerId>`; `return`
//! is true only when the product code is attached to the instance and it is running (a stopped
//! instance, or one with another product code, answers false with its owner). Errors:
//! `<?xml ...?><Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>`.
//! See [`ec2`].
//!
//! ## Wire protocols of SearchAgreements (RPC v2 CBOR, AWS JSON 1.0)
//! - RPC v2 CBOR: `POST /service/AWSMPCommerceService_v20200301/operation/SearchAgreements`,
//!   `Content-Type: application/cbor`, `smithy-protocol: rpc-v2-cbor`; answers are CBOR with
//!   `smithy-protocol: rpc-v2-cbor`, timestamps as tag 1 over epoch seconds (an integer, or a
//!   float when there are milliseconds), errors as `{"__type": "com.amazonaws.marketplaceagreement#<Name>",
//!   "message", "requestId", ...}` with the model's status, which the SDK maps to its modelled
//!   errors. Definite and indefinite lengths are read.
//! - AWS JSON 1.0: `POST /`, `Content-Type: application/x-amz-json-1.0`,
//!   `X-Amz-Target: AWSMPCommerceService_v20200301.SearchAgreements`; timestamps as epoch-seconds
//!   numbers; errors `{"__type": "<Name>", "message", ...}` and `x-amzn-ErrorType`.
//! - Both: SigV4 scoped to `aws-marketplace` (the SDK's signing name), as for CAS
//!   (`MissingAuthenticationTokenException` / `IncompleteSignatureException` /
//!   `InvalidSignatureException`, 403). Other operations: `UnknownOperationException`.
//!
//! The request: `catalog` (required, `AWSMarketplace`), `filters` (1-10, one value each; values
//! 1-64 of `[A-Za-z0-9+:_-]`), `sort` {`sortBy`: `EndTime` (default), or `StartTime` /
//! `LastUpdateTime` for proposers; `sortOrder`: `ASCENDING` (default) / `DESCENDING`},
//! `maxResults` (1-50, default 50), `nextToken` (opaque, bound to the search's filters and sort).
//! `PartyType` (`Proposer` | `Acceptor`) and `AgreementType` (`PurchaseAgreement` |
//! `VendorInsightsAgreement`) are required. The caller is the configured seller account
//! ([`StandInBuilder::seller_account_id`], default `999988887777`): `Proposer` searches the
//! agreements it proposed, `Acceptor` those it accepted. More filters: `AcceptorAccountId`,
//! `Status`, `ResourceIdentifier`, `ResourceType`, `OfferId`, `OfferSetId`, `BeforeEndTime` /
//! `AfterEndTime` / `BeforeStartTime` / `AfterStartTime` / `BeforeLastUpdateTime` /
//! `AfterLastUpdateTime` (ISO 8601 dates, or epoch seconds; strict comparisons; agreements
//! without an end time match no end-time filter) and, a stand-in extension, `AgreementId`. A
//! proposer may combine them freely; an acceptor only as the API documents (no
//! `AcceptorAccountId`, start or update times; at most one of `ResourceIdentifier`,
//! `ResourceType`, `OfferId`, `OfferSetId`; `ResourceType` not with `Status`). Bad input is a
//! `ValidationException` (400) with the model's `reason` (`INVALID_CATALOG`, `INVALID_FILTERS`,
//! `INVALID_FILTER_NAME`, `INVALID_FILTER_VALUES`, `MISSING_FILTER_NAME`,
//! `MISSING_FILTER_VALUES`, `UNSUPPORTED_FILTERS`, `INVALID_PARTY_TYPE`, `INVALID_AGREEMENT_TYPE`,
//! `INVALID_STATUS`, `INVALID_SORT_BY`, `INVALID_SORT_ORDER`, `INVALID_MAX_RESULTS`,
//! `INVALID_NEXT_TOKEN`) and `fields`; a body that is not the operation's input is a
//! `SerializationException`. The answer: `agreementViewSummaries` [{`agreementId`,
//! `acceptanceTime`, `startTime`, `endTime`, `lastUpdateTime`, `agreementType`, `acceptor`
//! {`accountId`}, `proposer` {`accountId`}, `proposalSummary` {`resources` [{`id`, `type`}],
//! `offerId`, `offerSetId`?}, `status`}] sorted (ties by agreement id) and `nextToken` while more
//! remain. Injected errors: `ThrottlingException` 429, `InternalServerException` 500,
//! `AccessDeniedException` 403, `ValidationException` 400 (modelled for SearchAgreements), and
//! `ResourceNotFoundException` 404 (modelled for the service, not this operation: the SDK gives
//! a generic error with that code). See [`agreements`].
//!
//! ## Seed data
//! With `seed_guide_data(true)` (the default) and after `POST /_admin/reset`: the guide's six
//! contact rows, and around the guide's products `4gzp2symm0v9zidfrn9f854w6`,
//! `c0dcyyqczbk5uc62acmp6450t`, `3qtu9xydxldrj8c5jyldy1lqo` (Agreement API ids
//! `prod-4gzp2symm0v9z`, `prod-c0dcyyqczbk5`, `prod-3qtu9xydxldr`) these agreements (all
//! `PurchaseAgreement`s for `AmiProduct`s) and instances; every id is a pub const of [`seed`]:
//! - `000011112222`: ACTIVE agreement for `prod-4gzp2symm0v9z` ending 2030-12-31T23:59:59Z, and
//!   an ACTIVE one proposed by another seller (`555566667777`, filtered out by
//!   `PartyType=Proposer`); instance `i-0a1b2c3d4e5f60718` running in us-east-1 with
//!   `4gzp2symm0v9zidfrn9f854w6`, and `i-0d4e5f60718293a41` running in eu-west-1 with the same.
//! - `111122223333`: only an EXPIRED agreement for `prod-c0dcyyqczbk5` (ended 2025-02-28);
//!   instance `i-0b2c3d4e5f6071829` stopped in us-east-1 with `c0dcyyqczbk5uc62acmp6450t`.
//! - `333344445555`: ACTIVE agreement for `prod-3qtu9xydxldr` (ends 2031-06-30, in an offer set).
//! - `444455556666`: no agreement; instance `i-0c3d4e5f607182930` running in us-east-1 with
//!   `4gzp2symm0v9zidfrn9f854w6` (someone else's instance a caller could claim).
//!
//! ## What an accepted StartSupportDataExport does
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
//!   `seed_guide_data`, `store`, `require_region` (CAS only), `account_id_header`,
//!   `seller_account_id`, `latency(Service, Duration)`, `start(addr)` →
//!   [`Running`]: `addr`, `endpoint_url`, `store`, `fail_next`, `inject_error` (CAS),
//!   `inject_service_error(Service, InjectedError)`, `clear_injected_error(Service)`,
//!   `latency(Service)`/`set_latency(Service, Duration)`, `lag`/`set_lag`, `seller_account_id`,
//!   `instances`/`instance`/`put_instance`/`remove_instance`,
//!   `agreements`/`agreement`/`put_agreement`/`remove_agreement`, `reset(seed)`,
//!   `requests`/`request`/`clear_requests`, `wait_for_delivery`, `wait_idle`, `shutdown`.
//! - [`InjectedError`]: `service_fault(message, count)` (CAS), `of_type(type, count)` (status
//!   from the service: e.g. EC2 `RequestLimitExceeded` 503, Agreement `ThrottlingException`
//!   429), `with_message`.
//! - [`RequestEntry`] (the request log): `service` ([`Service`]: cas / ec2 / agreements),
//!   `operation`, `protocol` ([`Protocol`]: json1.1 / json1.0 / cbor / query), `signing_region`,
//!   `signing_service`, `credential`, `status`, `error`, `parameters`, EC2's `instance_id` /
//!   `product_code`, the agreements' `filters`, `result`, and CAS's export and delivery.
//! - EC2 and agreements models: [`Instance`] / [`InstanceState`], [`Agreement`] /
//!   [`AgreementInput`] / [`Resource`]; pure wire code in [`ec2`] and [`agreements`].
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
//! | `POST /_admin/reset` | body `{"seed": bool}` optional: empty the records, instances and agreements, reseed them with the seed data (default: as started) → `{"records", "instances", "agreements"}` counts |
//! | `POST /_admin/fail-next` | body `{"message": "..."}`: the next accepted request delivers `success:false` with that message, no files; `DELETE` cancels |
//! | `POST /_admin/error-next` | body `{"service", "type", "message", "status", "count"}` (all optional): the next `count` (1) requests of `service` (`cas` (default), `ec2`, `agreements`) answer that error in their protocol. Default type: `MarketplaceCommerceAnalyticsException` (cas, 500), `InternalError` (ec2, 500), `InternalServerException` (agreements, 500); default status: the service's for the type (ec2: `RequestLimitExceeded` 503, `UnauthorizedOperation` 403, `InternalError` 500, others 400; agreements: `ThrottlingException` 429, `AccessDeniedException` 403, `ResourceNotFoundException` 404, `InternalServerException` 500, others 400). `DELETE` cancels (all, or `?service=`) |
//! | `GET /_admin/latency`, `PUT /_admin/latency` | `{"cas": ms, "ec2": ms, "agreements": ms}` (each optional): a fixed latency added to every following request of that service |
//! | `GET /_admin/instances` | every EC2 instance (`{"instanceId", "ownerId", "region", "state": "running"\|"stopped"\|"pending"\|"stopping"\|"shutting-down"\|"terminated", "productCodes": [...]}`) |
//! | `POST /_admin/instances` | body: an instance or an array → 201; 409 when an id exists, 400 for a malformed one |
//! | `GET /_admin/instances/{id}`, `PUT /_admin/instances/{id}`, `DELETE /_admin/instances/{id}` | one instance; `PUT` adds (201) or replaces (200) it; 404 when unknown |
//! | `GET /_admin/agreements` | every agreement (camelCase fields of [`Agreement`]: `agreementId`, `agreementType`, `acceptorAccountId`, `proposerAccountId`, `acceptanceTime`, `startTime`, `endTime`, `lastUpdateTime`, `status`, `resources` [{`id`, `type`}], `offerId`, `offerSetId`) |
//! | `POST /_admin/agreements` | body: an agreement or an array ([`AgreementInput`]: only `acceptorAccountId` and `resources` required; defaults a new `agmt-` id, `PurchaseAgreement`, the seller as proposer, times now, no end, `ACTIVE`, a new `offer-` id) → 201; 409 when an id exists |
//! | `GET /_admin/agreements/{id}`, `PUT /_admin/agreements/{id}`, `DELETE /_admin/agreements/{id}` | one agreement; `PUT` adds (201) or replaces (200) it; 404 when unknown |
//! | `GET /_admin/requests` | every API request received (any service), with its service, operation, protocol, signing region and service, parameters, outcome, and for CAS its export and delivery status; `GET /_admin/requests/{id}`; `DELETE` clears |
//! | `GET /_admin/config`, `PUT /_admin/config` | `{"lagSeconds": N}`; `GET` also shows the seller account, the injected errors and latencies, and the counts |
//!
//! ## Not emulated
//! `GenerateDataSet`; every other EC2 action and Agreement API operation (`DescribeAgreement`,
//! `GetAgreementTerms`, ...); the filters `EndTimeBehaviorType`, `EndTimeBehaviorReasonCode`,
//! `InitialAgreementId` and `LicenseArn` (answered `UNSUPPORTED_FILTERS`) and the summary's
//! `entitlements` / `endTimeBehavior*` fields; who the caller is (every Agreement API caller is
//! the configured seller; EC2 does not check that the caller owns the product code); EC2's
//! other instance states' nuances (only `running` confirms); real throttling or quotas (unless
//! injected); signature verification, IAM (the role ARN is not assumed; the caller's
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
