//! The live checks over the wire: the API with the real adapters
//! (`psc_bridge::aws::Ec2Client`, our SigV4 signer; `AgreementClient`, the
//! unmodified `aws-sdk-marketplaceagreement`) against the local stand-in
//! (`tools/aws-standin`), which speaks EC2's Query protocol and the Agreement
//! API's RPC v2 CBOR and records what it received. The PSC side is in memory.

use std::time::Duration;

use aws_config::{BehaviorVersion, Region as SdkRegion, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_standin::seed::{
    ACCOUNT_ACTIVE, ACCOUNT_EXPIRED, ACCOUNT_OTHER, AGREEMENT_ACTIVE, AGREEMENT_EXPIRED, INSTANCE_EU,
    INSTANCE_OTHER_OWNER, INSTANCE_RUNNING, INSTANCE_STOPPED, PRODUCT_CODE_1, PRODUCT_CODE_2, PRODUCT_CODE_3,
    PRODUCT_ID_1, PRODUCT_ID_2, PRODUCT_ID_3,
};
use aws_standin::{InjectedError, RequestEntry, Running, Service, StandIn};
use eligibility_api::Api;
use eligibility_api::live::LiveChecks;
use psc_bridge::aws::ec2::Ec2Settings;
use psc_bridge::aws::{AgreementClient, Ec2Client};
use psc_bridge::entitlement::SellerProducts;
use psc_bridge::retry::Backoff;
use serde_json::{Value, json};

use crate::common::*;

type WireApi = Api<FakeLookups, Ec2Client, AgreementClient>;

async fn standin() -> Running {
    let s3 = Some(aws_standin::s3_client_for_endpoint("http://127.0.0.1:9"));
    StandIn { seed: true, s3, ..Default::default() }.start("127.0.0.1:0").await.expect("the stand-in starts")
}

fn sdk_config(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(SdkRegion::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKIDLOCALTEST",
            "local-secret",
            None,
            None,
            "test",
        )))
        .endpoint_url(endpoint)
        .build()
}

fn products() -> SellerProducts {
    SellerProducts::parse(&format!(
        "{PRODUCT_CODE_1}={PRODUCT_ID_1},{PRODUCT_CODE_2}={PRODUCT_ID_2},{PRODUCT_CODE_3}={PRODUCT_ID_3}"
    ))
    .unwrap()
}

fn api(standin: &Running, agreements_timeout: Duration) -> WireApi {
    let sdk = sdk_config(&standin.endpoint_url());
    let ec2 = Ec2Client::with_settings(
        &sdk,
        Ec2Settings {
            retry: Backoff::new(2, Duration::from_millis(10), Duration::from_millis(40)),
            ..Ec2Settings::default()
        },
    )
    .with_endpoint(standin.endpoint_url());
    let live = LiveChecks::new(products(), ec2, AgreementClient::new(&sdk, agreements_timeout))
        .with_agreements_timeout(agreements_timeout)
        .with_cache_ttl(Duration::ZERO);
    Api::with_live_checks(from_csv(&guide_csv()), live).with_clock(now)
}

async fn get(api: &WireApi, path: &str, query: &str) -> ApiResponse {
    let event = with_query(with_path(event_json("api-get-account"), "GET", path), query);
    answer(api.handle(request(&event)).await)
}

fn of(standin: &Running, service: Service) -> Vec<RequestEntry> {
    standin.requests().into_iter().filter(|r| r.service == service).collect()
}

