//! The Agreement API's `SearchAgreements` answer (CBOR, rpcv2Cbor), read by
//! the SDK and turned into [`Agreement`]s by `psc_bridge::aws::agreements`.
//! The input is a status byte (even: 200, odd: 400) and the body every
//! page answers with.
//!
//! * Whatever the body, the client answers: agreements, or an error of
//!   this service and operation; it never reads more than `MAX_PAGES`
//!   pages.
//! * An acceptor, when read, is a 12-digit account id.
//! * A 400 is retryable only when it is throttling.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use psc_bridge::aws::agreements::MAX_PAGES;
use psc_bridge::aws::{AgreementClient, Failure};
use psc_bridge::domain::AwsAccountId;
use psc_bridge::entitlement::Agreement;
use psc_bridge::ports::AgreementSource;

use crate::block_on;

/// An HTTP client that answers every request with one status and body.
#[derive(Debug, Clone)]
struct Canned {
    status: u16,
    body: Arc<Vec<u8>>,
    calls: Arc<AtomicUsize>,
}

impl HttpConnector for Canned {
    fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let status = StatusCode::try_from(self.status).expect("a status");
        let mut response = HttpResponse::new(status, SdkBody::from(self.body.as_slice().to_vec()));
        response.headers_mut().insert("content-type", "application/cbor");
        response.headers_mut().insert("smithy-protocol", "rpc-v2-cbor");
        HttpConnectorFuture::ready(Ok(response))
    }
}

impl HttpClient for Canned {
    fn http_connector(&self, _: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

/// What the client makes of `body` answered with `status` to every page.
pub fn search(status: u16, body: &[u8]) -> (Result<Vec<Agreement>, psc_bridge::aws::AwsError>, usize) {
    let canned = Canned { status, body: Arc::new(body.to_vec()), calls: Arc::default() };
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new("AKIDFUZZ", "fuzz", None, None, "fuzz")))
        .http_client(SharedHttpClient::new(canned.clone()))
        .build();
    let client = AgreementClient::new(&sdk, Duration::from_secs(30));
    let acceptor = AwsAccountId::parse("000011112222").expect("an account id");
    let result = block_on(client.purchase_agreements(&acceptor));
    (result, canned.calls.load(Ordering::Relaxed))
}

pub fn check(data: &[u8]) {
    let Some((&s, body)) = data.split_first() else { return };
    let status = if s % 2 == 0 { 200 } else { 400 };
    let (result, calls) = search(status, body);
    match result {
        Ok(agreements) => {
            assert!(calls <= MAX_PAGES, "{calls} pages read");
            for a in &agreements {
                if let Some(acceptor) = &a.acceptor {
                    let id = acceptor.as_str();
                    assert!(id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()), "acceptor {id:?}");
                }
            }
        }
        Err(e) => {
            assert_eq!((e.service, e.operation), ("MarketplaceAgreement", "SearchAgreements"));
            if e.failure == Failure::Service && status == 400 {
                assert_eq!(e.retryable, e.is_throttling(), "a 400 {:?}: retryable {}", e.code(), e.retryable);
            }
            assert!(!e.to_string().is_empty());
        }
    }
}
