//! The live checks through the handler, with in-memory ports: the Agreement
//! API's verdicts beside the PSC contacts' (every combination), its failures
//! (an answer without it, never a 500), its cache, and the instance check's
//! verdicts, 400s, 503 and 500.

use std::time::Duration;

use crate::common::*;
use eligibility_api::Api;
use eligibility_api::live::LiveChecks;
use psc_bridge::aws::AwsError;
use psc_bridge::domain::{AwsAccountId, ProductCode, Timestamp};
use psc_bridge::entitlement::{Agreement, InstanceId, Region, SellerProducts};
use psc_bridge::memory::{MemoryAgreements, MemoryInstance, MemoryInstances};
use serde_json::{Value, json};

/// The guide's two products with contacts, and a third without.
const PRODUCTS: &str = "4gzp2symm0v9zidfrn9f854w6=prod-4gzp2symm0v9z,\
c0dcyyqczbk5uc62acmp6450t=prod-c0dcyyqczbk5,zzzzzzzzzzzzzzzzzzzzzzzzz=prod-zzzz";
/// PSC: contacts on 4gzp (000011112222), c0dc (111122223333), 3qtu (333344445555).
const ACTIVE_AND_PSC: &str = "000011112222";
const EXPIRED_AND_PSC: &str = "111122223333";
const PSC_ONLY_OTHER_PRODUCT: &str = "333344445555";
const AGREEMENT_ONLY: &str = "777788889999";
const NOTHING: &str = "123412341234";
const INSTANCE: &str = "i-0a1b2c3d4e5f60718";

type LiveApi<'a> = Api<FakeLookups, &'a MemoryInstances, &'a MemoryAgreements>;
type Live<'a> = LiveChecks<&'a MemoryInstances, &'a MemoryAgreements>;

fn account(s: &str) -> AwsAccountId {
    AwsAccountId::parse(s).unwrap()
}

fn t(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn agreement(id: &str, acceptor: &str, product: &str, status: &str) -> Agreement {
    Agreement {
        agreement_id: id.to_owned(),
        status: status.to_owned(),
        agreement_type: Some("PurchaseAgreement".into()),
        acceptor: Some(account(acceptor)),
        product_id: Some(product.to_owned()),
        offer_id: Some(format!("offer-{id}")),
        acceptance_time: Some(t("2026-01-05T10:00:00.000Z")),
        start_time: Some(t("2026-01-05T10:00:00.000Z")),
        end_time: Some(t("2027-01-05T10:00:00.000Z")),
    }
}

struct World {
    instances: MemoryInstances,
    agreements: MemoryAgreements,
}

impl World {
    fn new() -> Self {
        let agreements = MemoryAgreements::new();
        agreements.insert(agreement("agmt-active", ACTIVE_AND_PSC, "prod-4gzp2symm0v9z", "ACTIVE"));
        // Not one of the seller's configured products: not listed.
        agreements.insert(agreement("agmt-unlisted", ACTIVE_AND_PSC, "prod-notmine", "ACTIVE"));
        agreements.insert(agreement("agmt-expired", EXPIRED_AND_PSC, "prod-c0dcyyqczbk5", "EXPIRED"));
        agreements.insert(agreement("agmt-new-buyer", AGREEMENT_ONLY, "prod-zzzz", "ACTIVE"));
        let instances = MemoryInstances::new();
        let us_east_1 = Region::parse("us-east-1").unwrap();
        let add = |id: &str, region: &Region, owner: &str, running: bool| {
            instances.insert(MemoryInstance {
                region: region.clone(),
                instance: InstanceId::parse(id).unwrap(),
                owner: account(owner),
                product_codes: vec![ProductCode::parse(PRODUCT).unwrap()],
                running,
            })
        };
        add(INSTANCE, &us_east_1, ACTIVE_AND_PSC, true);
        add("i-0000000000000000b", &us_east_1, ACTIVE_AND_PSC, false);
        add("i-0000000000000000c", &us_east_1, "444455556666", true);
        add("i-0000000000000000d", &Region::parse("eu-west-1").unwrap(), ACTIVE_AND_PSC, true);
        Self { instances, agreements }
    }

    fn api(&self) -> LiveApi<'_> {
        self.api_with(PRODUCTS, |l| l)
    }

    fn api_with<'a>(&'a self, products: &str, tune: impl FnOnce(Live<'a>) -> Live<'a>) -> LiveApi<'a> {
        let live = tune(LiveChecks::new(SellerProducts::parse(products).unwrap(), &self.instances, &self.agreements));
        Api::with_live_checks(from_csv(&guide_csv()), live).with_clock(now)
    }
}

