//! ingest-feeds: the Lambda that applies the Seller Delivery Data Feeds.
//!
//! Triggered by the feeds' SNS topic, by a daily schedule, and by its own
//! continuation when a run does not fit in one invocation. Reads its
//! configuration once, builds the clients once, and hands every invocation
//! to [`ingest_feeds::FeedIngest::handle`].

use ingest_feeds::{Config, FeedIngest};
use lambda_runtime::{LambdaEvent, service_fn};
use psc_bridge::aws::{DynamoStore, LambdaInvoker, s3_client, sdk_config};
use psc_bridge::metrics::Metrics;
use psc_bridge::resumable::Invocation;
use serde_json::Value;

/// cargo lambda watch serves a function by its binary's name.
const LOCAL_FUNCTION_NAME: &str = "ingest-feeds";

fn main() -> Result<(), lambda_runtime::Error> {
    ingest_feeds::one_malloc_arena();
    tokio::runtime::Runtime::new()?.block_on(serve())
}

async fn serve() -> Result<(), lambda_runtime::Error> {
    psc_bridge::logging::init();
    let config = Config::from_env()?;
    let sdk = sdk_config().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table_name.clone());
    store.warm_up().await;
    let function = config.function_name.clone().unwrap_or_else(|| LOCAL_FUNCTION_NAME.to_owned());
    let ingest = FeedIngest::new(
        s3_client(&sdk),
        store,
        config.settings.clone(),
        Metrics::new(config.metrics_namespace.clone()),
    )
    .with_continuation(LambdaInvoker::new(&sdk, function));
    let ingest = &ingest;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let inv = Invocation::lambda(event.context.request_id.clone(), event.context.deadline);
        ingest.handle(event.payload, &inv).await
    }))
    .await
}
