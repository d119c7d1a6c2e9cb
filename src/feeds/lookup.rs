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
    let as_of = feeds.feeds_as_of().await?;
    let feed_accounts = feeds.feed_accounts(account).await?;
    let mut agreements = Vec::new();
    for id in &feed_accounts {
        agreements.extend(feeds.account_agreements(id).await?);
    }
    let offers: BTreeSet<&str> = agreements.iter().filter_map(|a| a.offer_id.as_deref()).collect();
    let mut offer_products: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for offer in offers {
        offer_products.insert(offer, feeds.offer_products(offer).await?);
    }
    let catalogue: BTreeMap<String, FeedProduct> =
        feeds.feed_products().await?.into_iter().map(|p| (p.product_id.clone(), p)).collect();
    let mut by_product: BTreeMap<String, Vec<FeedAgreement>> = BTreeMap::new();
    for a in &agreements {
        for product_id in a.offer_id.as_deref().and_then(|o| offer_products.get(o)).into_iter().flatten() {
            by_product.entry(product_id.clone()).or_default().push(a.clone());
        }
    }
    let mut products = Vec::new();
    for (product_id, mut agreements) in by_product {
        let known = catalogue.get(&product_id);
        let code = known.and_then(|p| p.product_code.clone());
        if let Some(wanted) = product
            && code.as_ref() != Some(wanted)
            && product_id != wanted.as_str()
        {
            continue;
        }
        agreements.sort_by(|a, b| b.start_time.cmp(&a.start_time).then(a.agreement_id.cmp(&b.agreement_id)));
        let mut last_usage_date = None;
        for id in &feed_accounts {
            last_usage_date = last_usage_date.max(feeds.last_usage(id, &product_id).await?);
        }
        products.push(ProductFeeds {
            title: known.and_then(|p| p.title.clone()),
            product_code: code,
            product_id,
            agreements,
            last_usage_date,
        });
    }
    Ok(AccountFeeds { as_of, feed_accounts, products })
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
