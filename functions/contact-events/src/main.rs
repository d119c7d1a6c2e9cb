//! contact-events: the Lambda on the contacts table's DynamoDB stream.
//!
//! Reads its configuration once, builds the EventBridge client once, then
//! hands every stream batch to [`contact_events::ContactEvents`] and answers
//! its batch item failures (`ReportBatchItemFailures`).

use contact_events::{Config, ContactEvents};
use lambda_runtime::{LambdaEvent, service_fn};
use psc_bridge::aws::{EventBridgeBus, sdk_config};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    psc_bridge::logging::init();
    let config = Config::from_env()?;
    let sdk = sdk_config().await;
    let handler = ContactEvents::new(EventBridgeBus::new(&sdk, config.event_bus_name), config.detail);
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let report = handler.handle(&event.payload).await;
        Ok::<_, lambda_runtime::Error>(serde_json::to_value(report.response)?)
    }))
    .await
}
