//! A model-based test of the eligibility answer: random sources (PSC
//! contacts with deletions, the seller's products, purchase agreements,
//! EC2 instances, the data feeds' agreements and usage, or no feeds, and
//! the usage rule) and a random run of lookups, each with what the
//! Agreement API and EC2 do at that moment (answer, throttle, fail, refuse,
//! answer too late). A small reference model in this file computes each
//! verdict from the sources; the handler, on the in-memory ports, must
//! agree: `eligibility` and the `eligible` flag, each source's verdict
//! (and whether the usage rule decided the feeds'), the agreements and
//! contacts listed (over every page), whether the agreements came from the
//! cache, and the status of an answer without a verdict (400, 500, 503).
//! With no `SellerProducts` and feeds applied, the live checks use the
//! feeds' products.
//!
//! Cases: [`CASES`] by default, `PROPTEST_CASES` to change (see
//! docs/reliability.md for the long run).

#[path = "../eligibility_api/fixtures.rs"]
#[allow(dead_code)]
mod fixtures;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use eligibility_api::Api;
use eligibility_api::live::LiveChecks;
use lambda_http::Body;
use proptest::prelude::*;
use proptest::test_runner::Config;
use psc_bridge::api::{AccountProductView, AccountView, Eligibility, ErrorBody, InstanceView, Verdict};
use psc_bridge::aws::AwsError;
use psc_bridge::domain::{AwsAccountId, ProductCode, Timestamp};
use psc_bridge::entitlement::{Agreement, InstanceId, Region, SellerProducts};
use psc_bridge::export_csv::{ExportReader, Row};
use psc_bridge::feeds::{AccountRow, AgreementRow, DailyUsageRow, OfferProductRow, ProductRow};
use psc_bridge::memory::{MemoryAgreements, MemoryFeeds, MemoryInstance, MemoryInstances, MemoryStore};
use psc_bridge::ports::FeedStore;
use psc_bridge::sync::SyncState;

use fixtures::{HEADER, event_json, with_path, with_query};

/// Cases by default: a few seconds in a debug build.
const CASES: u32 = 256;

/// How long the handler waits for the Agreement API here, and how late a
/// slow answer comes: far later, so that a test thread starved of CPU past
/// both (tokio's timeout polls the answer first) cannot make it in time.
/// The late answer is dropped at the timeout, so its delay costs nothing.
const AGREEMENTS_TIMEOUT: Duration = Duration::from_millis(2);
const SLOW: Duration = Duration::from_secs(30);

fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(CASES);
    Config { failure_persistence: None, ..Config::with_cases(cases) }
}

// ------------------------------------------------------------- universe

const ACCOUNTS: u8 = 3;
const PRODUCTS: u8 = 3;
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

fn account(a: u8) -> String {
    format!("00001111222{a}")
}
fn code(p: u8) -> String {
    format!("4gzp2symm0v9zidfrn9f854w{p}")
}
/// The Agreement API's id of product `p` (3: a product not the seller's).
fn product_id(p: u8) -> String {
    if p < PRODUCTS { format!("prod-p{p}") } else { "prod-notmine".to_owned() }
}
fn instance(i: u8) -> String {
    format!("i-0000000{i}")
}

#[derive(Debug, Clone)]
struct Contact {
    contact: u8,
    account: u8,
    product: u8,
    time: u8,
    delete: bool,
}

#[derive(Debug, Clone)]
struct Agreed {
    acceptor: Option<u8>,
    product: u8,
    status: &'static str,
}

/// An agreement in the data feeds: its buyer, product and status.
#[derive(Debug, Clone)]
struct FeedAgreed {
    acceptor: u8,
    product: u8,
    status: &'static str,
}

/// The data feeds once applied: agreements, and usage (account, product,
/// days before the lookups' day).
#[derive(Debug, Clone)]
struct FeedsCase {
    agreements: Vec<FeedAgreed>,
    usage: Vec<(u8, u8, u8)>,
}

#[derive(Debug, Clone)]
struct Instance {
    instance: u8,
    region: u8,
    owner: u8,
    products: Vec<u8>,
    running: bool,
}

/// What a live source does for one lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Behaviour {
    Answers,
    Throttles,
    Fails,
    Refuses,
    /// Answers after the handler's timeout (the Agreement API only).
    Late,
}

#[derive(Debug, Clone)]
enum Lookup {
    Account { account: u8, limit: Option<u8> },
    Product { account: u8, product: u8, limit: Option<u8> },
    Instance { account: u8, instance: u8, product: u8, region: Option<u8> },
}

