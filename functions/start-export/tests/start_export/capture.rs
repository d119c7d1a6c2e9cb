//! Captures the request a CAS client would send, without sending it.

use std::sync::{Arc, Mutex};

use aws_sdk_marketplacecommerceanalytics as cas;
use aws_sdk_marketplacecommerceanalytics::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_marketplacecommerceanalytics::config::{ConfigBag, Intercept, RuntimeComponents};

#[derive(Debug, Clone, Default)]
struct Capture(Arc<Mutex<Option<(String, String)>>>);

impl Intercept for Capture {
    fn name(&self) -> &'static str {
        "Capture"
    }

    fn read_before_transmit(
        &self,
        ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let req = ctx.request();
        let auth = req.headers().get("authorization").unwrap_or_default().to_owned();
        *self.0.lock().unwrap() = Some((req.uri().to_owned(), auth));
        Err("captured, not sent".into())
    }
}

/// (URI, Authorization header) of the request the client would send.
#[allow(deprecated)]
pub async fn captured(client: &cas::Client) -> (String, String) {
    let capture = Capture::default();
    let client = cas::Client::from_conf(client.config().to_builder().interceptor(capture.clone()).build());
    let result = client
        .start_support_data_export()
        .data_set_type(cas::types::SupportDataSetType::TestCustomerSupportContactsData)
        .from_date(cas::primitives::DateTime::from_secs(1_262_304_000))
        .role_name_arn("arn:aws:iam::123456789012:role/psc")
        .destination_s3_bucket_name("psc-exports")
        .sns_topic_arn("arn:aws:sns:eu-west-1:123456789012:psc")
        .send()
        .await;
    assert!(result.is_err(), "the interceptor stops the request");
    capture.0.lock().unwrap().clone().expect("the request reached the transmit phase")
}
