//! start-export's integration tests, one binary (each test still runs in
//! its own process under nextest):
//!
//! * [`rules`]: the handler's rules against the in-memory ports;
//! * [`cas_client`], [`config_env`]: the CAS client and the configuration;
//! * [`handler`]: the handler against the CAS stand-in, moto and DynamoDB Local;
//! * [`end_to_end`]: start-export -> stand-in -> S3 -> ingest-export -> table.

mod capture;
mod cas_client;
mod common;
mod config_env;
mod end_to_end;
mod handler;
mod rules;
