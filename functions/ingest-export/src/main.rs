//! ingest-export: the SNS-triggered Lambda that applies a CAS export.
//!
//! Reads its configuration once, builds the clients once, and hands every
//! invocation to [`ingest_export::Ingest::handle`]: an SNS event, or a
//! continuation of an export that did not fit in one invocation, which it
//! invokes itself (asynchronously, `AWS_LAMBDA_FUNCTION_NAME`). A failed
//! invocation is retried by Lambda (the apply rules make that safe, and it
//! resumes from the export's checkpoint) and ends in the on-failure
//! destination.

use std::sync::Arc;

use ingest_export::{Config, Ingest, Invocation};
use lambda_runtime::{LambdaEvent, service_fn};
use psc_bridge::aws::{DynamoStore, LambdaInvoker, dynamodb_client, s3_client, sdk_config};
use psc_bridge::metrics::Metrics;
use serde_json::Value;

#[global_allocator]
static ALLOCATOR: ingest_export::Allocator = ingest_export::Allocator {};

/// cargo lambda watch serves a function by its binary's name.
const LOCAL_FUNCTION_NAME: &str = "ingest-export";

fn main() -> Result<(), lambda_runtime::Error> {
    ingest_export::run_to_end(run())?
}

async fn run() -> Result<(), lambda_runtime::Error> {
    psc_bridge::logging::init();
    let config = Config::from_env()?;
    let sdk = sdk_config().await;
    let store = DynamoStore::new(dynamodb_client(&sdk), config.table_name);
    store.warm_up().await;
    let function = config.function_name.unwrap_or_else(|| LOCAL_FUNCTION_NAME.to_owned());
    let ingest = Arc::new(
        Ingest::new(s3_client(&sdk), store, config.settings, Metrics::new(config.metrics_namespace))
            .with_continuation(LambdaInvoker::new(&sdk, function)),
    );
    // Each invocation's future owns its handle on the ingest: one that
    // borrowed it would not be `Send` for every lifetime, as a task must be.
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let ingest = Arc::clone(&ingest);
        async move {
            let inv = Invocation::lambda(event.context.request_id.clone(), event.context.deadline);
            ingest.handle(event.payload, &inv).await
        }
    }))
    .await
}
