//! psc-bridge: AWS Marketplace Product Support Connection exports into DynamoDB.
//!
//! The library holds everything but the Lambda `main`s: domain types parsed at
//! the edge ([`domain`]), the export CSV reader ([`export_csv`]), the CAS
//! notification and metadata ([`notification`]), the sync rules ([`sync`]),
//! the DynamoDB adapter ([`store`]) and the ingest pipeline ([`ingest`]).

pub mod config;
pub mod domain;
pub mod export_csv;
pub mod ingest;
pub mod logging;
pub mod metrics;
pub mod notification;
pub mod store;
pub mod sync;