#[tokio::test]
async fn the_instance_check_signs_for_ec2_in_the_instances_region() {
    let s = standin().await;
    let api = api(&s, Duration::from_secs(2));
    let q = format!("productCode={PRODUCT_CODE_1}");

    let a = get(&api, &format!("/accounts/{ACCOUNT_ACTIVE}/instances/{INSTANCE_RUNNING}"), &q).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(
        (
            a.body["found"].clone(),
            a.body["productRunning"].clone(),
            a.body["ownerId"].clone(),
            a.body["eligible"].clone()
        ),
        (json!(true), json!(true), json!(ACCOUNT_ACTIVE), json!(true)),
        "{}",
        a.text
    );
    let sent = of(&s, Service::Ec2);
    assert_eq!(sent.len(), 1, "one EC2 request: {sent:?}");
    let r = &sent[0];
    assert_eq!(r.operation.as_deref(), Some("ConfirmProductInstance"));
    assert_eq!(r.signing_service.as_deref(), Some("ec2"), "SigV4 credential scope service");
    assert_eq!(r.signing_region.as_deref(), Some("us-east-1"), "SigV4 credential scope region");
    assert_eq!((r.instance_id.as_deref(), r.product_code.as_deref()), (Some(INSTANCE_RUNNING), Some(PRODUCT_CODE_1)));
    assert_eq!(r.status, 200);

    // The EU instance: not found when asked in us-east-1, found in eu-west-1,
    // with a request signed for eu-west-1.
    let path = format!("/accounts/{ACCOUNT_ACTIVE}/instances/{INSTANCE_EU}");
    let a = get(&api, &path, &q).await;
    assert_eq!((a.status, a.body["found"].clone()), (200, json!(false)), "{}", a.text);
    let a = get(&api, &path, &format!("{q}&region=eu-west-1")).await;
    assert_eq!(
        (a.status, a.body["eligible"].clone(), a.body["region"].clone()),
        (200, json!(true), json!("eu-west-1"))
    );
    let last = of(&s, Service::Ec2).pop().unwrap();
    assert_eq!(last.signing_region.as_deref(), Some("eu-west-1"));

    // Someone else's instance, and a stopped one.
    let a = get(&api, &format!("/accounts/{ACCOUNT_ACTIVE}/instances/{INSTANCE_OTHER_OWNER}"), &q).await;
    assert_eq!(
        (
            a.body["productRunning"].clone(),
            a.body["ownerId"].clone(),
            a.body["ownerMatches"].clone(),
            a.body["eligible"].clone()
        ),
        (json!(true), json!(ACCOUNT_OTHER), json!(false), json!(false)),
        "{}",
        a.text
    );
    let a = get(
        &api,
        &format!("/accounts/{ACCOUNT_EXPIRED}/instances/{INSTANCE_STOPPED}"),
        &format!("productCode={PRODUCT_CODE_2}"),
    )
    .await;
    assert_eq!(
        (a.body["found"].clone(), a.body["productRunning"].clone(), a.body["ownerMatches"].clone()),
        (json!(true), json!(false), json!(true)),
        "{}",
        a.text
    );
    s.shutdown().await;
}

#[tokio::test]
async fn ec2_throttling_is_retried_then_answered_503_and_a_refusal_is_a_500() {
    let s = standin().await;
    let api = api(&s, Duration::from_secs(2));
    let path = format!("/accounts/{ACCOUNT_ACTIVE}/instances/{INSTANCE_RUNNING}");
    let q = format!("productCode={PRODUCT_CODE_1}");

    s.inject_service_error(Service::Ec2, InjectedError::of_type("RequestLimitExceeded", 1));
    let a = get(&api, &path, &q).await;
    assert_eq!((a.status, a.body["eligible"].clone()), (200, json!(true)), "one throttle is retried: {}", a.text);
    assert_eq!(of(&s, Service::Ec2).len(), 2);

    s.clear_requests();
    s.inject_service_error(Service::Ec2, InjectedError::of_type("RequestLimitExceeded", 10));
    let a = get(&api, &path, &q).await;
    assert_eq!(a.status, 503, "{}", a.text);
    assert_eq!(a.headers["retry-after"], "2");
    assert_eq!(of(&s, Service::Ec2).len(), 3, "three attempts, then the 503");
    s.clear_injected_error(Service::Ec2);

    s.inject_service_error(Service::Ec2, InjectedError::of_type("UnauthorizedOperation", 1));
    let a = get(&api, &path, &q).await;
    assert_eq!((a.status, a.body["error"]["code"].clone()), (500, json!("InternalError")), "{}", a.text);
    s.shutdown().await;
}

