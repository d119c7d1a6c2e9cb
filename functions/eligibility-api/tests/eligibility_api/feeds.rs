//! The data feeds through the handler, with in-memory ports (the feeds
//! filled from CSV rows as the ingest applies them): the `dataFeeds`
//! source, every combination of the sources into `eligibility` (with
//! `unconfirmed` and the usage rule), `SellerProducts` taken from the feeds,
//! and the subscriber report in JSON and CSV.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::common::*;
use eligibility_api::Api;
use eligibility_api::live::{LiveChecks, NotConfigured};
use psc_bridge::aws::AwsError;
use psc_bridge::domain::{AwsAccountId, Timestamp};
use psc_bridge::entitlement::{Agreement, SellerProducts};
use psc_bridge::feeds::{
    AccountPage, AccountRow, AgreementRow, DailyUsageRow, FeedAccountId, FeedAgreement, FeedProduct, OfferProductRow,
    ProductRow,
};
use psc_bridge::memory::{MemoryAgreements, MemoryFeeds, MemoryInstances};
use psc_bridge::model::Page;
use psc_bridge::ports::{
    AgreementSource, ContactStore, ExportLog, FeedLookup, FeedStore, InstanceConfirmer, LookupError,
};
use serde_json::{Value, json};
use time::Date;

pub(crate) const AS_OF: &str = "2026-11-23T01:30:00.000Z";
pub(crate) const P_ID: &str = "prod-4gzp2symm0v9z";
pub(crate) const Q_CODE: &str = "c0dcyyqczbk5uc62acmp6450t";
const Q_ID: &str = "prod-c0dcyyqczbk5";

/// An ACTIVE agreement for PRODUCT, used the day before `asOf`.
pub(crate) const USED: &str = "444400001111";
/// An ACTIVE agreement for PRODUCT, last used on 2026-08-01.
pub(crate) const IDLE: &str = "444400002222";
/// An EXPIRED agreement for PRODUCT; a number with a leading zero.
pub(crate) const ENDED: &str = "044400003333";
/// The guide's account with PSC contacts on PRODUCT: an ACTIVE agreement,
/// never used.
pub(crate) const GUIDE: &str = ACCOUNT;
/// In no feed, with no contact.
pub(crate) const NOBODY: &str = "999900009999";
/// A new subscriber: an ACTIVE agreement in the Agreement API only.
pub(crate) const NEW_BUYER: &str = "555500006666";

fn csv(header: &str, rows: &[String]) -> String {
    format!("{header}\n{}\n", rows.join("\n"))
}

fn history_cols(from: &str) -> String {
    format!("{from},{from},{from},")
}

/// The feeds of the tests' seller: two products, one offer each, four buyers.
pub(crate) fn feeds() -> MemoryFeeds {
    let f = MemoryFeeds::new();
    let h = history_cols("2026-01-02T00:00:00Z");
    let buyers = [
        ("FeedAcctUsed0001", USED),
        ("FeedAcctIdle0001", IDLE),
        ("FeedAcctEnded001", ENDED),
        ("FeedAcctGuide001", GUIDE),
    ];
    f.load_csv::<AccountRow>(&csv(
        "account_id,aws_account_id,valid_from,insert_date,update_date,delete_date",
        &buyers.iter().map(|(id, aws)| format!("{id},{aws},{h}")).collect::<Vec<_>>(),
    ));
    f.load_csv::<ProductRow>(&csv(
        "product_id,product_code,title,valid_from,insert_date,update_date,delete_date",
        &[format!("{P_ID},{PRODUCT},Example Product,{h}"), format!("{Q_ID},{Q_CODE},Other Product,{h}")],
    ));
    f.load_csv::<OfferProductRow>(&csv(
        "offer_id,offer_revision,product_id,valid_from,insert_date,update_date,delete_date",
        &[format!("offer-p1,1,{P_ID},{h}"), format!("offer-q1,1,{Q_ID},{h}")],
    ));
    let agreement = |id: &str, buyer: &str, offer: &str, status: &str, start: &str, end: &str| {
        format!("{h},{status},{id},{buyer},{offer},{start},{end},{start}")
    };
    f.load_csv::<AgreementRow>(&csv(
        "valid_from,insert_date,update_date,delete_date,status,agreement_id,acceptor_account_id,offer_id,start_time,end_time,acceptance_time",
        &[
            agreement("agmt-used", "FeedAcctUsed0001", "offer-p1", "ACTIVE", "2026-01-05T10:00:00Z", "2027-01-05T10:00:00Z"),
            agreement("agmt-idle", "FeedAcctIdle0001", "offer-p1", "ACTIVE", "2026-01-05T10:00:00Z", ""),
            agreement("agmt-ended", "FeedAcctEnded001", "offer-p1", "EXPIRED", "2025-01-01T00:00:00Z", "2026-01-01T00:00:00Z"),
            agreement("agmt-guide", "FeedAcctGuide001", "offer-p1", "ACTIVE", "2026-01-05T10:00:00Z", ""),
        ],
    ));
    let usage = |n: u32, day: &str, buyer: &str| format!("{h},usage-{n:04},{day},{P_ID},{buyer}");
    f.load_csv::<DailyUsageRow>(&csv(
        "valid_from,insert_date,update_date,delete_date,usage_feed_id,usage_date,product_id,end_user_account_id",
        &[
            usage(1, "2026-11-21", "FeedAcctUsed0001"),
            usage(2, "2026-11-22", "FeedAcctUsed0001"),
            usage(3, "2026-08-01", "FeedAcctIdle0001"),
        ],
    ));
    f
}

