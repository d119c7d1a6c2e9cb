//! What the lookups read of the data feeds, through the [`FeedLookup`] port:
//! an account's subscriptions and last usage ([`account_feeds`]), a
//! product's subscribers ([`subscribers`]), and the feeds' verdict
//! ([`ProductFeeds::decide`]).
//!
//! The table keeps each feed's records apart (no join is made at write time,
//! so that the order of feeds and files cannot matter: [`super::store`]);
//! the joins are made here, at read time: AWS account id to the feeds' ids
//! (the bridge), an agreement's offer to its products, a product id to its
//! code and title.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use time::Date;

use super::values::FeedAccountId;
use crate::aws::AwsError;
use crate::domain::{AwsAccountId, ProductCode, Timestamp};
use crate::model::Page;
use crate::ports::{FeedLookup, LookupError};

/// An agreement's revision in force, as an agreement item holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedAgreement {
    pub agreement_id: String,
    /// The buyer (the acceptor).
    pub account: FeedAccountId,
    /// As the feed spells it (`ACTIVE`, `EXPIRED`, `CANCELLED`, ...).
    pub status: String,
    pub start_time: Option<Timestamp>,
    pub end_time: Option<Timestamp>,
    pub acceptance_time: Option<Timestamp>,
    pub offer_id: Option<String>,
}

impl FeedAgreement {
    pub fn active(&self) -> bool {
        self.status == "ACTIVE"
    }
}

/// The last day of a month an account used a product (a current, not
/// deleted Daily usage row): what a usage month item says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageDay {
    pub product_id: String,
    pub date: Date,
}

/// One page of a feed account's partition ([`FeedLookup::account_page`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccountPage {
    pub agreements: Vec<FeedAgreement>,
    /// Newest first; a day whose rows are all deleted is left out.
    pub usage: Vec<UsageDay>,
    /// Where the next page starts; `None` after the last.
    pub next: Option<String>,
}

impl AccountPage {
    /// Adds one item of the account's partition, as either adapter reads
    /// it: a usage month (by its sort key; left out when none of its rows
    /// counts, `usageDate` absent) or an agreement (`agreement` decodes it).
    pub fn add<'a>(
        &mut self,
        sk: &str,
        attr: impl Fn(&str) -> Option<&'a str>,
        agreement: impl FnOnce() -> Option<FeedAgreement>,
    ) {
        if sk.starts_with(super::store::USAGE_MONTH_PREFIX) {
            if let (Some(product_id), Some(date)) =
                (attr("productId"), attr("usageDate").and_then(|d| super::values::parse_date(d).ok()))
            {
                self.usage.push(UsageDay { product_id: product_id.to_owned(), date });
            }
        } else if let Some(a) = agreement() {
            self.agreements.push(a);
        }
    }
}

/// Items one page of an account's partition reads: the agreements (a few)
/// and about a month of daily usage of one product, or a week of four, so
/// that a lookup is usually one small query; a product used less often
/// than that makes it read on.
pub const ACCOUNT_PAGE: usize = 32;

/// A product the feeds list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedProduct {
    pub product_id: String,
    pub product_code: Option<ProductCode>,
    pub title: Option<String>,
}

/// What the feeds say about one account and one product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductFeeds {
    pub product_id: String,
    /// `None` when the Product feed has not listed the product (yet).
    pub product_code: Option<ProductCode>,
    pub title: Option<String>,
    /// Its agreements for the product, newest start first.
    pub agreements: Vec<FeedAgreement>,
    /// The latest day of a current, not deleted Daily usage row.
    pub last_usage_date: Option<Date>,
}

/// The feeds' verdict on an account's product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedsDecision {
    /// An `ACTIVE` agreement (and usage within the rule's days, if set).
    Eligible,
    /// No agreement in force is `ACTIVE`.
    NoActiveAgreement,
    /// `ACTIVE`, but the usage rule (`SupportRequiresUsageWithinDays`) is
    /// not met: no usage on or after `since`.
    NoRecentUsage { within_days: u32, since: Date },
}