#[tokio::test]
async fn agreements_come_from_search_agreements_as_the_proposer() {
    let s = standin().await;
    let api = api(&s, Duration::from_secs(2));

    let a = get(&api, &format!("/accounts/{ACCOUNT_ACTIVE}"), "").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["eligible"], true);
    assert_eq!(a.body["sources"]["agreements"]["verdict"], "eligible", "{}", a.text);
    let listed: Vec<&Value> = a.body["agreements"].as_array().unwrap().iter().collect();
    assert_eq!(listed.len(), 1, "another seller's agreement is not listed: {listed:?}");
    let ag = listed[0];
    assert_eq!(ag["agreementId"], AGREEMENT_ACTIVE);
    assert_eq!((ag["status"].clone(), ag["active"].clone()), (json!("ACTIVE"), json!(true)));
    assert_eq!((ag["productId"].clone(), ag["productCode"].clone()), (json!(PRODUCT_ID_1), json!(PRODUCT_CODE_1)));
    assert_eq!(ag["endTime"], "2030-12-31T23:59:59.000Z");
    assert_eq!(ag["agreementType"], "PurchaseAgreement");

    let sent = of(&s, Service::Agreements);
    assert_eq!(sent.len(), 1, "{sent:?}");
    let r = &sent[0];
    assert_eq!(r.operation.as_deref(), Some("SearchAgreements"));
    assert_eq!(r.protocol.as_str(), "cbor", "the SDK speaks RPC v2 CBOR");
    assert_eq!(r.signing_service.as_deref(), Some("aws-marketplace"));
    assert_eq!(r.signing_region.as_deref(), Some("us-east-1"));
    let mut filters: Vec<(String, Vec<String>)> = r
        .filters
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|f| (f.name.unwrap_or_default(), f.values.unwrap_or_default()))
        .collect();
    filters.sort();
    assert_eq!(
        filters,
        [
            ("AcceptorAccountId".to_owned(), vec![ACCOUNT_ACTIVE.to_owned()]),
            ("AgreementType".to_owned(), vec!["PurchaseAgreement".to_owned()]),
            ("PartyType".to_owned(), vec!["Proposer".to_owned()]),
        ]
    );

    // Only an expired agreement: PSC alone makes the account eligible.
    let a = get(&api, &format!("/accounts/{ACCOUNT_EXPIRED}"), "").await;
    assert_eq!(a.body["eligible"], true, "{}", a.text);
    assert_eq!(a.body["sources"]["agreements"]["verdict"], "notEligible");
    assert_eq!(a.body["agreements"][0]["agreementId"], AGREEMENT_EXPIRED);
    assert_eq!(a.body["agreements"][0]["active"], false);
    s.shutdown().await;
}

#[tokio::test]
async fn every_page_of_agreements_is_read() {
    let s = standin().await;
    let template = s.agreements().get(AGREEMENT_ACTIVE).cloned().expect("the seeded agreement");
    let buyer = "010101010101";
    for i in 0..60 {
        let mut a = template.clone();
        a.agreement_id = format!("agmt-page{i:04}");
        a.acceptor_account_id = buyer.to_owned();
        a.status = if i == 59 { "ACTIVE".into() } else { "EXPIRED".into() };
        s.agreements().insert(a.agreement_id.clone(), a);
    }
    let api = api(&s, Duration::from_secs(2));
    let a = get(&api, &format!("/accounts/{buyer}"), "").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["agreements"].as_array().unwrap().len(), 60, "both pages");
    assert_eq!(a.body["eligible"], true, "the ACTIVE one is on the second page");
    assert_eq!(of(&s, Service::Agreements).len(), 2, "50 + 10");
    s.shutdown().await;
}

#[tokio::test]
async fn agreement_api_throttling_failures_and_slowness_degrade_to_the_psc_answer() {
    let s = standin().await;
    let api = api(&s, Duration::from_millis(500));
    let path = format!("/accounts/{ACCOUNT_ACTIVE}");
    for error in ["ThrottlingException", "InternalServerException", "AccessDeniedException"] {
        s.inject_service_error(Service::Agreements, InjectedError::of_type(error, 5));
        let a = get(&api, &path, "").await;
        assert_eq!(a.status, 200, "{error}: {}", a.text);
        assert_eq!(a.body["eligible"], true, "{error}: the PSC contacts still answer");
        assert_eq!(a.body["sources"]["agreements"]["verdict"], "unavailable", "{error}");
        assert_eq!(a.body["sources"]["pscContacts"]["verdict"], "eligible", "{error}");
        assert_eq!(a.body["contacts"].as_array().unwrap().len(), 2, "{error}");
        s.clear_injected_error(Service::Agreements);
    }

    s.set_latency(Service::Agreements, Duration::from_secs(3));
    let started = std::time::Instant::now();
    let a = get(&api, &path, "").await;
    let took = started.elapsed();
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["sources"]["agreements"]["verdict"], "unavailable");
    assert!(a.body["sources"]["agreements"]["message"].as_str().unwrap().contains("in time"), "{}", a.text);
    assert!(took < Duration::from_secs(2), "the lookup did not wait for the slow API ({took:?})");
    s.shutdown().await;
}