#[derive(Debug, Clone)]
struct Case {
    contacts: Vec<Contact>,
    /// Which products `SELLER_PRODUCTS` lists.
    seller: Vec<u8>,
    agreements: Vec<Agreed>,
    instances: Vec<Instance>,
    /// `None`: no delivery ever applied.
    feeds: Option<FeedsCase>,
    /// `SupportRequiresUsageWithinDays`.
    usage_rule: Option<u32>,
    lookups: Vec<(Lookup, Behaviour, Behaviour)>,
}

fn behaviour() -> impl Strategy<Value = Behaviour> {
    prop_oneof![
        6 => Just(Behaviour::Answers),
        1 => Just(Behaviour::Throttles),
        1 => Just(Behaviour::Fails),
        1 => Just(Behaviour::Refuses),
        1 => Just(Behaviour::Late),
    ]
}

fn lookup() -> impl Strategy<Value = Lookup> {
    let limit = prop::option::of(1..=3u8);
    prop_oneof![
        (0..ACCOUNTS, limit.clone()).prop_map(|(account, limit)| Lookup::Account { account, limit }),
        (0..ACCOUNTS, 0..PRODUCTS, limit).prop_map(|(account, product, limit)| Lookup::Product {
            account,
            product,
            limit
        }),
        (0..ACCOUNTS, 0..3u8, 0..PRODUCTS, prop::option::of(0..2u8)).prop_map(
            |(account, instance, product, region)| { Lookup::Instance { account, instance, product, region } }
        ),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    let contact = (0..5u8, 0..ACCOUNTS, 0..PRODUCTS, 1..=6u8, prop::bool::weighted(0.3))
        .prop_map(|(contact, account, product, time, delete)| Contact { contact, account, product, time, delete });
    let agreed = (
        prop::option::weighted(0.9, 0..ACCOUNTS),
        0..=PRODUCTS,
        prop::sample::select(vec!["ACTIVE", "EXPIRED", "CANCELLED"]),
    )
        .prop_map(|(acceptor, product, status)| Agreed { acceptor, product, status });
    let inst =
        (0..3u8, 0..2u8, 0..ACCOUNTS, prop::sample::subsequence(vec![0u8, 1, 2], 0..=2), any::<bool>()).prop_map(
            |(instance, region, owner, products, running)| Instance { instance, region, owner, products, running },
        );
    let feed_agreed = (0..ACCOUNTS, 0..PRODUCTS, prop::sample::select(vec!["ACTIVE", "EXPIRED", "CANCELLED"]))
        .prop_map(|(acceptor, product, status)| FeedAgreed { acceptor, product, status });
    let feeds = prop::option::weighted(
        0.8,
        (prop::collection::vec(feed_agreed, 0..6), prop::collection::vec((0..ACCOUNTS, 0..PRODUCTS, 0..60u8), 0..6))
            .prop_map(|(agreements, usage)| FeedsCase { agreements, usage }),
    );
    let rule = prop::sample::select(vec![None, None, Some(1u32), Some(30)]);
    (
        prop::collection::vec(contact, 0..12),
        prop::sample::subsequence(vec![0u8, 1, 2], 0..=3),
        prop::collection::vec(agreed, 0..6),
        prop::collection::vec(inst, 0..4),
        feeds,
        rule,
        prop::collection::vec((lookup(), behaviour(), behaviour()), 1..8),
    )
        .prop_map(|(contacts, seller, agreements, instances, feeds, usage_rule, lookups)| Case {
            contacts,
            seller,
            agreements,
            instances,
            feeds,
            usage_rule,
            lookups,
        })
}

// ---------------------------------------------------------------- model

/// The reference model: the sources, read directly.
struct Model<'a> {
    case: &'a Case,
    /// Accounts whose agreements the function has fetched (its cache).
    cached: BTreeSet<u8>,
}

/// What the model expects of an account (or account and product) lookup.
#[derive(Debug, PartialEq, Eq)]
struct Expected {
    eligibility: Eligibility,
    eligible: bool,
    psc: Verdict,
    agreements: Verdict,
    feeds: Verdict,
    decided_by_usage_rule: bool,
    cached: bool,
    agreement_ids: Vec<String>,
    contacts: Vec<String>,
}