impl ProductFeeds {
    pub fn active(&self) -> bool {
        self.agreements.iter().any(FeedAgreement::active)
    }

    /// Eligible from the feeds: an `ACTIVE` agreement in force; with a usage
    /// rule of N days, also a usage date on or after `today` minus N days
    /// (the Daily usage feed is a day behind, so N = 1 accepts yesterday).
    pub fn decide(&self, usage_within_days: Option<u32>, today: Date) -> FeedsDecision {
        if !self.active() {
            return FeedsDecision::NoActiveAgreement;
        }
        match usage_within_days {
            Some(days) => {
                let since = today.saturating_sub(time::Duration::days(i64::from(days)));
                if self.last_usage_date.is_some_and(|d| d >= since) {
                    FeedsDecision::Eligible
                } else {
                    FeedsDecision::NoRecentUsage { within_days: days, since }
                }
            }
            None => FeedsDecision::Eligible,
        }
    }
}

/// What the feeds say about one AWS account.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccountFeeds {
    /// The newest delivery applied; `None` before the first run finished.
    pub as_of: Option<Timestamp>,
    /// The feeds' ids of the account (usually one).
    pub feed_accounts: Vec<FeedAccountId>,
    /// One entry per product of its agreements, in product id order.
    pub products: Vec<ProductFeeds>,
}

/// The account's subscriptions in the feeds, with their last usage; only
/// `product`'s when given (by code, or by product id when the feeds do not
/// list its code).
pub async fn account_feeds<L: FeedLookup>(
    feeds: &L,
    account: &AwsAccountId,
    product: Option<&ProductCode>,
) -> Result<AccountFeeds, AwsError> {
    account_feeds_paged(feeds, account, product, ACCOUNT_PAGE).await
}

/// [`account_feeds`], reading the account's partition `page` items at a
/// time (tests read it in small pages).
pub async fn account_feeds_paged<L: FeedLookup>(
    feeds: &L,
    account: &AwsAccountId,
    product: Option<&ProductCode>,
    page: usize,
) -> Result<AccountFeeds, AwsError> {
    let as_of = feeds.feeds_as_of().await?;
    let feed_accounts = feeds.feed_accounts(account).await?;
    let catalogue: BTreeMap<String, FeedProduct> =
        feeds.feed_products().await?.into_iter().map(|p| (p.product_id.clone(), p)).collect();
    let wanted = |product_id: &str| match product {
        Some(code) => {
            catalogue.get(product_id).and_then(|p| p.product_code.as_ref()) == Some(code) || product_id == code.as_str()
        }
        None => true,
    };
    let mut offer_products: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut by_product: BTreeMap<String, Vec<FeedAgreement>> = BTreeMap::new();
    let mut last_usage: BTreeMap<String, Date> = BTreeMap::new();
    for id in &feed_accounts {
        let mut after = None;
        let mut past_agreements = false;
        loop {
            let page = feeds.account_page(id, after.as_deref(), page).await?;
            for a in page.agreements {
                let Some(offer) = a.offer_id.clone() else { continue };
                if !offer_products.contains_key(&offer) {
                    let products = feeds.offer_products(&offer).await?;
                    offer_products.insert(offer.clone(), products);
                }
                for product_id in offer_products[&offer].iter().filter(|p| wanted(p)) {
                    by_product.entry(product_id.clone()).or_default().push(a.clone());
                }
            }
            past_agreements |= !page.usage.is_empty();
            for day in page.usage {
                let last = last_usage.entry(day.product_id).or_insert(day.date);
                *last = (*last).max(day.date);
            }
            // Agreements come first: once a usage month is read, every
            // agreement is, and reading on is only for products whose last
            // usage is older than the days read so far.
            let all_found = past_agreements && by_product.keys().all(|p| last_usage.contains_key(p));
            after = page.next;
            if after.is_none() || all_found {
                break;
            }
        }
    }
    let mut products = Vec::new();
    for (product_id, mut agreements) in by_product {
        let known = catalogue.get(&product_id);
        agreements.sort_by(|a, b| b.start_time.cmp(&a.start_time).then(a.agreement_id.cmp(&b.agreement_id)));
        products.push(ProductFeeds {
            title: known.and_then(|p| p.title.clone()),
            product_code: known.and_then(|p| p.product_code.clone()),
            last_usage_date: last_usage.get(&product_id).copied(),
            product_id,
            agreements,
        });
    }
    Ok(AccountFeeds { as_of, feed_accounts, products })
}

