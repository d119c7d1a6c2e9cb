//! eligibility-api: the HTTP API Lambda behind API Gateway (payload 2.0).
//!
//! Reads its configuration once, builds the DynamoDB client once and opens
//! its connection during init (the first lookup pays no handshake), then
//! hands every request to `eligibility_api::Api`.

use eligibility_api::Api;
use lambda_http::{Request, service_fn};
use psc_bridge::config::{ConfigError, aws_sdk_config, env_or, env_required};
use psc_bridge::metrics::Metrics;
use psc_bridge::store::Store;

struct Config {
    table_name: String,
    metrics_namespace: String,
}

impl Config {
    fn from_env() -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: env_required("TABLE_NAME")?,
            metrics_namespace: env_or("METRICS_NAMESPACE", "PscBridge"),
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    psc_bridge::logging::init();
    let config = Config::from_env()?;
    let sdk = aws_sdk_config().await;
    let store = Store::new(aws_sdk_dynamodb::Client::new(&sdk), config.table_name);
    store.warm_up().await;
    let api = Api::new(store).with_metrics(Metrics::new(config.metrics_namespace));
    let api = &api;
    lambda_http::run(service_fn(move |req: Request| api.serve(req))).await
}