async fn get(api: &LiveApi<'_>, path: &str, query: &str) -> ApiResponse {
    get_as(api, path, query, "live-test").await
}

/// With a request id of its own, to find its log lines.
async fn get_as(api: &LiveApi<'_>, path: &str, query: &str, request_id: &str) -> ApiResponse {
    let event = with_request_id(with_query(with_path(event_json("api-get-account"), "GET", path), query), request_id);
    answer(api.handle(request(&event)).await)
}

fn verdicts(b: &Value) -> (Value, Value) {
    (b["sources"]["agreements"]["verdict"].clone(), b["sources"]["pscContacts"]["verdict"].clone())
}

// ------------------------------------------------------------- agreements

#[tokio::test]
async fn an_active_agreement_and_a_psc_contact_both_support_the_caller() {
    let w = World::new();
    let a = get(&w.api(), &format!("/accounts/{ACTIVE_AND_PSC}"), "").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["eligible"], true);
    assert_eq!(verdicts(&a.body), (json!("eligible"), json!("eligible")));
    assert_eq!(
        a.body["agreements"],
        json!([{
            "agreementId": "agmt-active",
            "status": "ACTIVE",
            "active": true,
            "productCode": PRODUCT,
            "productId": "prod-4gzp2symm0v9z",
            "offerId": "offer-agmt-active",
            "agreementType": "PurchaseAgreement",
            "acceptanceTime": "2026-01-05T10:00:00.000Z",
            "startTime": "2026-01-05T10:00:00.000Z",
            "endTime": "2027-01-05T10:00:00.000Z"
        }]),
        "only the seller's configured products are listed"
    );
    let source = &a.body["sources"]["agreements"];
    assert_eq!(source["asOf"], json!(now().to_iso()));
    assert_eq!((source["ageSeconds"].clone(), source["cached"].clone()), (json!(0), json!(false)));
    let psc = &a.body["sources"]["pscContacts"];
    assert_eq!((psc["asOf"].clone(), psc["staleBeyondOneBusinessDay"].clone()), (json!(WATERMARK), json!(false)));
    assert_eq!(a.body["contacts"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn each_source_alone_makes_the_caller_eligible_and_neither_does_not() {
    let w = World::new();
    let api = w.api();
    let cases = [
        (AGREEMENT_ONLY, true, "eligible", "notEligible"),
        (EXPIRED_AND_PSC, true, "notEligible", "eligible"),
        (PSC_ONLY_OTHER_PRODUCT, true, "notEligible", "eligible"),
        (NOTHING, false, "notEligible", "notEligible"),
    ];
    for (acct, eligible, agreements, psc) in cases {
        let a = get(&api, &format!("/accounts/{acct}"), "").await;
        assert_eq!(a.status, 200, "{acct}: {}", a.text);
        assert_eq!(a.body["eligible"], eligible, "{acct}: {}", a.text);
        assert_eq!(verdicts(&a.body), (json!(agreements), json!(psc)), "{acct}");
    }
    let expired = get(&api, &format!("/accounts/{EXPIRED_AND_PSC}"), "").await;
    assert_eq!(expired.body["agreements"][0]["status"], "EXPIRED");
    assert_eq!(expired.body["agreements"][0]["active"], false);
    assert_eq!(expired.body["agreements"][0]["productCode"], "c0dcyyqczbk5uc62acmp6450t");
}

#[tokio::test]
async fn the_product_route_counts_only_that_products_agreements() {
    let w = World::new();
    let api = w.api();
    let a = get(&api, &format!("/accounts/{ACTIVE_AND_PSC}/products/{PRODUCT}"), "").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(verdicts(&a.body), (json!("eligible"), json!("eligible")));
    assert_eq!(a.body["agreements"].as_array().unwrap().len(), 1);

    // The same account on the third product: no agreement, no contact.
    let a = get(&api, &format!("/accounts/{ACTIVE_AND_PSC}/products/zzzzzzzzzzzzzzzzzzzzzzzzz"), "").await;
    assert_eq!(a.body["eligible"], false, "{}", a.text);
    assert_eq!(verdicts(&a.body), (json!("notEligible"), json!("notEligible")));
    assert_eq!(a.body["agreements"], json!([]));

    // A product PSC knows but SellerProducts does not map: PSC alone answers.
    let a = get(&api, &format!("/accounts/{PSC_ONLY_OTHER_PRODUCT}/products/3qtu9xydxldrj8c5jyldy1lqo"), "").await;
    assert_eq!(a.body["eligible"], true, "{}", a.text);
    assert_eq!(verdicts(&a.body), (json!("notConfigured"), json!("eligible")));
}

#[tokio::test]
async fn without_seller_products_the_api_answers_from_psc_data_alone() {
    let w = World::new();
    let api = w.api_with("", |l| l);
    let a = get(&api, &format!("/accounts/{AGREEMENT_ONLY}"), "").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["eligible"], false);
    assert_eq!(verdicts(&a.body), (json!("notConfigured"), json!("notEligible")));
    assert!(a.body["sources"]["agreements"]["message"].as_str().unwrap().contains("SellerProducts"));
    let a = get(&api, &format!("/accounts/{ACTIVE_AND_PSC}"), "").await;
    assert_eq!(a.body["eligible"], true);
    assert_eq!(w.agreements.calls(), 0, "the Agreement API is not called");

    let a =
        get(&api, &format!("/accounts/{ACTIVE_AND_PSC}/instances/{INSTANCE}"), &format!("productCode={PRODUCT}")).await;
    assert_eq!(a.status, 400, "{}", a.text);
    assert_eq!(a.body["error"]["code"], "NotConfigured");
    assert!(a.body["error"]["message"].as_str().unwrap().contains("no products are configured"));
    assert_eq!(w.instances.calls(), 0);
}

#[tokio::test]
async fn agreement_api_throttling_errors_and_timeouts_give_the_psc_answer_never_a_500() {
    let cases = [
        (
            "throttled",
            AwsError::service("MarketplaceAgreement", "SearchAgreements", "ThrottlingException", "Rate exceeded", 429),
            "throttling",
        ),
        (
            "5xx",
            AwsError::service("MarketplaceAgreement", "SearchAgreements", "InternalServerException", "oops", 500),
            "could not be reached",
        ),
        (
            "denied",
            AwsError::service("MarketplaceAgreement", "SearchAgreements", "AccessDeniedException", "no", 403),
            "could not be reached",
        ),
    ];
    for (what, error, says) in cases {
        let w = World::new();
        w.agreements.fail_with(Some(error));
        let logs = capture_logs();
        let rid = format!("agreements-{what}");
        let a = get_as(&w.api(), &format!("/accounts/{ACTIVE_AND_PSC}"), "", &rid).await;
        assert_eq!(a.status, 200, "{what}: {}", a.text);
        assert_eq!(a.body["eligible"], true, "{what}: PSC still answers");
        assert_eq!(verdicts(&a.body), (json!("unavailable"), json!("eligible")), "{what}");
        let source = &a.body["sources"]["agreements"];
        assert!(source["message"].as_str().unwrap().contains(says), "{what}: {source}");
        assert_eq!(source["asOf"], Value::Null);
        assert_eq!(a.body["agreements"], json!([]));
        assert_eq!(a.body["contacts"].as_array().unwrap().len(), 2, "{what}");
        let lines = logs.lines_with(&rid);
        let warning = lines
            .iter()
            .find(|l| l["message"] == "agreements unavailable: answering from PSC data alone")
            .unwrap_or_else(|| panic!("{what}: the failure is logged: {lines:?}"));
        assert_eq!(warning["level"], "WARN", "{warning}");
        let permission = if what == "denied" { "aws-marketplace:SearchAgreements" } else { "-" };
        assert_eq!(warning["missing_permission"], permission, "{warning}");
    }

    // Slow: the answer does not wait beyond the timeout.
    let w = World::new();
    w.agreements.set_delay(Duration::from_secs(5));
    let api = w.api_with(PRODUCTS, |l| l.with_agreements_timeout(Duration::from_millis(50)));
    let started = std::time::Instant::now();
    let a = get(&api, &format!("/accounts/{AGREEMENT_ONLY}"), "").await;
    assert!(started.elapsed() < Duration::from_secs(4), "answered without waiting for the slow API");
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["eligible"], false);
    assert_eq!(verdicts(&a.body), (json!("unavailable"), json!("notEligible")));
    assert!(a.body["sources"]["agreements"]["message"].as_str().unwrap().contains("in time"));
}