/// No data feeds: a function whose table holds none, or a handler built
/// without them (tests). Never applied, nothing found: the lookups' `dataFeeds`
/// source is `notConfigured`, and subscription events carry null AWS account
/// ids and products.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoFeeds;

impl FeedLookup for NoFeeds {
    async fn feeds_as_of(&self) -> Result<Option<Timestamp>, AwsError> {
        Ok(None)
    }
    async fn feed_accounts(&self, _: &AwsAccountId) -> Result<Vec<FeedAccountId>, AwsError> {
        Ok(Vec::new())
    }
    async fn aws_account_ids(&self, _: &[FeedAccountId]) -> Result<BTreeMap<FeedAccountId, AwsAccountId>, AwsError> {
        Ok(BTreeMap::new())
    }
    async fn account_page(&self, _: &FeedAccountId, _: Option<&str>, _: usize) -> Result<AccountPage, AwsError> {
        Ok(AccountPage::default())
    }
    async fn last_usage(&self, _: &FeedAccountId, _: &str) -> Result<Option<Date>, AwsError> {
        Ok(None)
    }
    async fn feed_products(&self) -> Result<Vec<FeedProduct>, AwsError> {
        Ok(Vec::new())
    }
    async fn offer_products(&self, _: &str) -> Result<Vec<String>, AwsError> {
        Ok(Vec::new())
    }
    async fn product_offers(&self, _: &str) -> Result<Vec<String>, AwsError> {
        Ok(Vec::new())
    }
    async fn offer_agreements(
        &self,
        _: &str,
        _: bool,
        _: Option<&str>,
        _: usize,
    ) -> Result<Page<FeedAgreement>, LookupError> {
        Ok(Page { items: Vec::new(), next_cursor: None })
    }
}

/// One row of the subscriber report: an agreement for the product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    pub agreement: FeedAgreement,
    /// `None` while the Account feed has not bridged the buyer's id.
    pub aws_account_id: Option<AwsAccountId>,
    pub last_usage_date: Option<Date>,
}

/// A page of the subscriber report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriberPage {
    /// `None` when the feeds do not list the product code.
    pub product: Option<FeedProduct>,
    pub as_of: Option<Timestamp>,
    pub subscribers: Vec<Subscriber>,
    pub next_cursor: Option<String>,
}

/// Where a report page stops: the offer, and the cursor inside its listing.
#[derive(Debug, Serialize, Deserialize)]
struct ReportCursor {
    #[serde(rename = "o")]
    offer: String,
    #[serde(rename = "k", default, skip_serializing_if = "Option::is_none")]
    inner: Option<String>,
}

fn encode_cursor(c: &ReportCursor) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(c).expect("a cursor serialises"))
}

fn decode_cursor(s: &str) -> Option<ReportCursor> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(s).ok()?).ok()
}