/// The feeds, with a switch that fails every read and a count of the
/// product listings read.
pub(crate) struct Feeds {
    pub(crate) inner: MemoryFeeds,
    fail: AtomicBool,
    product_reads: AtomicUsize,
}

impl Feeds {
    pub(crate) async fn applied() -> Self {
        let inner = feeds();
        inner.save_feeds_as_of(Timestamp::parse(AS_OF).unwrap()).await.unwrap();
        Self { inner, fail: AtomicBool::new(false), product_reads: AtomicUsize::new(0) }
    }

    fn check(&self) -> Result<(), AwsError> {
        if self.fail.load(Ordering::Relaxed) {
            Err(AwsError::service("DynamoDB", "Query", "InternalServerError", "the table is down", 500))
        } else {
            Ok(())
        }
    }
}

impl FeedLookup for Feeds {
    async fn feeds_as_of(&self) -> Result<Option<Timestamp>, AwsError> {
        self.check()?;
        self.inner.feeds_as_of().await
    }
    async fn feed_accounts(&self, a: &AwsAccountId) -> Result<Vec<FeedAccountId>, AwsError> {
        self.check()?;
        self.inner.feed_accounts(a).await
    }
    async fn aws_account_ids(&self, ids: &[FeedAccountId]) -> Result<BTreeMap<FeedAccountId, AwsAccountId>, AwsError> {
        self.check()?;
        self.inner.aws_account_ids(ids).await
    }
    async fn account_page(&self, a: &FeedAccountId, after: Option<&str>, n: usize) -> Result<AccountPage, AwsError> {
        self.check()?;
        self.inner.account_page(a, after, n).await
    }
    async fn last_usage(&self, a: &FeedAccountId, p: &str) -> Result<Option<Date>, AwsError> {
        self.check()?;
        self.inner.last_usage(a, p).await
    }
    async fn feed_products(&self) -> Result<Vec<FeedProduct>, AwsError> {
        self.check()?;
        self.product_reads.fetch_add(1, Ordering::Relaxed);
        self.inner.feed_products().await
    }
    async fn offer_products(&self, o: &str) -> Result<Vec<String>, AwsError> {
        self.check()?;
        self.inner.offer_products(o).await
    }
    async fn product_offers(&self, p: &str) -> Result<Vec<String>, AwsError> {
        self.check()?;
        self.inner.product_offers(p).await
    }
    async fn offer_agreements(
        &self,
        o: &str,
        active_only: bool,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<FeedAgreement>, LookupError> {
        self.check()?;
        self.inner.offer_agreements(o, active_only, cursor, limit).await
    }
}

fn live_agreement(id: &str, acceptor: &str, product: &str, status: &str) -> Agreement {
    let t = |s| Timestamp::parse(s).unwrap();
    Agreement {
        agreement_id: id.to_owned(),
        status: status.to_owned(),
        agreement_type: Some("PurchaseAgreement".into()),
        acceptor: Some(AwsAccountId::parse(acceptor).unwrap()),
        product_id: Some(product.to_owned()),
        offer_id: Some("offer-p1".into()),
        acceptance_time: Some(t("2026-01-05T10:00:00.000Z")),
        start_time: Some(t("2026-01-05T10:00:00.000Z")),
        end_time: None,
    }
}

/// The Agreement API as it answers today: the feeds' ACTIVE agreements, the
/// ended one, and a subscriber newer than the feeds' `asOf`.
fn live_agreements() -> MemoryAgreements {
    let a = MemoryAgreements::new();
    a.insert(live_agreement("agmt-used", USED, P_ID, "ACTIVE"));
    a.insert(live_agreement("agmt-idle", IDLE, P_ID, "ACTIVE"));
    a.insert(live_agreement("agmt-ended", ENDED, P_ID, "EXPIRED"));
    a.insert(live_agreement("agmt-new", NEW_BUYER, P_ID, "ACTIVE"));
    a
}

/// PSC data, the feeds, no live checks.
pub(crate) fn api(feeds: &Feeds, rule: Option<u32>) -> Api<FakeLookups, NotConfigured, NotConfigured, &Feeds> {
    Api::new(from_csv(&guide_csv())).with_clock(now).with_feeds(feeds).with_usage_rule(rule)
}

/// PSC data, the feeds, and the live checks with `products` (`""`: the feeds').
fn live_api<'a>(
    feeds: &'a Feeds,
    agreements: &'a MemoryAgreements,
    instances: &'a MemoryInstances,
    products: &str,
    rule: Option<u32>,
) -> Api<FakeLookups, &'a MemoryInstances, &'a MemoryAgreements, &'a Feeds> {
    let live = LiveChecks::new(SellerProducts::parse(products).unwrap(), instances, agreements);
    Api::with_live_checks(from_csv(&guide_csv()), live).with_clock(now).with_feeds(feeds).with_usage_rule(rule)
}