#[tokio::test]
async fn agreements_are_cached_briefly_and_failures_are_not() {
    let w = World::new();
    let api = w.api();
    let first = get(&api, &format!("/accounts/{ACTIVE_AND_PSC}"), "").await;
    let again = get(&api, &format!("/accounts/{ACTIVE_AND_PSC}/products/{PRODUCT}"), "").await;
    assert_eq!(w.agreements.calls(), 1, "the second lookup of the account uses the cache");
    assert_eq!(first.body["sources"]["agreements"]["cached"], false);
    assert_eq!(again.body["sources"]["agreements"]["cached"], true);
    assert_eq!(again.body["agreements"], first.body["agreements"]);
    get(&api, &format!("/accounts/{AGREEMENT_ONLY}"), "").await;
    assert_eq!(w.agreements.calls(), 2, "another account is asked for");

    let w = World::new();
    let api = w.api_with(PRODUCTS, |l| l.with_cache_ttl(Duration::ZERO));
    get(&api, &format!("/accounts/{ACTIVE_AND_PSC}"), "").await;
    get(&api, &format!("/accounts/{ACTIVE_AND_PSC}"), "").await;
    assert_eq!(w.agreements.calls(), 2, "no cache with a zero TTL");

    let w = World::new();
    let api = w.api();
    w.agreements.fail_with(Some(AwsError::service(
        "MarketplaceAgreement",
        "SearchAgreements",
        "ThrottlingException",
        "x",
        429,
    )));
    get(&api, &format!("/accounts/{ACTIVE_AND_PSC}"), "").await;
    w.agreements.fail_with(None);
    let a = get(&api, &format!("/accounts/{ACTIVE_AND_PSC}"), "").await;
    assert_eq!(w.agreements.calls(), 2, "a failure is not cached");
    assert_eq!(verdicts(&a.body), (json!("eligible"), json!("eligible")));
}

