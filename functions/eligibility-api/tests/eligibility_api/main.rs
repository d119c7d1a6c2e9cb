//! eligibility-api's integration tests, one binary:
//!
//! * [`handler`]: every route against the in-memory store;
//! * [`dynamodb`]: the same API on DynamoDB Local, filled by the real ingest;
//! * [`openapi`]: the route table against `docs/openapi.yaml`.

mod common;
mod dynamodb;
mod handler;
mod openapi;