async fn get<S, E, G, F>(api: &Api<S, E, G, F>, path: &str, query: &str) -> ApiResponse
where
    S: ContactStore + ExportLog,
    E: InstanceConfirmer,
    G: AgreementSource,
    F: FeedLookup,
{
    let event = with_query(with_path(event_json("api-get-account"), "GET", path), query);
    answer(api.handle(request(&event)).await)
}

/// `(eligibility, eligible, agreements verdict, dataFeeds verdict, pscContacts verdict)`
fn summary(b: &Value) -> (String, bool, String, String, String) {
    let s = |v: &Value| v.as_str().unwrap_or_else(|| panic!("a string: {v}")).to_owned();
    (
        s(&b["eligibility"]),
        b["eligible"].as_bool().unwrap(),
        s(&b["sources"]["agreements"]["verdict"]),
        s(&b["sources"]["dataFeeds"]["verdict"]),
        s(&b["sources"]["pscContacts"]["verdict"]),
    )
}

fn expect(eligibility: &str, agreements: &str, feeds: &str, psc: &str) -> (String, bool, String, String, String) {
    (eligibility.into(), eligibility == "eligible", agreements.into(), feeds.into(), psc.into())
}

fn reason(b: &Value) -> &str {
    b["eligibilityReason"].as_str().unwrap()
}

// ------------------------------------------------------ the dataFeeds source

#[tokio::test]
async fn the_data_feeds_source_shows_the_accounts_subscriptions_and_usage() {
    let feeds = Feeds::applied().await;
    let a = get(&api(&feeds, None), &format!("/accounts/{USED}"), "").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(
        a.body["sources"]["dataFeeds"],
        json!({
            "verdict": "eligible",
            "asOf": AS_OF,
            "ageSeconds": 55_800,
            "stale": false,
            "usageWithinDays": null,
            "decidedByUsageRule": false,
            "message": format!("an ACTIVE agreement for product {PRODUCT} (as of {AS_OF})"),
            "products": [{
                "productId": P_ID,
                "productCode": PRODUCT,
                "title": "Example Product",
                "active": true,
                "agreements": [{
                    "agreementId": "agmt-used",
                    "status": "ACTIVE",
                    "since": "2026-01-05T10:00:00.000Z",
                    "until": "2027-01-05T10:00:00.000Z",
                    "acceptanceTime": "2026-01-05T10:00:00.000Z",
                    "offerId": "offer-p1"
                }],
                "lastUsageDate": "2026-11-22"
            }]
        })
    );
    assert_eq!(summary(&a.body), expect("eligible", "notConfigured", "eligible", "notEligible"));
    assert_eq!(reason(&a.body), format!("an ACTIVE agreement in the data feeds as of {AS_OF}"));
    // The leading zero is kept; the ended agreement is listed, not active.
    let e = get(&api(&feeds, None), &format!("/accounts/{ENDED}"), "").await;
    assert_eq!(e.body["awsAccountId"], ENDED);
    let products = &e.body["sources"]["dataFeeds"]["products"];
    assert_eq!(products[0]["active"], false);
    assert_eq!(products[0]["agreements"][0]["status"], "EXPIRED");
    assert_eq!(e.body["sources"]["dataFeeds"]["verdict"], "notEligible");
}