impl Model<'_> {
    /// Live contacts (guid, account, product): of each contact, its newest
    /// row (the last of equal times), unless that is a DELETE.
    fn live(&self) -> BTreeMap<u8, (u8, u8)> {
        let mut newest: BTreeMap<u8, &Contact> = BTreeMap::new();
        for c in &self.case.contacts {
            if newest.get(&c.contact).is_none_or(|n| n.time <= c.time) {
                newest.insert(c.contact, c);
            }
        }
        newest.into_iter().filter(|(_, c)| !c.delete).map(|(g, c)| (g, (c.account, c.product))).collect()
    }

    /// The products of the live checks: `SellerProducts`, or when it is
    /// empty the feeds' (every product, once a delivery is applied).
    fn seller(&self) -> Vec<u8> {
        match (&self.case.feeds, self.case.seller.is_empty()) {
            (Some(_), true) => (0..PRODUCTS).collect(),
            _ => self.case.seller.clone(),
        }
    }

    /// The feeds' verdict, and whether the usage rule decided it.
    fn feeds(&self, account: u8, product: Option<u8>) -> (Verdict, bool) {
        let Some(feeds) = &self.case.feeds else { return (Verdict::NotConfigured, false) };
        let mut eligible = false;
        let mut by_rule = false;
        for p in (0..PRODUCTS).filter(|p| product.is_none_or(|q| q == *p)) {
            let active =
                feeds.agreements.iter().any(|g| g.acceptor == account && g.product == p && g.status == "ACTIVE");
            if !active {
                continue;
            }
            let latest = feeds.usage.iter().filter(|(a, q, _)| *a == account && *q == p).map(|(_, _, d)| *d).min();
            match self.case.usage_rule {
                Some(days) if latest.is_none_or(|d| u32::from(d) > days) => by_rule = true,
                _ => eligible = true,
            }
        }
        if eligible { (Verdict::Eligible, false) } else { (Verdict::NotEligible, by_rule) }
    }

    fn account(&mut self, account: u8, product: Option<u8>, agreements_do: Behaviour) -> Expected {
        let contacts: Vec<String> = (self.live().into_iter())
            .filter(|(_, (a, p))| *a == account && product.is_none_or(|q| q == *p))
            .map(|(g, _)| guid(g))
            .collect();
        let psc = !contacts.is_empty();
        let seller = self.seller();
        let asked = !seller.is_empty() && product.is_none_or(|p| seller.contains(&p));
        let (agreements, cached, agreement_ids, live_active) = if !asked {
            (Verdict::NotConfigured, false, vec![], vec![])
        } else {
            let cached = self.cached.contains(&account);
            if cached || agreements_do == Behaviour::Answers {
                self.cached.insert(account);
                let wanted: Vec<String> = match product {
                    Some(p) => vec![product_id(p)],
                    None => seller.iter().map(|p| product_id(*p)).collect(),
                };
                let mine: Vec<&Agreed> = (self.case.agreements.iter())
                    .filter(|g| g.acceptor == Some(account) && wanted.contains(&product_id(g.product)))
                    .collect();
                let active = mine.iter().any(|g| g.status == "ACTIVE");
                let ids = mine.iter().map(|g| agreement_id(self.case, g)).collect();
                let live_active = mine.iter().filter(|g| g.status == "ACTIVE").map(|g| g.product).collect();
                (if active { Verdict::Eligible } else { Verdict::NotEligible }, cached, ids, live_active)
            } else {
                (Verdict::Unavailable, false, vec![], vec![])
            }
        };
        let (feeds, decided_by_usage_rule) = self.feeds(account, product);
        // A live ACTIVE agreement for a product the feeds do not show active
        // is newer than the feeds: the usage rule has nothing to say of it.
        let feeds_active = |p: &u8| {
            self.case.feeds.as_ref().is_some_and(|f| {
                f.agreements.iter().any(|g| g.acceptor == account && g.product == *p && g.status == "ACTIVE")
            })
        };
        let live_new = live_active.iter().any(|p| !feeds_active(p));
        let eligibility = if decided_by_usage_rule && !live_new {
            Eligibility::NotEligible
        } else if psc || agreements == Verdict::Eligible || feeds == Verdict::Eligible {
            Eligibility::Eligible
        } else if matches!(agreements, Verdict::NotConfigured | Verdict::Unavailable) {
            Eligibility::Unconfirmed
        } else {
            Eligibility::NotEligible
        };
        Expected {
            eligibility,
            eligible: eligibility == Eligibility::Eligible,
            psc: if psc { Verdict::Eligible } else { Verdict::NotEligible },
            agreements,
            feeds,
            decided_by_usage_rule,
            cached,
            agreement_ids,
            contacts,
        }
    }

    /// The instance check: the status, and (when 200) found, running,
    /// owner matches, eligible.
    fn instance(
        &self,
        account: u8,
        inst: u8,
        product: u8,
        region: u8,
        ec2_does: Behaviour,
    ) -> (u16, Option<[bool; 4]>) {
        if !self.seller().contains(&product) {
            return (400, None);
        }
        match ec2_does {
            Behaviour::Throttles | Behaviour::Fails => return (503, None),
            Behaviour::Refuses => return (500, None),
            Behaviour::Answers | Behaviour::Late => {}
        }
        let Some(i) = self.case.instances.iter().find(|i| i.instance == inst && i.region == region) else {
            return (200, Some([false, false, false, false]));
        };
        let running = i.running && i.products.contains(&product);
        let owner = i.owner == account;
        (200, Some([true, running, owner, running && owner]))
    }
}

