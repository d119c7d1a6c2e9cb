//! ingest-export: the SNS-triggered Lambda that applies a CAS export.
//!
//! Reads its configuration once, builds the clients once, and hands every
//! event to `psc_bridge::ingest`. A failed invocation is retried by Lambda
//! (the apply rules make that safe) and ends in the on-failure destination.

use aws_lambda_events::event::sns::SnsEvent;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use psc_bridge::config::{
    ConfigError, DEFAULT_INITIAL_FROM_DATE, aws_sdk_config, env_or, env_required, parse_var, s3_client,
};
use psc_bridge::domain::Timestamp;
use psc_bridge::ingest::{Ingest, IngestError, Settings};
use psc_bridge::metrics::Metrics;
use psc_bridge::store::Store;

struct Config {
    table_name: String,
    settings: Settings,
    metrics_namespace: String,
}

impl Config {
    fn from_env() -> Result<Self, ConfigError> {
        let initial = env_or("INITIAL_FROM_DATE", DEFAULT_INITIAL_FROM_DATE);
        let concurrency = env_or("WRITE_CONCURRENCY", "32");
        Ok(Self {
            table_name: env_required("TABLE_NAME")?,
            settings: Settings {
                initial_from_date: parse_var("INITIAL_FROM_DATE", &initial, Timestamp::parse)?,
                write_concurrency: parse_var("WRITE_CONCURRENCY", &concurrency, |v| match v.parse::<usize>() {
                    Ok(n) if (1..=512).contains(&n) => Ok(n),
                    _ => Err("must be a whole number from 1 to 512"),
                })?,
            },
            metrics_namespace: env_or("METRICS_NAMESPACE", "PscBridge"),
        })
    }
}

/// Lambda's view of a failure: a meaningful error type, a message without
/// contact data.
#[derive(Debug)]
struct Failure(IngestError);

impl From<Failure> for Diagnostic {
    fn from(f: Failure) -> Self {
        Diagnostic { error_type: f.0.error_type().to_owned(), error_message: f.0.to_string() }
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    psc_bridge::logging::init();
    let config = Config::from_env()?;
    let sdk = aws_sdk_config().await;
    let store = Store::new(aws_sdk_dynamodb::Client::new(&sdk), config.table_name);
    store.warm_up().await;
    let ingest = Ingest::new(s3_client(&sdk), store, config.settings, Metrics::new(config.metrics_namespace));
    let ingest = &ingest;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SnsEvent>| async move {
        ingest.handle_event(event.payload).await.map_err(Failure)
    }))
    .await
}