#[tokio::test]
async fn the_product_route_shows_only_that_products_subscription() {
    let feeds = Feeds::applied().await;
    let a = get(&api(&feeds, None), &format!("/accounts/{USED}/products/{PRODUCT}"), "").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.body["sources"]["dataFeeds"]["products"].as_array().unwrap().len(), 1);
    assert_eq!(summary(&a.body), expect("eligible", "notConfigured", "eligible", "notEligible"));
    let other = get(&api(&feeds, None), &format!("/accounts/{USED}/products/{Q_CODE}"), "").await;
    assert_eq!(other.body["sources"]["dataFeeds"]["products"], json!([]));
    assert_eq!(other.body["sources"]["dataFeeds"]["verdict"], "notEligible");
    assert_eq!(other.body["eligibility"], "unconfirmed");
}

#[tokio::test]
async fn feeds_never_applied_are_not_configured_and_stale() {
    // The tests' Api::new reads no feeds at all; an empty table the same.
    let empty = Feeds { inner: MemoryFeeds::new(), fail: AtomicBool::new(false), product_reads: AtomicUsize::new(0) };
    for a in [
        get(&Api::new(from_csv(&guide_csv())).with_clock(now), &format!("/accounts/{NOBODY}"), "").await,
        get(&api(&empty, Some(30)), &format!("/accounts/{NOBODY}"), "").await,
    ] {
        let f = &a.body["sources"]["dataFeeds"];
        assert_eq!(f["verdict"], "notConfigured", "{f}");
        assert_eq!(
            (f["asOf"].clone(), f["ageSeconds"].clone(), f["stale"].clone()),
            (Value::Null, Value::Null, json!(true))
        );
        assert!(f["message"].as_str().unwrap().contains("no data-feed delivery has been applied"), "{f}");
        assert_eq!(a.body["eligibility"], "unconfirmed");
        assert_eq!(a.body["eligible"], false);
    }
}

#[tokio::test]
async fn feeds_older_than_two_days_are_stale() {
    let feeds = Feeds::applied().await;
    feeds.inner.save_feeds_as_of(Timestamp::parse("2026-11-21T16:59:59.000Z").unwrap()).await.unwrap();
    let a = get(&api(&feeds, None), &format!("/accounts/{USED}"), "").await;
    assert_eq!(a.body["sources"]["dataFeeds"]["stale"], true);
    assert_eq!(a.body["sources"]["dataFeeds"]["ageSeconds"], 2 * 86_400 + 1);
    assert_eq!(a.body["sources"]["dataFeeds"]["verdict"], "eligible", "stale, but still a verdict");
}

#[tokio::test]
async fn unreadable_feeds_are_unavailable_and_the_lookup_still_answers() {
    let feeds = Feeds::applied().await;
    feeds.fail.store(true, Ordering::Relaxed);
    let logs = capture_logs();
    let a = get(&api(&feeds, None), &format!("/accounts/{GUIDE}"), "").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(summary(&a.body), expect("eligible", "notConfigured", "unavailable", "eligible"));
    let b = get(&api(&feeds, None), &format!("/accounts/{USED}"), "").await;
    assert_eq!(summary(&b.body), expect("unconfirmed", "notConfigured", "unavailable", "notEligible"));
    assert!(logs.text().contains("data feeds unavailable"), "a warning in the log");
    assert!(!logs.text().contains("the table is down"), "the service's message is not logged");
}

// ------------------------------------------------------ every combination