fn guid(g: u8) -> String {
    format!("0f4a0d6e-0000-4000-8000-00000000000{g}")
}

fn agreement_id(case: &Case, g: &Agreed) -> String {
    let i = case.agreements.iter().position(|a| std::ptr::eq(a, g)).unwrap();
    format!("agmt-{i}")
}

// ------------------------------------------------------------- handler

struct Ports {
    instances: MemoryInstances,
    agreements: MemoryAgreements,
    feeds: MemoryFeeds,
}

type LiveApi<'a> = Api<MemoryStore, &'a MemoryInstances, &'a MemoryAgreements, &'a MemoryFeeds>;

fn now() -> Timestamp {
    Timestamp::parse("2026-11-23T17:00:00.000Z").unwrap()
}

fn t(u: u8) -> String {
    format!("2026-11-0{u}T00:00:00.000Z")
}

fn store(case: &Case) -> MemoryStore {
    let mut csv = format!("{HEADER}\n");
    for c in &case.contacts {
        let (g, a, p) = (guid(c.contact), account(c.account), c.product);
        let key = format!(
            "4b898955-84fa-4cfb-8f43-98287ad69c0{p},{},{g},cad371fb-6f2c-4537-a054-1a7afc6312f{p},2016-05-01T00:00:00.000Z",
            code(p)
        );
        csv.push_str(&if c.delete {
            format!("{key},,{a},,,,,,,,{},DELETE\n", t(c.time))
        } else {
            let n = c.contact;
            format!("{key},Org{n},{a},Given{n},Surname{n},555-010-000{n},p{n}@example.net,,US,,{},UPDATE\n", t(c.time))
        });
    }
    let store = MemoryStore::new();
    for row in ExportReader::new(csv.as_bytes()).expect("a header") {
        let Row::Valid(rec) = row.expect("readable") else { panic!("a generated row is valid") };
        store.apply_now(&rec, "fixture").unwrap();
    }
    store.set_sync_state(SyncState {
        watermark: Some(Timestamp::parse("2026-11-20T17:00:00.000Z").unwrap()),
        ..Default::default()
    });
    store
}

fn ports(case: &Case) -> Ports {
    let agreements = MemoryAgreements::new();
    for (i, g) in case.agreements.iter().enumerate() {
        agreements.insert(Agreement {
            agreement_id: format!("agmt-{i}"),
            status: g.status.to_owned(),
            agreement_type: Some("PurchaseAgreement".into()),
            acceptor: g.acceptor.map(|a| AwsAccountId::parse(&account(a)).unwrap()),
            product_id: Some(product_id(g.product)),
            offer_id: None,
            acceptance_time: None,
            start_time: None,
            end_time: None,
        });
    }
    let instances = MemoryInstances::new();
    for i in &case.instances {
        instances.insert(MemoryInstance {
            region: Region::parse(REGIONS[usize::from(i.region)]).unwrap(),
            instance: InstanceId::parse(&instance(i.instance)).unwrap(),
            owner: AwsAccountId::parse(&account(i.owner)).unwrap(),
            product_codes: i.products.iter().map(|p| ProductCode::parse(&code(*p)).unwrap()).collect(),
            running: i.running,
        });
    }
    Ports { instances, agreements, feeds: MemoryFeeds::new() }
}