// ------------------------------------------------------------ instances

#[tokio::test]
async fn the_instance_check_answers_every_verdict() {
    let w = World::new();
    let api = w.api();
    let q = format!("productCode={PRODUCT}");
    let check = |id: &'static str, query: String| {
        let api = &api;
        async move { get(api, &format!("/accounts/{ACTIVE_AND_PSC}/instances/{id}"), &query).await }
    };

    let a = check(INSTANCE, q.clone()).await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(
        a.body,
        json!({
            "awsAccountId": ACTIVE_AND_PSC,
            "instanceId": INSTANCE,
            "productCode": PRODUCT,
            "region": "us-east-1",
            "found": true,
            "productRunning": true,
            "ownerId": ACTIVE_AND_PSC,
            "ownerMatches": true,
            "eligible": true,
            "sources": {"instance": {
                "verdict": "eligible",
                "asOf": now().to_iso(),
                "message": "the instance runs this product and belongs to this account"
            }}
        })
    );

    // (instance, query, found, productRunning, ownerMatches, what the message says)
    let cases = [
        ("i-0000000000000000b", q.clone(), true, false, true, "does not run this product"),
        ("i-0000000000000000c", q.clone(), true, true, false, "another account owns it"),
        ("i-0000000000000000d", q.clone(), false, false, false, "no such instance in this region"),
        ("i-0000000000000000d", format!("{q}&region=eu-west-1"), true, true, true, "belongs to this account"),
        ("i-00000000000000fff", q.clone(), false, false, false, "no such instance"),
        (INSTANCE, "productCode=c0dcyyqczbk5uc62acmp6450t".to_owned(), true, false, true, "does not run this product"),
    ];
    for (id, query, found, running, owner_matches, says) in cases {
        let a = check(id, query.clone()).await;
        assert_eq!(a.status, 200, "{id} {query}: {}", a.text);
        let b = &a.body;
        assert_eq!(
            (b["found"].clone(), b["productRunning"].clone(), b["ownerMatches"].clone()),
            (json!(found), json!(running), json!(owner_matches)),
            "{id} {query}: {b}"
        );
        let eligible = running && owner_matches;
        assert_eq!(b["eligible"], eligible, "{id} {query}");
        let verdict = if eligible { "eligible" } else { "notEligible" };
        assert_eq!(b["sources"]["instance"]["verdict"], verdict, "{id} {query}");
        assert!(b["sources"]["instance"]["message"].as_str().unwrap().contains(says), "{id} {query}: {b}");
    }
    let other_owner = check("i-0000000000000000c", q.clone()).await;
    assert_eq!(other_owner.body["ownerId"], "444455556666");
    let unknown = check("i-00000000000000fff", q.clone()).await;
    assert_eq!(unknown.body["ownerId"], Value::Null);
}