/// The subscriber report of `code`: every agreement for the product (only
/// `ACTIVE` ones when `active_only`), offer by offer, `limit` a page.
pub async fn subscribers<L: FeedLookup>(
    feeds: &L,
    code: &ProductCode,
    active_only: bool,
    cursor: Option<&str>,
    limit: usize,
) -> Result<SubscriberPage, LookupError> {
    let start = cursor.map(|c| decode_cursor(c).ok_or(LookupError::BadCursor)).transpose()?;
    let as_of = feeds.feeds_as_of().await?;
    let product = feeds.feed_products().await?.into_iter().find(|p| p.product_code.as_ref() == Some(code));
    let Some(product) = product else {
        return Ok(SubscriberPage { product: None, as_of, subscribers: Vec::new(), next_cursor: None });
    };
    let mut offers = feeds.product_offers(&product.product_id).await?;
    offers.sort();
    offers.dedup();
    let (mut at, mut inner) = match start {
        Some(c) => (offers.iter().position(|o| *o == c.offer).ok_or(LookupError::BadCursor)?, c.inner),
        None => (0, None),
    };
    let mut agreements = Vec::new();
    let mut next_cursor = None;
    while at < offers.len() {
        let left = limit.saturating_sub(agreements.len());
        if left == 0 {
            next_cursor = Some(encode_cursor(&ReportCursor { offer: offers[at].clone(), inner: None }));
            break;
        }
        let page = feeds.offer_agreements(&offers[at], active_only, inner.as_deref(), left).await?;
        agreements.extend(page.items);
        if let Some(more) = page.next_cursor {
            next_cursor = Some(encode_cursor(&ReportCursor { offer: offers[at].clone(), inner: Some(more) }));
            break;
        }
        inner = None;
        at += 1;
    }
    let ids: Vec<FeedAccountId> =
        agreements.iter().map(|a| a.account.clone()).collect::<BTreeSet<_>>().into_iter().collect();
    let bridge = feeds.aws_account_ids(&ids).await?;
    let mut subscribers = Vec::with_capacity(agreements.len());
    for agreement in agreements {
        let last_usage_date = feeds.last_usage(&agreement.account, &product.product_id).await?;
        let aws_account_id = bridge.get(&agreement.account).cloned();
        subscribers.push(Subscriber { agreement, aws_account_id, last_usage_date });
    }
    Ok(SubscriberPage { product: Some(product), as_of, subscribers, next_cursor })
}

#[cfg(test)]
mod tests {
    //! The read side against the reference model: what [`account_feeds`] and
    //! [`subscribers`] join from the stored items equals what
    //! [`FeedState`](super::super::FeedState) folds from the same rows.

    use super::*;
    use crate::feeds::{
        AccountRow, AgreementRow, DailyUsageRow, FeedReader, FeedRecord, FeedState, History, OfferProductRow,
        ProductRow, Row,
    };
    use crate::memory::MemoryFeeds;
    use crate::ports::FeedStore;

    const ACCOUNT: &str = include_str!("../../tests/fixtures/feeds/account.csv");
    const AGREEMENTS: &str = include_str!("../../tests/fixtures/feeds/agreements.csv");
    const OFFER_PRODUCT: &str = include_str!("../../tests/fixtures/feeds/offer_product.csv");
    const PRODUCT: &str = include_str!("../../tests/fixtures/feeds/product.csv");
    const DAILY_USAGE: &str = include_str!("../../tests/fixtures/feeds/daily_usage.csv");

    /// The fixtures, and a third buyer in the Account feed whose number is
    /// 11 digits (`12345678` padded to `000012345678`), with an ACTIVE
    /// agreement, no usage, and an offer the Offer-product feed does not
    /// list for the product.
    const MORE_ACCOUNTS: &str = "account_id,aws_account_id,valid_from,insert_date,update_date,delete_date\n\
        Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp9Oo8Nn7Mm6,12345678,2025-04-01T00:00:00Z,2025-04-02T00:00:00Z,2025-04-02T00:00:00Z,\n";
    const MORE_AGREEMENTS: &str = "valid_from,insert_date,update_date,delete_date,status,agreement_id,\
        acceptor_account_id,offer_id,start_time,end_time,acceptance_time\n\
        2025-04-01T00:00:00Z,2025-04-02T00:00:00Z,2025-04-02T00:00:00Z,,ACTIVE,agmt-cccc0000dddd1111eeee2222f,\
        Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp9Oo8Nn7Mm6,offer-abcd1234efgh5,2025-04-01T00:00:00Z,,2025-04-01T00:00:00Z\n\
        2025-04-01T00:00:00Z,2025-04-02T00:00:00Z,2025-04-02T00:00:00Z,,ACTIVE,agmt-cccc0000dddd1111eeee3333f,\
        Zz9Yy8Xx7Ww6Vv5Uu4Tt3Ss2Rr1Qq0Pp9Oo8Nn7Mm6,offer-other000000001,2025-04-01T00:00:00Z,,2025-04-01T00:00:00Z\n";