/// The feeds of `case`, as the ingest merges their rows: every account
/// bridged, every product listed with one offer.
async fn fill_feeds(case: &Case, feeds: &MemoryFeeds) {
    let Some(f) = &case.feeds else { return };
    let h = "2026-01-02T00:00:00Z,2026-01-02T00:00:00Z,2026-01-02T00:00:00Z,";
    let csv = |header: &str, rows: Vec<String>| format!("{header}\n{}\n", rows.join("\n"));
    let feed_account = |a: u8| format!("FeedAccount000{a}");
    feeds.load_csv::<AccountRow>(&csv(
        "account_id,aws_account_id,valid_from,insert_date,update_date,delete_date",
        (0..ACCOUNTS).map(|a| format!("{},{},{h}", feed_account(a), account(a))).collect(),
    ));
    feeds.load_csv::<ProductRow>(&csv(
        "product_id,product_code,title,valid_from,insert_date,update_date,delete_date",
        (0..PRODUCTS).map(|p| format!("{},{},Product {p},{h}", product_id(p), code(p))).collect(),
    ));
    feeds.load_csv::<OfferProductRow>(&csv(
        "offer_id,product_id,valid_from,insert_date,update_date,delete_date",
        (0..PRODUCTS).map(|p| format!("offer-p{p},{},{h}", product_id(p))).collect(),
    ));
    if !f.agreements.is_empty() {
        feeds.load_csv::<AgreementRow>(&csv(
            "valid_from,insert_date,update_date,delete_date,status,agreement_id,acceptor_account_id,offer_id,start_time,end_time,acceptance_time",
            f.agreements
                .iter()
                .enumerate()
                .map(|(i, g)| {
                    let start = "2026-01-05T10:00:00Z";
                    format!("{h},{},agmt-feed-{i},{},offer-p{},{start},,{start}", g.status, feed_account(g.acceptor), g.product)
                })
                .collect(),
        ));
    }
    if !f.usage.is_empty() {
        let today = now().datetime().date();
        feeds.load_csv::<DailyUsageRow>(&csv(
            "valid_from,insert_date,update_date,delete_date,usage_feed_id,usage_date,product_id,end_user_account_id",
            f.usage
                .iter()
                .enumerate()
                .map(|(i, (a, p, days))| {
                    let day = today - time::Duration::days(i64::from(*days));
                    format!("{h},usage-{i},{day},{},{}", product_id(*p), feed_account(*a))
                })
                .collect(),
        ));
    }
    feeds.save_feeds_as_of(Timestamp::parse("2026-11-23T01:30:00.000Z").unwrap()).await.unwrap();
}

fn api<'a>(case: &Case, ports: &'a Ports) -> LiveApi<'a> {
    let seller = case.seller.iter().map(|p| format!("{}={}", code(*p), product_id(*p))).collect::<Vec<_>>().join(",");
    let live = LiveChecks::new(SellerProducts::parse(&seller).unwrap(), &ports.instances, &ports.agreements)
        .with_agreements_timeout(AGREEMENTS_TIMEOUT);
    Api::with_live_checks(store(case), live).with_clock(now).with_feeds(&ports.feeds).with_usage_rule(case.usage_rule)
}

fn error(b: Behaviour) -> Option<AwsError> {
    match b {
        Behaviour::Answers | Behaviour::Late => None,
        Behaviour::Throttles => Some(AwsError::service("X", "Call", "ThrottlingException", "slow down", 400)),
        Behaviour::Fails => Some(AwsError::service("X", "Call", "InternalServerError", "oops", 500)),
        Behaviour::Refuses => Some(AwsError::service("X", "Call", "AccessDeniedException", "no", 400)),
    }
}

async fn get(api: &LiveApi<'_>, path: &str, query: &str) -> (u16, String) {
    let event = with_query(with_path(event_json("api-get-account"), "GET", path), query);
    let request = lambda_http::request::from_str(&event.to_string()).expect("an API Gateway v2 event");
    let response = api.handle(request).await;
    let text = match response.body() {
        Body::Text(t) => t.clone(),
        Body::Binary(b) => String::from_utf8(b.clone()).unwrap(),
        _ => String::new(),
    };
    (response.status().as_u16(), text)
}