#[tokio::test]
async fn every_combination_of_the_sources() {
    let feeds = Feeds::applied().await;
    let agreements = live_agreements();
    let instances = MemoryInstances::new();
    let products = format!("{PRODUCT}={P_ID}");
    let live = live_api(&feeds, &agreements, &instances, &products, None);
    let off = api(&feeds, None);
    let cases: [(&str, &str, _); 10] = [
        // Live check answered.
        ("live", USED, expect("eligible", "eligible", "eligible", "notEligible")),
        ("live", GUIDE, expect("eligible", "notEligible", "eligible", "eligible")),
        ("live", ENDED, expect("notEligible", "notEligible", "notEligible", "notEligible")),
        ("live", NOBODY, expect("notEligible", "notEligible", "notEligible", "notEligible")),
        // Newer than the feeds' asOf: the Agreement API alone knows.
        ("live", NEW_BUYER, expect("eligible", "eligible", "notEligible", "notEligible")),
        // Live check not configured: only a yes is a yes.
        ("off", USED, expect("eligible", "notConfigured", "eligible", "notEligible")),
        ("off", GUIDE, expect("eligible", "notConfigured", "eligible", "eligible")),
        ("off", ENDED, expect("unconfirmed", "notConfigured", "notEligible", "notEligible")),
        ("off", NOBODY, expect("unconfirmed", "notConfigured", "notEligible", "notEligible")),
        ("off", NEW_BUYER, expect("unconfirmed", "notConfigured", "notEligible", "notEligible")),
    ];
    for (which, account, expected) in cases {
        let a = match which {
            "live" => get(&live, &format!("/accounts/{account}"), "").await,
            _ => get(&off, &format!("/accounts/{account}"), "").await,
        };
        assert_eq!(a.status, 200, "{}", a.text);
        assert_eq!(summary(&a.body), expected, "{which} {account}");
        let r = reason(&a.body);
        match expected.0.as_str() {
            "eligible" if expected.2 == "eligible" => assert!(r.contains("Agreement API"), "{r}"),
            "eligible" if expected.3 == "eligible" => assert!(r.contains("data feeds"), "{r}"),
            "eligible" => assert!(r.contains("PSC"), "{r}"),
            "unconfirmed" => {
                assert!(r.contains("not configured") && r.contains("good faith") && r.contains(AS_OF), "{r}")
            }
            _ => assert!(r.contains("no ACTIVE agreement"), "{r}"),
        }
    }
}

#[tokio::test]
async fn an_unavailable_agreement_api_leaves_a_caller_unconfirmed_not_ineligible() {
    let feeds = Feeds::applied().await;
    let agreements = live_agreements();
    agreements.fail_with(Some(AwsError::service(
        "MarketplaceAgreement",
        "SearchAgreements",
        "InternalServerException",
        "down",
        500,
    )));
    let instances = MemoryInstances::new();
    let products = format!("{PRODUCT}={P_ID}");
    let api = live_api(&feeds, &agreements, &instances, &products, None);
    let a = get(&api, &format!("/accounts/{NEW_BUYER}"), "").await;
    assert_eq!(summary(&a.body), expect("unconfirmed", "unavailable", "notEligible", "notEligible"));
    assert!(reason(&a.body).contains("did not answer"), "{}", reason(&a.body));
    let b = get(&api, &format!("/accounts/{USED}/products/{PRODUCT}"), "").await;
    assert_eq!(summary(&b.body), expect("eligible", "unavailable", "eligible", "notEligible"));
}

// ------------------------------------------------------------- usage rule

#[tokio::test]
async fn the_usage_rule_requires_recent_usage_besides_an_active_agreement() {
    let feeds = Feeds::applied().await;
    let api = api(&feeds, Some(30));
    let used = get(&api, &format!("/accounts/{USED}"), "").await;
    assert_eq!(summary(&used.body), expect("eligible", "notConfigured", "eligible", "notEligible"));
    assert_eq!(used.body["sources"]["dataFeeds"]["usageWithinDays"], 30);
    assert_eq!(used.body["sources"]["dataFeeds"]["decidedByUsageRule"], false);
    assert_eq!(
        used.body["sources"]["dataFeeds"]["message"],
        format!("an ACTIVE agreement for product {PRODUCT}, used on 2026-11-22 (as of {AS_OF})")
    );
    assert_eq!(
        reason(&used.body),
        format!("an ACTIVE agreement in the data feeds as of {AS_OF}, with usage in the last 30 days")
    );
    let idle = get(&api, &format!("/accounts/{IDLE}"), "").await;
    assert_eq!(summary(&idle.body), expect("notEligible", "notConfigured", "notEligible", "notEligible"));
    let f = &idle.body["sources"]["dataFeeds"];
    assert_eq!(f["decidedByUsageRule"], true);
    assert_eq!(
        f["message"],
        format!(
            "an ACTIVE agreement for product {PRODUCT}, but no usage since 2026-10-24 (last used 2026-08-01): \
             SupportRequiresUsageWithinDays is 30 (as of {AS_OF})"
        )
    );
    assert!(reason(&idle.body).contains("usage rule"), "{}", reason(&idle.body));
    // A longer rule admits it; without one an ACTIVE agreement is enough.
    let longer = get(&self::api(&feeds, Some(365)), &format!("/accounts/{IDLE}"), "").await;
    assert_eq!(longer.body["eligibility"], "eligible");
    let none = get(&self::api(&feeds, None), &format!("/accounts/{IDLE}"), "").await;
    assert_eq!(none.body["eligibility"], "eligible");
    // One day: yesterday's usage counts (the Daily usage feed is a day behind).
    let one = get(&self::api(&feeds, Some(1)), &format!("/accounts/{USED}"), "").await;
    assert_eq!(one.body["eligibility"], "eligible");
}

