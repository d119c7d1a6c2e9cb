//! ingest-export: the SNS-triggered Lambda that applies a CAS export.
//!
//! Reads its configuration once, builds the clients once, and hands every
//! event to [`ingest_export::Ingest`]. A failed invocation is retried by
//! Lambda (the apply rules make that safe) and ends in the on-failure
//! destination.

use aws_lambda_events::event::sns::SnsEvent;
use ingest_export::{Config, Ingest};
use lambda_runtime::{LambdaEvent, service_fn};
use psc_bridge::aws::{DynamoStore, s3_client, sdk_config};
use psc_bridge::metrics::Metrics;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    psc_bridge::logging::init();
    let config = Config::from_env()?;
    let sdk = sdk_config().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table_name);
    store.warm_up().await;
    let ingest = Ingest::new(s3_client(&sdk), store, config.settings, Metrics::new(config.metrics_namespace));
    let ingest = &ingest;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SnsEvent>| async move {
        ingest.handle_event(event.payload).await
    }))
    .await
}