    fn rows<T: FeedRecord>(csv: &str) -> Vec<Row<T>> {
        FeedReader::<_, T>::new(csv.as_bytes()).unwrap().map(|r| r.unwrap()).collect()
    }

    fn history<T: FeedRecord + crate::feeds::Keyed>(csvs: &[&str]) -> History<T> {
        let mut h = History::new();
        for csv in csvs {
            h.add_rows(rows::<T>(csv));
        }
        h
    }

    async fn both() -> (MemoryFeeds, FeedState) {
        let feeds = MemoryFeeds::new();
        feeds.load_csv::<AccountRow>(ACCOUNT);
        feeds.load_csv::<AccountRow>(MORE_ACCOUNTS);
        feeds.load_csv::<AgreementRow>(AGREEMENTS);
        feeds.load_csv::<AgreementRow>(MORE_AGREEMENTS);
        feeds.load_csv::<OfferProductRow>(OFFER_PRODUCT);
        feeds.load_csv::<ProductRow>(PRODUCT);
        feeds.load_csv::<DailyUsageRow>(DAILY_USAGE);
        feeds.save_feeds_as_of(Timestamp::parse("2025-09-02T01:30:00.000Z").unwrap()).await.unwrap();
        let state = FeedState {
            accounts: history(&[ACCOUNT, MORE_ACCOUNTS]),
            products: history(&[PRODUCT]),
            offer_products: history(&[OFFER_PRODUCT]),
            agreements: history(&[AGREEMENTS, MORE_AGREEMENTS]),
            usage: history(&[DAILY_USAGE]),
        };
        (feeds, state)
    }

    fn aws(s: &str) -> AwsAccountId {
        AwsAccountId::parse(s).unwrap()
    }

    /// (product id, agreement id, status, start, end, last usage) of the model.
    type Line = (String, String, String, Option<Timestamp>, Option<Timestamp>, Option<Date>);

    fn model_lines(state: &FeedState, account: &AwsAccountId) -> Vec<Line> {
        let mut out: Vec<Line> = state
            .subscriptions(account)
            .into_iter()
            .map(|s| {
                let a = s.agreement;
                (
                    s.product_id.to_owned(),
                    a.agreement_id.clone(),
                    a.status.as_str().to_owned(),
                    a.start_time,
                    a.end_time,
                    state.last_usage(account, s.product_id),
                )
            })
            .collect();
        out.sort();
        out
    }

    fn read_lines(found: &AccountFeeds) -> Vec<Line> {
        let mut out: Vec<Line> = found
            .products
            .iter()
            .flat_map(|p| {
                p.agreements.iter().map(|a| {
                    (
                        p.product_id.clone(),
                        a.agreement_id.clone(),
                        a.status.clone(),
                        a.start_time,
                        a.end_time,
                        p.last_usage_date,
                    )
                })
            })
            .collect();
        out.sort();
        out
    }