#[tokio::test]
async fn the_usage_rule_outweighs_a_live_agreement_and_a_contact_but_not_a_new_subscription() {
    let feeds = Feeds::applied().await;
    let agreements = live_agreements();
    let instances = MemoryInstances::new();
    let products = format!("{PRODUCT}={P_ID}");
    let api = live_api(&feeds, &agreements, &instances, &products, Some(30));
    // ACTIVE in the Agreement API, no usage in the feeds: the rule decides.
    let idle = get(&api, &format!("/accounts/{IDLE}"), "").await;
    assert_eq!(summary(&idle.body), expect("notEligible", "eligible", "notEligible", "notEligible"));
    assert_eq!(idle.body["sources"]["dataFeeds"]["decidedByUsageRule"], true);
    assert!(reason(&idle.body).contains("usage rule"), "{}", reason(&idle.body));
    // A PSC contact and an ACTIVE agreement in the feeds, never used.
    let guide = get(&self::api(&feeds, Some(30)), &format!("/accounts/{GUIDE}"), "").await;
    assert_eq!(summary(&guide.body), expect("notEligible", "notConfigured", "notEligible", "eligible"));
    // Newer than the feeds: nothing to apply the rule to, the live answer stands.
    let new = get(&api, &format!("/accounts/{NEW_BUYER}"), "").await;
    assert_eq!(summary(&new.body), expect("eligible", "eligible", "notEligible", "notEligible"));
    assert_eq!(new.body["sources"]["dataFeeds"]["decidedByUsageRule"], false);
    // An idle subscription in the feeds, and a new one to another product
    // live: the new one stands.
    agreements.insert(live_agreement("agmt-idle-new", IDLE, Q_ID, "ACTIVE"));
    let products = format!("{PRODUCT}={P_ID},{Q_CODE}={Q_ID}");
    let both = live_api(&feeds, &agreements, &instances, &products, Some(30));
    let a = get(&both, &format!("/accounts/{IDLE}"), "").await;
    assert_eq!(summary(&a.body), expect("eligible", "eligible", "notEligible", "notEligible"));
    assert_eq!(a.body["sources"]["dataFeeds"]["decidedByUsageRule"], true);
    assert_eq!(reason(&a.body), "an ACTIVE agreement for the product (Agreement API)");
    // On the idle product's own route, the rule decides.
    let p = get(&both, &format!("/accounts/{IDLE}/products/{PRODUCT}"), "").await;
    assert_eq!(summary(&p.body), expect("notEligible", "eligible", "notEligible", "notEligible"));
}

// ------------------------------------------- SellerProducts from the feeds

#[tokio::test]
async fn without_seller_products_the_live_checks_use_the_feeds_products_read_once() {
    let feeds = Feeds::applied().await;
    let agreements = live_agreements();
    let instances = MemoryInstances::new();
    let api = live_api(&feeds, &agreements, &instances, "", None);
    // The instance check is on: a product the feeds list is accepted, one
    // they do not list is not. (The instance route reads nothing else of
    // the feeds, so the reads counted are the live checks' alone.)
    let instance = format!("/accounts/{USED}/instances/i-0a1b2c3d4e5f60718");
    let i = get(&api, &instance, &format!("productCode={PRODUCT}")).await;
    assert_eq!(i.status, 200, "{}", i.text);
    assert_eq!(i.body["found"], false);
    let unknown = get(&api, &instance, "productCode=zzzzzzzzzzzzzzzzzzzzzzzzz").await;
    assert_eq!((unknown.status, unknown.body["error"]["field"].as_str()), (400, Some("productCode")));
    let other = get(&api, &instance, &format!("productCode={Q_CODE}")).await;
    assert_eq!(other.status, 200, "{}", other.text);
    assert_eq!(feeds.product_reads.load(Ordering::Relaxed), 1, "the warm function read the products once");
    // The agreements: the feeds map the Agreement API's product id to its code.
    let a = get(&api, &format!("/accounts/{NEW_BUYER}"), "").await;
    assert_eq!(summary(&a.body), expect("eligible", "eligible", "notEligible", "notEligible"));
    assert_eq!(a.body["agreements"][0]["productCode"], PRODUCT);
    let b = get(&api, &format!("/accounts/{NEW_BUYER}/products/{PRODUCT}"), "").await;
    assert_eq!(b.body["sources"]["agreements"]["verdict"], "eligible");
    // Configured products win: the feeds' are not read for the live checks.
    let reads = feeds.product_reads.load(Ordering::Relaxed);
    let configured = live_api(&feeds, &agreements, &instances, &format!("{Q_CODE}={Q_ID}"), None);
    let c = get(&configured, &instance, &format!("productCode={PRODUCT}")).await;
    assert_eq!((c.status, c.body["error"]["field"].as_str()), (400, Some("productCode")));
    assert_eq!(feeds.product_reads.load(Ordering::Relaxed), reads);
    let c = get(&configured, &format!("/accounts/{NEW_BUYER}"), "").await;
    assert_eq!(c.body["sources"]["agreements"]["verdict"], "notEligible");
}

