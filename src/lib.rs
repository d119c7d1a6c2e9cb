//! psc-bridge: AWS Marketplace Product Support Connection exports into DynamoDB.
//!
//! The core library of the functions (`functions/<name>`), in layers
//! (`docs/architecture.md`):
//!
//! * the domain: types parsed at the edge ([`domain`]), the export CSV reader
//!   ([`export_csv`]), the CAS notification and metadata ([`notification`]),
//!   the sync rules ([`sync`]), the read and application models
//!   ([`model`]) and live entitlement ([`entitlement`]: the seller's
//!   products, instances, agreements); no SDK and no Lambda type;
//! * the data feeds' domain ([`feeds`]): AWS Marketplace's Seller Delivery
//!   Data Feeds, their folders, a streaming reader of the columns the
//!   lookups need, and the history rules; no SDK type either;
//! * the ports ([`ports`]): small traits for the contact store, the export
//!   log, the object store, the export source, the instance check and the
//!   agreements;
//! * the adapters: AWS ([`aws`]: DynamoDB, S3, EC2, the Agreement API, the
//!   one AWS error) and in memory (`memory`, for tests, benchmarks and tools
//!   only: behind the `test-util` feature, never in a Lambda binary);
//! * the eligibility API's contract ([`api`]): its requests and answers,
//!   shared by the function, `psc` and the local run;
//! * what every function shares: configuration from the environment
//!   ([`config`]), logging ([`logging`]), metrics ([`metrics`]), the retry
//!   policy ([`retry`]) and the machinery of work longer than one
//!   invocation ([`resumable`]: segments, checkpoints, the lease, the
//!   continuation).

pub mod api;
pub mod aws;
pub mod config;
pub mod csv_stream;
pub mod domain;
pub mod entitlement;
pub mod export_csv;
pub mod feeds;
pub mod logging;
#[cfg(feature = "test-util")]
pub mod memory;
pub mod metrics;
pub mod model;
pub mod notification;
pub mod ports;
pub mod resumable;
pub mod retry;
pub mod sync;