/// What the handler answered for an account (or account and product)
/// lookup, over every page.
async fn account_answer(api: &LiveApi<'_>, path: &str, limit: Option<u8>) -> Result<Expected, TestCaseError> {
    let mut contacts = Vec::new();
    let mut cursor: Option<String> = None;
    let mut first: Option<Expected> = None;
    for _ in 0..20 {
        let mut query: Vec<String> = limit.map(|l| format!("limit={l}")).into_iter().collect();
        query.extend(cursor.as_ref().map(|c| format!("cursor={c}")));
        let (status, text) = get(api, path, &query.join("&")).await;
        prop_assert_eq!(status, 200, "{}", text);
        let (page, next) = if path.contains("/products/") {
            let v: AccountProductView = serde_json::from_str(&text).unwrap();
            (page_of(v.eligibility, v.eligible, &v.sources, &v.agreements, &v.contacts), v.next_cursor)
        } else {
            let v: AccountView = serde_json::from_str(&text).unwrap();
            (page_of(v.eligibility, v.eligible, &v.sources, &v.agreements, &v.contacts), v.next_cursor)
        };
        contacts.extend(page.contacts.iter().cloned());
        match &first {
            // Every page gives the account's verdict, not the page's.
            Some(f) => prop_assert_eq!(
                (page.eligibility, page.eligible, page.psc, page.feeds),
                (f.eligibility, f.eligible, f.psc, f.feeds),
                "a later page's verdict"
            ),
            None => first = Some(page),
        }
        let Some(next) = next else {
            let mut answer = first.unwrap();
            contacts.sort();
            answer.contacts = contacts;
            return Ok(answer);
        };
        cursor = Some(next);
    }
    Err(TestCaseError::fail("the pages never end"))
}

fn page_of(
    eligibility: Eligibility,
    eligible: bool,
    sources: &psc_bridge::api::Sources,
    agreements: &[psc_bridge::api::AgreementBody],
    contacts: &[psc_bridge::api::ContactBody],
) -> Expected {
    Expected {
        eligibility,
        eligible,
        psc: sources.psc_contacts.verdict,
        agreements: sources.agreements.verdict,
        feeds: sources.data_feeds.verdict,
        decided_by_usage_rule: sources.data_feeds.decided_by_usage_rule,
        cached: sources.agreements.cached,
        agreement_ids: agreements.iter().map(|a| a.agreement_id.clone()).collect(),
        contacts: contacts.iter().map(|c| c.customer_guid.clone()).collect(),
    }
}

async fn check(case: &Case) -> Result<(), TestCaseError> {
    let ports = ports(case);
    fill_feeds(case, &ports.feeds).await;
    let api = api(case, &ports);
    let mut model = Model { case, cached: BTreeSet::new() };
    for (lookup, agreements_do, ec2_does) in &case.lookups {
        ports.agreements.fail_with(error(*agreements_do));
        ports.agreements.set_delay(if *agreements_do == Behaviour::Late { SLOW } else { Duration::ZERO });
        ports.instances.fail_with(error(*ec2_does));
        match *lookup {
            Lookup::Account { account: a, limit } => {
                let got = account_answer(&api, &format!("/accounts/{}", account(a)), limit).await?;
                prop_assert_eq!(got, model.account(a, None, *agreements_do), "{:?}", lookup);
            }
            Lookup::Product { account: a, product: p, limit } => {
                let path = format!("/accounts/{}/products/{}", account(a), code(p));
                let got = account_answer(&api, &path, limit).await?;
                prop_assert_eq!(got, model.account(a, Some(p), *agreements_do), "{:?}", lookup);
            }
            Lookup::Instance { account: a, instance: i, product: p, region } => {
                let path = format!("/accounts/{}/instances/{}", account(a), instance(i));
                let mut query = format!("productCode={}", code(p));
                if let Some(r) = region {
                    query.push_str(&format!("&region={}", REGIONS[usize::from(r)]));
                }
                let (status, text) = get(&api, &path, &query).await;
                let (want_status, want) = model.instance(a, i, p, region.unwrap_or(0), *ec2_does);
                prop_assert_eq!(status, want_status, "{:?}: {}", lookup, text);
                match want {
                    Some(want) => {
                        let v: InstanceView = serde_json::from_str(&text).unwrap();
                        prop_assert_eq!(
                            [v.found, v.product_running, v.owner_matches, v.eligible],
                            want,
                            "{:?}",
                            lookup
                        );
                        let verdict = if want[3] { Verdict::Eligible } else { Verdict::NotEligible };
                        prop_assert_eq!(v.sources.instance.verdict, verdict);
                    }
                    None => {
                        let e: ErrorBody = serde_json::from_str(&text).unwrap();
                        let code = match want_status {
                            400 if model.seller().is_empty() => "NotConfigured",
                            400 => "InvalidParameter",
                            503 => "ServiceUnavailable",
                            _ => "InternalError",
                        };
                        prop_assert_eq!(e.error.code.as_str(), code, "{:?}", lookup);
                    }
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_handler_answers_what_the_sources_say(case in case()) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(check(&case))?;
    }
}