#[tokio::test]
async fn without_seller_products_or_feeds_the_live_checks_stay_off() {
    let empty = Feeds { inner: MemoryFeeds::new(), fail: AtomicBool::new(false), product_reads: AtomicUsize::new(0) };
    let agreements = live_agreements();
    let instances = MemoryInstances::new();
    let api = live_api(&empty, &agreements, &instances, "", None);
    let a = get(&api, &format!("/accounts/{NEW_BUYER}"), "").await;
    assert_eq!(summary(&a.body), expect("unconfirmed", "notConfigured", "notConfigured", "notEligible"));
    assert_eq!(agreements.calls(), 0);
    let i =
        get(&api, &format!("/accounts/{USED}/instances/i-0a1b2c3d4e5f60718"), &format!("productCode={PRODUCT}")).await;
    assert_eq!((i.status, i.body["error"]["code"].as_str()), (400, Some("NotConfigured")));
}

// ------------------------------------------------------ subscriber report

pub(crate) async fn report<S: ContactStore + ExportLog, E: InstanceConfirmer, G: AgreementSource, F: FeedLookup>(
    api: &Api<S, E, G, F>,
    code: &str,
    query: &str,
) -> ApiResponse {
    let event = with_query(
        with_path(event_json("api-get-subscribers"), "GET", &format!("/products/{code}/subscribers")),
        query,
    );
    answer(api.handle(request(&event)).await)
}