    #[tokio::test]
    async fn account_feeds_agree_with_the_model() {
        let (feeds, state) = both().await;
        let code = ProductCode::parse("1a2b3c4d5e6f7g8h9i0jklmno").unwrap();
        for account in ["012345678901", "210987654321", "000012345678", "999999999999"] {
            let account = aws(account);
            // Pages of one item and up: the agreements and usage months of an
            // account are read across pages alike.
            for page in [1, 2, 3, ACCOUNT_PAGE] {
                let found = account_feeds_paged(&feeds, &account, None, page).await.unwrap();
                assert_eq!(read_lines(&found), model_lines(&state, &account), "{account:?}, pages of {page}");
                let only = account_feeds_paged(&feeds, &account, Some(&code), page).await.unwrap();
                assert_eq!(read_lines(&only), model_lines(&state, &account), "{account:?}, by code, pages of {page}");
                assert_eq!(found.as_of, Some(Timestamp::parse("2025-09-02T01:30:00.000Z").unwrap()));
            }
        }
        // Spelled out: the ended agreement is CANCELLED, the soft-deleted
        // usage row (2025-06-02) does not count, the padded number is found.
        let ended = account_feeds(&feeds, &aws("012345678901"), None).await.unwrap();
        assert_eq!(ended.products.len(), 1);
        assert!(!ended.products[0].active());
        assert_eq!(ended.products[0].agreements[0].status, "CANCELLED");
        assert_eq!(ended.products[0].title.as_deref(), Some("Synthetic Analytics Platform"));
        let payg = account_feeds(&feeds, &aws("210987654321"), None).await.unwrap();
        assert_eq!(payg.products[0].last_usage_date, Some(time::macros::date!(2025 - 06 - 01)));
        assert!(payg.products[0].active());
        let padded = account_feeds(&feeds, &aws("000012345678"), None).await.unwrap();
        assert_eq!(padded.products.len(), 1, "the unlisted offer is for no product");
        assert_eq!(padded.products[0].last_usage_date, None);
        let other = ProductCode::parse("zzzzzzzzzzzzzzzzzzzzzzzzz").unwrap();
        assert!(account_feeds(&feeds, &aws("210987654321"), Some(&other)).await.unwrap().products.is_empty());
    }

    /// One account with three products: one used most days (its newest
    /// day soft-deleted), one used once long ago, one never.
    fn three_products() -> (MemoryFeeds, FeedState) {
        let v = "2025-01-01T00:00:00Z,2025-01-01T00:00:00Z";
        let account = format!("account_id,aws_account_id,valid_from,update_date,delete_date\nfa-3,123456789012,{v},\n");
        let mut products = String::from("product_id,product_code,valid_from,update_date,delete_date\n");
        let mut offers = String::from("offer_id,product_id,valid_from,update_date,delete_date\n");
        let mut agreements = String::from(
            "agreement_id,status,offer_id,acceptor_account_id,start_time,end_time,acceptance_time,valid_from,update_date,delete_date\n",
        );
        for p in ["busy", "once", "never"] {
            products.push_str(&format!("prod-{p},,{v},\n"));
            offers.push_str(&format!("offer-{p},prod-{p},{v},\n"));
            agreements.push_str(&format!("agmt-{p},ACTIVE,offer-{p},fa-3,2025-01-01T00:00:00Z,,,{v},\n"));
        }
        let mut usage = String::from(
            "usage_feed_id,usage_date,product_id,end_user_account_id,valid_from,update_date,delete_date\n",
        );
        for day in (1..=20).filter(|d| d % 4 != 0) {
            usage.push_str(&format!("u-busy-{day},2025-03-{day:02},prod-busy,fa-3,{v},\n"));
        }
        usage.push_str(&format!("u-busy-21,2025-03-21,prod-busy,fa-3,{v},2025-03-22T00:00:00Z\n"));
        usage.push_str(&format!("u-once,2025-01-02,prod-once,fa-3,{v},\n"));
        let feeds = MemoryFeeds::new();
        feeds.load_csv::<AccountRow>(&account);
        feeds.load_csv::<ProductRow>(&products);
        feeds.load_csv::<OfferProductRow>(&offers);
        feeds.load_csv::<AgreementRow>(&agreements);
        feeds.load_csv::<DailyUsageRow>(&usage);
        let state = FeedState {
            accounts: history(&[&account]),
            products: history(&[&products]),
            offer_products: history(&[&offers]),
            agreements: history(&[&agreements]),
            usage: history(&[&usage]),
        };
        (feeds, state)
    }

