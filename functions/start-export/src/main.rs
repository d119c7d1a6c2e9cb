//! start-export: the Lambda started by the EventBridge schedule (or by hand)
//! that asks CAS for the next PSC export.
//!
//! Reads its configuration once, builds the clients once, and hands every
//! payload to [`start_export::StartExport`]. A failed invocation reports its
//! error type (`InvalidInput`, `CasError`, `StoreError`, `ExportNotRecorded`).

use lambda_runtime::{LambdaEvent, service_fn};
use psc_bridge::aws::{DynamoStore, sdk_config};
use psc_bridge::metrics::Metrics;
use serde_json::Value;
use start_export::{CasSource, Config, StartExport, cas_client};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    psc_bridge::logging::init();
    let config = Config::from_env()?;
    let sdk = sdk_config().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table_name);
    store.warm_up().await;
    let handler =
        StartExport::new(CasSource(cas_client(&sdk)), store, config.settings, Metrics::new(config.metrics_namespace));
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move { handler.handle(event.payload).await }))
        .await
}
