//! eligibility-api: the HTTP API Lambda behind API Gateway (payload 2.0).
//!
//! Reads its configuration once, builds the DynamoDB, EC2 and Agreement API
//! clients once and opens the table's connection during init (the first
//! lookup pays no handshake), then hands every request to
//! [`eligibility_api::Api`].

use eligibility_api::live::LiveChecks;
use eligibility_api::{Api, Config};
use lambda_http::{Request, service_fn};
use psc_bridge::aws::{AgreementClient, DynamoStore, Ec2Client, sdk_config};
use psc_bridge::feeds::{CachedReference, REFERENCE_TTL};
use psc_bridge::metrics::Metrics;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    psc_bridge::logging::init();
    let config = Config::from_env()?;
    let sdk = sdk_config().await;
    let store = DynamoStore::new(aws_sdk_dynamodb::Client::new(&sdk), config.table_name);
    store.warm_up().await;
    let live = LiveChecks::new(
        config.seller_products,
        Ec2Client::new(&sdk),
        AgreementClient::new(&sdk, config.agreements_timeout),
    )
    .with_agreements_timeout(config.agreements_timeout)
    .with_cache_ttl(config.agreements_cache_ttl);
    // The data feeds live in the same table: the same client reads them;
    // their reference data (products, offers, asOf) is kept for a minute.
    let api = Api::with_live_checks(store.clone(), live)
        .with_default_region(config.default_region)
        .with_metrics(Metrics::new(config.metrics_namespace))
        .with_feeds(CachedReference::new(store, REFERENCE_TTL))
        .with_usage_rule(config.usage_within_days);
    let api = &api;
    lambda_http::run(service_fn(move |req: Request| api.serve(req))).await
}