    #[tokio::test]
    async fn the_last_usage_of_each_product_is_found_across_pages_of_any_size() {
        let (feeds, state) = three_products();
        let account = aws("123456789012");
        let model = model_lines(&state, &account);
        assert_eq!(model.len(), 3);
        for page in 1..=25 {
            let found = account_feeds_paged(&feeds, &account, None, page).await.unwrap();
            assert_eq!(read_lines(&found), model, "pages of {page}");
        }
        let found = account_feeds(&feeds, &account, None).await.unwrap();
        let last = |id: &str| found.products.iter().find(|p| p.product_id == id).unwrap().last_usage_date;
        // The soft-deleted 21st does not count; 20 is a multiple of 4, not used.
        assert_eq!(last("prod-busy"), Some(time::macros::date!(2025 - 03 - 19)));
        assert_eq!(last("prod-once"), Some(time::macros::date!(2025 - 01 - 02)));
        assert_eq!(last("prod-never"), None);
    }

    #[tokio::test]
    async fn subscribers_agree_with_the_model_page_by_page() {
        let (feeds, state) = both().await;
        let code = ProductCode::parse("1a2b3c4d5e6f7g8h9i0jklmno").unwrap();
        let bridge = state.bridge();
        for active_only in [true, false] {
            let mut expected: Vec<(Option<AwsAccountId>, String, String, Option<Date>)> = Vec::new();
            for (_, rev) in state.agreements.effective_all() {
                let a = &rev.record;
                let for_product =
                    a.offer_id.as_deref().is_some_and(|o| state.products_of_offer(o).contains("prod-syn0000000001"));
                if !for_product || (active_only && a.status.as_str() != "ACTIVE") {
                    continue;
                }
                let buyer = a.acceptor_account_id.as_ref().unwrap();
                let account = bridge.iter().find(|(_, ids)| ids.contains(buyer)).map(|(aws, _)| (*aws).clone());
                let usage = account.as_ref().and_then(|acc| state.last_usage(acc, "prod-syn0000000001"));
                expected.push((account, a.agreement_id.clone(), a.status.as_str().to_owned(), usage));
            }
            expected.sort();
            assert_eq!(expected.len(), if active_only { 2 } else { 3 }, "{expected:?}");
            for limit in [1, 2, 10] {
                let mut got = Vec::new();
                let mut cursor: Option<String> = None;
                loop {
                    let page = subscribers(&feeds, &code, active_only, cursor.as_deref(), limit).await.unwrap();
                    assert_eq!(page.product.as_ref().map(|p| p.product_id.as_str()), Some("prod-syn0000000001"));
                    assert!(page.subscribers.len() <= limit);
                    got.extend(
                        page.subscribers.into_iter().map(|s| {
                            (s.aws_account_id, s.agreement.agreement_id, s.agreement.status, s.last_usage_date)
                        }),
                    );
                    match page.next_cursor {
                        Some(c) => cursor = Some(c),
                        None => break,
                    }
                }
                got.sort();
                assert_eq!(got, expected, "active_only {active_only}, limit {limit}");
            }
        }
        let unknown = ProductCode::parse("zzzzzzzzzzzzzzzzzzzzzzzzz").unwrap();
        let page = subscribers(&feeds, &unknown, true, None, 10).await.unwrap();
        assert!(page.product.is_none() && page.subscribers.is_empty() && page.next_cursor.is_none());
        assert_eq!(subscribers(&feeds, &code, true, Some("not-a-cursor"), 10).await, Err(LookupError::BadCursor));
    }
}