#[tokio::test]
async fn the_instance_check_refuses_bad_input_with_400s() {
    let w = World::new();
    let api = w.api();
    let good = format!("productCode={PRODUCT}");
    let cases = [
        (format!("/accounts/12345/instances/{INSTANCE}"), good.clone(), "awsAccountId"),
        (format!("/accounts/{ACTIVE_AND_PSC}/instances/i-123"), good.clone(), "instanceId"),
        (format!("/accounts/{ACTIVE_AND_PSC}/instances/0a1b2c3d4e5f60718"), good.clone(), "instanceId"),
        (format!("/accounts/{ACTIVE_AND_PSC}/instances/{INSTANCE}"), String::new(), "productCode"),
        (format!("/accounts/{ACTIVE_AND_PSC}/instances/{INSTANCE}"), "productCode=".into(), "productCode"),
        (format!("/accounts/{ACTIVE_AND_PSC}/instances/{INSTANCE}"), "productCode=short".into(), "productCode"),
        (
            format!("/accounts/{ACTIVE_AND_PSC}/instances/{INSTANCE}"),
            "productCode=3qtu9xydxldrj8c5jyldy1lqo".into(),
            "productCode",
        ),
        (format!("/accounts/{ACTIVE_AND_PSC}/instances/{INSTANCE}"), format!("{good}&region=mars-1"), "region"),
        (format!("/accounts/{ACTIVE_AND_PSC}/instances/{INSTANCE}"), format!("{good}&limit=5"), "limit"),
    ];
    for (path, query, field) in cases {
        let a = get(&api, &path, &query).await;
        assert_eq!(a.status, 400, "{path}?{query}: {}", a.text);
        assert_eq!(a.body["error"]["code"], "InvalidParameter", "{path}?{query}");
        assert_eq!(a.body["error"]["field"], field, "{path}?{query}: {}", a.text);
    }
    let not_sellers =
        get(&api, &format!("/accounts/{ACTIVE_AND_PSC}/instances/{INSTANCE}"), "productCode=3qtu9xydxldrj8c5jyldy1lqo")
            .await;
    assert!(not_sellers.body["error"]["message"].as_str().unwrap().contains("not one of the seller's products"));
    assert_eq!(w.instances.calls(), 0, "EC2 is never called for a bad request");
}

#[tokio::test]
async fn ec2_throttling_is_a_503_with_retry_after_and_access_denied_a_500_naming_the_permission() {
    let w = World::new();
    let api = w.api();
    let path = format!("/accounts/{ACTIVE_AND_PSC}/instances/{INSTANCE}");
    let q = format!("productCode={PRODUCT}");
    for (code, status) in [("RequestLimitExceeded", 503), ("InternalError", 500), ("Unavailable", 503)] {
        w.instances.fail_with(Some(AwsError::service("EC2", "ConfirmProductInstance", code, "x", status)));
        let a = get(&api, &path, &q).await;
        assert_eq!(a.status, 503, "{code}: {}", a.text);
        assert_eq!(a.headers["retry-after"], "2", "{code}");
        assert_eq!(a.body["error"]["code"], "ServiceUnavailable");
        assert!(a.body["error"]["message"].as_str().unwrap().contains("retry"));
    }

    let logs = capture_logs();
    w.instances.fail_with(Some(AwsError::service(
        "EC2",
        "ConfirmProductInstance",
        "UnauthorizedOperation",
        "You are not authorized to perform this operation.",
        403,
    )));
    let event = with_request_id(with_query(with_path(event_json("api-get-account"), "GET", &path), &q), "req-denied");
    let a = answer(api.handle(request(&event)).await);
    assert_eq!(a.status, 500, "{}", a.text);
    assert_eq!(a.body["error"]["code"], "InternalError");
    let lines = logs.lines_with("req-denied");
    let line = lines.iter().find(|l| l["message"] == "lookup failed").expect("an error line for the request");
    assert_eq!(line["level"], "ERROR", "{line}");
    assert_eq!(line["missing_permission"], "ec2:ConfirmProductInstance", "{line}");
    assert_eq!(line["code"], "UnauthorizedOperation", "{line}");
}

#[tokio::test]
async fn the_audit_line_names_the_instance_check() {
    let w = World::new();
    let logs = capture_logs();
    let a = answer(w.api().handle(request(&event_json("api-get-instance"))).await);
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["eligible"], true);
    let f = logs.audit_line("JKJaXmPLvHcESIN=");
    assert_eq!(f["route"], "/accounts/{awsAccountId}/instances/{instanceId}", "{f}");
    assert_eq!(f["key_kind"], "instance");
    assert_eq!(f["key"], format!("{ACTIVE_AND_PSC}/{INSTANCE}"));
    assert_eq!(f["status"], 200);
}
