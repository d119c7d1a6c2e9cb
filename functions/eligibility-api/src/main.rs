//! eligibility-api: the HTTP API Lambda behind API Gateway (payload 2.0).
//!
//! Reads its configuration once, builds the DynamoDB client once and opens
//! its connection during init (the first lookup pays no handshake), then
//! hands every request to [`eligibility_api::Api`].

use eligibility_api::{Api, Config};
use lambda_http::{Request, service_fn};
use psc_bridge::aws::{DynamoStore, sdk_config};
use psc_bridge::metrics::Metrics;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    psc_bridge::logging::init();
    let config = Config::from_env()?;
    let sdk = sdk_config().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table_name);
    store.warm_up().await;
    let api = Api::new(store).with_metrics(Metrics::new(config.metrics_namespace));
    let api = &api;
    lambda_http::run(service_fn(move |req: Request| api.serve(req))).await
}
