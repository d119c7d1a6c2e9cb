//! eligibility-api's integration tests, one binary:
//!
//! * [`handler`]: every route against the in-memory store;
//! * [`live`]: the live checks (agreements, instances) with in-memory ports;
//! * [`feeds`]: the data feeds' source, the overall eligibility and the
//!   subscriber report, with in-memory ports;
//! * [`dynamodb`]: the same API on DynamoDB Local, filled by the real ingest;
//! * [`standin`]: the live checks over the wire, real adapters against the
//!   local stand-in of EC2 and the Agreement API;
//! * [`openapi`]: the route table against `docs/openapi.yaml`.

mod common;
mod dynamodb;
mod feeds;
mod handler;
mod live;
mod openapi;
mod standin;