pub(crate) fn rows(b: &Value) -> Vec<(String, String, String)> {
    b["subscribers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["awsAccountId"].as_str().unwrap().to_owned(),
                s["agreementId"].as_str().unwrap().to_owned(),
                s["agreementStatus"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_report_lists_active_subscribers_by_default_and_all_on_request() {
    let feeds = Feeds::applied().await;
    let api = api(&feeds, None);
    let a = report(&api, PRODUCT, "").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.headers["content-type"], "application/json");
    assert_eq!(
        (&a.body["productCode"], &a.body["productId"], &a.body["title"], &a.body["status"], &a.body["asOf"]),
        (&json!(PRODUCT), &json!(P_ID), &json!("Example Product"), &json!("active"), &json!(AS_OF))
    );
    assert_eq!(a.body["ageSeconds"], 55_800);
    assert_eq!(
        rows(&a.body),
        [(GUIDE, "agmt-guide", "ACTIVE"), (IDLE, "agmt-idle", "ACTIVE"), (USED, "agmt-used", "ACTIVE")]
            .map(|(x, y, z)| (x.to_owned(), y.to_owned(), z.to_owned()))
    );
    assert_eq!(
        a.body["subscribers"][2],
        json!({
            "productId": P_ID,
            "productCode": PRODUCT,
            "awsAccountId": USED,
            "agreementId": "agmt-used",
            "agreementStatus": "ACTIVE",
            "since": "2026-01-05T10:00:00.000Z",
            "until": "2027-01-05T10:00:00.000Z",
            "lastUsageDate": "2026-11-22"
        })
    );
    assert_eq!(a.body["nextCursor"], Value::Null);
    let all = report(&api, PRODUCT, "status=all&format=json").await;
    assert_eq!(all.body["status"], "all");
    assert!(rows(&all.body).contains(&(ENDED.to_owned(), "agmt-ended".to_owned(), "EXPIRED".to_owned())));
    assert_eq!(rows(&all.body).len(), 4);
}

#[tokio::test]
async fn the_report_pages_with_its_cursor() {
    let feeds = Feeds::applied().await;
    let api = api(&feeds, None);
    let mut seen = Vec::new();
    let mut query = "status=all&limit=1".to_owned();
    for _ in 0..10 {
        let a = report(&api, PRODUCT, &query).await;
        assert_eq!(a.status, 200, "{}", a.text);
        assert!(a.body["subscribers"].as_array().unwrap().len() <= 1);
        seen.extend(rows(&a.body));
        match a.body["nextCursor"].as_str() {
            Some(c) => query = format!("status=all&limit=1&cursor={c}"),
            None => break,
        }
    }
    let whole = report(&api, PRODUCT, "status=all").await;
    assert_eq!(seen, rows(&whole.body));
}

#[tokio::test]
async fn the_report_downloads_as_csv_with_the_feeds_as_of_on_top() {
    let feeds = Feeds::applied().await;
    let api = api(&feeds, None);
    let a = report(&api, PRODUCT, "status=all&format=csv").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(a.headers["content-type"], "text/csv; charset=utf-8");
    assert_eq!(
        a.headers["content-disposition"],
        format!("attachment; filename=\"subscribers-{PRODUCT}-2026-11-23.csv\"").as_str()
    );
    assert_eq!(a.headers["cache-control"], "no-store");
    assert!(a.headers.get("x-next-cursor").is_none());
    let lines: Vec<&str> = a.text.lines().collect();
    assert_eq!(lines[0], format!("as_of,{AS_OF}"));
    assert_eq!(
        lines[1],
        "product_id,product_code,aws_account_id,agreement_id,agreement_status,since,until,last_usage_date"
    );
    // ACTIVE agreements first (the index sorts by status), then by id.
    assert_eq!(
        lines[5],
        format!("{P_ID},{PRODUCT},{ENDED},agmt-ended,EXPIRED,2025-01-01T00:00:00.000Z,2026-01-01T00:00:00.000Z,")
    );
    assert!(
        lines.contains(
            &format!(
                "{P_ID},{PRODUCT},{USED},agmt-used,ACTIVE,2026-01-05T10:00:00.000Z,2027-01-05T10:00:00.000Z,2026-11-22"
            )
            .as_str()
        )
    );
    assert!(
        lines.contains(
            &format!("{P_ID},{PRODUCT},{IDLE},agmt-idle,ACTIVE,2026-01-05T10:00:00.000Z,,2026-08-01").as_str()
        )
    );
    assert_eq!(lines.len(), 6);
    // A page: the next cursor in a header, and it continues.
    let first = report(&api, PRODUCT, "format=csv&limit=2").await;
    let cursor = first.headers["x-next-cursor"].to_str().unwrap().to_owned();
    assert_eq!(first.text.lines().count(), 4);
    let next = report(&api, PRODUCT, &format!("format=csv&limit=2&cursor={cursor}")).await;
    assert_eq!(next.text.lines().count(), 3, "{}", next.text);
    assert_eq!(next.text.lines().next(), Some(format!("as_of,{AS_OF}").as_str()));
}

#[tokio::test]
async fn an_unknown_product_has_an_empty_report() {
    let feeds = Feeds::applied().await;
    let a = report(&api(&feeds, None), "zzzzzzzzzzzzzzzzzzzzzzzzz", "").await;
    assert_eq!(a.status, 200, "{}", a.text);
    assert_eq!(
        (&a.body["productId"], &a.body["subscribers"], &a.body["asOf"]),
        (&Value::Null, &json!([]), &json!(AS_OF))
    );
    // Before the first delivery: no asOf, and a file name without a date.
    let none = report(&Api::new(from_csv(&guide_csv())).with_clock(now), PRODUCT, "format=csv").await;
    assert_eq!(
        none.text,
        "as_of,\nproduct_id,product_code,aws_account_id,agreement_id,agreement_status,since,until,last_usage_date\n"
    );
    assert_eq!(
        none.headers["content-disposition"],
        format!("attachment; filename=\"subscribers-{PRODUCT}.csv\"").as_str()
    );
}

#[tokio::test]
async fn the_report_refuses_bad_parameters() {
    let feeds = Feeds::applied().await;
    let api = api(&feeds, None);
    for (query, field) in [
        ("status=ACTIVE", "status"),
        ("status=", "status"),
        ("format=xlsx", "format"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("cursor=a%20b", "cursor"),
        ("cursor=eyJhIjoiYiJ9", "cursor"),
        ("email=a@example.com", "email"),
    ] {
        let a = report(&api, PRODUCT, query).await;
        assert_eq!(a.status, 400, "{query}: {}", a.text);
        assert_eq!(
            (a.body["error"]["code"].as_str(), a.body["error"]["field"].as_str()),
            (Some("InvalidParameter"), Some(field)),
            "{query}"
        );
    }
    let bad_code = report(&api, "not-a-code", "").await;
    assert_eq!((bad_code.status, bad_code.body["error"]["field"].as_str()), (400, Some("productCode")));
    assert_eq!(report(&api, PRODUCT, "limit=500").await.status, 200);
}
