//! contact-events: the Lambda on the contacts table's DynamoDB stream.
//!
//! Reads its configuration once, builds the EventBridge and DynamoDB
//! clients once (the table serves the backfill's scan and the subscription
//! events' lookups), then hands every invocation to
//! [`contact_events::ContactEvents::invoke`]: a stream batch (answered with
//! its batch item failures) or a manual backfill.

use contact_events::{Config, ContactEvents};
use lambda_runtime::{LambdaEvent, service_fn};
use psc_bridge::aws::{DynamoStore, EventBridgeBus, sdk_config};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    psc_bridge::logging::init();
    let config = Config::from_env()?;
    let sdk = sdk_config().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table_name);
    // The table also completes the subscription events (the feeds' items).
    let handler =
        ContactEvents::new(EventBridgeBus::new(&sdk, config.event_bus_name), config.detail).with_feeds(store.clone());
    let (handler, store) = (&handler, &store);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler.invoke(store, &event.payload).await.map_err(lambda_runtime::Error::from)
    }))
    .await
}
